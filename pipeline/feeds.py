"""Feeds: check feed URLs, read OPML subscription lists, add, list and
remove feeds in the store, and decide when each feed is polled next."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree
from sqlite_utils import Database

from . import store
from .config import Settings
from .errors import UserError
from .records import Feed, FeedResult

log = logging.getLogger(__name__)


def check_feed_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"not a feed URL: {url!r}; give a full http:// or https:// address")
    return url.strip()


def read_opml(path: str | Path) -> list[tuple[str, str | None]]:
    """(url, title) of every outline with an xmlUrl in an OPML file."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {file}: {exc.strerror}") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise UserError(f"{file} is not valid OPML: {exc}") from None
    if root.tag.lower() != "opml":
        raise UserError(f"{file} is not OPML: its root element is <{root.tag}>, not <opml>")
    found = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if url:
            found.append((url.strip(), outline.get("title") or outline.get("text")))
    return found


def add(db: Database, url: str, name: str | None = None) -> tuple[Feed, bool]:
    return store.add_feed(db, check_feed_url(url), name)


def import_opml(db: Database, path: str | Path) -> tuple[int, int, list[str]]:
    """Add the feeds of an OPML file: (added, already present, skipped URLs)."""
    added = present = 0
    skipped = []
    for url, title in read_opml(path):
        try:
            _feed, created = add(db, url, title)
        except UserError as exc:
            log.warning("OPML outline skipped: %s", exc)
            skipped.append(url)
            continue
        added += created
        present += not created
    return added, present, skipped


MAX_DOUBLINGS = 10


def poll_interval(feed: Feed, result: FeedResult, settings: Settings) -> timedelta:
    """The wait before the next poll: the feed's own interval (or the
    default), doubled for each failure in a row up to a cap, never shorter
    than the server's Retry-After or Cache-Control max-age."""
    minutes = feed.poll_minutes or settings.poll_minutes
    if result.outcome == "failed":
        failures = feed.error_count + 1
        minutes = min(minutes * 2 ** min(failures - 1, MAX_DOUBLINGS), max(settings.max_backoff_minutes, minutes))
    wait = timedelta(minutes=minutes)
    if result.wait_seconds:
        wait = max(wait, timedelta(seconds=result.wait_seconds))
    return wait


def next_due_at(feed: Feed, result: FeedResult, settings: Settings, polled_at: str,
                rng: random.Random | None = None) -> str:
    wait = poll_interval(feed, result, settings)
    jitter = (rng or random).uniform(-settings.poll_jitter, settings.poll_jitter) if settings.poll_jitter else 0.0
    return (datetime.fromisoformat(polled_at) + wait * (1 + jitter)).isoformat()
