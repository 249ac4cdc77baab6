"""Scheduler: the long-running service. An APScheduler 3 scheduler in the
foreground runs three jobs: poll the feeds that are due (queueing their
entries), read the queued articles, and send the daily digest. One instance
per database at a time; SIGTERM or SIGINT finish the article in hand before
exiting."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from spacy.language import Language

from . import digest as digests
from . import store
from .config import Settings
from .errors import UserError
from .run import poll_due, read_queue

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 300


# ---- one instance at a time ---------------------------------------------------------

def lock_path(db_path: str) -> Path:
    return Path(f"{db_path}.lock")


@contextmanager
def instance_lock(db_path: str, what: str) -> Iterator[None]:
    """Hold the database's lock file for the block, or refuse with a one-line
    error naming the process that holds it. The lock goes with the process,
    so a killed holder never leaves it stuck."""
    path = lock_path(db_path)
    try:
        handle = open(path, "a+", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot create lock file {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise UserError(
                f"another supplywatch ({holder}) is working on {db_path}; wait for it to finish or stop it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, {what}")
        handle.flush()
        yield
    finally:
        handle.close()


# ---- the jobs -------------------------------------------------------------------------

class Service:
    """The scheduler's jobs over one database, and the stop flag they honour."""

    def __init__(self, settings: Settings, nlp: Language | None = None):
        self.settings = settings
        self.nlp = nlp
        self.stop = threading.Event()

    def poll(self) -> None:
        """Poll the feeds that are due; their new entries join the queue."""
        if self.stop.is_set():
            return
        started = time.monotonic()
        with self._database() as db:
            summary = poll_due(db, self.settings)
        if summary.feeds_polled:
            log.info("poll: %d feeds polled, %d not modified, %d failed (%.1f s)", summary.feeds_polled,
                     summary.feeds_not_modified, summary.feeds_failed, time.monotonic() - started)
        else:
            log.info("poll: no feed due (%.1f s)", time.monotonic() - started)

    def read(self) -> None:
        """Fetch, read and store the queued articles, until the queue is
        empty or a stop is asked for."""
        if self.stop.is_set():
            return
        started = time.monotonic()
        with self._database() as db:
            if not store.pending_count(db):
                log.info("read: queue empty (%.1f s)", time.monotonic() - started)
                return
            summary = read_queue(db, self.settings, self.nlp, stop=self.stop)
            waiting = store.pending_count(db)
        log.info("read: %d articles new, %d duplicate, %d failed, %d claims new, %d still queued (%.1f s)",
                 summary.articles_new, summary.articles_duplicate, summary.articles_failed, summary.claims_new,
                 waiting, time.monotonic() - started)

    @contextmanager
    def _database(self) -> Iterator:
        db = store.open_db(self.settings.db_path)  # jobs run on worker threads: a connection of their own
        try:
            yield db
        finally:
            db.close()

    def send_digest(self) -> None:
        started = time.monotonic()
        if not self.settings.smtp_host:
            log.info("digest: not sent, no smtp_host configured")
            return
        start = (datetime.now(timezone.utc) - timedelta(hours=24)).isoformat()
        try:
            with self._database() as db:
                outcome = digests.send_digest(db, self.settings, start)
        except UserError as exc:
            log.warning("digest: %s", exc)
            return
        log.info("digest: %s %s (%.1f s)", "sent" if outcome.sent else "not sent:", outcome.reason,
                 time.monotonic() - started)


def digest_trigger(settings: Settings) -> CronTrigger:
    try:
        hour, minute = (int(part) for part in settings.digest_time.split(":"))
        zone = ZoneInfo(settings.digest_timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise UserError(
            f"digest_time {settings.digest_time!r} / digest_timezone {settings.digest_timezone!r}:"
            " give a time as HH:MM and a zone such as Europe/Paris"
        ) from None
    return CronTrigger(hour=hour, minute=minute, timezone=zone)


def build_scheduler(service: Service) -> BlockingScheduler:
    settings = service.settings
    scheduler = BlockingScheduler(
        timezone=timezone.utc,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
    )
    now = datetime.now(timezone.utc)
    tick = IntervalTrigger(seconds=settings.scheduler_tick_seconds)
    scheduler.add_job(service.poll, tick, id="poll", name="poll the feeds that are due", next_run_time=now)
    # reading runs beside polling, so a slow site never holds up the NLP, and the reverse
    scheduler.add_job(service.read, tick, id="read", name="read queued articles", next_run_time=now)
    scheduler.add_job(service.send_digest, digest_trigger(settings), id="digest", name="daily digest")
    scheduler.add_listener(_log_failure, EVENT_JOB_ERROR)
    return scheduler


def _log_failure(event: JobExecutionEvent) -> None:
    log.error("job %s failed: %s", event.job_id, event.exception)


def run_scheduler(settings: Settings, nlp: Language | None = None) -> None:
    """Run in the foreground until SIGTERM or SIGINT; the job in hand
    finishes its current article, commits, and the process exits."""
    with instance_lock(settings.db_path, "schedule"):
        service = Service(settings, nlp)
        scheduler = build_scheduler(service)

        def stop(signum, _frame) -> None:
            log.info("%s received: finishing the article in hand, then stopping", signal.Signals(signum).name)
            service.stop.set()
            threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info("scheduler started on %s: polling every %.0f s, digest daily at %s %s",
                 settings.db_path, settings.scheduler_tick_seconds, settings.digest_time, settings.digest_timezone)
        try:
            scheduler.start()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("scheduler stopped")


# ---- status ----------------------------------------------------------------------------

def status_rows(settings: Settings) -> tuple[list[dict], dict | None]:
    """Per feed its polling state, and the last digest sent."""
    db = store.open_db(settings.db_path)
    feeds = [
        {"id": f.id, "url": f.url, "name": f.name, "last_polled_at": f.last_polled_at, "next_due_at": f.next_due_at,
         "error_count": f.error_count, "last_error": f.last_error}
        for f in store.list_feeds(db)
    ]
    last = db.execute("SELECT window_start, window_end, sent_at, recipients FROM digests ORDER BY id DESC LIMIT 1").fetchone()
    digest = dict(zip(("window_start", "window_end", "sent_at", "recipients"), last)) if last else None
    return feeds, digest
