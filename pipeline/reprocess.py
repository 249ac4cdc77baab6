"""Reprocess: read the stored articles again with the current NLP pipeline
(after `make model`, or to backfill an archive) and swap their mentions and
claims for the new reading. The reading runs in this process or fans out to
the workers of a Dask cluster; this process stays the single writer."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from sqlite_utils import Database

from . import store
from .config import Settings
from .errors import UserError
from .nlp import extract_many, load_pipeline
from .progress import tracked
from .records import Extraction
from .store import StoredText

log = logging.getLogger(__name__)

EXECUTORS = ("local", "dask")


@dataclass
class ReprocessSummary:
    articles: int = 0
    evidence_before: int = 0
    evidence_after: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (f"reprocessed {self.articles} articles in {self.seconds:.1f} s:"
                f" {self.evidence_before} claim statements before, {self.evidence_after} after")


def _chunks(texts: Iterable[StoredText], size: int) -> Iterator[list[StoredText]]:
    iterator = iter(texts)
    while chunk := list(islice(iterator, size)):
        yield chunk


# ---- reading, here or on workers ------------------------------------------------------

_worker_pipelines: dict = {}


def read_chunk(models_dir: str, chunk: list[StoredText], batch_size: int = 16) -> list[tuple[int, Extraction]]:
    """Run on a worker: the pipeline is loaded once per worker process."""
    nlp = _worker_pipelines.get(models_dir)
    if nlp is None:
        nlp = _worker_pipelines[models_dir] = load_pipeline(models_dir)
    extractions = extract_many(nlp, (t.text for t in chunk), batch_size=batch_size,
                               published=(t.published_at for t in chunk))
    return [(text.article_id, extraction) for text, extraction in zip(chunk, extractions)]


def read_locally(settings: Settings, texts: Iterable[StoredText], chunk_size: int) -> Iterator[tuple[int, Extraction]]:
    for chunk in _chunks(texts, chunk_size):
        yield from read_chunk(settings.models_dir, chunk, settings.nlp_batch_size)


def read_on_dask(settings: Settings, texts: Iterable[StoredText], scheduler: str, chunk_size: int,
                 in_flight: int = 8) -> Iterator[tuple[int, Extraction]]:
    """Chunks go to the cluster's workers, at most `in_flight` at a time so
    the archive never sits in memory whole; results come back as they finish."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise UserError("the dask executor needs the dask extra: pip install 'supplywatch[dask]'") from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise UserError(f"cannot reach the Dask scheduler at {scheduler}: {exc}; start one with 'dask scheduler'") from None
    with client:
        log.info("reading on %d Dask workers at %s", len(client.scheduler_info().get("workers", {})), scheduler)
        chunks = _chunks(texts, chunk_size)
        pending = as_completed([client.submit(read_chunk, settings.models_dir, chunk, settings.nlp_batch_size, pure=False)
                                for chunk in islice(chunks, in_flight)])
        for future in pending:
            yield from future.result()
            future.release()
            following = next(chunks, None)
            if following is not None:
                pending.add(client.submit(read_chunk, settings.models_dir, following, settings.nlp_batch_size, pure=False))


# ---- the single writer ------------------------------------------------------------------

def reprocess(db: Database, settings: Settings, executor: str = "local", scheduler: str | None = None,
              since: str | None = None, chunk_size: int = 32) -> ReprocessSummary:
    if executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}: choose local or dask")
    if executor == "dask" and not scheduler:
        raise UserError("--executor dask needs --scheduler ADDRESS, e.g. tcp://127.0.0.1:8786")
    total = db.execute("SELECT COUNT(*) FROM articles" + (" WHERE fetched_at >= ?" if since else ""),
                       [since] if since else []).fetchone()[0]
    texts = store.stored_texts(db, since)
    readings = (read_on_dask(settings, texts, scheduler, chunk_size) if executor == "dask"
                else read_locally(settings, texts, chunk_size))
    summary, started = ReprocessSummary(), time.monotonic()
    for article_id, extraction in tracked(readings, "reprocessing articles", total=total):
        before, after = store.replace_extraction(db, article_id, extraction)
        summary.articles += 1
        summary.evidence_before += before
        summary.evidence_after += after
    summary.seconds = time.monotonic() - started
    log.info(summary.line())
    return summary
