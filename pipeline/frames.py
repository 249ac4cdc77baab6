"""Claim frames: read one trigger word in the parse (supply, buy ... from,
supplier to, partnership with, build ... at, plant in ...) and say which
arguments it relates, as (relation, subject, object, component word, confidence)."""

from __future__ import annotations

from collections.abc import Iterator

from spacy.tokens import Token

from .arguments import (
    OEM_KINDS, Arg, Args, args_at, children, governing_parties, prep_objects, subjects,
)
from .gazetteer import Gazetteer

SUPPLY_VERBS = {"supply", "provide", "deliver", "sell", "ship", "furnish", "equip"}
ACQUIRE_VERBS = {
    "import", "buy", "source", "procure", "purchase", "order", "obtain", "receive", "rely", "depend", "fit", "install",
    "use", "adopt", "tap", "choose", "select", "pick", "get", "take", "come", "arrive", "secure",
}
PICK_VERBS = {"tap", "choose", "select", "pick"}
SUPPLIER_NOUNS = {"supplier", "vendor", "provider"}
DEAL_NOUNS = {"deal", "agreement", "contract", "order"}
WIN_VERBS = {"win", "receive", "secure", "land", "get", "bag", "clinch", "obtain"}
PACT_NOUNS = {"partnership", "pact", "memorandum", "mou", "alliance", "cooperation"}
COOPERATIVE_DEALS = {"partnership", "joint", "cooperation", "alliance", "manufacturing", "production", "development",
                     "technology", "licensing", "engineering", "research", "strategic"}
CUSTOMER_NOUNS = {"customer", "client", "buyer"}
CONTROL_VERBS = {"line", "pick", "choose", "select", "tap", "hire", "contract", "commission", "ask", "appoint",
                 "sign", "enlist", "engage", "name", "nominate", "award"}
CHOOSING_VERBS = {"add", "name", "pick", "choose", "select", "appoint", "tap", "nominate", "hire", "keep", "retain",
                  "bring", "sign", "list", "confirm", "designate", "lose", "drop", "count", "win"}
SUPPLY_NOUNS = {"delivery", "shipment", "supply"}
TALK_NOUNS = {"talk", "talks", "negotiation", "negotiations", "discussion", "discussions"}
PARTNER_VERBS = {
    "partner", "collaborate", "cooperate", "team", "ally", "codevelop", "link", "tie", "align",
    "join", "work", "discuss", "negotiate", "talk", "license", "licence", "pair",
}
PARTNER_NOUNS = {
    "partnership", "collaboration", "cooperation", "alliance", "venture", "jv", "tie-up", "tieup",
    "project", "partner", "relationship", "ties", "consortium", "initiative", "pact", "memorandum",
    "mou", "licensing",
} | DEAL_NOUNS | TALK_NOUNS
WEAK_PARTNER_WORDS = DEAL_NOUNS | {"work", "join", "relationship", "initiative", "project", "discuss", "talk", "negotiate"} | TALK_NOUNS
MAKE_VERBS = {"build", "make", "produce", "assemble", "manufacture", "roll"}
MAKE_NOUNS = {"production", "manufacturing", "assembly"}
FACILITY_NOUNS = {"plant", "factory", "site", "facility", "gigafactory", "works"}
BUSINESS_OBJECTS = {"unit", "stake", "business", "division", "brand", "subsidiary", "share", "operation", "asset", "plant", "factory", "equipment"}
PLACE_PREPS = {"at", "in", "inside", "near", "outside"}

Frame = tuple[str, Arg, Arg, Token | None, float]


def _pairs(left: list[Arg], right: list[Arg]) -> Iterator[tuple[Arg, Arg]]:
    for a in left:
        for b in right:
            if a.name != b.name:
                yield a, b


def _is_passive(token: Token) -> bool:
    return bool(children(token, {"auxpass", "nsubjpass"})) or (token.tag_ == "VBN" and token.dep_ in ("acl", "amod"))


def _first(tokens: list[Token]) -> Token | None:
    return tokens[0] if tokens else None


def _kind_of(gazetteer: Gazetteer, arg: Arg) -> str | None:
    company = gazetteer.company(arg.name)
    return company.kind if company else None


def _supplier_first(a: Arg, b: Arg, gazetteer: Gazetteer) -> tuple[Arg, Arg]:
    """Order a supply pair by what the companies are: a carmaker buys."""
    if _kind_of(gazetteer, a) in OEM_KINDS and _kind_of(gazetteer, b) not in OEM_KINDS:
        return b, a
    return a, b


def _partner_kind(trigger: Token) -> str:
    words = {trigger.lemma_.lower()} | {c.lemma_.lower() for c in trigger.children} | {trigger.head.lemma_.lower()}
    if words & {"venture", "jv"}:
        return "joint_venture"
    if words & {"alliance", "ally", "align"}:
        return "alliance"
    if words & {"license", "licence", "licensing"}:
        return "licensing"
    if words & {"develop", "codevelop", "collaborate", "collaboration", "project", "cooperation", "cooperate", "research", "engineering", "jointly"}:
        return "co_development"
    return "other"


