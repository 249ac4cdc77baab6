"""Entity stages of the spaCy pipeline: gazetteer patterns for the ruler that
runs before the pretrained NER, a fixer for what the NER gets wrong in car
news, and canonical names for every entity."""

from __future__ import annotations

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from .gazetteer import Gazetteer, load_gazetteer, strip_legal

FACILITY_WORDS = ["plant", "plants", "factory", "factories", "gigafactory", "facility", "complex"]
SCORED_LABELS = ("ORG", "GPE", "FACILITY", "COMPONENT", "PERSON")
NAME_LIKE_LABELS = {"ORG", "GPE", "PERSON", "NORP", "PRODUCT", "FAC", "LOC", "WORK_OF_ART", "EVENT"}

if not Span.has_extension("canonical"):
    Span.set_extension("canonical", default=None)


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


class GazetteerRuler:
    """Marks gazetteer entities before the NER, which keeps them: company
    names by exact case, component terms in any case and singular or plural,
    and 'Proper-noun plant' facilities. Phrase matchers keep it cheap."""

    def __init__(self, nlp: Language, gazetteer_dir: str):
        gazetteer = load_gazetteer(gazetteer_dir)
        self.companies = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.components = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.facilities = Matcher(nlp.vocab)
        self.companies.add("ORG", [nlp.make_doc(name) for name in gazetteer.unambiguous_names()])
        terms = {form for term in gazetteer.components for form in (term.lower(), _plural_term(term.lower()))}
        self.components.add("COMPONENT", [nlp.make_doc(term) for term in sorted(terms)])
        self.facilities.add("FACILITY", FACILITY_PATTERNS)

    def __call__(self, doc: Doc) -> Doc:
        found = [Span(doc, start, end, label=label) for label, matches in (
            ("FACILITY", self.facilities(doc)), ("ORG", self.companies(doc)), ("COMPONENT", self.components(doc)),
        ) for _id, start, end in matches]
        found = [span for span in found if span.label_ != "COMPONENT" or not _inside_a_name(span)]
        if found:
            doc.ents = filter_spans(found)  # longest match wins; the NER fills in around them
        return doc


def _inside_a_name(span: Span) -> bool:
    """'H2 Green Steel': a component word written as part of a proper name."""
    if not all(t.is_title or t.is_upper for t in span):
        return False
    before = span.doc[span.start - 1] if span.start > 0 else None
    return before is not None and before.lower_ not in ("the", "a", "an", "new") and (before.pos_ == "PROPN" or before.is_title)


def _plural_term(term: str) -> str:
    head, _, last = term.rpartition(" ")
    return f"{head} {_plural(last)}".strip()


FACILITY_PATTERNS = [
    [
        {"POS": "PROPN", "OP": "+"},
        {"LOWER": {"IN": ["assembly", "battery", "engine", "motor", "car", "vehicle"]}, "OP": "?"},
        {"LOWER": {"IN": FACILITY_WORDS}},
    ],
    [{"LOWER": {"IN": ["gigafactory", "giga"]}}, {"POS": "PROPN", "OP": "+"}],
]


@Language.factory("supplywatch_gazetteer_ruler", default_config={"gazetteer_dir": ""})
def make_gazetteer_ruler(nlp: Language, name: str, gazetteer_dir: str) -> GazetteerRuler:
    return GazetteerRuler(nlp, gazetteer_dir)


def _trimmed(span: Span) -> Span:
    """The span without a trailing possessive and without white-space tokens at its ends."""
    end = span.end
    for token in span:
        if token.tag_ == "POS" or token.text in ("’s", "'s", "’", "'"):
            end = token.i
            break
    start = span.start
    while start < end and span.doc[start].is_space:
        start += 1
    while end > start and span.doc[end - 1].is_space:
        end -= 1
    return span.doc[start:end]


