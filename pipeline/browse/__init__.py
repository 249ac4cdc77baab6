"""Browse: serve the store read-only with Datasette, with the metadata in
db/metadata.yml (descriptions, facets, labels, canned queries), and a
Datasette plugin adding a timeline page for each claim."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from datasette import hookimpl
from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup, escape

from ..config import PROJECT_ROOT
from ..errors import UserError

log = logging.getLogger(__name__)

METADATA_FILE = PROJECT_ROOT / "db" / "metadata.yml"
STATUS_COLOURS = {"active": "#1a7f37", "planned": "#0969da", "possible": "#bf8700", "ended": "#6e7781", "denied": "#cf222e"}


def database_name(db_path: str) -> str:
    return Path(db_path).stem


def metadata_for(db_path: str, metadata_file: Path = METADATA_FILE) -> dict:
    """db/metadata.yml with its {database} placeholders filled for this file."""
    try:
        text = metadata_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {metadata_file}: {exc.strerror}; restore db/metadata.yml from the repository") from None
    return yaml.safe_load(text.replace("{database}", database_name(db_path)))


def datasette_command(db_path: str, metadata_path: str, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "datasette", "serve", db_path, "--metadata", metadata_path,
        "--host", host, "--port", str(port),
        "--setting", "sql_time_limit_ms", "5000", "--setting", "default_page_size", "50",
        "--setting", "allow_download", "off",
    ]


def serve(db_path: str, host: str, port: int) -> int:
    """Run Datasette in the foreground until it is stopped."""
    with tempfile.TemporaryDirectory(prefix="supplywatch-browse-") as folder:
        metadata_path = Path(folder) / "metadata.json"
        metadata_path.write_text(json.dumps(metadata_for(db_path)), encoding="utf-8")
        log.info("serving %s read-only at http://%s:%d/", db_path, host, port)
        server = subprocess.Popen(datasette_command(db_path, str(metadata_path), host, port))

        def forward(signum, _frame) -> None:  # a stop for us is a stop for Datasette
            server.send_signal(signum)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            code = server.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=10)
        return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code


# ---- the Datasette plugin ---------------------------------------------------------------

@dataclass(frozen=True)
class TimelinePoint:
    day: str
    status: str
    site: str | None
    sentence: str | None
    url: str | None
    title: str | None
    x: float
    change: str | None

    @property
    def colour(self) -> str:
        return STATUS_COLOURS.get(self.status, "#57606a")


def _day(moment: str | None) -> date | None:
    try:
        return date.fromisoformat((moment or "")[:10])
    except ValueError:
        return None


def place_on_axis(rows: list[dict], width: float = 760, margin: float = 40) -> list[TimelinePoint]:
    """Evidence rows (oldest first) as points along a time axis."""
    days = [_day(r["news_at"]) for r in rows]
    known = [d for d in days if d]
    first, last = (min(known), max(known)) if known else (None, None)
    span = max(((last - first).days if first else 0), 1)
    points = []
    for row, day in zip(rows, days):
        offset = ((day - first).days / span) if day and first else 0.0
        points.append(TimelinePoint(
            day=(row["news_at"] or "")[:10], status=row["status"], site=row["site"], sentence=row["sentence"],
            url=row["url"], title=row["title"], x=round(margin + offset * (width - 2 * margin), 1), change=row["change"],
        ))
    return points


TIMELINE_CLAIM = """
select c.id, c.label, c.relation, s.canonical as subject, o.canonical as object, c.first_seen_at
from claims c join entities s on s.id = c.subject_id join entities o on o.id = c.object_id
where c.id = :claim_id
"""
TIMELINE_EVIDENCE = """
select coalesce(ev.published_at, ev.learned_at) as news_at, ev.status, coalesce(a.site, ev.site) as site,
  ev.sentence, a.url, a.title, ch.kind as change
from claim_evidence ev
join articles a on a.id = ev.article_id
left join claim_changes ch on ch.claim_id = ev.claim_id and ch.after_article_id = ev.article_id
  and ch.kind in ('new', 'status')
where ev.claim_id = :claim_id
order by news_at, ev.learned_at, ev.article_id
"""


async def timeline_page(datasette, request) -> Response:
    database = request.url_vars["database"]
    claim_id = int(request.url_vars["claim_id"])
    try:
        db = datasette.get_database(database)
    except KeyError:
        raise NotFound(f"no database {database}") from None
    claim = (await db.execute(TIMELINE_CLAIM, {"claim_id": claim_id})).first()
    if claim is None:
        raise NotFound(f"no claim {claim_id} in {database}")
    rows = [dict(r) for r in (await db.execute(TIMELINE_EVIDENCE, {"claim_id": claim_id})).rows]
    points = place_on_axis(rows)
    html = await datasette.render_template(
        "supplywatch_timeline.html",
        {"database": database, "claim": dict(claim), "points": points, "current": points[-1] if points else None,
         "colours": STATUS_COLOURS},
        request=request,
    )
    return Response.html(html)


@hookimpl
def register_routes():
    return [(r"^/-/timeline/(?P<database>[^/]+)/(?P<claim_id>\d+)$", timeline_page)]


@hookimpl
def render_cell(row, value, column, table, database):
    """A claim's label, and the canned queries' timeline column, link to the
    claim's timeline page."""
    if table == "claims" and column == "label" and value and "id" in row.keys():
        href = f"/-/timeline/{database}/{row['id']}"
        return Markup(f'<a href="{escape(href)}" title="timeline of this claim">{escape(value)}</a>')
    if column == "timeline" and isinstance(value, str) and value.startswith("/-/timeline/"):
        return Markup(f'<a href="{escape(value)}">timeline</a>')
    return None