# ---- frames -------------------------------------------------------------------

def supply_verb_frames(trigger: Token, args: Args, gazetteer: Gazetteer) -> Iterator[Frame]:
    """'X supplies/will deliver Y to Z', 'Z is supplied by X', 'X in talks
    with Z about supplying Y'."""
    passive = _is_passive(trigger)
    suppliers = prep_objects([trigger], {"by"}, args) if passive else subjects(trigger, args)
    controller = trigger.head if trigger.dep_ in ("xcomp", "advcl", "ccomp") and trigger.head.lemma_.lower() in CONTROL_VERBS else None
    chosen = [a for o in children(controller, {"dobj"}) for a in args_at(o, args, owners=False) if a.label == "ORG"] if controller is not None else []
    if chosen and not children(trigger, {"nsubj"}):
        # "Mahindra has lined up BYD to supply packs": BYD supplies, Mahindra buys
        for supplier, customer in _pairs(chosen, [a for a in subjects(controller, args) if a.label == "ORG"]):
            yield "SUPPLIES", supplier, customer, _first(children(trigger, {"dobj"})), 0.75
        return
    customers = prep_objects([trigger, *children(trigger, {"dobj"})], {"to", "for"}, args)
    # "supply BMW" names the customer; "sell the company's cars" does not
    customers += [a for t in children(trigger, {"dobj", "dative"}) for a in args_at(t, args, owners=False)]
    if passive:
        customers += [a for t in children(trigger, {"nsubjpass"}) for a in args_at(t, args)]
    component = _first(children(trigger, {"dobj", "nsubjpass"}))
    if component is not None and component.lemma_.lower() in BUSINESS_OBJECTS:
        return  # selling a unit or a stake is a deal between companies, not supply
    parties = prep_objects([trigger.head], {"with"}, args) if trigger.head.lemma_.lower() in DEAL_NOUNS else []
    if parties and trigger.dep_ in ("acl", "relcl", "xcomp"):
        # "signed an agreement with Y to supply cells": who supplies depends on who they are
        for owner, party in _pairs(subjects(trigger.head, args), parties):
            supplier, customer = _supplier_first(party, owner, gazetteer)
            yield "SUPPLIES", supplier, customer, component, 0.7
        return
    if not customers:
        customers = governing_parties(trigger, args, TALK_NOUNS | DEAL_NOUNS | PACT_NOUNS)
    for supplier, customer in _pairs(suppliers, customers):
        if supplier.label == customer.label == "ORG":
            yield "SUPPLIES", supplier, customer, component, 0.85


def acquire_verb_frames(trigger: Token, args: Args, lemma: str, topic: Arg | None) -> Iterator[Frame]:
    """'Y imports/buys/sources X from Z' (Z a company: Z SUPPLIES Y; a
    country: Y SOURCES_FROM it), 'Y taps Z', 'X might come from a Chinese supplier'."""
    objects = children(trigger, {"dobj"})
    if any(args.get(o.i) is not None and args[o.i].label == "ORG" and lemma not in PICK_VERBS for o in objects):
        return  # buying a company is an acquisition
    if any(o.lemma_.lower() in BUSINESS_OBJECTS for o in objects):
        return
    if trigger.dep_ == "relcl" and args.get(trigger.head.i) is not None and args[trigger.head.i].label == "ORG":
        return  # "Opel, which it bought from GM"
    if lemma in PICK_VERBS:  # "BMW taps CATL": the company picked supplies
        origins = [a for o in objects for a in args_at(o, args) if a.label == "ORG"]
    else:
        preps = {"from"} | ({"in"} if lemma in ("source", "procure") else set()) | ({"on"} if lemma in ("rely", "depend") else set())
        origins = prep_objects(_phrase_tokens(trigger), preps, args)
        origins += [a for a in _source_places(_phrase_tokens(trigger), args) if a not in origins]  # "from mines in Chile"
        # "Nio uses Qualcomm chips": a part named by its maker
        origins += [args[c.i] for o in objects for c in o.children
                    if c.dep_ == "compound" and c.i in args and args[c.i].label == "ORG" and args[c.i] not in origins]
        # "use Chinese parts", "buy cells made in the United States": the parts' country
        origins += [a for o in objects for a in args_at(o, args, owners=False) if a.origin_only and a not in origins]
        made_in = [c for o in objects for c in o.children if c.dep_ == "acl" and c.lemma_.lower() in MAKE_VERBS]
        origins += [a for a in prep_objects(made_in, {"in"}, args) if a.label == "GPE" and a not in origins]
    if not origins:
        origins = governing_parties(trigger, args, TALK_NOUNS | DEAL_NOUNS | PACT_NOUNS)
    if not origins:
        return
    customers = subjects(trigger, args)
    confidence = 0.85
    if not customers and lemma in {"come", "arrive"} and topic is not None:
        customers, confidence = [topic], 0.5
    component = _first(objects)
    if lemma == "rely":
        component = _first([p for prep in children(trigger, {"prep"}) for p in children(prep, {"pobj"})])
    for customer, origin in _pairs(customers, origins):
        if customer.label != "ORG":
            continue
        if origin.label == "ORG":
            yield "SUPPLIES", origin, customer, component, confidence
        elif origin.label == "GPE":
            yield "SOURCES_FROM", customer, origin, component, confidence


