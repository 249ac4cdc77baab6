"""Digest: gather a window's change events, new claims and most mentioned
companies, render them as a multipart email (plain text and HTML from
Jinja2 templates), and write it to a file or send it over SMTP, recording
each sent window so that no window goes out twice."""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlite_utils import Database

from . import store
from .config import Settings
from .errors import UserError
from .store import ChangeRow

log = logging.getLogger(__name__)

SMTP_USER_ENV = "SUPPLYWATCH_SMTP_USER"
SMTP_PASSWORD_ENV = "SUPPLYWATCH_SMTP_PASSWORD"
TOP_COMPANIES = 10


@dataclass(frozen=True)
class CompanyCount:
    name: str
    mentions: int
    articles: int


@dataclass(frozen=True)
class Digest:
    window_start: str
    window_end: str
    articles: int
    changes: list[ChangeRow] = field(default_factory=list)
    new_claims: list[ChangeRow] = field(default_factory=list)
    companies: list[CompanyCount] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.changes or self.new_claims or self.articles)

    @property
    def subject(self) -> str:
        period = f"{self.window_start[:10]} to {self.window_end[:10]}"
        if self.empty:
            return f"supplywatch digest {period}: nothing new"
        return (f"supplywatch digest {period}: {_count(len(self.changes), 'change')},"
                f" {_count(len(self.new_claims), 'new claim')}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def now_utc() -> str:
    return store.utc_now()


def _articles_learned(db: Database, start: str, end: str, start_open: bool) -> int:
    after = ">" if start_open else ">="
    return db.execute(f"SELECT COUNT(*) FROM articles WHERE fetched_at {after} ? AND fetched_at <= ?", [start, end]).fetchone()[0]


def _top_companies(db: Database, start: str, end: str, start_open: bool) -> list[CompanyCount]:
    after = ">" if start_open else ">="
    rows = db.execute(
        f"""SELECT e.canonical, COUNT(*) AS mentions, COUNT(DISTINCT m.article_id) AS articles
            FROM mentions m JOIN entities e ON e.id = m.entity_id JOIN articles a ON a.id = m.article_id
            WHERE e.label = 'ORG' AND a.fetched_at {after} ? AND a.fetched_at <= ?
            GROUP BY e.id ORDER BY articles DESC, mentions DESC, e.canonical LIMIT ?""",
        [start, end, TOP_COMPANIES],
    ).fetchall()
    return [CompanyCount(*row) for row in rows]


def build_digest(db: Database, start: str, end: str, start_open: bool = False) -> Digest:
    """What the store learned from `start` to `end` inclusive; with
    start_open, strictly after `start` (where an earlier digest ended)."""
    events = store.changes_since(db, None if start_open else start, end, after=start if start_open else None)
    return Digest(
        window_start=start, window_end=end, articles=_articles_learned(db, start, end, start_open),
        changes=[e for e in events if e.kind != "new"],
        new_claims=[e for e in events if e.kind == "new"],
        companies=_top_companies(db, start, end, start_open),
    )


# ---- rendering -------------------------------------------------------------------

_environment = Environment(
    loader=PackageLoader("pipeline", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)


def claim_link(settings: Settings, claim_id: int) -> str | None:
    """The claim's timeline page in Datasette (`supplywatch browse`), when a
    Datasette URL is configured."""
    if not settings.datasette_url:
        return None
    database = Path(settings.db_path).stem
    return f"{settings.datasette_url.rstrip('/')}/-/timeline/{database}/{claim_id}"


def _context(digest: Digest, settings: Settings) -> dict:
    return {"digest": digest, "link": lambda claim_id: claim_link(settings, claim_id),
            "status_label": _status_label, "change_label": _change_label}


def _status_label(row: ChangeRow) -> str:
    return f"{row.before_status} → {row.after_status}" if row.before_status else row.after_status


def _change_label(row: ChangeRow) -> str:
    if row.kind == "supplier_switch":
        return f"{row.object} switched supplier: {row.old_subject} → {row.subject}"
    return f"{row.subject} {row.relation} {row.object}: {_status_label(row)}"


def render_text(digest: Digest, settings: Settings) -> str:
    return _environment.get_template("digest.txt").render(_context(digest, settings))


def render_html(digest: Digest, settings: Settings) -> str:
    return _environment.get_template("digest.html").render(_context(digest, settings))


def recipients(settings: Settings) -> list[str]:
    return [address.strip() for address in settings.digest_to.split(",") if address.strip()]


def make_message(digest: Digest, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = settings.digest_from
    message["To"] = ", ".join(recipients(settings)) or settings.digest_from
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.digest_from.rpartition("@")[2] or "localhost")
    message.set_content(render_text(digest, settings))
    message.add_alternative(render_html(digest, settings), subtype="html")
    return message


def write_message(message: EmailMessage, path: str) -> None:
    target = Path(path)
    if not target.parent.is_dir():
        raise UserError(f"folder {target.parent} does not exist: create it or choose another --output path")
    target.write_bytes(bytes(message))


# ---- sending -----------------------------------------------------------------------

def _check_send_settings(settings: Settings) -> None:
    if not settings.smtp_host:
        raise UserError("no SMTP server configured: set smtp_host in supplywatch.toml or SUPPLYWATCH_SMTP_HOST")
    if not recipients(settings):
        raise UserError("no recipients configured: set digest_to (comma-separated) in supplywatch.toml or SUPPLYWATCH_DIGEST_TO")
    if settings.smtp_security not in ("starttls", "ssl", "none"):
        raise UserError(f"smtp_security must be starttls, ssl or none, not {settings.smtp_security!r}")


def send_message(message: EmailMessage, settings: Settings) -> None:
    """Deliver over SMTP; credentials come only from the environment."""
    _check_send_settings(settings)
    user, password = os.environ.get(SMTP_USER_ENV), os.environ.get(SMTP_PASSWORD_ENV)
    try:
        context = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise UserError(f"cannot use smtp_ca_file {settings.smtp_ca_file}: {exc}") from None
    try:
        if settings.smtp_security == "ssl":
            client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout, context=context)
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=context)
            if user and password:
                client.login(user, password)
            client.send_message(message, to_addrs=recipients(settings))
    except (OSError, smtplib.SMTPException, socket.timeout) as exc:
        raise UserError(
            f"could not send the digest through {settings.smtp_host}:{settings.smtp_port}: {exc};"
            " nothing was recorded, so the same window is sent on the next try"
        ) from None


