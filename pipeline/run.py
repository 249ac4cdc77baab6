"""One run of the pipeline: poll every feed, fetch the new articles, read
their text, extract claims and store them. `run --once`, the demo and (later)
the scheduler all call run_once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from spacy.language import Language
from sqlite_utils import Database

from . import store
from .config import Settings
from .extract import article_from_entry, article_from_page, canonical_url
from .fetch import FetchError, fetch_feed, fetch_page, make_client
from .nlp import extract_many, load_pipeline
from .progress import tracked
from .records import Article, Feed, FeedEntry

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    feeds_polled: int = 0
    feeds_not_modified: int = 0
    feeds_failed: int = 0
    articles_new: int = 0
    articles_duplicate: int = 0
    articles_failed: int = 0
    articles_from_feed_entry: int = 0
    claims_new: int = 0
    failed_feeds: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"feeds: {self.feeds_polled} polled, {self.feeds_not_modified} not modified, "
            f"{self.feeds_failed} failed; articles: {self.articles_new} new, "
            f"{self.articles_duplicate} duplicate, {self.articles_failed} failed; "
            f"claims: {self.claims_new} new"
        )


def _article_for(client: httpx.Client, feed: Feed, entry: FeedEntry, settings: Settings, fetched_at: str) -> Article | None:
    """The entry's page as an article; the feed entry's own text if the page fails."""
    try:
        page = fetch_page(client, entry.link, settings, trusted_host=urlsplit(feed.url).hostname)
        return article_from_page(page, entry, feed.id, fetched_at)
    except FetchError as exc:
        log.warning("article %s not fetched (%s); using the feed entry text", entry.link, exc)
        return article_from_entry(entry, feed.id, fetched_at)


def collect_articles(db: Database, client: httpx.Client, settings: Settings, summary: RunSummary) -> list[Article]:
    """Poll the feeds and fetch the articles not stored yet."""
    articles: list[Article] = []
    seen_urls: set[str] = set()
    for feed in tracked(store.list_feeds(db), "polling feeds"):
        result = fetch_feed(client, feed, settings)
        store.record_poll(db, result)
        summary.feeds_polled += 1
        if result.outcome == "not_modified":
            summary.feeds_not_modified += 1
        elif result.outcome == "failed":
            summary.feeds_failed += 1
            summary.failed_feeds.append(feed.url)
        fetched_at = store.utc_now()
        for entry in result.entries:
            url = canonical_url(entry.link)
            if url in seen_urls or store.known_article_id(db, canonical_url=url) is not None:
                summary.articles_duplicate += 1
                continue
            seen_urls.add(url)
            article = _article_for(client, feed, entry, settings, fetched_at)
            if article is None:
                log.warning("article %s has no text in its page or its feed entry; skipped", entry.link)
                summary.articles_failed += 1
                continue
            summary.articles_from_feed_entry += article.source == "feed_entry"
            articles.append(article)
    return articles


def store_articles(db: Database, nlp: Language, articles: list[Article], settings: Settings, summary: RunSummary) -> None:
    """Extract claims from each article and store it with them, one transaction each."""
    processes = settings.nlp_processes if len(articles) >= 4 * settings.nlp_batch_size else 1
    extractions = extract_many(
        nlp, (a.text for a in articles), batch_size=settings.nlp_batch_size, n_process=processes,
        published=(a.published_at for a in articles),
    )
    for article, extraction in tracked(zip(articles, extractions), "reading articles", total=len(articles)):
        saved = store.save_article(db, article, extraction)
        if saved.duplicate:
            summary.articles_duplicate += 1
        else:
            summary.articles_new += 1
            summary.claims_new += saved.new_claims


def run_once(
    db: Database,
    settings: Settings,
    transport: httpx.BaseTransport | None = None,
    nlp: Language | None = None,
) -> RunSummary:
    summary = RunSummary()
    with make_client(settings, transport) as client:
        articles = collect_articles(db, client, settings, summary)
    if articles:
        store_articles(db, nlp or load_pipeline(settings.models_dir), articles, settings, summary)
    log.info(summary.line())
    return summary