CLAUSE_DEPS = {"relcl", "advcl", "ccomp", "conj", "parataxis", "csubj", "xcomp", "acl"}


def _phrase_tokens(trigger: Token) -> list[Token]:
    """The trigger and the words of its own phrase, not of clauses inside it."""
    found, stack = [], [trigger]
    while stack:
        token = stack.pop()
        found.append(token)
        stack.extend(
            c for c in token.children
            if c.dep_ not in ("nsubj", "nsubjpass")
            and (c.dep_ not in CLAUSE_DEPS or (c.dep_ == "conj" and c.pos_ not in ("VERB", "AUX")))
        )
    return found


def supplier_noun_frames(trigger: Token, args: Args) -> Iterator[Frame]:
    """'X, a supplier to Y', 'X is Y's supplier', 'X, one of Y's main suppliers'."""
    head = trigger
    while head.dep_ in ("conj", "pobj", "prep") and head.head.i != head.i:
        head = head.head  # "... maker and a supplier to Tesla", "one of Tesla's suppliers"
    suppliers = args_at(head.head, args) if head.dep_ == "appos" else []
    if trigger.dep_ == "pobj" and trigger.head.lower_ == "as" and trigger.head.head.lemma_.lower() in CHOOSING_VERBS:
        verb = trigger.head.head
        suppliers += [a for o in children(verb, {"dobj", "nsubjpass"}) for a in args_at(o, args, owners=False)]
    suppliers += [a for a in subjects(trigger, args, hops=3, owners_count=False) if a not in suppliers]
    customers = prep_objects([trigger], {"to", "for", "of"}, args)
    customers += [a for t in children(trigger, {"poss"}) for a in args_at(t, args)]
    if trigger.dep_ == "attr":  # "For the American carmaker, the Chinese group would be a supplier"
        customers += [a for a in prep_objects([trigger.head], {"for", "to"}, args) if a not in customers]
    if trigger.dep_ == "pobj" and trigger.head.lower_ == "as" and not customers \
            and trigger.head.head.lemma_.lower() in CHOOSING_VERBS:
        customers = subjects(trigger.head.head, args)  # "Toyota added Toshiba as a battery supplier"
    for supplier, customer in _pairs(suppliers, customers):
        if supplier.label == customer.label == "ORG" and supplier not in customers:
            yield "SUPPLIES", supplier, customer, None, 0.75


def customer_noun_frames(trigger: Token, args: Args) -> Iterator[Frame]:
    """'X counts GM and BMW among its customers', 'Maruti was lost as a
    customer', 'X, a customer of Y'."""
    customers: list[Arg] = []
    if trigger.dep_ == "nsubj" and trigger.head.lemma_ in ("include", "be"):
        # "The supplier's other customers include Nissan and Toyota"
        customers = [a for o in children(trigger.head, {"dobj", "attr"}) for a in args_at(o, args, owners=False)]
        suppliers = [a for c in children(trigger, {"poss"}) for a in args_at(c, args)]
        for supplier, customer in _pairs(suppliers, customers):
            if supplier.label == customer.label == "ORG":
                yield "SUPPLIES", supplier, customer, None, 0.7
        return
    if trigger.dep_ == "pobj" and trigger.head.lower_ in ("as", "among"):
        verb = trigger.head.head
        while verb.pos_ not in ("VERB", "AUX") and verb.dep_ in ("conj", "dobj", "appos") and verb.head.i != verb.i:
            verb = verb.head  # "counts Audi, Li Auto and SAIC among its customers" hangs on SAIC
        customers = [a for o in children(verb, {"dobj", "nsubjpass"}) for a in args_at(o, args, owners=False)]
        suppliers = [a for a in subjects(verb, args) if a not in customers] if not children(verb, {"nsubjpass"}) else []
    elif trigger.dep_ == "attr" and trigger.head.lemma_ in ("be", "become", "remain"):
        customers = subjects(trigger.head, args, hops=1)  # "JLR will be its first customer"
        suppliers = [a for c in children(trigger, {"poss"}) for a in args_at(c, args) if a not in customers]
    else:
        customers = args_at(trigger.head, args) if trigger.dep_ == "appos" else []
        suppliers = []
    suppliers += [a for a in prep_objects([trigger], {"of", "for"}, args) if a not in suppliers]
    for supplier, customer in _pairs(suppliers, customers):
        if supplier.label == customer.label == "ORG":
            yield "SUPPLIES", supplier, customer, None, 0.7


