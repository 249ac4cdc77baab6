"""The store: the only module that writes SQLite. Recorded migrations create
the schema; each article is saved with its mentions, claims and the change
events they imply in one transaction, and saving the same article again
stores nothing twice."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlite_utils import Database, Migrations

from .changes import (
    SWITCH_WINDOW, ChangeEvent, Evidence, SwitchStarts, claim_events, is_end, is_start, news_day,
    switch_key,
)
from .errors import UserError
from .extract import canonical_url
from .records import Article, Claim, Extraction, Feed, FeedEntry, FeedResult

log = logging.getLogger(__name__)

SYMMETRIC_RELATIONS = {"PARTNERS_WITH"}
migrations = Migrations("supplywatch")


def utc_now() -> str:
    # microseconds kept: a digest window ends at a moment, and what is learned
    # right after it must sort after it
    return datetime.now(timezone.utc).isoformat()


@migrations(name="m001_initial")
def m001_initial(db: Database) -> None:
    db["feeds"].create(
        {
            "id": int, "url": str, "name": str, "etag": str, "last_modified": str,
            "added_at": str, "last_polled_at": str, "next_due_at": str,
            "error_count": int, "last_error": str,
        },
        pk="id", not_null={"url", "error_count"}, defaults={"error_count": 0},
        if_not_exists=True,
    )
    db["feeds"].create_index(["url"], unique=True, if_not_exists=True)
    db["articles"].create(
        {
            "id": int, "url": str, "canonical_url": str, "feed_id": int, "guid": str,
            "title": str, "author": str, "site": str, "published_at": str,
            "fetched_at": str, "text": str, "content_hash": str, "source": str,
        },
        pk="id", not_null={"url", "canonical_url", "text", "content_hash", "source"},
        foreign_keys=[("feed_id", "feeds", "id")], if_not_exists=True,
    )
    db["articles"].create_index(["canonical_url"], unique=True, if_not_exists=True)
    db["articles"].create_index(["content_hash"], unique=True, if_not_exists=True)
    db["articles"].create_index(["feed_id"], if_not_exists=True)
    db["articles"].create_index(["published_at"], if_not_exists=True)
    db["articles"].enable_fts(["title", "text"], create_triggers=True, replace=True)
    db["entities"].create(
        {"id": int, "canonical": str, "label": str},
        pk="id", not_null={"canonical", "label"}, if_not_exists=True,
    )
    db["entities"].create_index(["label", "canonical"], unique=True, if_not_exists=True)
    db["aliases"].create(
        {"alias": str, "entity_id": int}, pk=("alias", "entity_id"),
        foreign_keys=[("entity_id", "entities", "id")], if_not_exists=True,
    )
    db["mentions"].create(
        {"article_id": int, "entity_id": int, "start": int, "end": int, "text": str},
        pk=("article_id", "start", "end"),
        foreign_keys=[("article_id", "articles", "id"), ("entity_id", "entities", "id")],
        if_not_exists=True,
    )
    db["mentions"].create_index(["entity_id"], if_not_exists=True)
    db["claims"].create(
        {"id": int, "relation": str, "subject_id": int, "object_id": int, "first_seen_at": str},
        pk="id", not_null={"relation", "subject_id", "object_id"},
        foreign_keys=[("subject_id", "entities", "id"), ("object_id", "entities", "id")],
        if_not_exists=True,
    )
    db["claims"].create_index(["relation", "subject_id", "object_id"], unique=True, if_not_exists=True)
    db["claims"].create_index(["object_id"], if_not_exists=True)
    db["claim_evidence"].create(
        {
            "claim_id": int, "article_id": int, "sentence": str, "status": str,
            "component": str, "kind": str, "published_at": str, "learned_at": str,
            "site": str, "confidence": float,
        },
        pk=("claim_id", "article_id"), not_null={"status"},
        foreign_keys=[("claim_id", "claims", "id"), ("article_id", "articles", "id")],
        if_not_exists=True,
    )
    db["claim_evidence"].create_index(["article_id"], if_not_exists=True)
    db["claim_evidence"].create_index(["status"], if_not_exists=True)
    db["claim_evidence"].enable_fts(["sentence"], create_triggers=True, replace=True)
    db.execute(
        """
        CREATE VIEW IF NOT EXISTS current_claims AS
        WITH ranked AS (
            SELECT ce.*,
                ROW_NUMBER() OVER (
                    PARTITION BY ce.claim_id
                    ORDER BY COALESCE(ce.published_at, ce.learned_at) DESC, ce.article_id DESC
                ) AS recency,
                COUNT(*) OVER (PARTITION BY ce.claim_id) AS evidence_count
            FROM claim_evidence ce
        )
        SELECT c.id AS claim_id, c.relation, s.canonical AS subject, o.canonical AS object,
            o.label AS object_label, r.status, r.component, r.kind, r.evidence_count,
            COALESCE(r.published_at, r.learned_at) AS latest_at, r.sentence AS latest_evidence,
            c.first_seen_at
        FROM claims c
        JOIN entities s ON s.id = c.subject_id
        JOIN entities o ON o.id = c.object_id
        JOIN ranked r ON r.claim_id = c.id AND r.recency = 1
        """
    )


@migrations(name="m002_claim_changes")
def m002_claim_changes(db: Database) -> None:
    """Change events, rebuilt from the evidence whenever a claim gains some."""
    db["claim_changes"].create(
        {
            "key": str, "kind": str, "claim_id": int, "old_claim_id": int,
            "before_status": str, "after_status": str,
            "before_article_id": int, "after_article_id": int,
            "happened_at": str, "learned_at": str, "component": str,
        },
        pk="key", not_null={"kind", "claim_id", "after_status", "after_article_id", "happened_at", "learned_at"},
        foreign_keys=[
            ("claim_id", "claims", "id"), ("old_claim_id", "claims", "id"),
            ("before_article_id", "articles", "id"), ("after_article_id", "articles", "id"),
        ],
        if_not_exists=True,
    )
    for columns in (["claim_id"], ["old_claim_id"], ["learned_at"], ["happened_at"], ["kind"]):
        db["claim_changes"].create_index(columns, if_not_exists=True)
    rebuild_changes(db)  # claims stored before this migration


@migrations(name="m003_digests")
def m003_digests(db: Database) -> None:
    """Digests sent, with the window each covered, so none is sent twice."""
    db["digests"].create(
        {"id": int, "window_start": str, "window_end": str, "sent_at": str, "recipients": str,
         "subject": str, "message_id": str},
        pk="id", not_null={"window_start", "window_end", "sent_at"}, if_not_exists=True,
    )
    db["digests"].create_index(["window_end"], if_not_exists=True)


@migrations(name="m004_scheduling")
def m004_scheduling(db: Database) -> None:
    """Feed entries waiting to be fetched and read, so that a poll's news
    survives a restart, and a per-feed polling interval."""
    db["pending_entries"].create(
        {"id": int, "feed_id": int, "canonical_url": str, "entry": str, "queued_at": str,
         "attempts": int, "last_error": str},
        pk="id", not_null={"canonical_url", "entry", "queued_at", "attempts"}, defaults={"attempts": 0},
        foreign_keys=[("feed_id", "feeds", "id")], if_not_exists=True,
    )
    db["pending_entries"].create_index(["canonical_url"], unique=True, if_not_exists=True)
    if "poll_minutes" not in db["feeds"].columns_dict:
        db["feeds"].add_column("poll_minutes", float)
    db["feeds"].create_index(["next_due_at"], if_not_exists=True)


@migrations(name="m005_claim_labels")
def m005_claim_labels(db: Database) -> None:
    """A readable label per claim ("Renault PARTNERS_WITH Valeo"), so that
    Datasette shows claims by name wherever they are referenced."""
    if "label" not in db["claims"].columns_dict:
        db["claims"].add_column("label", str)
    db.execute(
        "UPDATE claims SET label = (SELECT s.canonical FROM entities s WHERE s.id = claims.subject_id)"
        " || ' ' || relation || ' ' || (SELECT o.canonical FROM entities o WHERE o.id = claims.object_id)"
    )


@migrations(name="m006_switches_per_end")
def m006_switches_per_end(db: Database) -> None:
    """Supplier switches keyed by the end they start from, one per end and
    new supplier, so that an article redoes only the switches near it; and
    evidence indexed in news order, so that a claim's latest is found at once."""
    db.execute("CREATE INDEX IF NOT EXISTS idx_claim_evidence_news_order ON claim_evidence"
               " (claim_id, COALESCE(published_at, learned_at), learned_at, article_id)")
    rebuild_changes(db)


