"""Training: build the NER corpora from the labelled passages (with rehearsal
of the base model's own predictions), fine-tune the NER from
models/config.cfg, and assemble the pipeline every command loads.

`make model` runs `python -m pipeline.training`; the result goes to
models/pipeline/ and is rebuilt when the data, config or gazetteer change.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.util import filter_spans

from .config import PROJECT_ROOT
from .labelled import ENTITY_LABELS, LabelledDoc, load_labelled
from .nlp import BASE_MODEL, assemble_pipeline

log = logging.getLogger(__name__)

MODELS_DIR = PROJECT_ROOT / "models"
LABELLED_DIR = PROJECT_ROOT / "seeds" / "labelled"
# labels of the base model that our gold spans replace; its other labels
# (DATE, CARDINAL, NORP, MONEY, ...) are kept from its own predictions
REPLACED_BASE_LABELS = {"ORG", "GPE", "PERSON", "FAC", "LOC"}


def gold_doc(base_nlp, labelled: LabelledDoc) -> Doc:
    """The passage with our gold entities plus, for rehearsal, the base
    model's predictions of the labels we do not annotate."""
    doc = base_nlp(labelled.text)
    gold = []
    for span in labelled.entities:
        if span.label not in ENTITY_LABELS:
            continue
        aligned = doc.char_span(span.start, span.end, label=span.label, alignment_mode="expand")
        if aligned is None or aligned.text.strip() != aligned.text or aligned.text != span.text:
            log.debug("%s: span %r does not match token boundaries", labelled.id, span.text)
        if aligned is not None:
            gold.append(aligned)
    covered = {token.i for span in gold for token in span}
    rehearsal = [
        Span(doc, ent.start, ent.end, label=ent.label_) for ent in doc.ents
        if ent.label_ not in REPLACED_BASE_LABELS and not covered & set(range(ent.start, ent.end))
    ]
    doc.ents = filter_spans(gold + rehearsal)
    return doc


def write_corpora(corpus_dir: Path, labelled_dir: Path = LABELLED_DIR) -> dict[str, int]:
    """train.spacy: train and seed passages; check.spacy: the seed passages,
    only for the training log (the model taken is the last one, not the
    best on any set). Dev passages are never used."""
    docs = load_labelled(labelled_dir)
    bad = [f"{d.id}: {p}" for d in docs for p in d.problems]
    if bad:
        raise SystemExit("labelled data has problems:\n" + "\n".join(bad))
    base_nlp = spacy.load(BASE_MODEL)
    train = [d for d in docs if d.split in ("train", "seed")]
    check = [d for d in docs if d.split == "seed"] or train[:5]
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for name, subset in (("train", train), ("check", check)):
        DocBin(docs=[gold_doc(base_nlp, d) for d in subset], store_user_data=False).to_disk(corpus_dir / f"{name}.spacy")
    return {"train": len(train), "check": len(check), "dev (unused)": sum(d.split == "dev" for d in docs)}


def train_ner(models_dir: Path = MODELS_DIR) -> Path:
    from spacy.cli.train import train

    output = models_dir / "ner-training"
    train(
        models_dir / "config.cfg",
        output_path=output,
        overrides={
            "paths.train": str(models_dir / "corpus" / "train.spacy"),
            "paths.dev": str(models_dir / "corpus" / "check.spacy"),
            "paths.gazetteer": str(models_dir / "gazetteer"),
        },
    )
    return output / "model-last"


def choose_scorer(nlp, docs: list[LabelledDoc], staging: Path) -> dict:
    """Cross-validate the learned claim scorer against the rules on the train
    passages; ship it (with its best threshold and mode) only if it beats them."""
    from .scorer import SCORER_FILE, cross_validate, train_scorer

    results = cross_validate(nlp, docs)
    rules_f1 = results["rules"]["f1"]
    best_name, best = max(((n, r) for n, r in results.items() if n != "rules"), key=lambda item: item[1]["f1"])
    decision = {"cross_validation": results, "chosen": "rules"}
    if best["f1"] > rules_f1 + 0.005:
        mode, threshold = best_name.split("@")
        scorer = train_scorer(nlp, docs)
        scorer.threshold, scorer.keep_rules = float(threshold), mode == "union"
        scorer.to_disk(staging / SCORER_FILE)
        decision["chosen"] = best_name
    log.info("claim scorer: rules F1 %.3f, best scorer %s F1 %.3f -> using %s",
             rules_f1, best_name, best["f1"], decision["chosen"])
    return decision


def build(models_dir: Path = MODELS_DIR) -> Path:
    counts = write_corpora(models_dir / "corpus")
    log.info("corpora written: %s", counts)
    trained = train_ner(models_dir)
    target = models_dir / "pipeline"
    staging = models_dir / "pipeline.new"
    shutil.rmtree(staging, ignore_errors=True)
    nlp = assemble_pipeline(str(models_dir), ner_source=str(trained))
    nlp.to_disk(staging)
    train_docs = [d for d in load_labelled(LABELLED_DIR) if d.split in ("train", "seed")]
    decision = choose_scorer(nlp, train_docs, staging)
    (staging / "claim_scorer_choice.json").write_text(json.dumps(decision, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    log.info("pipeline written to %s", target)
    return target


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    build()