def supply_noun_frames(trigger: Token, args: Args) -> Iterator[Frame]:
    """'deliveries of batteries to the carmaker', 'its shipments to Tesla',
    'Apple is in talks with CATL over the supply of batteries'."""
    customers = [a for a in prep_objects([trigger], {"to", "for"}, args) if a.label == "ORG"]
    suppliers = [a for c in children(trigger, {"poss"}) for a in args_at(c, args)]
    if not customers:
        parties = governing_parties(trigger, args, TALK_NOUNS | DEAL_NOUNS | PACT_NOUNS)
        if not parties:
            return
        suppliers, customers = parties, [a for a in subjects(trigger, args) if a not in parties]
    elif not suppliers:  # "talks with CATL over the supply of batteries for its car"
        suppliers = governing_parties(trigger, args, TALK_NOUNS | DEAL_NOUNS | PACT_NOUNS)
    suppliers = suppliers or subjects(trigger, args)
    component = _first([p for prep in children(trigger, {"prep"}) if prep.lower_ == "of" for p in children(prep, {"pobj"})])
    for supplier, customer in _pairs(suppliers, customers):
        if supplier.label == "ORG":
            yield "SUPPLIES", supplier, customer, component, 0.7


def _is_supply_deal(trigger: Token, args: Args) -> bool:
    modifiers = {c.lemma_.lower() for c in trigger.children if c.dep_ in ("compound", "amod", "nmod")}
    if modifiers & {"supply", "supplier", "sourcing", "purchase", "purchasing", "offtake", "procurement"}:
        return True
    holders = [trigger, trigger.head] if trigger.dep_ == "dobj" else [trigger]  # "signed a contract ... for lithium"
    for_objects = [p for holder in holders for prep in holder.children
                   if prep.dep_ == "prep" and prep.lower_ in ("for", "over", "on", "about")
                   for p in children(prep, {"pobj"})]
    return any(p.ent_type_ == "COMPONENT" or p.lemma_.lower() == "supply" for p in for_objects)


def partner_frames(trigger: Token, args: Args, gazetteer: Gazetteer) -> Iterator[Frame]:
    """'X and Y announced a partnership', 'X's venture with Y', 'a venture of
    X and Y', 'X is collaborating with Y', 'X, Y's partner'; a supply deal or
    an order ('an order for cells from Y') reads as SUPPLIES."""
    lemma = trigger.lemma_.lower()
    phrase_head = trigger
    while phrase_head.dep_ == "compound" and phrase_head.head.i != phrase_head.i:
        phrase_head = phrase_head.head  # "joint venture battery plant": the plant
    if phrase_head.i != trigger.i and phrase_head.lemma_.lower() not in PARTNER_NOUNS | FACILITY_NOUNS | {"company", "firm"}:
        return  # "cooperation requests" are no cooperation
    holders = [trigger] if phrase_head.i == trigger.i else [trigger, phrase_head]
    if trigger.dep_ == "dobj" and trigger.pos_ == "NOUN":
        holders.append(trigger.head)  # "ended its venture with Ford": 'with' may hang on the verb
    if trigger.pos_ == "VERB":
        holders += children(trigger, {"dobj"})  # "discussing development with Apple"
        # "will work on the chips with Qualcomm": 'with' may hang on what they work on
        holders += [o for prep in children(trigger, {"prep"}) if prep.lower_ == "on" for o in children(prep, {"pobj"})]
    owners = [a for t in holders for c in children(t, {"poss", "compound", "nmod", "amod"}) for a in args_at(c, args) if a.label == "ORG"]
    if not owners:
        owners = [a for a in subjects(trigger, args) if a.label == "ORG"]
    if lemma == "pair":  # "the venture pairs the French carmaker with Nidec"
        owners = [a for o in children(trigger, {"dobj"}) for a in args_at(o, args, owners=False) if a.label == "ORG"]
    formed = [c for c in children(trigger, {"relcl", "acl"}) if c.pos_ == "VERB"]
    holders += formed  # "the joint venture it formed in 2013 with GS Yuasa"
    if formed and not owners:
        owners = [a for c in formed for a in subjects(c, args) if a.label == "ORG"]
    joined = [a for a in prep_objects(holders, {"between", "among", "of"}, args) if a.label == "ORG"]
    licensing = lemma in ("license", "licence", "licensing")
    others = [a for a in prep_objects(holders, {"with", "to"} | ({"from"} if licensing else set()), args) if a.label == "ORG"]
    others += [a for c in children(trigger, {"appos"}) for a in args_at(c, args) if a not in others and a.label == "ORG"]
    if lemma == "partner" and trigger.dep_ == "appos":
        others += [a for a in args_at(trigger.head, args) if a not in others and a.label == "ORG"]
    sellers = [] if licensing else [a for a in prep_objects(_phrase_tokens(trigger), {"from"}, args) if a.label == "ORG"]
    if sellers and trigger.head.lemma_.lower() in WIN_VERBS:
        # "Bosch won an order from BMW": the one ordering is the customer
        yield from ((("SUPPLIES", owner, buyer, None, 0.7)) for owner, buyer in _pairs(owners, sellers))
        return
    if lemma in TALK_NOUNS | {"discuss", "negotiate", "talk"} and _about_supply(trigger):
        return  # supply talks: the supply frame reads them
    if lemma in DEAL_NOUNS | TALK_NOUNS and (_is_supply_deal(trigger, args) or sellers):
        supplies = list(_supply_deal(owners, others + sellers, bool(sellers), gazetteer))
        yield from supplies
        # "a contract with Ganfeng for lithium from mines in Australia"
        deal_phrase = trigger.head if trigger.dep_ == "dobj" else trigger  # "signed a contract ... for lithium from"
        places = _source_places([t for t in _phrase_tokens(deal_phrase) if t.i > trigger.i], args)
        for customer in dict.fromkeys(frame[2] for frame in supplies):
            for place in places:
                yield "SOURCES_FROM", customer, place, None, 0.6
        return
    if lemma in DEAL_NOUNS and len(joined) < 2 and not any(c.lemma_.lower() in COOPERATIVE_DEALS for c in trigger.children):
        return  # a bare deal is too vague to call a partnership, unless it is "between X and Y"
    if len(joined) >= 2:
        pairs = list(_pairs(joined, joined))  # "a venture of Sony and Honda", "a deal between X and Y"
    elif others or joined:
        pairs = list(_pairs(owners, others + joined))
    elif lemma not in {"discuss", "negotiate", "talk", "work", "join"}:
        pairs = list(_pairs(owners, owners))  # "X and Y announced a partnership"
    else:
        pairs = []
    confidence = 0.55 if lemma in WEAK_PARTNER_WORDS else 0.8
    seen = set()
    for a, b in pairs:
        key = frozenset((a.name, b.name))
        if key not in seen:
            seen.add(key)
            yield "PARTNERS_WITH", a, b, None, confidence


