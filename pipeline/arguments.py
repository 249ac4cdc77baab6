"""Claim arguments in the parse: the companies, places and plants a sentence
names, nationalities that stand for a country ("a Chinese supplier"), and
references such as "the French automaker" resolved to a company named
earlier; plus the small syntax helpers the claim frames share."""

from __future__ import annotations

from dataclasses import dataclass, replace

from spacy.tokens import Doc, Span, Token

from .gazetteer import Gazetteer

REFERENCE_NOUNS = {
    "company": None, "firm": None, "group": None, "giant": None, "brand": None,
    "automaker": "oem", "carmaker": "oem", "manufacturer": None, "maker": None, "oem": "oem",
    "supplier": "supplier", "startup": None, "producer": None, "chipmaker": "supplier", "owner": None,
    "miner": "materials", "refiner": "materials",
}
OEM_KINDS = {"automaker", "truckmaker", "joint_venture"}
SUPPLIER_KINDS = {"supplier", "battery", "semiconductor", "tech", "materials", "joint_venture"}
ORIGIN_HEADS = {
    "supplier", "vendor", "provider", "manufacturer", "maker", "company", "partner", "firm",
    "component", "part", "producer", "alternative", "technology", "chipmaker", "parts", "cell",
    "battery", "magnet", "steel", "material", "group",
}
PERSONAL_PRONOUNS = {"it", "they", "we", "he", "she", "its", "their"}
RELATIVE_PRONOUNS = {"which", "that", "who", "whom", "whose"}


@dataclass(frozen=True)
class Arg:
    """An entity that can take part in a claim, placed in the parse."""

    name: str
    label: str  # ORG | GPE | FACILITY
    span: Span
    origin_only: bool = False  # a nationality ("a Chinese supplier"): only an origin
    via_reference: bool = False
    origin: str | None = None  # a company's country as this mention gives it
    members: tuple["Arg", ...] = ()  # "they" standing for "Ford and Mazda"


Args = dict[int, Arg]


# ---- collecting -------------------------------------------------------------

COMPOUND_KINDS = {
    "battery": {"battery", "supplier", "joint_venture"}, "cell": {"battery", "supplier", "joint_venture"},
    "chip": {"semiconductor"}, "parts": {"supplier"}, "part": {"supplier"}, "motor": {"supplier"},
    "car": OEM_KINDS, "truck": {"truckmaker"}, "steel": {"materials"}, "lithium": {"materials"},
}


def _reference_allows(arg: Arg, noun: Token, gazetteer: Gazetteer) -> bool:
    wanted = REFERENCE_NOUNS.get(noun.lemma_.lower())
    company = gazetteer.company(arg.name)
    for child in noun.children:
        kinds = COMPOUND_KINDS.get(child.lemma_.lower()) if child.dep_ in ("compound", "nmod", "amod") else None
        if kinds and (not company or company.kind not in kinds):
            return False
    if wanted and company:
        kinds = {"oem": OEM_KINDS, "materials": {"materials"}}.get(wanted, SUPPLIER_KINDS)
        if company.kind not in kinds:
            return False
    for child in noun.children:
        country = gazetteer.demonyms.get(child.text) or gazetteer.place(child.text) if child.dep_ in ("amod", "compound", "nmod", "poss") else None
        if country and (not company or (company.country and company.country != country)):
            return False
    return True


def clause_verb(token: Token) -> Token:
    """The verb heading the clause a token sits in."""
    current = token
    while current.pos_ not in ("VERB", "AUX") and current.head.i != current.i:
        current = current.head
    return current