WRITE_FAILURES = ("disk is full", "readonly database", "disk i/o error", "unable to open")


def _file_of(db: Database) -> str:
    rows = db.execute("PRAGMA database_list").fetchall()
    return next((row[2] for row in rows if row[1] == "main" and row[2]), "the database")


@contextmanager
def writing(db: Database) -> Iterator[None]:
    """One transaction; a database that cannot be written (disk full, file
    or folder read-only) becomes a one-line error, and the transaction is
    rolled back, so nothing already stored is lost."""
    try:
        with db.atomic():
            yield
    except sqlite3.OperationalError as exc:
        if not any(reason in str(exc).lower() for reason in WRITE_FAILURES):
            raise
        raise UserError(
            f"cannot write to {_file_of(db)}: {exc}; free space or fix its permissions and run again"
            " (what was stored before is intact)"
        ) from None


def open_db(path: str | Path) -> Database:
    """Open (creating if needed) the database file and bring its schema up to date."""
    db_path = Path(path)
    if not db_path.parent.is_dir():
        raise UserError(
            f"database folder {db_path.parent} does not exist: create it or pass --db PATH"
        )
    if db_path.is_dir():
        raise UserError(f"--db {db_path} is a folder; give a file path such as {db_path}/supplywatch.db")
    try:
        db = Database(db_path)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 5000")
        db.execute("PRAGMA journal_mode = WAL")  # readers (Datasette) never block the writer
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise UserError(f"cannot use database {db_path}: {exc}") from None
    return db