def _source_places(tokens: list[Token], args: Args) -> list[Arg]:
    """Countries and places goods come from: 'from mines in Australia and
    Morocco', 'from Chile'."""
    froms = [t for t in tokens if t.lower_ == "from" and t.dep_ == "prep"]
    return [a for a in prep_objects([t.head for t in froms], {"from"}, args, deep=True)
            if a.label == "GPE" and not a.origin_only]


def _supply_deal(owners: list[Arg], parties: list[Arg], parties_sell: bool, gazetteer: Gazetteer) -> Iterator[Frame]:
    """A supply contract or an order between an owner and the other parties:
    an order 'from' a party makes it the supplier; otherwise who the
    companies are decides, else the other party supplies."""
    for owner, party in _pairs(owners, parties):
        supplier, customer = (party, owner) if parties_sell else _supplier_first(party, owner, gazetteer)
        yield "SUPPLIES", supplier, customer, None, 0.7
    if not parties:  # "Mazda and Panasonic Energy signed a supply agreement": who they are decides
        seen = set()
        for a, b in _pairs(owners, owners):
            supplier, customer = _supplier_first(a, b, gazetteer)
            if (supplier.name, customer.name) not in seen and _kind_of(gazetteer, customer) in OEM_KINDS and _kind_of(gazetteer, supplier) not in OEM_KINDS:
                seen.add((supplier.name, customer.name))
                yield "SUPPLIES", supplier, customer, None, 0.6


def _about_supply(trigger: Token) -> bool:
    """Talks about supplying or buying: the supply frames read them."""
    scope = list(trigger.subtree)
    if trigger.dep_ == "pobj" and trigger.head.dep_ == "prep":  # "was in talks with X to supply Y"
        scope += [t for c in trigger.head.head.children if c.dep_ in ("advcl", "xcomp") for t in c.subtree]
    return any(t.lemma_.lower() in SUPPLY_VERBS | ACQUIRE_VERBS | {"supply"} and t.i != trigger.i for t in scope)


VEHICLE_WORDS = {"car", "vehicle", "model", "suv", "ev", "truck", "van", "sedan", "pickup", "crossover", "hatchback"}


def _is_vehicle(token: Token | None) -> bool:
    return token is not None and token.lemma_.lower() in VEHICLE_WORDS