def _resolve_reference(noun: Token, earlier: list[Arg], gazetteer: Gazetteer) -> Arg | None:
    """The most recent company before `noun` that fits its description. A
    company in the same clause is skipped ("the automaker imports motors from
    the company" is not about itself), and a company the gazetteer knows is
    preferred over a name seen once that it does not know."""
    own_clause = clause_verb(noun)
    fitting = [
        arg for arg in reversed(earlier)
        if arg.label == "ORG" and noun.idx - arg.span.start_char <= 1500
        and not (arg.span.sent.start == noun.sent.start and clause_verb(arg.span.root) == own_clause)
        and _reference_allows(arg, noun, gazetteer)
    ]
    if not fitting:
        return None
    seen = [a.name for a in earlier]
    known = [a for a in fitting if gazetteer.company(a.name) or seen.count(a.name) > 1] or fitting
    # centering: a company that was the subject of this or the previous sentence is what
    # "the company" most likely continues to talk about
    previous_start = _previous_sentence_start(noun)
    subjects_nearby = [a for a in known if a.span.start >= previous_start and a.span.root.dep_ in ("nsubj", "nsubjpass")]
    return (subjects_nearby or known)[0]


def _previous_sentence_start(token: Token) -> int:
    sentence = token.sent
    if sentence.start == 0:
        return 0
    return token.doc[sentence.start - 1].sent.start


def _resolve_pronoun(pronoun: Token, earlier: list[Arg]) -> Arg | None:
    """'it' as a subject: the company that was the subject of the nearest
    earlier clause with a company subject, in this sentence or the one before."""
    for arg in reversed(earlier):
        if arg.label != "ORG" or pronoun.sent.start - arg.span.sent.start > 80:
            continue
        root = arg.span.root
        if root.dep_ in ("nsubj", "nsubjpass") or (root.dep_ == "conj" and root.head.dep_ in ("nsubj", "nsubjpass")):
            if not (arg.span.sent.start == pronoun.sent.start and clause_verb(root) == clause_verb(pronoun)):
                return arg
    return None


def _is_reference(token: Token) -> bool:
    """'the company', 'the French automaker', "the world's biggest battery maker"."""
    if token.lemma_.lower() not in REFERENCE_NOUNS or token.pos_ != "NOUN" or token.tag_ != "NN":
        return False
    for child in token.children:
        if child.dep_ == "det" and child.lower_ in ("the", "this", "that"):
            return True
        if child.dep_ == "poss" and child.lower_ in ("world", "country", "industry", "nation", "group"):
            return any(c.dep_ == "det" and c.lower_ == "the" for c in child.children)
        if child.dep_ == "poss" and child.ent_type_ == "GPE":  # "India's second-biggest truck maker"
            return True
    return False


def _is_country_reference(token: Token) -> bool:
    """'parts coming from the country'."""
    return token.lemma_.lower() == "country" and token.tag_ == "NN" and any(
        c.dep_ == "det" and c.lower_ == "the" for c in token.children
    ) and not any(c.dep_ in ("amod", "compound") for c in token.children)


def _is_its(token: Token) -> bool:
    return token.lower_ == "its" and token.dep_ == "poss"


def _resolve_possessive(its: Token, by_token: "Args") -> Arg | None:
    """'its' belongs to the subject of its own clause when that is a company
    ("Renault ended its partnership"), except after a copula: in "JLR will be
    its first customer" 'its' is someone else."""
    if its.head.dep_ in ("attr", "acomp") and its.head.head.lemma_ in ("be", "become", "remain"):
        return None
    verb = clause_verb(its)
    for child in verb.children:
        if child.dep_ in ("nsubj", "nsubjpass") and child.i in by_token and by_token[child.i].label == "ORG":
            return by_token[child.i]
    return None


def _is_subject_it(token: Token) -> bool:
    return token.lower_ == "it" and token.dep_ in ("nsubj", "nsubjpass")


GROUP_NOUNS = {"partner", "company", "carmaker", "automaker", "firm", "group", "maker", "manufacturer"}