def unsent_window(db: Database, start: str, end: str) -> str:
    """Where the window really starts: after the last digest already sent
    that reaches into it, so no event goes out twice."""
    row = db.execute("SELECT MAX(window_end) FROM digests WHERE window_end >= ?", [start]).fetchone()
    return max(start, row[0]) if row and row[0] else start


def record_sent(db: Database, digest: Digest, message: EmailMessage, settings: Settings) -> None:
    with store.writing(db):
        db["digests"].insert({
            "window_start": digest.window_start, "window_end": digest.window_end, "sent_at": now_utc(),
            "recipients": ", ".join(recipients(settings)), "subject": digest.subject,
            "message_id": message["Message-ID"],
        })


@dataclass(frozen=True)
class SendOutcome:
    sent: bool
    reason: str
    digest: Digest | None = None


def send_digest(db: Database, settings: Settings, start: str, end: str | None = None, skip_empty: bool = False) -> SendOutcome:
    """Send the digest of [start, end) less what earlier digests covered."""
    _check_send_settings(settings)
    end = end or now_utc()
    first_unsent = unsent_window(db, start, end)
    already_covered = first_unsent > start
    digest = build_digest(db, first_unsent, end, start_open=already_covered)
    if digest.empty and (already_covered or skip_empty):
        why = "already sent up to " + first_unsent if already_covered else "nothing new and --skip-empty given"
        return SendOutcome(False, why, digest)
    message = make_message(digest, settings)
    send_message(message, settings)
    record_sent(db, digest, message, settings)
    return SendOutcome(True, f"sent to {', '.join(recipients(settings))}", digest)
