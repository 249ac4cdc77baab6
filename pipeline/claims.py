"""Claim extraction over a parsed Doc: dependency frames around trigger
words for SUPPLIES, SOURCES_FROM, PARTNERS_WITH and MANUFACTURES_AT, with
references like "the French automaker" resolved to a company named earlier."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from .gazetteer import Gazetteer, load_gazetteer
from .records import Claim
from .status import status_of

SUPPLY_VERBS = {"supply", "provide", "deliver", "sell", "ship", "furnish", "equip", "license", "licence"}
ACQUIRE_VERBS = {
    "import", "buy", "source", "procure", "purchase", "order", "obtain", "receive", "rely",
    "use", "adopt", "tap", "choose", "select", "pick", "get", "take", "come", "arrive",
}
SUPPLIER_NOUNS = {"supplier", "vendor", "provider"}
PARTNER_VERBS = {
    "partner", "collaborate", "cooperate", "team", "ally", "co-develop", "codevelop",
    "link", "tie", "align", "join", "work",
}
PARTNER_NOUNS = {
    "partnership", "collaboration", "cooperation", "alliance", "venture", "jv", "tie-up",
    "pact", "agreement", "deal", "project", "partner", "relationship", "ties", "memorandum",
    "mou", "consortium", "contract", "initiative",
}
WEAK_PARTNER_WORDS = {"agreement", "deal", "contract", "work", "join", "relationship", "initiative", "project"}
MAKE_VERBS = {"build", "make", "produce", "assemble", "manufacture", "roll"}
REFERENCE_NOUNS = {
    "company": None, "firm": None, "group": None, "giant": None, "brand": None,
    "automaker": "oem", "carmaker": "oem", "manufacturer": None, "maker": None, "oem": "oem",
    "supplier": "supplier", "startup": None, "producer": None,
}
OEM_KINDS = {"automaker", "truckmaker", "joint_venture"}
SUPPLIER_KINDS = {"supplier", "battery", "semiconductor", "tech", "materials", "joint_venture"}
ORIGIN_HEADS = SUPPLIER_NOUNS | {"manufacturer", "maker", "company", "partner", "firm", "component", "part", "producer", "alternative", "technology"}

if not Doc.has_extension("claims"):
    Doc.set_extension("claims", default=[])


@dataclass(frozen=True)
class Arg:
    """An entity that can take part in a claim, placed in the parse."""

    name: str
    label: str  # ORG | GPE | FACILITY
    span: Span
    origin_only: bool = False  # a nationality ("a Chinese supplier"): only an origin
    via_reference: bool = False


@dataclass(frozen=True)
class Candidate:
    relation: str
    subject: Arg
    object: Arg
    trigger: Token
    component: str | None
    kind: str | None
    confidence: float


# ---- arguments ------------------------------------------------------------

def _reference_allows(arg: Arg, chunk_root: Token, gazetteer: Gazetteer) -> bool:
    wanted = REFERENCE_NOUNS[chunk_root.lemma_.lower()]
    company = gazetteer.company(arg.name)
    if wanted and company:
        kinds = OEM_KINDS if wanted == "oem" else SUPPLIER_KINDS
        if company.kind not in kinds:
            return False
    for child in chunk_root.children:
        country = gazetteer.demonyms.get(child.text) if child.dep_ in ("amod", "compound") else None
        if country and company and company.country and company.country != country:
            return False
        if country and not company:
            return False
    return True


def _resolve_reference(chunk_root: Token, earlier: list[Arg], gazetteer: Gazetteer) -> Arg | None:
    sentence = chunk_root.sent
    named_here = {a.name for a in earlier if a.span.start >= sentence.start}
    for arg in reversed(earlier):
        if arg.label != "ORG" or chunk_root.idx - arg.span.start_char > 1500:
            continue
        if arg.name in named_here and arg.span.start >= sentence.start:
            continue
        if _reference_allows(arg, chunk_root, gazetteer):
            return arg
    return None


def _is_reference(token: Token) -> bool:
    if token.lemma_.lower() not in REFERENCE_NOUNS or token.pos_ != "NOUN" or token.ent_type_:
        return False
    determiners = {child.lower_ for child in token.children if child.dep_ == "det"}
    return bool(determiners & {"the", "this", "that"}) and token.tag_ == "NN"


def collect_args(doc: Doc, gazetteer: Gazetteer) -> dict[int, Arg]:
    """Map token index -> Arg for entities, nationality modifiers and resolved references."""
    by_token: dict[int, Arg] = {}
    in_order: list[Arg] = []
    entity_at = {token.i: ent for ent in doc.ents for token in ent}
    for token in doc:
        ent = entity_at.get(token.i)
        if ent is not None and token.i == ent.start:
            arg = _entity_arg(ent, gazetteer)
            if arg is not None:
                in_order.append(arg)
                for t in ent:
                    by_token[t.i] = arg
        elif ent is None and _is_reference(token):
            target = _resolve_reference(token, in_order, gazetteer)
            if target is not None:
                arg = replace(target, span=doc[token.i : token.i + 1], via_reference=True)
                in_order.append(arg)
                by_token[token.i] = arg
    return by_token


def _entity_arg(ent: Span, gazetteer: Gazetteer) -> Arg | None:
    name = ent._.canonical or ent.text
    if ent.label_ in ("ORG", "GPE", "FACILITY"):
        return Arg(name, ent.label_, ent)
    if ent.label_ == "NORP" and ent.root.dep_ in ("amod", "compound"):
        country = gazetteer.demonyms.get(ent.text)
        head = ent.root.head
        if country and head.lemma_.lower() in ORIGIN_HEADS:
            return Arg(country, "GPE", ent, origin_only=True)
    return None


# ---- frames ---------------------------------------------------------------

def _args_at(token: Token, args: dict[int, Arg]) -> list[Arg]:
    """The argument a token stands for (looking into its name modifiers), with
    those of tokens coordinated with it."""
    found = []
    for member in (token, *token.conjuncts):
        arg = args.get(member.i)
        if arg is None:
            for child in member.children:
                if child.dep_ in ("amod", "compound", "nmod") and child.i in args and args[child.i].origin_only:
                    arg = args[child.i]
                    break
        if arg is not None and arg not in found:
            found.append(arg)
    return found


def _subjects(token: Token, args: dict[int, Arg], hops: int = 6) -> list[Arg]:
    """Subjects of the clause a trigger sits in, climbing through infinitives,
    participles, gerunds and relative clauses."""
    current = token
    for _ in range(hops):
        if current.dep_ == "relcl" and _args_at(current.head, args):
            return _args_at(current.head, args)
        # the parser sometimes hangs the subject on an auxiliary ("remains linked")
        auxiliaries = [c for c in current.children if c.dep_ in ("aux", "auxpass")]
        for child in (*current.children, *(c for aux in auxiliaries for c in aux.children)):
            if child.dep_ in ("nsubj", "nsubjpass") and _args_at(child, args):
                return _args_at(child, args)
        owners = [a for child in current.children if child.dep_ == "poss" for a in _args_at(child, args)]
        if owners:
            return owners
        if current.head is current:
            break
        current = current.head
    return []


def _prep_targets(prep: Token, args: dict[int, Arg]) -> list[Token]:
    """The objects of a preposition; when the small parser misreads an unknown
    company name after it (tagging it ADV, say), the entity right after it."""
    targets = [child for child in prep.children if child.dep_ == "pobj"]
    following = prep.i + 1
    if not targets and following < len(prep.doc) and following in args:
        targets.append(prep.doc[following])
    return targets


def _prep_objects(tokens: list[Token], preps: set[str], args: dict[int, Arg]) -> list[Arg]:
    found: list[Arg] = []
    for token in tokens:
        for prep in token.children:
            if prep.dep_ in ("prep", "agent", "dative") and prep.lower_ in preps:
                for pobj in _prep_targets(prep, args):
                        found.extend(a for a in _args_at(pobj, args) if a not in found)
                        # "at its plant in Spain": the place inside the object
                        found.extend(a for a in _prep_objects([pobj], {"in", "at"}, args) if a not in found)
    return found


def _objects(token: Token, deps: set[str]) -> list[Token]:
    return [child for child in token.children if child.dep_ in deps]


def _component_text(token: Token | None, args: dict[int, Arg]) -> str | None:
    if token is None or token.i in args or token.pos_ not in ("NOUN", "PROPN"):
        return None
    words = [t for t in token.subtree if t.i <= token.i and t.dep_ not in ("det", "poss", "case", "predet")]
    text = " ".join(t.text for t in words if t.i >= words[0].i).strip()
    return text.lower() or None


def _is_passive(token: Token) -> bool:
    return any(c.dep_ in ("auxpass", "nsubjpass") for c in token.children) or (
        token.tag_ == "VBN" and token.dep_ in ("acl", "amod")
    )


def _partner_kind(trigger: Token) -> str:
    words = {trigger.lemma_.lower()} | {c.lemma_.lower() for c in trigger.children}
    if words & {"venture", "jv"}:
        return "joint_venture"
    if words & {"alliance", "ally", "align"}:
        return "alliance"
    if words & {"license", "licence", "licensing"}:
        return "licensing"
    if words & {"develop", "co-develop", "codevelop", "collaborate", "collaboration", "project", "cooperation", "cooperate", "research", "engineering"}:
        return "co_development"
    return "other"


def _pairs(left: list[Arg], right: list[Arg]):
    for a in left:
        for b in right:
            if a.name != b.name:
                yield a, b


def _supply_frames(trigger: Token, args: dict[int, Arg], lemma: str, topic: Arg | None):
    component_token = next(iter(_objects(trigger, {"dobj", "nsubjpass", "pobj"})), None)
    if lemma in SUPPLY_VERBS:
        passive = _is_passive(trigger)
        suppliers = _prep_objects([trigger], {"by"}, args) if passive else _subjects(trigger, args)
        customers = _prep_objects([trigger], {"to", "for"}, args)
        customers += [a for t in _objects(trigger, {"dobj", "dative"}) for a in _args_at(t, args)]
        if passive:
            customers += [a for t in _objects(trigger, {"nsubjpass"}) for a in _args_at(t, args)]
        for supplier, customer in _pairs(suppliers, customers):
            if supplier.label == customer.label == "ORG":
                yield "SUPPLIES", supplier, customer, component_token, 0.85
        return
    origins = _prep_objects([trigger, *_objects(trigger, {"dobj", "pobj", "prep"})], {"from"}, args)
    # "on platforms from Xpeng": the origin hangs under the object of "on"
    for prep in _objects(trigger, {"prep"}):
        origins += _prep_objects(_objects(prep, {"pobj"}), {"from"}, args)
    if lemma in {"tap", "choose", "select", "pick"}:
        origins += [a for t in _objects(trigger, {"dobj"}) for a in _args_at(t, args) if a.label == "ORG"]
    if not origins:
        return
    customers = _subjects(trigger, args)
    confidence = 0.85
    if not customers and lemma in {"come", "arrive"} and topic is not None:
        customers, confidence = [topic], 0.5
    if lemma == "rely":
        component_token = next(iter(_objects(next(iter(_objects(trigger, {"prep"})), trigger), {"pobj"})), None)
    for customer, origin in _pairs(customers, origins):
        if customer.label != "ORG":
            continue
        if origin.label == "ORG":
            yield "SUPPLIES", origin, customer, component_token, confidence
        elif origin.label == "GPE":
            yield "SOURCES_FROM", customer, origin, component_token, confidence


def _supplier_noun_frames(trigger: Token, args: dict[int, Arg]):
    suppliers = _args_at(trigger.head, args) if trigger.dep_ == "appos" else []
    suppliers += [a for a in _subjects(trigger, args, hops=2) if a not in suppliers]
    suppliers += [a for t in _objects(trigger, {"appos"}) for a in _args_at(t, args)]
    customers = _prep_objects([trigger], {"to", "for", "of"}, args)
    customers += [a for t in _objects(trigger, {"poss"}) for a in _args_at(t, args)]
    for supplier, customer in _pairs(suppliers, customers):
        if supplier.label == customer.label == "ORG" and supplier not in customers:
            yield "SUPPLIES", supplier, customer, None, 0.75


def _partner_frames(trigger: Token, args: dict[int, Arg]):
    lemma = trigger.lemma_.lower()
    owners = [a for t in _objects(trigger, {"poss", "compound", "nmod", "amod"}) for a in _args_at(t, args)]
    if not owners:
        owners = _subjects(trigger, args)
    others = _prep_objects([trigger], {"with", "to", "between", "among", "of"}, args)
    pairs = list(_pairs(owners, others)) if others else list(_pairs(owners, owners))
    if not others and len(owners) < 2 and trigger.dep_ == "appos":
        pairs = list(_pairs(_args_at(trigger.head, args), owners))
    supply_deal = any(c.lemma_.lower() in ("supply", "supplier", "sourcing", "purchase") for c in trigger.children)
    confidence = 0.55 if lemma in WEAK_PARTNER_WORDS else 0.8
    seen = set()
    for a, b in pairs:
        key = frozenset((a.name, b.name))
        if key in seen or a.label != "ORG" or b.label != "ORG":
            continue
        seen.add(key)
        yield ("SUPPLIES" if supply_deal else "PARTNERS_WITH"), a, b, None, confidence


def _make_frames(trigger: Token, args: dict[int, Arg]):
    passive = _is_passive(trigger)
    makers = _prep_objects([trigger], {"by"}, args) if passive else []
    # "assemble the EV4 in Slovakia": the place may hang under the object
    placed = [trigger, *_objects(trigger, {"dobj", "nsubjpass"})]
    places = [a for a in _prep_objects(placed, {"at", "in", "inside"}, args) if a.label in ("FACILITY", "GPE") and not a.origin_only]
    if not makers:
        makers = [a for a in _subjects(trigger, args) if a.label == "ORG"]
    if not makers:
        makers = [
            args[child.i] for place in places for child in place.span.root.children
            if child.dep_ == "poss" and child.i in args and args[child.i].label == "ORG"
        ]
        makers += [args[t.i] for place in places for t in place.span if t.i in args and args[t.i].label == "ORG"]
    component_token = next(iter(_objects(trigger, {"dobj", "nsubjpass"})), None)
    for maker, place in _pairs(makers, places):
        if maker.label == "ORG":
            yield "MANUFACTURES_AT", maker, place, component_token, 0.8


def sentence_candidates(sentence: Span, args: dict[int, Arg], topic: Arg | None) -> list[Candidate]:
    found = []
    for trigger in sentence:
        lemma = trigger.lemma_.lower()
        if trigger.pos_ in ("VERB", "AUX") and lemma in SUPPLY_VERBS | ACQUIRE_VERBS:
            frames = _supply_frames(trigger, args, lemma, topic)
        elif trigger.pos_ == "NOUN" and lemma in SUPPLIER_NOUNS:
            frames = _supplier_noun_frames(trigger, args)
        elif (trigger.pos_ == "VERB" and lemma in PARTNER_VERBS) or (trigger.pos_ in ("NOUN", "PROPN") and lemma in PARTNER_NOUNS):
            frames = _partner_frames(trigger, args)
        elif trigger.pos_ == "VERB" and lemma in MAKE_VERBS:
            frames = _make_frames(trigger, args)
        else:
            continue
        for relation, subject, obj, component_token, confidence in frames:
            if subject.via_reference or obj.via_reference:
                confidence -= 0.1
            kind = _partner_kind(trigger) if relation == "PARTNERS_WITH" else None
            component = _component_text(component_token, args)
            found.append(Candidate(relation, subject, obj, trigger, component, kind, round(confidence, 2)))
    return found


def _topic(args: dict[int, Arg]) -> Arg | None:
    """The article's main company, when one clearly dominates its mentions."""
    mentions = Counter()
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