def _places_in(tokens: list[Token], args: Args) -> list[Arg]:
    """Places named in the at/in/near phrases of the tokens: the directly
    named ones, else the first one further inside ('at one of Honda's
    factories in the United States')."""
    direct = [a for a in prep_objects(tokens, PLACE_PREPS, args) if a.label in ("FACILITY", "GPE") and not a.origin_only]
    direct.sort(key=lambda a: a.span.start)
    if direct:
        return _most_specific(direct)
    inside = [a for a in prep_objects(tokens, PLACE_PREPS, args, deep=True) if a.label in ("FACILITY", "GPE") and not a.origin_only]
    return _most_specific(inside)[:1]


def _where_place(trigger: Token, args: Args) -> list[Arg]:
    """'the Zona Franca plant, where Nissan stopped production'."""
    clause = trigger
    while clause.dep_ not in ("relcl", "advcl") and clause.head.i != clause.i and clause.pos_ != "VERB":
        clause = clause.head
    if clause.dep_ == "relcl" and any(c.lower_ == "where" for c in clause.children):
        place = args.get(clause.head.i)
        if place is not None and place.label in ("FACILITY", "GPE"):
            return [place]
    return []


def _vehicle_owners(subjects_: list[Token], args: Args) -> list[Arg]:
    """The companies whose vehicles these are: 'its models', 'some of Kia's cars'."""
    owners = []
    for subject in subjects_:
        if subject.lower_ in ("some", "most", "all", "many", "one", "several"):
            subject = _first([p for prep in children(subject, {"prep"}) if prep.lower_ == "of" for p in children(prep, {"pobj"})]) or subject
        if _is_vehicle(subject):
            owners += [a for c in children(subject, {"poss"}) for a in args_at(c, args) if a.label == "ORG"]
    return owners


def make_verb_frames(trigger: Token, args: Args, topic: Arg | None = None) -> Iterator[Frame]:
    """'X builds Y at its Z plant', 'Y will be assembled at X's Z plant',
    'X is to start making cars in Spain', 'X makes batteries for Y' (SUPPLIES),
    'where X stopped production'."""
    objects = children(trigger, {"dobj", "nsubjpass"})
    if any(o.lemma_.lower() in FACILITY_NOUNS for o in objects):
        return  # building a plant: the plant's own frame reads it
    passive = _is_passive(trigger)
    phrase = _phrase_tokens(trigger)
    makers = [a for a in prep_objects(phrase, {"by"}, args) if a.label == "ORG"] if passive else []
    if not makers and not (passive and trigger.dep_ in ("acl", "amod")):
        # "GM would buy cells made in the US": a participle's maker is not the buyer
        makers = [a for a in subjects(trigger, args) if a.label == "ORG"]
    places = _places_in(phrase, args) or _where_place(trigger, args)
    if passive and not makers:
        makers = _vehicle_owners(children(trigger, {"nsubjpass"}), args)  # "some of its models are assembled in Vietnam"
    if not makers:
        makers = [a for a in prep_objects([trigger, *objects], PLACE_PREPS, args, deep=True) if a.label == "ORG"]
    if not makers and trigger.pos_ == "NOUN" and topic is not None and places:
        # "manufacturing in Chennai will end": production, in an article about one company, is its production
        for place in places:
            yield "MANUFACTURES_AT", topic, place, None, 0.5
        return
    component = _first(objects)
    for maker, place in _pairs(makers, places):
        if maker.label == "ORG":
            yield "MANUFACTURES_AT", maker, place, component, 0.8
    if trigger.pos_ == "VERB":
        # "Panasonic makes batteries for Tesla" is supply; "Magna assembles cars for
        # Xpeng" is contract manufacturing, a partnership
        customers = [a for a in prep_objects(phrase, {"for"}, args) if a.label == "ORG"]
        # "Samsung is in talks to make Tesla's chips": made for whoever owns them
        customers += [args[c.i] for o in objects for c in o.children
                      if c.dep_ == "poss" and c.i in args and args[c.i].label == "ORG" and args[c.i] not in customers]
        relation = "PARTNERS_WITH" if _is_vehicle(component) else "SUPPLIES"
        for maker, customer in _pairs(makers, customers):
            yield relation, maker, customer, component, 0.7
    if passive and trigger.dep_ == "acl" and makers:
        # "fit inflators made by Takata": whoever fits them buys from the maker
        for maker, customer in _pairs(makers, [a for a in subjects(trigger.head, args) if a.label == "ORG"]):
            yield "SUPPLIES", maker, customer, trigger.head, 0.65