# ---- feeds -------------------------------------------------------------

def _feed_from_row(row: dict) -> Feed:
    return Feed(
        id=row["id"], url=row["url"], name=row["name"], etag=row["etag"],
        last_modified=row["last_modified"], last_polled_at=row["last_polled_at"],
        error_count=row["error_count"] or 0, last_error=row["last_error"],
        next_due_at=row.get("next_due_at"), poll_minutes=row.get("poll_minutes"),
    )


def find_feed(db: Database, url_or_id: str) -> Feed | None:
    where, params = ("id = ?", [int(url_or_id)]) if url_or_id.isdigit() else ("url = ?", [url_or_id])
    rows = list(db["feeds"].rows_where(where, params))
    return _feed_from_row(rows[0]) if rows else None


def add_feed(db: Database, url: str, name: str | None = None) -> tuple[Feed, bool]:
    """Add a feed; returns (feed, created). Adding a known URL again changes only its name."""
    with writing(db):
        existing = find_feed(db, url)
        if existing is not None:
            if name and name != existing.name:
                db["feeds"].update(existing.id, {"name": name})
            return find_feed(db, url), False
        db["feeds"].insert({"url": url, "name": name, "added_at": utc_now(), "error_count": 0})
    return find_feed(db, url), True


def list_feeds(db: Database) -> list[Feed]:
    return [_feed_from_row(row) for row in db["feeds"].rows_where(order_by="id")]


def remove_feed(db: Database, url_or_id: str) -> Feed:
    """Remove a feed; its articles stay, detached from it."""
    feed = find_feed(db, url_or_id)
    if feed is None:
        raise UserError(f"no feed {url_or_id!r}: see 'supplywatch feeds list' for URLs and ids")
    with writing(db):
        db.execute("UPDATE articles SET feed_id = NULL WHERE feed_id = ?", [feed.id])
        db["feeds"].delete(feed.id)
    return feed


def record_poll(db: Database, result: FeedResult, polled_at: str | None = None, next_due_at: str | None = None) -> int:
    """Record a poll and queue its entries not stored or queued yet, in one
    transaction; returns how many entries were queued."""
    polled_at = polled_at or utc_now()
    changes: dict[str, object] = {"last_polled_at": polled_at, "next_due_at": next_due_at}
    if result.outcome == "failed":
        changes["error_count"] = result.feed.error_count + 1
        changes["last_error"] = result.error
    else:
        changes.update(error_count=0, last_error=None)
    if result.outcome == "ok":
        changes.update(etag=result.etag, last_modified=result.last_modified)
    queued = 0
    with writing(db):
        db["feeds"].update(result.feed.id, changes)
        for entry in result.entries:
            url = canonical_url(entry.link)
            if known_article_id(db, canonical_url=url) is not None:
                continue
            cursor = db.execute(
                "INSERT INTO pending_entries (feed_id, canonical_url, entry, queued_at, attempts)"
                " VALUES (?, ?, ?, ?, 0) ON CONFLICT DO NOTHING",
                [result.feed.id, url, json.dumps(asdict(entry), ensure_ascii=False), polled_at],
            )
            queued += cursor.rowcount > 0
    return queued


def due_feeds(db: Database, now: str) -> list[Feed]:
    rows = db["feeds"].rows_where("next_due_at IS NULL OR next_due_at <= ?", [now], order_by="id")
    return [_feed_from_row(row) for row in rows]


@dataclass(frozen=True)
class PendingEntry:
    id: int
    feed_id: int | None
    feed_url: str | None
    canonical_url: str
    entry: FeedEntry