def _is_group_pronoun(token: Token) -> bool:
    """'they', 'their', 'the partners', 'the two carmakers', 'both companies'."""
    if token.lower_ in ("they", "their") and token.dep_ in ("nsubj", "nsubjpass", "poss"):
        return True
    if token.lower_ in ("two", "three", "both") and token.dep_ in ("nsubj", "nsubjpass") and token.pos_ in ("NUM", "DET", "PRON"):
        return True  # "The two agreed to form a partnership"
    if token.tag_ != "NNS" or token.lemma_.lower() not in GROUP_NOUNS or token.ent_type_:
        return False
    markers = {c.lower_ for c in token.children if c.dep_ in ("det", "nummod", "predet")}
    return bool(markers & {"the", "both", "two"}) and not any(c.dep_ in ("amod", "compound") and c.ent_type_ for c in token.children)


def _resolve_group(pronoun: Token, earlier: list[Arg], by_token: "Args") -> Arg | None:
    """'they'/'their': the coordinated companies that were the subject of
    the nearest earlier clause ("Ford and Mazda said they ...")."""
    for arg in reversed(earlier):
        root = arg.span.root
        if arg.label != "ORG" or pronoun.sent.start - arg.span.sent.start > 80 or arg.via_reference:
            continue
        if pronoun.pos_ == "PRON" and root.dep_ not in ("nsubj", "nsubjpass"):
            continue
        members = [a for a in args_at(root, by_token) if a.label == "ORG"]
        if len(members) >= 2:
            return replace(members[0], span=pronoun.doc[pronoun.i : pronoun.i + 1], via_reference=True,
                           origin=None, members=tuple(members))
    if pronoun.lower_ in ("two", "both") or any(c.lower_ in ("two", "both") for c in pronoun.children):
        # "the two companies" with no coordinated pair before: the last two companies named
        recent: list[Arg] = []
        for arg in reversed(earlier):
            if arg.label == "ORG" and not arg.via_reference and arg.name not in [r.name for r in recent] \
                    and pronoun.sent.start - arg.span.sent.start <= 80:
                recent.append(arg)
            if len(recent) == 2:
                return replace(recent[1], span=pronoun.doc[pronoun.i : pronoun.i + 1], via_reference=True,
                               origin=None, members=tuple(reversed(recent)))
    return None


def _origin_of(ent: Span, gazetteer: Gazetteer) -> str | None:
    """The country a company is said to be from at this mention: "Japan's
    Panasonic", "Swedish supplier Northvolt", "EVE, a Chinese cell maker"."""
    root = ent.root
    near = [*root.children]
    if root.dep_ in ("compound", "appos") or root.head.dep_ == "appos":
        near += [*root.head.children]
    for child in root.children:
        if child.dep_ in ("compound", "appos"):
            near += [*child.children, child]
    for token in near:
        if token.i in range(ent.start, ent.end):
            continue
        if token.dep_ == "poss" and token.ent_type_ == "GPE":
            return gazetteer.place(token.text)
        if token.dep_ == "prep" and token.lower_ == "of":  # "CATL of China"
            place = next((p for p in token.children if p.dep_ == "pobj" and p.ent_type_ == "GPE"), None)
            if place is not None:
                return gazetteer.place(place.text) or place.text
        if token.dep_ in ("amod", "compound", "nmod") and token.ent_type_ == "NORP":
            return gazetteer.demonyms.get(token.text)
    return None


def _entity_arg(ent: Span, gazetteer: Gazetteer) -> Arg | None:
    name = ent._.canonical or ent.text
    if ent.label_ == "ORG":
        company = gazetteer.company(name)
        if company is not None and company.kind == "media":
            return None  # "Reuters reported": a news outlet is no party to a claim
        return Arg(name, "ORG", ent, origin=_origin_of(ent, gazetteer))
    if ent.label_ in ("GPE", "FACILITY"):
        return Arg(name, ent.label_, ent)
    if ent.label_ == "NORP" and ent.root.dep_ in ("amod", "compound", "nmod"):
        country = gazetteer.demonyms.get(ent.text)
        if country and ent.root.head.lemma_.lower() in ORIGIN_HEADS:
            return Arg(country, "GPE", ent, origin_only=True)
    return None


