"""The command line: a click group whose commands are thin over the modules."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, replace
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import __version__, feeds, store
from .config import Settings, load_settings
from .errors import UserError

log = logging.getLogger("pipeline")


class Group(click.Group):
    """Turns a UserError anywhere below into a one-line error and exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_object(Settings)


def _db(ctx: click.Context):
    return store.open_db(_settings(ctx).db_path)


def _table(title: str, columns: list[str], rows: list[list[object]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    console = Console()
    (console if console.is_terminal else Console(width=160)).print(table)


@click.group(cls=Group)
@click.version_option(__version__, prog_name="supplywatch")
@click.option("--db", "db_path", metavar="PATH", help="SQLite database file  [default: db/supplywatch.db]")
@click.option("--config", "config_path", metavar="FILE", help="Settings file  [default: supplywatch.toml if present]")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
@click.pass_context
def cli(ctx: click.Context, db_path: str | None, config_path: str | None, verbose: bool) -> None:
    """supplywatch: follow who supplies and partners with whom in automotive news.

    Feeds are polled, articles read, and every sourcing or partnership claim
    is stored with its evidence in SQLite.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "httpcore", "trafilatura", "htmldate", "courlan"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        ctx.obj = load_settings(config_path, {"db_path": db_path})
    except UserError as exc:
        raise click.ClickException(str(exc)) from None


# ---- feeds ------------------------------------------------------------------

@cli.group(name="feeds", cls=Group)
def feeds_group() -> None:
    """Add, list, remove and import the feeds to poll."""


@feeds_group.command(name="add")
@click.argument("url")
@click.option("--name", help="A name to show for the feed.")
@click.pass_context
def feeds_add(ctx: click.Context, url: str, name: str | None) -> None:
    """Add the RSS or Atom feed at URL."""
    feed, created = feeds.add(_db(ctx), url, name)
    click.echo(f"{'added' if created else 'already present'}: feed {feed.id} {feed.url}")


@feeds_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def feeds_list(ctx: click.Context, as_json: bool) -> None:
    """List the feeds with their last poll and error count."""
    found = store.list_feeds(_db(ctx))
    if as_json:
        click.echo(json.dumps([asdict(feed) for feed in found], indent=2))
        return
    if not found:
        click.echo("no feeds yet: add one with 'supplywatch feeds add URL'")
        return
    _table("feeds", ["id", "url", "name", "last polled", "errors", "last error"],
           [[f.id, f.url, f.name, f.last_polled_at, f.error_count, f.last_error] for f in found])


@feeds_group.command(name="remove")
@click.argument("feed")
@click.pass_context
def feeds_remove(ctx: click.Context, feed: str) -> None:
    """Remove FEED (its URL or id); its stored articles are kept."""
    removed = store.remove_feed(_db(ctx), feed)
    click.echo(f"removed: feed {removed.id} {removed.url}")


@feeds_group.command(name="import")
@click.argument("opml_file", type=click.Path(dir_okay=False))
@click.pass_context
def feeds_import(ctx: click.Context, opml_file: str) -> None:
    """Add every feed listed in an OPML file."""
    added, present, skipped = feeds.import_opml(_db(ctx), opml_file)
    click.echo(f"imported {opml_file}: {added} added, {present} already present, {len(skipped)} skipped")


# ---- run, extract, claims ---------------------------------------------------

@cli.command()
@click.option("--once", is_flag=True, help="Poll every feed once, store what is new, then exit.")
@click.pass_context
def run(ctx: click.Context, once: bool) -> None:
    """Poll the feeds, fetch new articles, extract claims and store them."""
    from .run import run_once

    from .scheduler import instance_lock

    if not once:
        raise UserError("say --once: 'supplywatch run --once' polls every feed one time and exits;"
                        " 'supplywatch schedule' keeps running")
    db = _db(ctx)
    if not store.list_feeds(db):
        raise UserError("no feeds to poll: add one with 'supplywatch feeds add URL'")
    with instance_lock(_settings(ctx).db_path, "run --once"):
        summary = run_once(db, _settings(ctx))
    click.echo(summary.line())


@cli.command(name="reprocess")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Read here, or on the workers of a Dask cluster.")
@click.option("--scheduler", metavar="ADDRESS", help="The Dask scheduler, e.g. tcp://10.0.0.5:8786.")
@click.option("--since", metavar="DATE|24h|7d", help="Only articles fetched since then.")
@click.option("--chunk-size", default=32, show_default=True, help="Articles per task sent to a worker.")
@click.pass_context
def reprocess_command(ctx: click.Context, executor: str, scheduler: str | None, since: str | None, chunk_size: int) -> None:
    """Read the stored articles again with the current NLP pipeline and swap
    their claims for the new reading (after 'make model', or to backfill).

    With --executor dask the reading fans out to a Dask cluster's workers
    (each loads the pipeline once; they need this package and models/);
    this process alone writes the store. Safe to re-run.
    """
    from .changes import parse_since
    from .reprocess import reprocess
    from .scheduler import instance_lock

    settings = _settings(ctx)
    db = _db(ctx)
    with instance_lock(settings.db_path, "reprocess"):
        summary = reprocess(db, settings, executor, scheduler, parse_since(since) if since else None, chunk_size)
    click.echo(summary.line())


@cli.command(name="schedule")
@click.pass_context
def schedule_command(ctx: click.Context) -> None:
    """Run in the foreground: poll each feed when it is due, read queued
    articles, and send the digest daily at digest_time in digest_timezone.

    Meant for a systemd unit or a container. SIGTERM or Ctrl-C finishes the
    article in hand and exits 0; state lives in the database, so a restart
    carries on where it stopped. Only one schedule (or run --once) per
    database at a time.
    """
    from .scheduler import digest_trigger, run_scheduler

    settings = _settings(ctx)
    digest_trigger(settings)  # a bad digest_time is a one-line error before anything starts
    store.open_db(settings.db_path).close()
    run_scheduler(settings)


@cli.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Per feed: last poll, next due time, error count and last error; and
    the last digest sent."""
    from .scheduler import status_rows

    feeds_state, last_digest = status_rows(_settings(ctx))
    if as_json:
        click.echo(json.dumps({"feeds": feeds_state, "last_digest": last_digest}, indent=2, ensure_ascii=False))
        return
    if not feeds_state:
        click.echo("no feeds yet: add one with 'supplywatch feeds add URL'")
    else:
        _table(
            f"{len(feeds_state)} feeds",
            ["id", "feed", "last poll", "next due", "errors", "last error"],
            [[f["id"], f["name"] or f["url"], _minute(f["last_polled_at"]), _minute(f["next_due_at"]),
              f["error_count"], _clip(f["last_error"], 60)] for f in feeds_state],
        )
    if last_digest:
        click.echo(f"last digest sent {_minute(last_digest['sent_at'])} to {last_digest['recipients']},"
                   f" covering {_minute(last_digest['window_start'])} to {_minute(last_digest['window_end'])}")
    else:
        click.echo("no digest sent yet")


def _minute(moment: str | None) -> str:
    return (moment or "")[:16].replace("T", " ")


@cli.command(name="extract")
@click.argument("inputs", nargs=-1, required=True, metavar="FILE|URL|-...")
@click.option("--text", "with_text", is_flag=True, help="Include the extracted text in the JSON.")
@click.pass_context
def extract_command(ctx: click.Context, inputs: tuple[str, ...], with_text: bool) -> None:
    """Print entities and claims of each input as one JSON object per line.

    Inputs are plain text or HTML files, http(s) URLs, or - for standard
    input. Nothing is stored.
    """
    from .documents import read_input
    from .nlp import extract, load_pipeline

    settings = _settings(ctx)
    documents = [read_input(source, settings) for source in inputs]
    nlp = load_pipeline(settings.models_dir)
    for source, (text, title) in zip(inputs, documents):
        click.echo(json.dumps(extraction_json(source, text, title, extract(nlp, text), with_text), ensure_ascii=False))


def extraction_json(source: str, text: str, title: str | None, extraction, with_text: bool = False) -> dict:
    """The CLAIMS.md shape of one extraction, plus source, title and (optionally) text."""
    result = {
        "source": source,
        "title": title,
        "entities": [asdict(mention) for mention in extraction.mentions],
        "claims": [
            {key: value for key, value in asdict(claim).items() if key not in ("sentence_start",)}
            for claim in extraction.claims
        ],
    }
    if with_text:
        result["text"] = text
    return result


@cli.command(name="claims")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def claims_command(ctx: click.Context, as_json: bool) -> None:
    """The claims in the store with their current status and evidence count."""
    rows = store.current_claims(_db(ctx))
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    print_claims(rows)


def print_claims(rows: list[dict]) -> None:
    if not rows:
        click.echo("no claims stored yet: run 'supplywatch run --once' after adding feeds")
        return
    _table(
        f"{len(rows)} claims",
        ["relation", "subject", "object", "status", "component", "evidence", "latest"],
        [[r["relation"], r["subject"], r["object"], r["status"], r["component"], r["evidence_count"], (r["latest_at"] or "")[:10]] for r in rows],
    )


# ---- changes and history ------------------------------------------------------

@cli.command(name="changes")
@click.option("--since", default="7d", show_default=True, metavar="DATE|24h|7d",
              help="Changes learned since a date (YYYY-MM-DD) or within a span (h, d, w).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def changes_command(ctx: click.Context, since: str, as_json: bool) -> None:
    """Change events: claims first seen, changes of status, supplier switches."""
    from .changes import parse_since

    rows = store.changes_since(_db(ctx), parse_since(since))
    if as_json:
        click.echo(json.dumps([asdict(row) for row in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no changes learned since {since}: try a longer --since, e.g. --since 30d")
        return
    print_changes(rows, f"changes learned since {since}")


def print_changes(rows: list, title: str) -> None:
    _table(
        f"{len(rows)} {title}",
        ["happened", "learned", "change", "relation", "subject", "object", "status", "source"],
        [[r.happened_at[:10], r.learned_at[:10], _change_label(r), r.relation, r.subject, r.object,
          _status_label(r), r.site or ""] for r in rows],
    )


def _change_label(row) -> str:
    if row.kind == "supplier_switch":
        return f"switch from {row.old_subject}"
    return row.kind


def _status_label(row) -> str:
    return f"{row.before_status} → {row.after_status}" if row.before_status else row.after_status


@cli.command(name="history")
@click.argument("company")
@click.argument("other", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def history_command(ctx: click.Context, company: str, other: str | None, as_json: bool) -> None:
    """Timeline of a company's claims, or of the claims between two (OTHER).

    Each row is one article's statement, in publication order; 'change'
    marks where a claim first appeared or its status changed.
    """
    rows = store.company_history(_db(ctx), company, other)
    if as_json:
        click.echo(json.dumps([asdict(row) for row in rows], indent=2, ensure_ascii=False))
        return
    who = f"{company} and {other}" if other else company
    if not rows:
        click.echo(f"no claims about {who} yet")
        return
    _table(
        f"history of {who}: {len(rows)} statements",
        ["date", "relation", "subject", "object", "status", "change", "source", "evidence"],
        [[r.news_at[:10], r.relation, r.subject, r.object, r.status, r.change or "", r.site or "",
          _clip(r.sentence, 90)] for r in rows],
    )


def _clip(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ---- browse -------------------------------------------------------------------------

@cli.command(name="browse")
@click.option("--port", default=8001, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on (0.0.0.0 for every interface).")
@click.pass_context
def browse_command(ctx: click.Context, port: int, host: str) -> None:
    """Explore the store in Datasette, read-only, with descriptions, facets,
    search, canned queries and a timeline page per claim.

    Safe to run while 'schedule' writes: the store is in WAL mode. Set
    datasette_url to the address shown so digest links open here.
    """
    from .browse import serve

    settings = _settings(ctx)
    if not Path(settings.db_path).is_file():
        raise UserError(f"no database at {settings.db_path}: run 'supplywatch run --once' first, or pass --db PATH")
    store.open_db(settings.db_path).close()  # bring the schema up to date before serving
    click.echo(f"serving {settings.db_path} at http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    raise SystemExit(serve(settings.db_path, host, port))


# ---- digest -----------------------------------------------------------------------

@cli.command(name="digest")
@click.option("--since", default="24h", show_default=True, metavar="DATE|24h|7d",
              help="Window start: a date (YYYY-MM-DD) or a span back from now (h, d, w).")
@click.option("--output", metavar="FILE.eml", type=click.Path(dir_okay=False),
              help="Write the email to this file instead of printing its text.")
@click.option("--send", is_flag=True, help="Send it by SMTP (smtp_* and digest_* settings) and record the window.")
@click.option("--skip-empty", is_flag=True, help="Send nothing when the window holds nothing new.")
@click.pass_context
def digest_command(ctx: click.Context, since: str, output: str | None, send: bool, skip_empty: bool) -> None:
    """The digest email of what changed: change events first, then new
    claims, then the most mentioned companies.

    Without --output or --send it prints the plain-text part. With --send,
    a window already sent is not sent again; a failed send records nothing.
    SMTP credentials come from SUPPLYWATCH_SMTP_USER and
    SUPPLYWATCH_SMTP_PASSWORD, never from files.
    """
    from . import digest as digests
    from .changes import parse_since

    if output and send:
        raise UserError("choose one of --output and --send")
    settings, db = _settings(ctx), _db(ctx)
    start = parse_since(since)
    if send:
        outcome = digests.send_digest(db, settings, start, skip_empty=skip_empty)
        click.echo(f"digest {'sent' if outcome.sent else 'not sent'}: {outcome.reason}", err=True)
        return
    built = digests.build_digest(db, start, digests.now_utc())
    if output:
        digests.write_message(digests.make_message(built, settings), output)
        click.echo(f"wrote {output}: {built.subject}", err=True)
        return
    click.echo(digests.render_text(built, settings), nl=False)


# ---- evaluate -----------------------------------------------------------------

@cli.command()
@click.argument("labelled", required=False, metavar="[FILE|FOLDER]")
@click.option("--split", type=click.Choice(["dev", "train", "seed", "all"]), default="dev", show_default=True,
              help="Which passages of the labelled data to score.")
@click.option("--errors", is_flag=True, help="List every false positive, false negative and wrong status.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@click.pass_context
def evaluate(ctx: click.Context, labelled: str | None, split: str, errors: bool, as_json: bool) -> None:
    """Score the extractor on labelled passages (default: the dev set).

    Entity precision, recall and F1 per label, claim precision, recall and
    F1, and status accuracy on matched claims, by the rules of CLAIMS.md.
    """
    from .demo import SEEDS_DIR
    from .evaluate import evaluate as run_evaluation
    from .labelled import load_labelled
    from .nlp import load_pipeline

    source = Path(labelled) if labelled else SEEDS_DIR / "labelled"
    if not source.exists():
        raise UserError(f"no labelled data at {source}: give a .jsonl file or a folder of them")
    try:
        docs = [d for d in load_labelled(source) if split == "all" or d.split == split]
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read labelled data {source}: {exc}") from None
    if not docs:
        raise UserError(f"no passages with split {split!r} in {source}; try --split all")
    report = run_evaluation(load_pipeline(_settings(ctx).models_dir), docs)
    if as_json:
        result = report.as_dict()
        if errors:
            result["errors"] = [asdict(error) for error in report.errors]
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    print_report(report, f"{source} ({split}, {report.passages} passages)")
    if errors:
        print_errors(report)


def print_report(report, title: str) -> None:
    rows = [[label, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", c.tp, c.fp, c.fn]
            for label, c in report.entities.items()]
    micro = report.entities_micro
    rows.append(["entities (scored labels)", f"{micro.precision:.3f}", f"{micro.recall:.3f}", f"{micro.f1:.3f}", micro.tp, micro.fp, micro.fn])
    c = report.claims
    rows.append(["claims", f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", c.tp, c.fp, c.fn])
    _table(title, ["", "precision", "recall", "F1", "tp", "fp", "fn"], rows)
    click.echo(f"status accuracy: {report.status_accuracy:.3f} on {report.status_total} matched claims")


def print_errors(report) -> None:
    for error in report.errors:
        click.echo(f"{error.doc_id}\t{error.kind}\t{error.relation} {error.subject} -> {error.object}\t{error.detail}\t{error.sentence}")


# ---- demo -------------------------------------------------------------------

@cli.command()
@click.option("--demo-db", default="db/demo.db", show_default=True, help="Database the demo creates afresh.")
@click.pass_context
def demo(ctx: click.Context, demo_db: str) -> None:
    """Run the whole pipeline on the bundled sample feed, offline.

    A loopback web server serves the sample articles as a dated RSS feed;
    the demo polls it into a fresh database, prints the claims it found and
    how they changed, and writes the digest email to db/demo-digest.eml.
    """
    from . import digest as digests
    from .changes import parse_since
    from .demo import load_samples, serve_samples
    from .run import run_once

    settings = replace(_settings(ctx), db_path=demo_db)
    db_file = Path(demo_db)
    db_file.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    db = store.open_db(db_file)
    samples = load_samples()
    with serve_samples(samples) as base_url:
        feeds.add(db, f"{base_url}/feed.xml", "supplywatch sample feed")
        summary = run_once(db, settings)
    click.echo(summary.line())
    print_claims(store.current_claims(db))
    print_changes(store.changes_since(db, kinds=("status", "supplier_switch")), "changes of status and supplier")
    digest_file = db_file.parent / "demo-digest.eml"
    digest = digests.build_digest(db, parse_since("24h"), digests.now_utc())
    digests.write_message(digests.make_message(digest, settings), str(digest_file))
    click.echo(f"\nDigest email written to {digest_file}: {digest.subject}")
    click.echo(
        f"\nStored in {db_file}. Explore further (from .venv/bin, or after 'source .venv/bin/activate'):\n"
        f"  supplywatch --db {db_file} history Renault Valeo\n"
        f"  supplywatch --db {db_file} changes --since 24h\n"
        f"  supplywatch --db {db_file} claims --json\n"
        f"  supplywatch extract seeds/*.txt\n"
        f"  sqlite-utils tables {db_file} --counts"
    )