def pending_entries(db: Database, limit: int, after_id: int = 0) -> list[PendingEntry]:
    """Queued entries in queue order, from the one after `after_id`."""
    rows = db.execute(
        "SELECT p.id, p.feed_id, f.url, p.canonical_url, p.entry FROM pending_entries p"
        " LEFT JOIN feeds f ON f.id = p.feed_id WHERE p.id > ? ORDER BY p.id LIMIT ?", [after_id, limit],
    ).fetchall()
    return [PendingEntry(row[0], row[1], row[2], row[3], FeedEntry(**json.loads(row[4]))) for row in rows]


def pending_count(db: Database) -> int:
    return db.execute("SELECT COUNT(*) FROM pending_entries").fetchone()[0]


def drop_pending(db: Database, pending_id: int) -> None:
    with writing(db):
        db.execute("DELETE FROM pending_entries WHERE id = ?", [pending_id])


# ---- articles and claims ----------------------------------------------

@dataclass(frozen=True)
class SaveResult:
    article_id: int
    duplicate: bool
    new_claims: int = 0


def known_article_id(db: Database, canonical_url: str | None = None, content_hash: str | None = None) -> int | None:
    for column, value in (("canonical_url", canonical_url), ("content_hash", content_hash)):
        if value is None:
            continue
        row = db.execute(f"SELECT id FROM articles WHERE {column} = ?", [value]).fetchone()
        if row:
            return row[0]
    return None


def _entity_id(db: Database, canonical: str, label: str, alias: str | None = None) -> int:
    db.execute(
        "INSERT INTO entities (canonical, label) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [canonical, label],
    )
    entity_id = db.execute(
        "SELECT id FROM entities WHERE label = ? AND canonical = ?", [label, canonical]
    ).fetchone()[0]
    if alias:
        db.execute(
            "INSERT INTO aliases (alias, entity_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [alias, entity_id],
        )
    return entity_id


def _claim_id(db: Database, claim: Claim, learned_at: str) -> tuple[int, bool]:
    ends = [(claim.subject, claim.subject_label), (claim.object, claim.object_label)]
    if claim.relation in SYMMETRIC_RELATIONS:
        ends.sort(key=lambda end: end[0].casefold())  # a symmetric pair is kept in name order
    subject_id, object_id = (_entity_id(db, name, label) for name, label in ends)
    key = [claim.relation, subject_id, object_id]
    row = db.execute(
        "SELECT id FROM claims WHERE relation = ? AND subject_id = ? AND object_id = ?", key
    ).fetchone()
    if row:
        return row[0], False
    label = f"{ends[0][0]} {claim.relation} {ends[1][0]}"
    cursor = db.execute(
        "INSERT INTO claims (relation, subject_id, object_id, first_seen_at, label) VALUES (?, ?, ?, ?, ?)",
        key + [learned_at, label],
    )
    return cursor.lastrowid, True


def save_article(db: Database, article: Article, extraction: Extraction, pending_id: int | None = None) -> SaveResult:
    """Store an article, its mentions and its claims in one transaction,
    taking its entry off the queue in the same transaction.

    An article already stored (same canonical URL or same text) is left as it is.
    """
    learned_at = article.fetched_at or utc_now()
    with writing(db):
        if pending_id is not None:
            db.execute("DELETE FROM pending_entries WHERE id = ?", [pending_id])
        existing = known_article_id(db, article.canonical_url, article.content_hash)
        if existing is not None:
            return SaveResult(existing, duplicate=True)
        article_id = db["articles"].insert(
            {
                "url": article.url, "canonical_url": article.canonical_url,
                "feed_id": article.feed_id, "guid": article.guid, "title": article.title,
                "author": article.author, "site": article.site,
                "published_at": article.published_at, "fetched_at": learned_at,
                "text": article.text, "content_hash": article.content_hash,
                "source": article.source,
            }
        ).last_pk
        new_claims, touched = _write_extraction(db, article_id, article.published_at, learned_at, article.site, extraction)
        refresh_changes(db, touched, appended_by=article_id)
    return SaveResult(article_id, duplicate=False, new_claims=new_claims)