def collect_args(doc: Doc, gazetteer: Gazetteer) -> Args:
    """Map token index -> Arg for entities, nationality modifiers and resolved references."""
    by_token: Args = {}
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
        elif ent is None and _is_group_pronoun(token):
            group = _resolve_group(token, in_order, by_token)
            if group is not None:
                by_token[token.i] = group
        elif ent is None and (_is_reference(token) or _is_subject_it(token) or _is_its(token)):
            if _is_its(token):
                target = _resolve_possessive(token, by_token) or _resolve_pronoun(token, in_order)
            elif _is_subject_it(token):
                target = _resolve_pronoun(token, in_order)
            else:
                target = _resolve_reference(token, in_order, gazetteer)
            if target is not None:
                # the reference's own nationality ("the Chinese group") is where the company is from
                origin = next((gazetteer.demonyms.get(c.text) for c in token.children
                               if c.dep_ in ("amod", "compound") and gazetteer.demonyms.get(c.text)), None)
                arg = replace(target, span=doc[token.i : token.i + 1], via_reference=True, origin=origin)
                in_order.append(arg)
                by_token[token.i] = arg
        elif ent is None and _is_country_reference(token):
            place = next((a for a in reversed(in_order) if a.label == "GPE" and not a.origin_only
                          and gazetteer.place(a.name) == a.name and token.idx - a.span.start_char < 1500), None)
            if place is not None:
                by_token[token.i] = replace(place, span=doc[token.i : token.i + 1], via_reference=True)
    return by_token


# ---- reading the parse -------------------------------------------------------

def args_at(token: Token, args: Args, owners: bool = True) -> list[Arg]:
    """The arguments a token stands for, with those coordinated with it: its
    own entity, a nationality modifying it, or (with owners) the company
    owning it ("Hyundai's plants")."""
    found: list[Arg] = []
    for member in (token, *token.conjuncts):
        arg = args.get(member.i)
        if arg is None:
            for child in member.children:
                if child.dep_ in ("amod", "compound", "nmod") and child.i in args and args[child.i].origin_only:
                    arg = args[child.i]
                    break
        listed = any(c.dep_ == "prep" and c.lower_ in ("including", "like") for c in member.children)
        if arg is None and owners and not listed and member.pos_ in ("NOUN", "PROPN"):
            # "Hyundai's plants", "Tata Motors Passenger Vehicles"
            arg = next((args[c.i] for c in member.children
                        if c.dep_ in ("poss", "compound") and c.i in args and args[c.i].label == "ORG"), None)
        for one in (arg.members or (arg,)) if arg is not None else ():
            if one not in found:
                found.append(one)
        for child in member.children:  # "the venture of Sony and Honda", "CATL, a supplier"
            if child.dep_ == "appos":
                found.extend(a for a in args_at(child, args) if a not in found and a.label == "ORG" and member.i not in args)
            if child.dep_ == "prep" and child.lower_ in ("including", "like") and member.i not in args:
                # "several LG affiliates, including LG Display and LG Chem"
                found.extend(a for o in children(child, {"pobj"}) for a in args_at(o, args) if a not in found)
    return found


def children(token: Token, deps: set[str]) -> list[Token]:
    return [child for child in token.children if child.dep_ in deps]


def _is_pronoun(token: Token) -> bool:
    return token.pos_ == "PRON" and token.lower_ in PERSONAL_PRONOUNS | RELATIVE_PRONOUNS


