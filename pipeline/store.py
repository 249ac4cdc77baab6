"""The store: the only module that writes SQLite. Recorded migrations create
the schema; each article is saved with its mentions and claims in one
transaction, and saving the same article again stores nothing twice."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlite_utils import Database, Migrations

from .errors import UserError
from .records import Article, Claim, Extraction, Feed, FeedResult

log = logging.getLogger(__name__)

SYMMETRIC_RELATIONS = {"PARTNERS_WITH"}
migrations = Migrations("supplywatch")


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


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
    )


def find_feed(db: Database, url_or_id: str) -> Feed | None:
    where, params = ("id = ?", [int(url_or_id)]) if url_or_id.isdigit() else ("url = ?", [url_or_id])
    rows = list(db["feeds"].rows_where(where, params))
    return _feed_from_row(rows[0]) if rows else None


def add_feed(db: Database, url: str, name: str | None = None) -> tuple[Feed, bool]:
    """Add a feed; returns (feed, created). Adding a known URL again changes only its name."""
    with db.atomic():
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
    with db.atomic():
        db.execute("UPDATE articles SET feed_id = NULL WHERE feed_id = ?", [feed.id])
        db["feeds"].delete(feed.id)
    return feed


def record_poll(db: Database, result: FeedResult, polled_at: str | None = None) -> None:
    polled_at = polled_at or utc_now()
    changes: dict[str, object] = {"last_polled_at": polled_at}
    if result.outcome == "failed":
        changes["error_count"] = result.feed.error_count + 1
        changes["last_error"] = result.error
    else:
        changes.update(error_count=0, last_error=None)
    if result.outcome == "ok":
        changes.update(etag=result.etag, last_modified=result.last_modified)
    with db.atomic():
        db["feeds"].update(result.feed.id, changes)


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
    cursor = db.execute(
        "INSERT INTO claims (relation, subject_id, object_id, first_seen_at) VALUES (?, ?, ?, ?)",
        key + [learned_at],
    )
    return cursor.lastrowid, True


def save_article(db: Database, article: Article, extraction: Extraction) -> SaveResult:
    """Store an article, its mentions and its claims in one transaction.

    An article already stored (same canonical URL or same text) is left as it is.
    """
    learned_at = article.fetched_at or utc_now()
    with db.atomic():
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
        for mention in extraction.mentions:
            entity_id = _entity_id(db, mention.canonical, mention.label, alias=mention.text)
            db.execute(
                "INSERT INTO mentions (article_id, entity_id, start, end, text) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [article_id, entity_id, mention.start, mention.end, mention.text],
            )
        new_claims = 0
        for claim in extraction.claims:
            claim_id, created = _claim_id(db, claim, learned_at)
            new_claims += created
            db.execute(
                "INSERT INTO claim_evidence (claim_id, article_id, sentence, status, component, kind,"
                " published_at, learned_at, site, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [claim_id, article_id, claim.evidence, claim.status, claim.component, claim.kind,
                 article.published_at, learned_at, article.site, claim.confidence],
            )
    return SaveResult(article_id, duplicate=False, new_claims=new_claims)


def current_claims(db: Database) -> list[dict]:
    return list(db.query("SELECT * FROM current_claims ORDER BY subject, relation, object"))


def counts(db: Database) -> dict[str, int]:
    return {name: db[name].count for name in ("feeds", "articles", "entities", "claims", "claim_evidence")}