def _write_extraction(db: Database, article_id: int, published_at: str | None, learned_at: str, site: str | None,
                      extraction: Extraction) -> tuple[int, set[int]]:
    """An article's mentions and claim evidence; returns (claims created, claims touched)."""
    entity_ids: dict[tuple[str, str], int] = {}  # an article names the same few entities many times
    aliases: set[tuple[str, int]] = set()
    rows = []
    for mention in extraction.mentions:
        key = (mention.canonical, mention.label)
        if key not in entity_ids:
            entity_ids[key] = _entity_id(db, mention.canonical, mention.label)
        aliases.add((mention.text, entity_ids[key]))
        rows.append((article_id, entity_ids[key], mention.start, mention.end, mention.text))
    db.conn.executemany("INSERT INTO aliases (alias, entity_id) VALUES (?, ?) ON CONFLICT DO NOTHING", sorted(aliases))
    db.conn.executemany(
        "INSERT INTO mentions (article_id, entity_id, start, end, text) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
    new_claims, touched = 0, set()
    for claim in extraction.claims:
        claim_id, created = _claim_id(db, claim, learned_at)
        new_claims += created
        touched.add(claim_id)
        db.execute(
            "INSERT INTO claim_evidence (claim_id, article_id, sentence, status, component, kind,"
            " published_at, learned_at, site, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [claim_id, article_id, claim.evidence, claim.status, claim.component, claim.kind,
             published_at, learned_at, site, claim.confidence],
        )
    return new_claims, touched


@dataclass(frozen=True)
class StoredText:
    """An article's text as stored, to be read again."""

    article_id: int
    text: str
    published_at: str | None


def stored_texts(db: Database, since: str | None = None) -> Iterator[StoredText]:
    where, params = ("fetched_at >= ?", [since]) if since else ("1 = 1", [])
    for row in db.execute(f"SELECT id, text, published_at FROM articles WHERE {where} ORDER BY id", params):
        yield StoredText(*row)


def replace_extraction(db: Database, article_id: int, extraction: Extraction) -> tuple[int, int]:
    """Swap an article's mentions and evidence for a new reading of it, in
    one transaction: claims left without evidence go, and the change events
    of every claim it touched are rebuilt. Returns (evidence before, after)."""
    with writing(db):
        row = db.execute("SELECT published_at, fetched_at, site FROM articles WHERE id = ?", [article_id]).fetchone()
        if row is None:
            return 0, 0
        published_at, learned_at, site = row
        before = {r[0] for r in db.execute("SELECT claim_id FROM claim_evidence WHERE article_id = ?", [article_id])}
        db.execute("DELETE FROM mentions WHERE article_id = ?", [article_id])
        db.execute("DELETE FROM claim_evidence WHERE article_id = ?", [article_id])
        _new, after = _write_extraction(db, article_id, published_at, learned_at or utc_now(), site, extraction)
        orphans = [claim_id for claim_id in before - after
                   if not db.execute("SELECT 1 FROM claim_evidence WHERE claim_id = ?", [claim_id]).fetchone()]
        if orphans:
            marks = ", ".join("?" * len(orphans))
            db.execute(f"DELETE FROM claim_changes WHERE claim_id IN ({marks}) OR old_claim_id IN ({marks})", orphans * 2)
            db.execute(f"DELETE FROM claims WHERE id IN ({marks})", orphans)
        refresh_changes(db, (before | after) - set(orphans))
    return len(before), len(after)


# ---- change events -------------------------------------------------------------

def _evidence_of(db: Database, claim_ids: Iterable[int]) -> dict[int, list[Evidence]]:
    ids = sorted(set(claim_ids))
    found: dict[int, list[Evidence]] = {claim_id: [] for claim_id in ids}
    if not ids:
        return found
    rows = db.execute(
        f"SELECT claim_id, article_id, status, COALESCE(published_at, learned_at), learned_at, component"
        f" FROM claim_evidence WHERE claim_id IN ({', '.join('?' * len(ids))})", ids,
    ).fetchall()
    for row in rows:
        found[row[0]].append(Evidence(*row))
    return found


CHANGE_COLUMNS = ("key", "kind", "claim_id", "old_claim_id", "before_status", "after_status", "before_article_id",
                  "after_article_id", "happened_at", "learned_at", "component")
EVENT_QUERY = f"SELECT {', '.join('ch.' + column for column in CHANGE_COLUMNS)} FROM claim_changes ch"


def _row_of(event: ChangeEvent) -> tuple:
    return (event.key, event.kind, event.claim_id, event.old_claim_id, event.before_status, event.after.status,
            event.before.article_id if event.before else None, event.after.article_id, event.happened_at,
            event.learned_at, event.component)


def _event_of(row: tuple) -> ChangeEvent:
    key, kind, claim_id, old_claim_id, before_status, after_status, before_id, after_id, happened, learned, component = row
    after = Evidence(claim_id, after_id, after_status, happened, learned, component)
    before = (Evidence(old_claim_id or claim_id, before_id, before_status, happened, learned, component)
              if before_id is not None else None)
    return ChangeEvent(key, kind, claim_id, before, after, happened, learned, old_claim_id, component)


