"""Evaluate: score the extractor against labelled passages by the rules of
CLAIMS.md — entity P/R/F1 per label (exact span and label), claim P/R/F1
micro-averaged over passages, and status accuracy on matched claims."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from spacy.language import Language

from .gazetteer import name_key
from .labelled import GoldClaim, LabelledDoc
from .nlp import extract_many
from .records import Claim, Extraction

SCORED_ENTITY_LABELS = ("ORG", "GPE", "FACILITY", "COMPONENT")
REPORTED_ENTITY_LABELS = SCORED_ENTITY_LABELS + ("PERSON",)


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


@dataclass(frozen=True)
class ClaimError:
    doc_id: str
    kind: str  # "false_positive" | "false_negative" | "wrong_status"
    relation: str
    subject: str
    object: str
    detail: str
    sentence: str


@dataclass
class Report:
    passages: int = 0
    entities: dict[str, Counts] = field(default_factory=lambda: {label: Counts() for label in REPORTED_ENTITY_LABELS})
    claims: Counts = field(default_factory=Counts)
    status_correct: int = 0
    status_total: int = 0
    errors: list[ClaimError] = field(default_factory=list)

    @property
    def status_accuracy(self) -> float:
        return self.status_correct / self.status_total if self.status_total else 0.0

    @property
    def entities_micro(self) -> Counts:
        total = Counts()
        for label in SCORED_ENTITY_LABELS:
            total.tp += self.entities[label].tp
            total.fp += self.entities[label].fp
            total.fn += self.entities[label].fn
        return total

    def as_dict(self) -> dict:
        return {
            "passages": self.passages,
            "entities": {label: counts.as_dict() for label, counts in self.entities.items()},
            "entities_micro": self.entities_micro.as_dict(),
            "claims": self.claims.as_dict(),
            "status_accuracy": round(self.status_accuracy, 4),
            "status_matched": self.status_total,
        }


def _names(primary: str, aliases: Iterable[str]) -> set[str]:
    return {name_key(primary), *(name_key(alias) for alias in aliases)}


def claim_matches(predicted: Claim, gold: GoldClaim) -> bool:
    """Relation equal, ends equal after normalisation; partners either way round."""
    if predicted.relation != gold.relation:
        return False
    subjects, objects = _names(gold.subject, gold.subject_aliases), _names(gold.object, gold.object_aliases)
    forward = name_key(predicted.subject) in subjects and name_key(predicted.object) in objects
    backward = name_key(predicted.subject) in objects and name_key(predicted.object) in subjects
    return forward or (gold.relation == "PARTNERS_WITH" and backward)


def score_entities(doc: LabelledDoc, extraction: Extraction, report: Report) -> None:
    for label in REPORTED_ENTITY_LABELS:
        gold = {(s.start, s.end) for s in doc.entities if s.label == label}
        predicted = {(m.start, m.end) for m in extraction.mentions if m.label == label}
        counts = report.entities[label]
        counts.tp += len(gold & predicted)
        counts.fp += len(predicted - gold)
        counts.fn += len(gold - predicted)


def score_claims(doc: LabelledDoc, predicted: Iterable[Claim], report: Report) -> None:
    unmatched_gold = list(doc.claims)
    for claim in predicted:
        gold = next((g for g in unmatched_gold if claim_matches(claim, g)), None)
        if gold is None:
            report.claims.fp += 1
            report.errors.append(ClaimError(doc.id, "false_positive", claim.relation, claim.subject, claim.object,
                                            f"status {claim.status}", claim.evidence))
            continue
        unmatched_gold.remove(gold)
        if gold.optional:
            continue
        report.claims.tp += 1
        report.status_total += 1
        if claim.status == gold.status:
            report.status_correct += 1
        else:
            report.errors.append(ClaimError(doc.id, "wrong_status", claim.relation, claim.subject, claim.object,
                                            f"predicted {claim.status}, gold {gold.status}", claim.evidence))
    for gold in unmatched_gold:
        if not gold.optional:
            report.claims.fn += 1
            report.errors.append(ClaimError(doc.id, "false_negative", gold.relation, gold.subject, gold.object,
                                            f"status {gold.status}", gold.evidence))


def evaluate(nlp: Language, docs: list[LabelledDoc], batch_size: int = 16) -> Report:
    report = Report()
    extractions = extract_many(nlp, (d.text for d in docs), batch_size=batch_size, published=(d.published for d in docs))
    for doc, extraction in zip(docs, extractions):
        report.passages += 1
        score_entities(doc, extraction, report)
        score_claims(doc, extraction.claims, report)
    return report
