"""Extract: turn a fetched page (or, failing that, the feed entry) into an
Article with main text and metadata, a canonical URL and a content hash."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import lxml.html
import trafilatura
from lxml import etree
from lxml.etree import ParserError

from .records import Article, FeedEntry, Page

log = logging.getLogger(__name__)

TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "mkt_tok",
    "ocid", "cmpid", "_ga", "_gl", "ref", "ref_src", "src", "spm", "yclid", "guccounter",
}
HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    rb"(<!doctype html|<html|<head|<body|<article|<div|<p[\s>])",
    re.I | re.S,
)
MIN_TEXT_CHARS = 200


def canonical_url(url: str) -> str:
    """The URL with tracking parameters, fragment and default port removed,
    host lower-cased and the remaining query sorted."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}.get(scheme)
    netloc = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    query = sorted(
        (key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in TRACKING_PARAMS
    )
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def content_hash(text: str) -> str:
    """A hash of the text that ignores case and white space."""
    normalised = " ".join(text.lower().split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def normalise_date(value: str | None) -> str | None:
    """An ISO 8601 date or timestamp (UTC), or None when it cannot be read."""
    if not value:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if "T" not in text.upper() and ":" not in text:
        return parsed.date().isoformat()
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def looks_like_html(data: bytes) -> bool:
    return bool(HTML_START.match(data[:2048]))


def html_fragment_text(fragment: str) -> str:
    """Plain text of a small HTML fragment such as a feed entry's summary."""
    try:
        root = lxml.html.fromstring(fragment)
    except (ParserError, ValueError):
        return fragment.strip()
    etree.strip_elements(root, etree.Comment, with_tail=False)
    for br in root.iter("br", "p", "div", "li"):
        br.tail = "\n" + (br.tail or "")
    return "\n".join(line.strip() for line in root.text_content().splitlines() if line.strip())


def main_text(html: bytes | str, url: str | None = None):
    """trafilatura's reading of a page: a Document with text and metadata, or None."""
    try:
        return trafilatura.bare_extraction(
            html, url=url, with_metadata=True, include_comments=False, include_tables=False
        )
    except Exception as exc:  # trafilatura raises assorted errors on broken markup
        log.warning("could not extract text from %s: %s", url or "document", exc)
        return None


def article_from_page(
    page: Page, entry: FeedEntry | None = None, feed_id: int | None = None, fetched_at: str | None = None
) -> Article | None:
    """The page's main text and metadata; falls back to the feed entry's text
    when the page yields none. None when neither has text."""
    document = main_text(page.body, page.final_url)
    text = (document.text or "").strip() if document else ""
    if len(text) < MIN_TEXT_CHARS and entry is not None:
        log.info("page %s gave no main text; using the feed entry", page.url)
        return article_from_entry(entry, feed_id, fetched_at)
    if not text:
        return None
    entry_date = entry.published_at if entry else None
    return Article(
        url=page.url,
        canonical_url=canonical_url(page.final_url),
        text=text,
        content_hash=content_hash(text),
        source="page",
        title=(document.title or (entry.title if entry else None)),
        author=document.author or (entry.author if entry else None),
        site=document.sitename or urlsplit(page.final_url).hostname,
        published_at=entry_date or normalise_date(document.date),
        fetched_at=fetched_at,
        feed_id=feed_id,
        guid=entry.guid if entry else None,
    )


def article_from_entry(entry: FeedEntry, feed_id: int | None = None, fetched_at: str | None = None) -> Article | None:
    """An article made from the feed entry alone (its content, else summary)."""
    raw = entry.content or entry.summary or ""
    text = html_fragment_text(raw) if raw.strip() else ""
    if not text:
        return None
    return Article(
        url=entry.link,
        canonical_url=canonical_url(entry.link),
        text=text,
        content_hash=content_hash(text),
        source="feed_entry",
        title=entry.title,
        author=entry.author,
        site=urlsplit(entry.link).hostname,
        published_at=entry.published_at,
        fetched_at=fetched_at,
        feed_id=feed_id,
        guid=entry.guid,
    )


def text_of_document(data: bytes, source: str) -> tuple[str, str | None]:
    """(text, title) of a local or fetched document: HTML goes through
    trafilatura, anything else is read as UTF-8 plain text."""
    if looks_like_html(data):
        document = main_text(data, source if "://" in source else None)
        if document and document.text:
            return document.text.strip(), document.title
        return html_fragment_text(data.decode("utf-8", errors="replace")), None
    return data.decode("utf-8", errors="replace"), None