def _write_rows(db: Database, rows: Iterable[tuple]) -> None:
    db.conn.executemany(
        f"INSERT OR REPLACE INTO claim_changes ({', '.join(CHANGE_COLUMNS)}) VALUES ({', '.join('?' * len(CHANGE_COLUMNS))})",
        list(rows),
    )


def refresh_changes(db: Database, claim_ids: Iterable[int], appended_by: int | None = None) -> None:
    """Bring the change events of these claims in line with all their
    evidence, then the supplier switches that the events which changed take
    part in. Only what differs is written, so re-running it changes nothing,
    and the result is what `rebuild_changes` would give.

    `appended_by` names the article whose evidence was just added: where it
    is a claim's latest news, as it is when news arrives in order, the claim's
    earlier events stand and only the step from the evidence before is read."""
    ids = sorted(set(claim_ids))
    if not ids:
        return
    removed, added, whole = [], [], []
    for claim_id in ids:
        step = _appended_step(db, claim_id, appended_by) if appended_by is not None else None
        if step is None:
            whole.append(claim_id)
        else:
            removed += step[0]
            added += step[1]
    if whole:
        stored = {row[0]: row for row in db.execute(
            EVENT_QUERY + f" WHERE +ch.kind != 'supplier_switch' AND ch.claim_id IN ({', '.join('?' * len(whole))})",
            whole)}
        fresh = {event.key: _row_of(event)
                 for evidence in _evidence_of(db, whole).values() for event in claim_events(evidence)}
        removed += [row for key, row in stored.items() if fresh.get(key) != row]
        added += [row for key, row in fresh.items() if stored.get(key) != row]
    db.conn.executemany("DELETE FROM claim_changes WHERE key = ?", [(row[0],) for row in removed])
    _write_rows(db, added)
    _refresh_switches(db, [_event_of(row) for row in removed], [_event_of(row) for row in added])


NEWS_ORDER_DESC = "COALESCE(published_at, learned_at) DESC, learned_at DESC, article_id DESC"


def _appended_step(db: Database, claim_id: int, article_id: int) -> tuple[list[tuple], list[tuple]] | None:
    """(rows removed, rows added) when the article's evidence is the claim's
    latest and follows earlier evidence; None when the whole history must be
    read again (a first statement, or an old article arriving late)."""
    latest = db.execute(
        "SELECT claim_id, article_id, status, COALESCE(published_at, learned_at), learned_at, component"
        f" FROM claim_evidence WHERE claim_id = ? ORDER BY {NEWS_ORDER_DESC} LIMIT 2", [claim_id]).fetchall()
    if len(latest) < 2 or latest[0][1] != article_id:
        return None
    newest, before = Evidence(*latest[0]), Evidence(*latest[1])
    first = db.execute(EVENT_QUERY + " WHERE ch.key = ?", [f"new:{claim_id}"]).fetchone()
    if first is None:
        return None
    removed, added = [], [_row_of(e) for e in claim_events([before, newest]) if e.kind == "status"]
    learned_index = CHANGE_COLUMNS.index("learned_at")
    if newest.learned_at < first[learned_index]:  # the claim's `new` event is learned at its earliest evidence
        removed.append(first)
        added.append(first[:learned_index] + (newest.learned_at,) + first[learned_index + 1:])
    return removed, added


def _customers(db: Database, claim_ids: set[int]) -> dict[int, int]:
    """SUPPLIES claim id -> its customer's entity id."""
    ids = sorted(claim_ids)
    if not ids:
        return {}
    return dict(db.execute(
        f"SELECT id, object_id FROM claims WHERE relation = 'SUPPLIES' AND id IN ({', '.join('?' * len(ids))})", ids))


def _refresh_switches(db: Database, removed: list[ChangeEvent], added: list[ChangeEvent]) -> None:
    """Redo the switches that depend on the changed events: those from a
    changed end, and those to a claim whose start changed, from the ends
    within a switch window of that start."""
    relevant = [(event, current) for events, current in ((removed, False), (added, True))
                for event in events if is_end(event) or is_start(event)]
    customer_of = _customers(db, {event.claim_id for event, _current in relevant})
    by_customer: dict[int, list[tuple[ChangeEvent, bool]]] = {}
    for event, current in relevant:
        if event.claim_id in customer_of:
            by_customer.setdefault(customer_of[event.claim_id], []).append((event, current))
    for customer_id, changed in by_customer.items():
        _refresh_customer_switches(db, customer_id, changed)