def subjects(token: Token, args: Args, hops: int = 7, owners_count: bool = True) -> list[Arg]:
    """The subjects of the clause a trigger sits in, climbing through
    infinitives, participles, gerunds, relative clauses and reported speech
    ("Bosch said it would supply": Bosch)."""
    current, below = token, token
    for _ in range(hops):
        auxiliaries = children(current, {"aux", "auxpass"})
        subject_tokens = [
            c for c in (*current.children, *(c for a in auxiliaries for c in a.children))
            if c.dep_ in ("nsubj", "nsubjpass") and c.i != below.i and c.i != token.i
        ]
        named = [a for s in subject_tokens for a in args_at(s, args)]
        if named:
            return named
        relative = any(s.lower_ in RELATIVE_PRONOUNS for s in subject_tokens)
        if current.dep_ in ("relcl", "acl") and (relative or not subject_tokens) and args_at(current.head, args):
            return args_at(current.head, args)
        if subject_tokens and not any(_is_pronoun(s) for s in subject_tokens):
            if current.pos_ in ("VERB", "AUX"):
                return []  # a named subject that is no company: the claim is not about one
        owners = [a for c in children(current, {"poss"}) for a in args_at(c, args)] if owners_count or current.i != token.i else []
        if owners:
            return owners
        if current.head.i == current.i:
            break
        if current.pos_ in ("NOUN", "PROPN") and current.i != token.i and below.dep_ in ("pcomp", "pobj", "prep") \
                and current.lemma_.lower() not in PLAN_NOUNS:
            break  # "the cost of building cars": whoever bears the cost does not build
        below, current = current, current.head
    return []


def prep_targets(prep: Token, args: Args) -> list[Token]:
    """The objects of a preposition; when the parser misreads an unknown name
    after it, the entity right after it."""
    targets = children(prep, {"pobj", "pcomp"})
    following = prep.i + 1
    if not targets and following < len(prep.doc) and following in args:
        targets.append(prep.doc[following])
    return targets


def prep_objects(tokens: list[Token], preps: set[str], args: Args, deep: bool = False) -> list[Arg]:
    """Arguments in the given prepositional phrases of the tokens; with deep,
    also places and owners further inside them ('at one of Honda's factories
    in the United States')."""
    found: list[Arg] = []
    for token in tokens:
        for prep in token.children:
            coordinated_prep = prep.dep_ == "conj" and prep.pos_ == "ADP"  # "in X and in Y"
            if (prep.dep_ not in ("prep", "agent", "dative") and not coordinated_prep) or prep.lower_ not in preps:
                continue
            for target in prep_targets(prep, args):
                found.extend(a for a in args_at(target, args) if a not in found)
                if deep:
                    found.extend(a for a in _inside(target, args) if a not in found)
    return found


def _inside(target: Token, args: Args) -> list[Arg]:
    """Arguments inside a phrase, nearest first: its name modifiers
    ("China's Guangdong province": Guangdong, then China), then the rest."""
    named_by_of = [o for p in children(target, {"prep"}) if p.lower_ == "of" for o in children(p, {"pobj"})]
    # "the U.S. state of South Carolina": South Carolina; "China's Guangdong province": Guangdong
    near = named_by_of + sorted(children(target, {"compound", "nmod", "amod"}), key=lambda t: -t.i) + children(target, {"poss"})
    rest = [t for t in target.subtree if t.i != target.i and t not in near]
    found = []
    for token in near + rest:
        arg = args.get(token.i)
        if arg is not None and arg not in found:
            found.append(arg)
    return found


PLAN_NOUNS = {"plan", "talk", "talks", "deal", "agreement", "contract", "effort", "decision", "move", "intention",
              "project", "venture", "partnership", "bid", "attempt", "order", "negotiation", "preparation", "interest",
              "part", "member", "stake"}


def governing_parties(token: Token, args: Args, nouns: set[str], hops: int = 5) -> list[Arg]:
    """The 'with' parties of talks, deals or agreements a trigger sits under
    or beside ('in talks with Toyota about supplying batteries', 'was in
    talks with Tesla to supply components': Toyota, Tesla)."""
    current = token
    for _ in range(hops):
        if current.head.i == current.i:
            break
        current = current.head
        if current.lemma_.lower() in nouns:
            return prep_objects([current], {"with"}, args)
        beside = [p for prep in children(current, {"prep"}) for p in children(prep, {"pobj"}) if p.lemma_.lower() in nouns]
        beside += [o for o in children(current, {"dobj"}) if o.lemma_.lower() in nouns]  # "signed a partnership with X to buy"
        if beside:
            return prep_objects(beside, {"with"}, args)
    return []