def fix_entities(doc: Doc, gazetteer: Gazetteer) -> Doc:
    """Drop known false entities and relabel what the gazetteer knows better."""
    fixed: list[Span] = []
    for ent in doc.ents:
        span = _trimmed(ent) if ent.label_ != "FACILITY" else ent
        if len(span) == 0 or span.text in gazetteer.not_entities:
            continue
        label = ent.label_
        if label in NAME_LIKE_LABELS and label != "ORG" and gazetteer.company(span.text):
            label = "ORG"
        elif label in ("LOC", "ORG") and gazetteer.place(span.text) and not gazetteer.company(span.text):
            label = "GPE"
        elif label == "FAC" and span[-1].lower_ in FACILITY_WORDS:
            label = "FACILITY"
        if label == "FACILITY" and _names_only_a_place(span, gazetteer):
            continue  # "US assembly plants" is no named plant
        if label == "FACILITY" and _names_only_a_company(span, gazetteer):
            # "a Nidec factory" is the company's unnamed plant: keep the company
            company_end = next(t.i for t in span if t.lower_ in FACILITY_WORDS or t.pos_ != "PROPN")
            fixed.append(Span(doc, span.start, company_end, label="ORG"))
            continue
        if label in ("GPE", "PERSON", "NORP") and _coordinated_with_org(span) and not gazetteer.place(span.text):
            label = "ORG"  # "Autoliv, TRW Automotive and Daicel": a list of companies
        fixed_span = Span(doc, span.start, span.end, label=label, kb_id=ent.kb_id_)
        if label == "COMPONENT":
            fixed_span = component_span(fixed_span)
            if fixed_span is None or len(fixed_span) == 0:
                continue
        fixed.append(fixed_span)
    doc.ents = filter_spans(_join_company_names(fixed))
    return doc


COMPANY_WORDS = {
    "automotive", "systems", "motors", "motor", "technologies", "technology", "energy", "electronics",
    "industries", "holdings", "solutions", "components", "materials", "mobility", "international", "auto",
}


def _join_company_names(spans: list[Span]) -> list[Span]:
    """'Hitachi' + 'Automotive Systems' read as two names are one company."""
    joined: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        previous = joined[-1] if joined else None
        if (previous is not None and previous.label_ == span.label_ == "ORG" and previous.end == span.start
                and span[0].lower_ in COMPANY_WORDS):
            joined[-1] = Span(span.doc, previous.start, span.end, label="ORG")
            continue
        joined.append(span)
    return joined


EVALUATIVE_WORDS = {
    "new", "compact", "small", "smaller", "large", "larger", "key", "advanced", "powerful", "more",
    "cheaper", "cheap", "next-generation", "next", "generation", "latest", "future", "critical",
    "high", "low", "cost", "own", "several", "other", "such", "first", "second", "main", "core",
}
COMPONENT_HEADS = {
    "technology", "system", "material", "metal", "module", "unit", "cell", "pack", "component",
    "part", "motor", "engine", "chip", "magnet", "platform", "software", "wire", "semiconductor",
}


def _joins_left(token) -> bool:
    """A token glued to the next one without a space, such as a hyphen in 'rare-earth-free'."""
    return token.whitespace_ == "" and token.i + 1 < len(token.doc)


def _component_modifier(token, span_tokens: set[int]) -> bool:
    if token.lower_ in EVALUATIVE_WORDS or token.ent_type_ in ("ORG", "GPE", "NORP", "DATE", "CARDINAL"):
        return False
    if token.text == "-" and _joins_left(token):
        return True
    return token.pos_ in ("NOUN", "PROPN", "ADJ") and (
        token.head.i in span_tokens or (_joins_left(token) and token.nbor().i in span_tokens)
    )


def component_span(span: Span) -> Span | None:
    """A gazetteer component widened to the term as a catalogue names it
    ('rare-earth-free EV motors', 'copper wire technology'), or None when the
    word only modifies another noun ('battery plant', 'motor project')."""
    doc = span.doc
    start, end = span.start, span.end
    root = span.root
    if root.dep_ in ("compound", "nmod", "amod") and root.head.i >= end:
        if root.head.lemma_.lower() not in COMPONENT_HEADS or root.head.i != end:
            return None
        end = root.head.i + 1
    tokens = set(range(start, end))
    while start > 0 and _component_modifier(doc[start - 1], tokens):
        start -= 1
        tokens.add(start)
    while start < end and (not doc[start].is_alpha or doc[start].lower_ in EVALUATIVE_WORDS):
        start += 1
    return Span(doc, start, end, label="COMPONENT")