def _refresh_customer_switches(db: Database, customer_id: int, changed: list[tuple[ChangeEvent, bool]]) -> None:
    stale_ends = {(event.claim_id, event.after.article_id) for event, _current in changed if is_end(event)}
    new_ends = [event for event, current in changed if current and is_end(event)]
    changed_starts = [event for event, _current in changed if is_start(event)]
    stale_keys, fresh = set(), {}
    if new_ends:
        starts = SwitchStarts(_customer_events(db, customer_id, START_TEST, *_window(new_ends, 1)))
        for end in new_ends:
            fresh.update((switch.key, switch) for switch in starts.switches_from(end))
    if changed_starts:
        # the ends a changed start can reach, and for each the new supplier's starts around it
        ends = _customer_events(db, customer_id, END_TEST, *_window(changed_starts, 1))
        claim_starts: dict[int, SwitchStarts] = {}
        for start in changed_starts:
            if start.claim_id not in claim_starts:
                claim_starts[start.claim_id] = SwitchStarts(_customer_events(
                    db, customer_id, START_TEST + " AND ch.claim_id = ?", *_window(changed_starts, 2), [start.claim_id]))
            day = news_day(start.happened_at).toordinal()
            for end in ends:
                if end.claim_id != start.claim_id and abs(news_day(end.happened_at).toordinal() - day) <= SWITCH_WINDOW.days:
                    stale_keys.add(switch_key(end.claim_id, start.claim_id, end.after.article_id))
                    fresh.update((s.key, s) for s in claim_starts[start.claim_id].switches_from(end, only_claim=start.claim_id))
    db.conn.executemany(
        "DELETE FROM claim_changes WHERE +kind = 'supplier_switch' AND old_claim_id = ? AND before_article_id = ?",
        sorted(stale_ends))
    db.conn.executemany("DELETE FROM claim_changes WHERE key = ?", [(key,) for key in sorted(stale_keys)])
    _write_rows(db, (_row_of(switch) for switch in fresh.values()))


# what is_end and is_start test, in SQL, so that only those events are read
END_TEST = "ch.after_status IN ('ended', 'denied')"
START_TEST = ("ch.after_status IN ('active', 'planned')"
              " AND (ch.kind = 'new' OR COALESCE(ch.before_status, '') NOT IN ('active', 'planned'))")


def _window(events: list[ChangeEvent], windows: int) -> tuple[date, date]:
    days = [news_day(event.happened_at) for event in events]
    return min(days) - windows * SWITCH_WINDOW, max(days) + windows * SWITCH_WINDOW


def _customer_events(db: Database, customer_id: int, test: str, since: date, until: date,
                     extra: list | None = None) -> list[ChangeEvent]:
    """The events of a customer's SUPPLIES claims that pass `test` and happened in [since, until]."""
    rows = db.execute(
        EVENT_QUERY + " JOIN claims c ON c.id = ch.claim_id WHERE +c.relation = 'SUPPLIES' AND c.object_id = ?"
        f" AND +ch.kind IN ('new', 'status') AND ch.happened_at >= ? AND ch.happened_at < ? AND {test}",
        [customer_id, since.isoformat(), (until + timedelta(days=1)).isoformat(), *(extra or [])],
    ).fetchall()
    return [_event_of(row) for row in rows]


def rebuild_changes(db: Database) -> None:
    """Every change event rebuilt from the evidence alone: what refresh_changes
    keeps up to date article by article (used by migrations and checks)."""
    db.execute("DELETE FROM claim_changes")
    ids = [row[0] for row in db.execute("SELECT id FROM claims ORDER BY id")]
    _write_rows(db, (_row_of(event) for evidence in _evidence_of(db, ids).values() for event in claim_events(evidence)))
    customers = [row[0] for row in db.execute("SELECT DISTINCT object_id FROM claims WHERE relation = 'SUPPLIES'")]
    everything = (date.min, date.max - timedelta(days=1))
    for customer_id in customers:
        starts = SwitchStarts(_customer_events(db, customer_id, START_TEST, *everything))
        ends = _customer_events(db, customer_id, END_TEST, *everything)
        _write_rows(db, (_row_of(switch) for end in ends for switch in starts.switches_from(end)))


def current_claims(db: Database) -> list[dict]:
    return list(db.query("SELECT * FROM current_claims ORDER BY subject, relation, object"))


def counts(db: Database) -> dict[str, int]:
    return {name: db[name].count for name in ("feeds", "articles", "entities", "claims", "claim_evidence")}


# ---- reading changes and history ----------------------------------------------

@dataclass(frozen=True)
class ChangeRow:
    """A change event with what a reader needs: names, quotes and sources."""

    key: str
    kind: str
    relation: str
    subject: str
    object: str
    before_status: str | None
    after_status: str
    happened_at: str
    learned_at: str
    component: str | None
    sentence: str | None
    url: str | None
    title: str | None
    site: str | None
    claim_id: int
    old_subject: str | None = None
    before_sentence: str | None = None
    before_url: str | None = None


