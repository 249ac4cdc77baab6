"""A learned claim scorer: every pair of arguments in a sentence is a
candidate for each relation its labels allow; a logistic regression over
dependency-path and trigger features, with the rule frames' verdict as one
feature among others, decides which candidates are claims.

Trained on the train passages by `make model` (models/pipeline/claim_scorer.json);
used by the claim extractor when present. `python -m pipeline.scorer` compares
rules alone with rules plus scorer by cross-validation over the train passages.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from spacy.tokens import Span, Token

from .arguments import Arg, Args
from .gazetteer import Gazetteer

log = logging.getLogger(__name__)

RELATIONS_FOR = {
    ("ORG", "ORG"): ("SUPPLIES", "PARTNERS_WITH"),
    ("ORG", "GPE"): ("SOURCES_FROM", "MANUFACTURES_AT"),
    ("ORG", "FACILITY"): ("MANUFACTURES_AT",),
}
TRIGGER_CLASSES = {
    "supply": {"supply", "provide", "deliver", "sell", "ship", "supplier", "order", "contract", "customer"},
    "acquire": {"import", "buy", "source", "procure", "purchase", "use", "get", "take", "rely", "come"},
    "partner": {"partner", "partnership", "collaborate", "collaboration", "cooperate", "cooperation", "alliance",
                "venture", "jv", "team", "joint", "jointly", "co", "develop", "pact", "talk", "talks", "deal", "agreement"},
    "make": {"build", "make", "produce", "assemble", "manufacture", "production", "plant", "factory", "site", "facility"},
}
SCORER_FILE = "claim_scorer.json"


@dataclass(frozen=True)
class PairCandidate:
    relation: str
    subject: Arg
    object: Arg
    sentence: Span
    anchor: Token  # where the status is read: the rule's trigger, else the words joining the pair
    features: dict[str, float]
    rule_confidence: float  # 0 when no rule frame gave this claim


def _path(a: Token, b: Token) -> tuple[list[Token], Token]:
    """The dependency path from a up to the lowest common head and down to b."""
    up_from_a = [a, *a.ancestors]
    place = {t.i: n for n, t in enumerate(up_from_a)}
    up_from_b, current = [b], b
    while current.i not in place and current.head.i != current.i:
        current = current.head
        up_from_b.append(current)
    common = current if current.i in place else up_from_a[-1]
    return up_from_a[: place.get(common.i, len(up_from_a) - 1) + 1] + list(reversed(up_from_b[:-1])), common


def _prep_of(token: Token) -> str:
    if token.dep_ == "pobj" and token.head.dep_ in ("prep", "agent"):
        return token.head.lower_
    return token.dep_


def pair_features(relation: str, subject: Arg, obj: Arg, sentence: Span, gazetteer: Gazetteer,
                  rule_confidence: float) -> tuple[dict[str, float], Token]:
    s, o = subject.span.root, obj.span.root
    path, head = _path(s, o)
    inner = [t for t in path if t.i not in (s.i, o.i)]
    f: dict[str, float] = {"bias": 1.0, "rule": 1.0 if rule_confidence else 0.0, "rule_conf": rule_confidence}
    for t in inner:
        f[f"path_lemma={t.lemma_.lower()}"] = 1.0
        f[f"path_dep={t.dep_}"] = 1.0
    f[f"head_lemma={head.lemma_.lower()}"] = 1.0
    f[f"head_pos={head.pos_}"] = 1.0
    f[f"s_role={_prep_of(s)}"] = 1.0
    f[f"o_role={_prep_of(o)}"] = 1.0
    f[f"roles={_prep_of(s)}|{_prep_of(o)}"] = 1.0
    f["path_len"] = min(len(inner), 8) / 8
    f["s_first"] = 1.0 if s.i < o.i else 0.0
    f["reference"] = 1.0 if subject.via_reference or obj.via_reference else 0.0
    f["origin_only"] = 1.0 if obj.origin_only else 0.0
    words = {t.lemma_.lower() for t in sentence}
    for name, lexicon in TRIGGER_CLASSES.items():
        if words & lexicon:
            f[f"sent_has={name}"] = 1.0
        if {t.lemma_.lower() for t in inner} & lexicon:
            f[f"path_has={name}"] = 1.0
    for end, arg in (("s", subject), ("o", obj)):
        company = gazetteer.company(arg.name) if arg.label == "ORG" else None
        f[f"{end}_kind={company.kind if company else arg.label}"] = 1.0
    features = {f"{relation}:{key}": value for key, value in f.items()}
    anchor = next((t for t in inner if t.lemma_.lower() in set().union(*TRIGGER_CLASSES.values())), head)
    return features, anchor


def pair_candidates(sentence: Span, args: Args, gazetteer: Gazetteer, rule_hits: dict[tuple, float]) -> list[PairCandidate]:
    """Every ordered pair of arguments in the sentence, for each relation
    their labels allow (partners once per pair)."""
    present: dict[str, Arg] = {}  # one argument per name, a named mention over a reference
    for i, a in sorted(args.items()):
        if sentence.start <= i < sentence.end and not a.members:
            if a.name not in present or (present[a.name].via_reference and not a.via_reference):
                present[a.name] = a
    found = []
    for a in present.values():
        for b in present.values():
            if a.name == b.name or a.span.start == b.span.start:
                continue
            for relation in RELATIONS_FOR.get((a.label, b.label), ()):
                if relation == "PARTNERS_WITH" and a.span.start > b.span.start:
                    continue
                if relation == "MANUFACTURES_AT" and b.origin_only:
                    continue
                key = _key(relation, a.name, b.name)
                confidence = rule_hits.get(key, 0.0)
                features, anchor = pair_features(relation, a, b, sentence, gazetteer, confidence)
                found.append(PairCandidate(relation, a, b, sentence, anchor, features, confidence))
    return found


def _key(relation: str, subject: str, obj: str) -> tuple:
    ends = (subject, obj)
    return (relation, tuple(sorted(ends)) if relation == "PARTNERS_WITH" else ends)


class ClaimScorer:
    """Logistic regression over sparse named features."""

    def __init__(self, weights: dict[str, float], threshold: float = 0.5, keep_rules: bool = False):
        self.weights = weights
        self.threshold = threshold
        self.keep_rules = keep_rules  # True: the rules' claims stand, the scorer only adds

    def probability(self, features: dict[str, float]) -> float:
        z = sum(self.weights.get(name, 0.0) * value for name, value in features.items())
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    @classmethod
    def train(cls, examples: Iterable[tuple[dict[str, float], int]], epochs: int = 300, l2: float = 0.01,
              learning_rate: float = 0.5, threshold: float = 0.5) -> "ClaimScorer":
        rows = list(examples)
        names = sorted({name for features, _ in rows for name in features})
        index = {name: n for n, name in enumerate(names)}
        x = np.zeros((len(rows), len(names)))
        y = np.array([label for _, label in rows], dtype=float)
        for r, (features, _) in enumerate(rows):
            for name, value in features.items():
                x[r, index[name]] = value
        positives = max(y.sum(), 1.0)
        sample_weight = np.where(y == 1, len(y) / (2 * positives), len(y) / (2 * max(len(y) - positives, 1.0)))
        w = np.zeros(len(names))
        for _ in range(epochs):
            p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
            gradient = x.T @ ((p - y) * sample_weight) / len(y) + l2 * w
            w -= learning_rate * gradient
        return cls({name: float(w[index[name]]) for name in names if abs(w[index[name]]) > 1e-6}, threshold)

    def to_disk(self, path: Path) -> None:
        path.write_text(json.dumps({"threshold": self.threshold, "weights": self.weights}, indent=0, sort_keys=True))

    @classmethod
    def from_disk(cls, path: Path) -> "ClaimScorer":
        data = json.loads(path.read_text())
        return cls(data["weights"], data["threshold"])


# ---- training and comparison ------------------------------------------------------

def labelled_candidates(nlp, docs) -> list[tuple[PairCandidate, int, str]]:
    """(candidate, 1 if it is a gold claim else 0, doc id) over labelled
    passages; candidates matching an optional gold claim are left out."""
    from .claims import rule_candidates
    from .evaluate import claim_matches
    from .records import Claim

    gazetteer = nlp.get_pipe("supplywatch_claims").gazetteer
    rows = []
    from .nlp import dated_doc

    for doc, parsed in zip(docs, nlp.pipe(dated_doc(nlp, d.text, d.published) for d in docs)):
        args, candidates = rule_candidates(parsed, gazetteer)
        hits = _rule_hits(candidates)
        for sentence in parsed.sents:
            for pair in pair_candidates(sentence, args, gazetteer, hits):
                probe = Claim(pair.relation, pair.subject.name, pair.object.name, "active", "", 0.0)
                matched = [g for g in doc.claims if claim_matches(probe, g)]
                if matched and all(g.optional for g in matched):
                    continue
                rows.append((pair, 1 if matched else 0, doc.id))
    return rows


def _rule_hits(candidates) -> dict[tuple, float]:
    hits: dict[tuple, float] = {}
    for candidate, _status in candidates:
        key = _key(candidate.relation, candidate.subject.name, candidate.object.name)
        hits[key] = max(hits.get(key, 0.0), candidate.confidence)
    return hits


def train_scorer(nlp, docs) -> ClaimScorer:
    rows = labelled_candidates(nlp, docs)
    log.info("claim scorer: %d candidates, %d positive", len(rows), sum(label for _, label, _ in rows))
    return ClaimScorer.train((pair.features, label) for pair, label, _ in rows)


def cross_validate(nlp, docs, folds: int = 5, thresholds=(0.5, 0.7, 0.8, 0.9, 0.95)) -> dict[str, dict[str, float]]:
    """Claim P/R/F1 of the rules alone and of rules plus scorer at several
    thresholds, each passage scored by a scorer trained on the other folds."""
    from .claims import extract_claims
    from .evaluate import Report, score_claims

    gazetteer = nlp.get_pipe("supplywatch_claims").gazetteer
    rows = labelled_candidates(nlp, docs)
    reports = {"rules": Report(), **{f"{m}@{t}": Report() for t in thresholds for m in ("scorer", "union")}}
    ids = [d.id for d in docs]
    parsed = {d.id: nlp(d.text) for d in docs}
    for fold in range(folds):
        held = {doc_id for n, doc_id in enumerate(ids) if n % folds == fold}
        scorer = ClaimScorer.train((p.features, label) for p, label, doc_id in rows if doc_id not in held)
        for doc in (d for d in docs if d.id in held):
            score_claims(doc, extract_claims(parsed[doc.id], gazetteer), reports["rules"])
            for t in thresholds:
                for mode in ("scorer", "union"):
                    scorer.threshold, scorer.keep_rules = t, mode == "union"
                    score_claims(doc, extract_claims(parsed[doc.id], gazetteer, scorer), reports[f"{mode}@{t}"])
    return {name: report.claims.as_dict() | {"status_accuracy": round(report.status_accuracy, 4)}
            for name, report in reports.items()}


if __name__ == "__main__":
    import sys

    from .config import Settings
    from .labelled import load_labelled
    from .nlp import load_pipeline

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    root = Path(__file__).resolve().parent.parent
    train_docs = [d for d in load_labelled(root / "seeds" / "labelled") if d.split in ("train", "seed")]
    for name, scores in cross_validate(load_pipeline(Settings().models_dir), train_docs).items():
        print(name, scores)