def _coordinated_with_org(span: Span) -> bool:
    root = span.root
    return any(other.ent_type_ == "ORG" for other in root.conjuncts)


def _names_only_a_company(span: Span, gazetteer: Gazetteer) -> bool:
    proper = [t for t in span if t.pos_ == "PROPN" and t.lower_ not in FACILITY_WORDS]
    return bool(proper) and proper[0].i == span.start and gazetteer.company(" ".join(t.text for t in proper)) is not None


def _names_only_a_place(span: Span, gazetteer: Gazetteer) -> bool:
    proper = " ".join(t.text for t in span if t.pos_ == "PROPN" and t.lower_ not in FACILITY_WORDS)
    return bool(proper) and gazetteer.place(proper) is not None


def canonical_name(span: Span, gazetteer: Gazetteer) -> str:
    """The canonical name of an entity per CLAIMS.md."""
    text = " ".join(span.text.split())
    if span.label_ == "ORG":
        company = gazetteer.company(text)
        return company.canonical if company else strip_legal(text)
    if span.label_ in ("GPE", "NORP", "LOC"):
        return gazetteer.place(text) or text
    if span.label_ == "FACILITY":
        words = text.split()
        return " ".join(words[1:]) if words and words[0].lower() in ("the", "its", "their") else text
    if span.label_ == "COMPONENT":
        return text.lower()
    return text


def set_canonical(doc: Doc, gazetteer: Gazetteer) -> Doc:
    for ent in doc.ents:
        ent._.canonical = canonical_name(ent, gazetteer)
    return doc


class EntityFixer:
    def __init__(self, gazetteer_dir: str):
        self.gazetteer = load_gazetteer(gazetteer_dir)

    def __call__(self, doc: Doc) -> Doc:
        return set_canonical(fix_entities(doc, self.gazetteer), self.gazetteer)


@Language.factory("supplywatch_entity_fixer", default_config={"gazetteer_dir": ""})
def make_entity_fixer(nlp: Language, name: str, gazetteer_dir: str) -> EntityFixer:
    return EntityFixer(gazetteer_dir)


def split_on_newlines(doc: Doc) -> Doc:
    """Headings and list items end at a line break. The line-break token
    itself opens the next sentence: marking the word after it instead
    misleads the parser about the words that follow."""
    for token in doc[1:]:
        if token.is_space and "\n" in token.text:
            token.is_sent_start = True
    return doc


@Language.component("supplywatch_line_breaks")
def line_breaks_component(doc: Doc) -> Doc:
    return split_on_newlines(doc)


# A company name the small model has never seen ("Geely", "Xpeng") is often
# tagged as an adverb or verb, which breaks the parse around it. The tagger,
# parser and NER read a token's NORM, so giving known company names the norm
# of a company the model knows well lets them be parsed as proper nouns.
KNOWN_COMPANY_NORM = "toyota"


class NameNorms:
    """Sets the NORM of every token of a known company name before tok2vec."""

    def __init__(self, nlp: Language, gazetteer_dir: str):
        gazetteer = load_gazetteer(gazetteer_dir)
        self.matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.matcher.add("COMPANY", [nlp.make_doc(name) for name in gazetteer.unambiguous_names()])

    def __call__(self, doc: Doc) -> Doc:
        for _match_id, start, end in self.matcher(doc):
            for token in doc[start:end]:
                if token.is_alpha:
                    token.norm_ = KNOWN_COMPANY_NORM
        return doc


@Language.factory("supplywatch_name_norms", default_config={"gazetteer_dir": ""})
def make_name_norms(nlp: Language, name: str, gazetteer_dir: str) -> NameNorms:
    return NameNorms(nlp, gazetteer_dir)