CHANGE_QUERY = """
SELECT ch.key, ch.kind, c.relation, s.canonical AS subject, o.canonical AS object,
    ch.before_status, ch.after_status, ch.happened_at, ch.learned_at, ch.component,
    after_ev.sentence, a.url, a.title, COALESCE(a.site, after_ev.site) AS site, ch.claim_id,
    old_s.canonical AS old_subject, before_ev.sentence AS before_sentence, b.url AS before_url
FROM claim_changes ch
JOIN claims c ON c.id = ch.claim_id
JOIN entities s ON s.id = c.subject_id
JOIN entities o ON o.id = c.object_id
JOIN articles a ON a.id = ch.after_article_id
LEFT JOIN articles b ON b.id = ch.before_article_id
LEFT JOIN claim_evidence after_ev ON after_ev.claim_id = ch.claim_id AND after_ev.article_id = ch.after_article_id
LEFT JOIN claims old ON old.id = ch.old_claim_id
LEFT JOIN entities old_s ON old_s.id = old.subject_id
LEFT JOIN claim_evidence before_ev
    ON before_ev.claim_id = COALESCE(ch.old_claim_id, ch.claim_id) AND before_ev.article_id = ch.before_article_id
"""


def changes_since(db: Database, since: str | None = None, until: str | None = None,
                  kinds: Iterable[str] | None = None, after: str | None = None) -> list[ChangeRow]:
    """Change events learned from `since` (or strictly after `after`) up to
    and including `until`, oldest news first."""
    where, params = ["1 = 1"], []
    for column_test, value in (("ch.learned_at >= ?", since), ("ch.learned_at > ?", after), ("ch.learned_at <= ?", until)):
        if value:
            where.append(column_test)
            params.append(value)
    if kinds:
        kinds = list(kinds)
        where.append(f"ch.kind IN ({', '.join('?' * len(kinds))})")
        params += kinds
    sql = CHANGE_QUERY + f" WHERE {' AND '.join(where)} ORDER BY ch.happened_at, ch.learned_at, ch.key"
    return [ChangeRow(*row) for row in db.execute(sql, params).fetchall()]


@dataclass(frozen=True)
class HistoryRow:
    """One article's statement of one claim, in news order."""

    news_at: str
    relation: str
    subject: str
    object: str
    status: str
    change: str | None
    site: str | None
    url: str | None
    sentence: str | None
    claim_id: int


def entity_ids(db: Database, name: str) -> list[int]:
    """Entities whose canonical name or a seen alias is `name` (any case)."""
    rows = db.execute(
        "SELECT id FROM entities WHERE canonical = ? COLLATE NOCASE"
        " UNION SELECT entity_id FROM aliases WHERE alias = ? COLLATE NOCASE",
        [name, name],
    ).fetchall()
    return sorted({row[0] for row in rows})


def company_history(db: Database, company: str, other: str | None = None) -> list[HistoryRow]:
    """The timeline of a company's claims, or of the claims between two."""
    names = [company] + ([other] if other else [])
    resolved = []
    for name in names:
        ids = entity_ids(db, name)
        if not ids:
            raise UserError(f"no company or place named {name!r} in the store: see 'supplywatch claims' for names")
        resolved.append(ids)
    first = ", ".join(map(str, resolved[0]))
    where = f"(c.subject_id IN ({first}) OR c.object_id IN ({first}))"
    if other:
        second = ", ".join(map(str, resolved[1]))
        where = (f"((c.subject_id IN ({first}) AND c.object_id IN ({second}))"
                 f" OR (c.subject_id IN ({second}) AND c.object_id IN ({first})))")
    rows = db.execute(
        f"""SELECT COALESCE(ce.published_at, ce.learned_at) AS news_at, c.relation, s.canonical, o.canonical,
                ce.status, ch.kind, COALESCE(a.site, ce.site), a.url, ce.sentence, c.id
            FROM claim_evidence ce
            JOIN claims c ON c.id = ce.claim_id
            JOIN entities s ON s.id = c.subject_id
            JOIN entities o ON o.id = c.object_id
            JOIN articles a ON a.id = ce.article_id
            LEFT JOIN claim_changes ch ON ch.claim_id = ce.claim_id AND ch.after_article_id = ce.article_id
                AND ch.kind IN ('new', 'status')
            WHERE {where}
            ORDER BY news_at, ce.learned_at, ce.article_id, c.relation, s.canonical, o.canonical"""
    ).fetchall()
    return [HistoryRow(*row) for row in rows]
