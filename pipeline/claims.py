"""Claims: gather what the frames read from each sentence, give each its
status, and keep one claim per (relation, subject, object) per article."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from .arguments import Arg, Args, collect_args
from .frames import (
    SWITCH_VERBS, Frame, _partner_kind, frames_for, switch_frames,
)
from .gazetteer import Gazetteer, load_gazetteer
from .records import Claim
from .status import site_chosen, status_of, under_preliminary_deal

if not Doc.has_extension("claims"):
    Doc.set_extension("claims", default=[])


@dataclass(frozen=True)
class Candidate:
    relation: str
    subject: Arg
    object: Arg
    trigger: Token
    component: str | None
    kind: str | None
    confidence: float
    default_status: str = "active"
    fixed_status: bool = False  # the frame itself says the status (a supplier switch)


def component_text(token: Token | None, args: Args) -> str | None:
    """The component a frame is about, as the article names it."""
    if token is None or token.i in args or token.pos_ not in ("NOUN", "PROPN"):
        return None
    words = [t for t in token.subtree if t.i <= token.i and t.dep_ not in ("det", "poss", "case", "predet", "nummod")]
    if not words:
        return None
    return " ".join(t.text for t in token.doc[words[0].i : token.i + 1] if t.dep_ not in ("det", "poss", "case")).lower() or None


def _default_status(trigger: Token, relation: str) -> str:
    """Building a plant means production is planned, not happening."""
    if relation == "MANUFACTURES_AT" and trigger.pos_ == "NOUN" and trigger.dep_ == "dobj":
        governor = trigger.head
        if governor.lemma_.lower() in ("build", "construct", "develop", "plan", "set", "establish") \
                and not any(c.lower_ == "already" for c in governor.children):
            return "planned"
    return "active"


def _with_origins(frames: Iterable[Frame], sentence: Span, gazetteer: Gazetteer) -> Iterator[Frame]:
    """A supplier named with its country ("Swedish supplier Northvolt",
    "Japan's Panasonic") also says where the customer sources from, unless
    the customer is from that country itself."""
    for relation, subject, obj, component, confidence in frames:
        yield relation, subject, obj, component, confidence
        customer = gazetteer.company(obj.name)
        if relation == "SUPPLIES" and subject.origin and not (customer and customer.country == subject.origin):
            country = Arg(subject.origin, "GPE", subject.span, origin_only=True)
            yield "SOURCES_FROM", obj, country, component, round(confidence - 0.1, 2)


def sentence_candidates(sentence: Span, args: Args, gazetteer: Gazetteer, topic: Arg | None) -> list[Candidate]:
    found = []
    for trigger in sentence:
        if trigger.pos_ == "VERB" and trigger.lemma_.lower() in SWITCH_VERBS:
            for relation, subject, obj, _component, confidence, fixed in switch_frames(trigger, args):
                found.append(Candidate(relation, subject, obj, trigger, None, None, confidence, fixed, fixed_status=True))
        for relation, subject, obj, component_token, confidence in _with_origins(frames_for(trigger, args, gazetteer, topic), sentence, gazetteer):
            if subject.via_reference or obj.via_reference:
                confidence -= 0.1
            kind = _partner_kind(trigger) if relation == "PARTNERS_WITH" else None
            found.append(
                Candidate(relation, subject, obj, trigger, component_text(component_token, args), kind,
                          round(confidence, 2), _default_status(trigger, relation))
            )
    return found


# ---- one claim per pair ---------------------------------------------------------

def _topic(args: Args) -> Arg | None:
    """The article's main company, when one clearly dominates its mentions."""
    mentions: Counter[str] = Counter()
    first: dict[str, Arg] = {}
    for arg in {id(a): a for a in args.values()}.values():
        if arg.label == "ORG":
            mentions[arg.name] += 1
            first.setdefault(arg.name, arg)
    ranked = mentions.most_common(2)
    if not ranked or ranked[0][1] < 3 or (len(ranked) > 1 and ranked[0][1] < 1.5 * ranked[1][1]):
        return None
    return first[ranked[0][0]]


def _claim_key(candidate: Candidate) -> tuple:
    ends = (candidate.subject.name, candidate.object.name)
    return (candidate.relation, tuple(sorted(ends)) if candidate.relation == "PARTNERS_WITH" else ends)


def merge(candidates: list[tuple[Candidate, str]]) -> list[Claim]:
    """One claim per (relation, subject, object): the best-supported reading,
    except that an ended or denied statement reports the latest state."""
    grouped: dict[tuple, list[tuple[Candidate, str]]] = {}
    for item in candidates:
        grouped.setdefault(_claim_key(item[0]), []).append(item)
    claims = []
    for items in grouped.values():
        final = [i for i in items if i[1] in ("ended", "denied")]
        best, status = max(final or items, key=lambda i: (i[0].confidence, -i[0].trigger.i))
        claims.append(
            Claim(
                relation=best.relation, subject=best.subject.name, object=best.object.name,
                status=status, evidence=best.trigger.sent.text.strip(), confidence=best.confidence,
                component=best.component or next((i[0].component for i in items if i[0].component), None),
                kind=best.kind, subject_label=best.subject.label, object_label=best.object.label,
                sentence_start=best.trigger.sent.start_char,
            )
        )
    return _prefer_facilities(claims)