def _merge(candidates: list[tuple[Candidate, str]]) -> list[Claim]:
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
    """'Assembled in France ... at the Cleon plant': keep the most specific place."""
    with_facility = {c.subject for c in claims if c.relation == "MANUFACTURES_AT" and c.object_label == "FACILITY"}
    return [
        c for c in claims
        if not (c.relation == "MANUFACTURES_AT" and c.object_label == "GPE" and c.subject in with_facility)
    ]


def extract_claims(doc: Doc, gazetteer: Gazetteer) -> list[Claim]:
    args = collect_args(doc, gazetteer)
    topic = _topic(args)
    candidates = [
        (candidate, status_of(candidate.trigger))
        for sentence in doc.sents
        for candidate in sentence_candidates(sentence, args, topic)
    ]
    claims = _merge(candidates)
    return sorted(claims, key=lambda c: (c.sentence_start or 0, c.relation, c.subject, c.object))


class ClaimExtractor:
    def __init__(self, gazetteer_dir: str):
        self.gazetteer = load_gazetteer(gazetteer_dir)

    def __call__(self, doc: Doc) -> Doc:
        doc._.claims = extract_claims(doc, self.gazetteer)
        return doc


@Language.factory("supplywatch_claims", default_config={"gazetteer_dir": ""})
def make_claim_extractor(nlp: Language, name: str, gazetteer_dir: str) -> ClaimExtractor:
    return ClaimExtractor(gazetteer_dir)

