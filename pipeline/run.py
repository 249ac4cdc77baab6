"""One run of the pipeline: poll the feeds (queueing their new entries),
then fetch the queued articles, read their text, extract claims and store
them. `run --once`, the demo and the scheduler all call run_once."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from spacy.language import Language
from sqlite_utils import Database

from . import store
from .config import Settings
from .extract import article_from_entry, article_from_page
from .fetch import FetchError, fetch_feed, fetch_page, make_client
from .nlp import WorkerReader, extract_many, load_pipeline
from .progress import tracked
from .records import Article, Extraction, Feed
from .feeds import next_due_at

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
    words: int = 0
    # seconds per stage: poll; fetch and extract (summed over the fetch threads, which run
    # while the NLP reads); fetch_wait (the reader waiting for pages); nlp; store
    seconds: defaultdict = field(default_factory=lambda: defaultdict(float))

    def line(self) -> str:
        return (
            f"feeds: {self.feeds_polled} polled, {self.feeds_not_modified} not modified, "
            f"{self.feeds_failed} failed; articles: {self.articles_new} new, "
            f"{self.articles_duplicate} duplicate, {self.articles_failed} failed; "
            f"claims: {self.claims_new} new"
        )


def poll_feeds(db: Database, client: httpx.Client, settings: Settings, feeds: list[Feed], summary: RunSummary) -> None:
    """Poll the feeds; each poll and the entries it found that are not stored
    yet are recorded in one transaction, so a restart loses nothing."""
    for feed in tracked(feeds, "polling feeds"):
        started = time.monotonic()
        result = fetch_feed(client, feed, settings)
        summary.seconds["poll"] += time.monotonic() - started
        polled_at = store.utc_now()
        queued = store.record_poll(db, result, polled_at, next_due_at(feed, result, settings, polled_at))
        summary.feeds_polled += 1
        summary.articles_duplicate += len(result.entries) - queued
        if result.outcome == "not_modified":
            summary.feeds_not_modified += 1
        elif result.outcome == "failed":
            summary.feeds_failed += 1
            summary.failed_feeds.append(feed.url)


class PageFetcher:
    """Fetches article pages on a few threads while the NLP works, with at
    most `per_host_connections` requests to one site at a time and
    `politeness_delay` seconds between two requests to the same site."""

    def __init__(self, client: httpx.Client, settings: Settings):
        self.client = client
        self.settings = settings
        self.pool = ThreadPoolExecutor(max_workers=max(1, settings.fetch_workers), thread_name_prefix="fetch")
        self.host_slots: dict[str, threading.Semaphore] = defaultdict(
            lambda: threading.Semaphore(max(1, settings.per_host_connections)))
        self.next_slot: dict[str, float] = {}
        self.lock = threading.Lock()
        self.fetch_seconds = 0.0  # worker time: downloading pages
        self.extract_seconds = 0.0  # worker time: reading the main text out of them

    def submit(self, pending: store.PendingEntry) -> Future:
        return self.pool.submit(self._fetch, pending)

    def _wait_turn(self, host: str) -> None:
        with self.lock:
            now = time.monotonic()
            turn = max(now, self.next_slot.get(host, now))
            self.next_slot[host] = turn + self.settings.politeness_delay
        if turn > now:
            time.sleep(turn - now)

    def _fetch(self, pending: store.PendingEntry) -> Article | None:
        """The page (or, when it fails, the feed entry's text) as an article."""
        entry, fetched_at = pending.entry, store.utc_now()
        host = urlsplit(entry.link).hostname or ""
        started = time.monotonic()
        try:
            with self.host_slots[host]:
                self._wait_turn(host)
                trusted = urlsplit(pending.feed_url).hostname if pending.feed_url else None
                page = fetch_page(self.client, entry.link, self.settings, trusted_host=trusted)
        except FetchError as exc:
            log.warning("article %s not fetched (%s); using the feed entry text", entry.link, exc)
            page = None
        fetched = time.monotonic()
        article = (article_from_page(page, entry, pending.feed_id, fetched_at) if page is not None
                   else article_from_entry(entry, pending.feed_id, fetched_at))
        with self.lock:
            self.fetch_seconds += fetched - started
            self.extract_seconds += time.monotonic() - fetched
        return article

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def process_pending(
    db: Database, client: httpx.Client, nlp: Language | None, settings: Settings, summary: RunSummary,
    stop: threading.Event | None = None,
) -> None:
    """Fetch, read and store the queued entries a batch at a time: while one
    batch is stored, the next ones are fetched and read. A large queue is read
    in `nlp_processes` worker processes; a small one in this process (with
    `nlp`, or the pipeline loaded on first need). With `stop` set, the article
    in hand is finished and stored, then it returns."""
    batch_size = max(1, settings.nlp_batch_size * 4)
    fetcher = PageFetcher(client, settings)
    workers = _workers_for(db, settings)
    reader = _Reader(nlp, settings, workers, stop)
    reading: deque[tuple[list, Future | None]] = deque()
    taken = [0]  # the last queue id handed to the fetcher: entries are taken in queue order
    try:
        in_flight = _submit_batch(db, fetcher, batch_size, taken, summary)
        while (in_flight or reading) and not (stop and stop.is_set()):
            if in_flight:
                waited = time.monotonic()
                ready = list(_collected(db, in_flight, summary))
                summary.seconds["fetch_wait"] += time.monotonic() - waited
                in_flight = _submit_batch(db, fetcher, batch_size, taken, summary)
                if ready:
                    reading.append((ready, reader.submit(ready)))
            while reading and (len(reading) > reader.depth or not in_flight) and not (stop and stop.is_set()):
                ready, job = reading.popleft()
                _store_batch(db, ready, reader.extractions(ready, job, summary), summary, stop)
    finally:
        if workers is not None:
            workers.close()
        fetcher.close()
        summary.seconds["fetch"] += fetcher.fetch_seconds
        summary.seconds["extract"] += fetcher.extract_seconds


def _workers_for(db: Database, settings: Settings) -> WorkerReader | None:
    queued = store.pending_count(db)
    if settings.nlp_processes < 1 or queued < settings.nlp_worker_min_articles:
        return None
    log.info("%d articles queued: reading them in %d NLP worker process(es)", queued, settings.nlp_processes)
    return WorkerReader(settings.models_dir, settings.nlp_processes, settings.nlp_batch_size)


class _Reader:
    """Hands each fetched batch to the NLP workers, or reads it here, lazily,
    as it is stored. A batch whose worker died is read here instead."""

    def __init__(self, nlp: Language | None, settings: Settings, workers: WorkerReader | None,
                 stop: threading.Event | None = None):
        self.nlp, self.settings, self.workers, self.stop = nlp, settings, workers, stop
        self.depth = workers.depth if workers is not None else 0

    def submit(self, ready: list) -> Future | None:
        if self.workers is None:
            return None
        articles = [article for _pending, article in ready]
        try:
            return self.workers.submit([a.text for a in articles], [a.published_at for a in articles])
        except BrokenProcessPool:  # a worker died earlier: the batch is read here when it is stored
            return None

    def extractions(self, ready: list, job: Future | None, summary: RunSummary) -> Iterator[Extraction]:
        if job is not None:
            waited = time.monotonic()
            try:
                extractions, seconds = job.result()
            except (BrokenProcessPool, OSError) as exc:
                if self.stop is not None and self.stop.is_set():
                    return  # stopping: a service manager may have signalled the workers too
                log.warning("an NLP worker failed (%s); reading its %d articles in this process",
                            exc or type(exc).__name__, len(ready))
            else:
                summary.seconds["nlp_wait"] += time.monotonic() - waited
                summary.seconds["nlp"] += seconds
                yield from extractions
                return
        if self.nlp is None:
            self.nlp = load_pipeline(self.settings.models_dir)
        articles = [article for _pending, article in ready]
        extractions = extract_many(self.nlp, (a.text for a in articles), batch_size=self.settings.nlp_batch_size,
                                   published=(a.published_at for a in articles))
        while True:
            started = time.monotonic()
            extraction = next(extractions, None)
            summary.seconds["nlp"] += time.monotonic() - started
            if extraction is None:
                return
            yield extraction


def _submit_batch(db: Database, fetcher: PageFetcher, size: int, taken: list[int], summary: RunSummary) -> list:
    """Start fetching the next queued entries not taken yet; entries already
    stored under the same address leave the queue without a request."""
    submitted = []
    for pending in store.pending_entries(db, size, after_id=taken[0]):
        taken[0] = pending.id
        if store.known_article_id(db, canonical_url=pending.canonical_url) is not None:
            store.drop_pending(db, pending.id)
            summary.articles_duplicate += 1
            continue
        submitted.append((pending, fetcher.submit(pending)))
    return submitted


def _collected(db: Database, in_flight: list, summary: RunSummary) -> Iterator[tuple[store.PendingEntry, Article]]:
    for pending, future in tracked(in_flight, "fetching articles"):
        try:
            article = future.result()
        except Exception as exc:  # a page that breaks the fetcher must not stop the run
            log.warning("article %s failed: %s", pending.entry.link, exc)
            article = None
        if article is None:
            log.warning("article %s has no text in its page or its feed entry; skipped", pending.entry.link)
            store.drop_pending(db, pending.id)
            summary.articles_failed += 1
            continue
        summary.articles_from_feed_entry += article.source == "feed_entry"
        yield pending, article


def _store_batch(db: Database, ready: list, extractions: Iterator[Extraction], summary: RunSummary,
                 stop: threading.Event | None) -> None:
    """Each article stored with its claims and taken off the queue in one transaction."""
    for (pending, article), extraction in tracked(zip(ready, extractions), "reading articles", total=len(ready)):
        started = time.monotonic()
        saved = store.save_article(db, article, extraction, pending_id=pending.id)
        summary.seconds["store"] += time.monotonic() - started
        summary.words += len(article.text.split())
        if saved.duplicate:
            summary.articles_duplicate += 1
        else:
            summary.articles_new += 1
            summary.claims_new += saved.new_claims
        if stop and stop.is_set():
            return


def poll_due(db: Database, settings: Settings, transport: httpx.BaseTransport | None = None) -> RunSummary:
    """Poll the feeds whose time has come and queue their new entries."""
    summary = RunSummary()
    with make_client(settings, transport) as client:
        poll_feeds(db, client, settings, store.due_feeds(db, store.utc_now()), summary)
    return summary


def read_queue(
    db: Database, settings: Settings, nlp: Language | None = None, transport: httpx.BaseTransport | None = None,
    stop: threading.Event | None = None,
) -> RunSummary:
    """Fetch, read and store the queued entries."""
    summary = RunSummary()
    if store.pending_count(db):
        with make_client(settings, transport) as client:
            process_pending(db, client, nlp, settings, summary, stop)
    return summary


def run_once(
    db: Database,
    settings: Settings,
    transport: httpx.BaseTransport | None = None,
    nlp: Language | None = None,
) -> RunSummary:
    """Poll every feed, then fetch, read and store everything queued,
    including what an interrupted run left behind."""
    summary = RunSummary()
    with make_client(settings, transport) as client:
        poll_feeds(db, client, settings, store.list_feeds(db), summary)
        if store.pending_count(db):
            process_pending(db, client, nlp, settings, summary)
    log.info(summary.line())
    return summary
