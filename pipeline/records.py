"""The plain, frozen dataclasses that the pipeline stages hand to each other."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    name: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: str | None = None
    error_count: int = 0
    last_error: str | None = None
    next_due_at: str | None = None
    poll_minutes: float | None = None


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, as the feed describes it."""

    link: str
    guid: str | None = None
    title: str | None = None
    published_at: str | None = None
    author: str | None = None
    summary: str | None = None
    content: str | None = None


@dataclass(frozen=True)
class FeedResult:
    """What one poll of one feed gave: entries, or 'not modified', or an error."""

    feed: Feed
    outcome: str  # "ok" | "not_modified" | "failed"
    entries: tuple[FeedEntry, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    wait_seconds: float | None = None  # the server's Retry-After or Cache-Control max-age


@dataclass(frozen=True)
class Page:
    """A fetched web page: the bytes as served and where they came from."""

    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    encoding: str | None = None


@dataclass(frozen=True)
class Article:
    """An article's main text and metadata, ready for NLP and storage."""

    url: str
    canonical_url: str
    text: str
    content_hash: str
    source: str  # "page" | "feed_entry" | "file"
    title: str | None = None
    author: str | None = None
    site: str | None = None
    published_at: str | None = None
    fetched_at: str | None = None
    feed_id: int | None = None
    guid: str | None = None


@dataclass(frozen=True)
class Mention:
    """An entity found in an article's text; start/end are character offsets."""

    text: str
    label: str
    start: int
    end: int
    canonical: str


@dataclass(frozen=True)
class Claim:
    """One sourcing or partnership claim read from an article."""

    relation: str
    subject: str
    object: str
    status: str
    evidence: str
    confidence: float
    component: str | None = None
    kind: str | None = None
    subject_label: str = "ORG"
    object_label: str = "ORG"
    sentence_start: int | None = None


@dataclass(frozen=True)
class Extraction:
    """Everything the NLP stage read from one text."""

    mentions: tuple[Mention, ...] = ()
    claims: tuple[Claim, ...] = field(default_factory=tuple)