def facility_noun_frames(trigger: Token, args: Args) -> Iterator[Frame]:
    """'X's factory in Y', 'X has production sites in Y and Z', 'X opened a
    plant in Y', 'X cancelled its Y plant'."""
    if trigger.dep_ == "pobj" and trigger.head.lower_ == "from":
        return  # "batteries from Gigafactory 1": where goods come from, not who makes there
    if any(c.dep_ == "det" and c.lower_ == "no" for c in trigger.children):
        return  # "has no plant of its own in Southeast Asia"
    located = [c for c in trigger.children if c.dep_ == "acl" and c.lemma_.lower() in ("locate", "base", "situate")]
    holders = _phrase_tokens(trigger)
    if trigger.dep_ == "dobj" or (trigger.dep_ == "nsubj" and trigger.head.lemma_ == "be"):
        # "build a factory in Guangdong", "its other factories are in Gurgaon": the place hangs on the verb
        holders += [t for t in _phrase_tokens(trigger.head) if t not in holders]
    places = _places_in(located, args) or _places_in(holders, args)  # "..., located in Nevada" is the place
    places = places or _site_named(trigger, args)
    own = args.get(trigger.i)
    if own is not None and own.label == "FACILITY":
        places = [own]
    places += [args[c.i] for c in children(trigger, {"compound", "nmod"}) if c.i in args and args[c.i].label == "GPE" and not args[c.i].origin_only]
    if not places:
        return
    owners = [args[c.i] for c in children(trigger, {"poss", "compound"}) if c.i in args and args[c.i].label == "ORG"]
    if not owners and trigger.dep_ in ("dobj", "nsubj", "nsubjpass", "attr", "pobj", "appos", "conj") \
            and not _under_participle(trigger):
        owners = [a for a in subjects(trigger, args) if a.label == "ORG"]
    for owner, place in _pairs(owners, places):
        yield "MANUFACTURES_AT", owner, place, None, 0.7


SITE_NOUNS = {"site", "location", "home", "base"}


def _site_named(trigger: Token, args: Args) -> list[Arg]:
    """'ruled out the UK as the site of its factory', 'picked Ohio as the
    home of their plant': the place the verb takes as its object."""
    if not (trigger.dep_ == "pobj" and trigger.head.lower_ == "of" and trigger.head.head.lemma_.lower() in SITE_NOUNS):
        return []
    site = trigger.head.head
    verb = site.head.head if site.dep_ == "pobj" and site.head.lower_ == "as" else None
    if verb is None:
        return []
    return [a for o in children(verb, {"dobj"}) for a in args_at(o, args, owners=False)
            if a.label in ("GPE", "FACILITY") and not a.origin_only]


def _under_participle(token: Token) -> bool:
    """'cells for the Model 3 built at Giga Shanghai': whoever supplies the
    cells does not own the plant the car is built at."""
    current = token
    while current.pos_ not in ("VERB", "AUX") and current.head.i != current.i:
        current = current.head
    return current.dep_ in ("acl", "amod") and current.tag_ == "VBN"


def _most_specific(places: list[Arg]) -> list[Arg]:
    """A named plant over a place; of places, the first named and those
    coordinated with it ('near Heide in Germany': Heide; 'in Korea, China
    and Poland': all three)."""
    facilities = [p for p in places if p.label == "FACILITY"]
    if facilities:
        return facilities
    if not places:
        return []
    first = places[0]
    root = first.span.root
    # "Bengaluru, Karnataka" names one place more fully; "Korea, China and Poland" lists three
    listed = any(t.dep_ == "cc" for c in (root, *root.conjuncts) for t in c.children)
    coordinated = ({c.i for c in root.conjuncts} if listed else set()) | {root.i}
    prep = first.span.root.head
    sibling_preps = {c.i for c in prep.conjuncts} if prep.dep_ == "prep" else set()
    # "in Saarbrücken, in South Carolina and in Shanghai": a list of phrases, however parsed
    doc = first.span.doc
    for index in {i for i in (_prep_of_place(p) for p in places) if i is not None}:
        listed_prep = doc[index]
        if any(c.dep_ == "cc" for c in listed_prep.children):
            sibling_preps |= {index} | {c.i for c in listed_prep.conjuncts}
    # "in Saarbrücken, in South Carolina and in Shanghai": coordinated phrases count too
    return [p for p in places if p.span.root.i in coordinated or _prep_of_place(p) in sibling_preps]


def _prep_of_place(place: Arg) -> int | None:
    token = place.span.root
    while token.dep_ != "prep" and token.head.i != token.i:
        token = token.head
    return token.i if token.dep_ == "prep" else None


SWITCH_VERBS = {"replace", "switch", "swap", "drop", "ditch", "dump"}