def _prefer_facilities(claims: list[Claim]) -> list[Claim]:
    """'Assembled in France ... at the Cleon plant in northern France': a
    place named again where the company's plant is named is that plant."""
    facility_sentences = {
        c.subject: c.evidence for c in claims if c.relation == "MANUFACTURES_AT" and c.object_label == "FACILITY"
    }
    return [
        c for c in claims
        if not (c.relation == "MANUFACTURES_AT" and c.object_label == "GPE" and c.subject in facility_sentences
                and c.object in facility_sentences[c.subject])
    ]


def _status(candidate: Candidate) -> str:
    status = status_of(candidate.trigger, candidate.default_status)
    if status == "active" and candidate.relation in ("SUPPLIES", "SOURCES_FROM") and under_preliminary_deal(candidate.trigger):
        return "planned"
    if status == "active" and candidate.relation == "MANUFACTURES_AT" and site_chosen(candidate.trigger):
        return "planned"
    if candidate.fixed_status and status not in ("denied", "possible", "planned"):
        return candidate.default_status
    if candidate.fixed_status and candidate.default_status == "ended" and status in ("possible", "planned"):
        return status  # "BMW may drop Northvolt": a possible end is still the current supplier
    return status


def rule_candidates(doc: Doc, gazetteer: Gazetteer) -> tuple[Args, list[tuple[Candidate, str]]]:
    """The arguments of a doc and what the rule frames read from it, with statuses."""
    args = collect_args(doc, gazetteer)
    topic = _topic(args)
    candidates = [
        (candidate, _status(candidate))
        for sentence in doc.sents
        for candidate in sentence_candidates(sentence, args, gazetteer, topic)
    ]
    return args, candidates


def _scored(doc: Doc, args: Args, candidates: list[tuple[Candidate, str]], gazetteer: Gazetteer, scorer) -> list[tuple[Candidate, str]]:
    """Keep the candidates the scorer accepts, adding pairs no frame read."""
    from .scorer import _key, _rule_hits, pair_candidates

    by_key: dict[tuple, list[tuple[Candidate, str]]] = {}
    for item in candidates:
        by_key.setdefault(_key(item[0].relation, item[0].subject.name, item[0].object.name), []).append(item)
    hits = _rule_hits(candidates)
    kept = list(candidates) if scorer.keep_rules else []
    for sentence in doc.sents:
        for pair in pair_candidates(sentence, args, gazetteer, hits):
            key = _key(pair.relation, pair.subject.name, pair.object.name)
            ruled = [item for item in by_key.get(key, []) if item[0].trigger.sent.start == sentence.start]
            if ruled and scorer.keep_rules:
                continue
            probability = scorer.probability(pair.features)
            if probability < scorer.threshold:
                continue
            if ruled:
                kept.extend(ruled)
                continue
            kind = _partner_kind(pair.anchor) if pair.relation == "PARTNERS_WITH" else None
            candidate = Candidate(pair.relation, pair.subject, pair.object, pair.anchor, None, kind, round(probability * 0.8, 2))
            kept.append((candidate, status_of(pair.anchor)))
    return kept


def extract_claims(doc: Doc, gazetteer: Gazetteer, scorer=None) -> list[Claim]:
    args, candidates = rule_candidates(doc, gazetteer)
    if scorer is not None:
        candidates = _scored(doc, args, candidates, gazetteer, scorer)
    claims = merge(candidates)
    return sorted(claims, key=lambda c: (c.sentence_start or 0, c.relation, c.subject, c.object))


class ClaimExtractor:
    def __init__(self, gazetteer_dir: str, scorer_path: str = ""):
        from .scorer import ClaimScorer

        self.gazetteer = load_gazetteer(gazetteer_dir)
        self.scorer = ClaimScorer.from_disk(Path(scorer_path)) if scorer_path and Path(scorer_path).is_file() else None

    def __call__(self, doc: Doc) -> Doc:
        # plain dicts, so docs can cross process boundaries (nlp.pipe with n_process)
        doc._.claims = [asdict(claim) for claim in extract_claims(doc, self.gazetteer, self.scorer)]
        return doc


@Language.factory("supplywatch_claims", default_config={"gazetteer_dir": "", "scorer_path": ""})
def make_claim_extractor(nlp: Language, name: str, gazetteer_dir: str, scorer_path: str) -> ClaimExtractor:
    return ClaimExtractor(gazetteer_dir, scorer_path)