def switch_frames(trigger: Token, args: Args) -> Iterator[tuple[str, Arg, Arg, Token | None, float, str]]:
    """Supplier switches: 'BMW replaced Northvolt with Samsung SDI', 'Ford
    switched from LG to SK On', 'Tesla dropped Mobileye as a supplier':
    the old supplier's claim ends, the new one's is active."""
    customers = [a for a in subjects(trigger, args) if a.label == "ORG"]
    lemma = trigger.lemma_.lower()
    old = [a for o in children(trigger, {"dobj"}) for a in args_at(o, args, owners=False) if a.label == "ORG"]
    # "replaced the Nvidia chips": the part named by its maker
    old += [args[c.i] for o in children(trigger, {"dobj"}) for c in o.children
            if c.dep_ == "compound" and c.i in args and args[c.i].label == "ORG" and args[c.i] not in old]
    old += [a for a in prep_objects([trigger], {"from"}, args) if a.label == "ORG" and lemma == "switch"]
    new = [a for a in prep_objects([trigger, *children(trigger, {"dobj"})], {"with", "to", "for"}, args) if a.label == "ORG"]
    if lemma in ("drop", "ditch", "dump") and not any(
        c.lemma_.lower() in ("supplier", "vendor") for c in trigger.subtree
    ):
        return  # dropping a plan or a price is no supplier switch
    for customer in customers:
        for supplier in old:
            if supplier.name != customer.name:
                yield "SUPPLIES", supplier, customer, None, 0.75, "ended"
        for supplier in new:
            if supplier.name != customer.name:
                yield "SUPPLIES", supplier, customer, None, 0.75, "active"


def frames_for(trigger: Token, args: Args, gazetteer: Gazetteer, topic: Arg | None) -> Iterator[Frame]:
    lemma = trigger.lemma_.lower()
    pos = trigger.pos_
    if pos in ("VERB", "AUX") and lemma in SUPPLY_VERBS:
        yield from supply_verb_frames(trigger, args, gazetteer)
    elif pos in ("VERB", "AUX") and lemma in ACQUIRE_VERBS:  # noqa: SIM114
        yield from acquire_verb_frames(trigger, args, lemma, topic)
    elif pos == "NOUN" and lemma in SUPPLIER_NOUNS:
        yield from supplier_noun_frames(trigger, args)
    elif pos == "NOUN" and lemma in CUSTOMER_NOUNS:
        yield from customer_noun_frames(trigger, args)
    elif pos == "NOUN" and lemma in SUPPLY_NOUNS and not _is_supply_deal_modifier(trigger):
        yield from supply_noun_frames(trigger, args)
    elif pos == "NOUN" and lemma == "chain" and any(c.lemma_.lower() == "supply" for c in trigger.children):
        yield from supply_chain_frames(trigger, args)
    elif (pos == "VERB" and lemma in PARTNER_VERBS) or (pos in ("NOUN", "PROPN") and lemma in PARTNER_NOUNS) or _is_joint(trigger):
        yield from partner_frames(trigger, args, gazetteer)
    elif (pos == "VERB" and lemma in MAKE_VERBS) or (pos == "NOUN" and lemma in MAKE_NOUNS and trigger.dep_ in ("dobj", "nsubj", "pobj")):
        yield from make_verb_frames(trigger, args, topic)
    if (pos in ("NOUN", "PROPN") and lemma in FACILITY_NOUNS) or (trigger.i in args and args[trigger.i].label == "FACILITY" and trigger.i == args[trigger.i].span.root.i):
        yield from facility_noun_frames(trigger, args)


def supply_chain_frames(trigger: Token, args: Args) -> Iterator[Frame]:
    """'LG Display and LG Chem are part of Apple's supply chain', 'adds EVE to
    the supply chain of its Shanghai factory'."""
    customers = [a for c in children(trigger, {"poss"}) for a in args_at(c, args)]
    customers += prep_objects([trigger], {"of", "for"}, args)
    if not customers:
        return
    added = [a for o in children(trigger.head.head, {"dobj"}) for a in args_at(o, args, owners=False)] \
        if trigger.dep_ == "pobj" and trigger.head.lower_ in ("to", "into") else []
    suppliers = added or [a for a in subjects(trigger, args, owners_count=False) if a not in customers]
    for supplier, customer in _pairs(suppliers, customers):
        if supplier.label == customer.label == "ORG":
            yield "SUPPLIES", supplier, customer, None, 0.7


def _is_supply_deal_modifier(token: Token) -> bool:
    """'supply deal', 'supply chain': the noun only modifies another."""
    return token.dep_ in ("compound", "amod", "nmod")


def _is_joint(token: Token) -> bool:
    """'a joint company', 'jointly develop', 'co-develop'."""
    if token.pos_ == "NOUN" and any(c.lower_ == "joint" for c in token.children if c.dep_ == "amod"):
        return True
    if token.pos_ == "VERB" and token.lemma_.lower() in ("develop", "build", "make", "produce", "design"):
        before = token.doc[token.i - 2 : token.i] if token.i >= 2 else []
        if any(c.lower_ in ("jointly", "together") for c in token.children) or [t.lower_ for t in before] == ["co", "-"]:
            return True
        # "Toyota is developing solid-state batteries with Idemitsu Kosan"
        return token.lemma_.lower() == "develop" and any(
            prep.lower_ == "with" and any(o.ent_type_ == "ORG" for o in prep.children if o.dep_ == "pobj")
            for holder in [token, *children(token, {"dobj"})] for prep in children(holder, {"prep"})
        )
    return False
