"""Status of a claim as the sentence states it: active, planned, possible,
ended or denied, read from cue words in the trigger's scope in the parse."""

from __future__ import annotations

import re

from spacy.tokens import Doc, Token

if not Doc.has_extension("published"):
    # the article's publication date (YYYY-MM-DD) when known: dates are read against it
    Doc.set_extension("published", default=None)

STATUSES = ("active", "planned", "possible", "ended", "denied")
ENDED_VERBS = {
    "end", "terminate", "cancel", "scrap", "abandon", "quit", "exit", "dissolve", "drop",
    "halt", "withdraw", "sever", "unwind", "axe", "ditch", "dump", "discontinue", "stop",
    "divest", "shelve", "split", "cease", "shut", "close", "suspend", "rescind",
}
ENDED_PARTICLES = {
    ("walk", "away"), ("wind", "down"), ("pull", "out"), ("back", "out"), ("break", "up"),
    ("call", "off"), ("phase", "out"), ("shut", "down"), ("pull", "back"),
}
ENDED_WORDS = {"history", "former", "formerly", "longer", "defunct", "dissolution", "termination", "exit", "collapse",
               "closure", "shutdown", "cancellation", "breakup", "demise"}
NOT_GOING_AHEAD = {"go", "proceed", "happen", "materialize", "materialise", "continue"}
DENIED_VERBS = {"deny", "reject", "dismiss", "refute", "rebuff"}
DENIED_WORDS = {"incorrect", "untrue", "baseless", "unfounded", "inaccurate", "false", "groundless"}
DENIED_PARTICLES = {("rule", "out")}
POSSIBLE_WORDS = {
    "may", "might", "could", "would", "possibly", "potentially", "reportedly", "allegedly",
    "possibility", "potential", "option", "talk", "talks", "consider", "weigh", "explore",
    "discuss", "negotiate", "negotiation", "evaluate", "study", "mull", "eye", "seek",
    "rumor", "rumour", "speculation", "candidate", "likely", "poised", "favour", "favor", "hope", "interest",
}
RENEWALS = {"renew", "extend", "continue", "prolong"}
START_PREPS = {"from", "starting", "beginning"}
PLANNED_WORDS = {
    "will", "shall", "plan", "aim", "intend", "expect", "schedule", "prepare", "set",
    "target", "commit", "upcoming", "want", "delay", "postpone", "due",
}
WEAK_PLANNED = {"planned", "proposed", "prospective", "future", "preliminary"}
CONTINUING = {"keep", "continue", "remain"}
LATER_VERBS = {"pick", "choose", "select", "line", "tap", "hire", "appoint"}
ACTIVE_WORDS = {"existing", "current", "ongoing", "already", "long-standing", "longstanding", "continuing"}
CUE_CHILD_DEPS = ("aux", "auxpass", "neg", "prt", "advmod", "det", "acomp", "attr", "amod", "oprd")


def _stops_here(token: Token) -> bool:
    """Where a statement of its own begins: a relative clause; an apposition
    to a subject ("Sony Honda Mobility, the venture of Sony and Honda, plans
    to launch" does not make the venture planned); an adverbial or
    coordinated clause with a subject of its own ("..., while Hyundai has
    signed a partnership")."""
    if token.dep_ == "relcl":
        # "options that include buying X" belong to the options; "the lines that make X" state a fact
        return token.head.lemma_.lower() not in ("option", "plan", "proposal", "possibility", "scenario", "talk", "idea")
    if token.dep_ == "pobj" and token.head.lower_ in ("through", "via", "by"):
        return True  # "through a joint venture", "owned by their venture": the means already exists
    if token.dep_ == "appos":
        return token.head.dep_ in ("nsubj", "nsubjpass")
    if token.dep_ in ("advcl", "conj") and token.pos_ in ("VERB", "AUX"):
        return any(c.dep_ in ("nsubj", "nsubjpass") for c in token.children)
    return False


def _chain(trigger: Token, limit: int = 8) -> list[Token]:
    """The trigger and the heads above it, nearest first, up to where the
    statement it belongs to ends."""
    chain, token = [trigger], trigger
    while token.head.i != token.i and len(chain) < limit and not _stops_here(token):
        token = token.head
        chain.append(token)
    return chain


def _negated(token: Token) -> bool:
    return any(child.dep_ == "neg" or (child.dep_ == "det" and child.lower_ == "no") for child in token.children)


def _cues(token: Token) -> list[Token]:
    """The token and its modifiers; quotation marks do not hide a modifier
    ('called "incorrect" reports')."""
    direct = [child for child in token.children if child.dep_ in CUE_CHILD_DEPS]
    quoted = [g for child in token.children if child.dep_ in ("punct", "compound") for g in child.children
              if g.dep_ in ("amod", "advmod")]  # 'called "incorrect" media reports'
    return [token, *direct, *quoted]


def _status_at(token: Token) -> str | None:
    """The status cue carried by one token of the chain and its modifiers, if any."""
    cues = [c for c in _cues(token) if c.lower_ not in WEAK_PLANNED]
    words = {t.lemma_.lower() for t in cues} | {t.lower_ for t in cues}
    particles = {(token.lemma_.lower(), child.lower_) for child in token.children if child.dep_ in ("prt", "advmod", "prep")}
    negated = _negated(token)
    if words & (DENIED_VERBS | DENIED_WORDS) or particles & DENIED_PARTICLES:
        return "denied"
    if negated and token.lemma_.lower() in ("plan", "intention", "intend", "talk", "talks", "consider"):
        return "denied"
    if negated and token.lemma_.lower() in NOT_GOING_AHEAD | RENEWALS:
        return "ended"  # "the venture will not go ahead", "will not renew the contract"
    if _plan_given_up(token):
        return "ended"
    verbs_here = {t.lemma_.lower() for t in cues if t.pos_ in ("VERB", "NOUN")}
    if verbs_here & ENDED_VERBS or words & ENDED_WORDS or particles & ENDED_PARTICLES or _on_hold(token):
        return "ended"
    if token.lemma_.lower() == "expect" and _expects_a_deal(token):
        return "possible"  # "are expected to sign a memorandum": not done yet
    if words & POSSIBLE_WORDS or _in_talks(token):
        return "denied" if negated else "possible"
    if token.lemma_.lower() in CONTINUING or "currently" in words:
        return "active"  # "will keep the plant running", "will continue to supply", "can currently make"
    if token.lemma_.lower() in LATER_VERBS and any(c.dep_ == "xcomp" for c in token.children):
        return "planned"  # "picked SK On to supply batteries"
    if (token.lemma_.lower(), "back") in {(token.lemma_.lower(), c.lower_) for c in token.children if c.dep_ == "prt"} \
            and token.lemma_.lower() in ("push", "move"):
        return "planned"  # "pushing back production to 2026"
    planned_words = words & PLANNED_WORDS
    if token.lemma_.lower() == "set" and any(c.dep_ == "prt" for c in token.children):
        planned_words = planned_words - {"set"}  # "set up a venture" is doing it, "set to" is planning it
    if planned_words or any(t.tag_ == "MD" for t in cues) or _is_to(token) or _starts_later(token) or _to_be_done(token):
        return "planned"
    if negated and token.pos_ in ("VERB", "AUX"):
        return "denied"
    return None


DEAL_MAKING = {"sign", "announce", "agree", "reach", "finalize", "finalise", "conclude", "unveil", "seal", "ink"}


def _expects_a_deal(token: Token) -> bool:
    passive = token.tag_ == "VBN" or any(c.dep_ == "auxpass" for c in token.children)
    return passive and any(c.dep_ == "xcomp" and c.lemma_.lower() in DEAL_MAKING for c in token.children)


def _plan_given_up(token: Token) -> bool:
    """'which had planned to form a venture': a plan told in the past
    perfect is one that no longer holds."""
    auxiliaries = {c.lower_ for c in token.children if c.dep_ in ("aux", "auxpass")}
    return token.lemma_.lower() in ("plan", "intend", "aim", "hope") and token.tag_ == "VBN" and "had" in auxiliaries


def _in_talks(token: Token) -> bool:
    """'Tesla is in advanced talks with LG Chem to source cells', 'is close
    to a deal to build Apple's car'."""
    if token.pos_ not in ("VERB", "AUX"):
        return False
    near_deal = [c for c in token.children if c.dep_ == "acomp" and c.lower_ in ("close", "near", "nearing")]
    preps = [p for holder in [token, *near_deal] for p in holder.children if p.dep_ == "prep"]
    return any(
        (p.lower_ == "in" and any(o.lemma_.lower() in ("talk", "talks", "negotiation", "discussion") for o in p.children))
        or (p.head in near_deal and p.lower_ == "to" and any(o.lemma_.lower() in ("deal", "agreement", "agreements") for o in p.children))
        for p in preps
    )


def _on_hold(token: Token) -> bool:
    """'put the venture on hold'."""
    return any(p.lower_ == "on" and any(o.lower_ == "hold" for o in p.children) for p in token.children if p.dep_ == "prep")


YEAR = re.compile(r"\b(19|20)\d\d\b")


def _published_year(doc: Doc) -> int | None:
    published = doc._.published
    match = YEAR.match(published) if isinstance(published, str) else None
    return int(match.group()) if match else None


def _before_publication(date_words: list[Token]) -> bool:
    """'from 2019' in an article of 2023: the start is behind us."""
    published_year = _published_year(date_words[0].doc) if date_words else None
    years = [int(t.text) for t in date_words if YEAR.fullmatch(t.text)]
    return published_year is not None and bool(years) and max(years) < published_year


def _starts_later(token: Token) -> bool:
    """'supplies cells from 2027', 'starting next year': a start date on a
    verb that is not in the past, and not before the article was published."""
    if token.pos_ not in ("VERB", "AUX") or token.tag_ in ("VBD", "VBN"):
        return False
    for prep in token.children:
        if prep.dep_ in ("prep", "advcl", "advmod") and prep.lower_ in START_PREPS:
            date_words = [t for t in prep.subtree if t.ent_type_ == "DATE"]
            if date_words and not _before_publication(date_words):
                return True
    return False


def _to_be_done(token: Token) -> bool:
    """'cars to be built at its Shanghai plant'."""
    return token.tag_ == "VBN" and any(c.lower_ == "to" and c.dep_ == "aux" for c in token.children)


def _is_to(token: Token) -> bool:
    """'Chery is to start making cars': be + to-infinitive states a plan."""
    if token.lemma_ != "be":
        return False
    return any(c.dep_ == "xcomp" and any(a.lower_ == "to" for a in c.children if a.dep_ == "aux") for c in token.children)


def _chain_statuses(trigger: Token) -> list[str | None]:
    """The cue of each token up the chain. Past an adverbial clause only
    modal cues carry over: in "X ended the deal, choosing to buy from Y" the
    buying has not ended, while in "X plans to build Y using Z" Z is planned."""
    statuses, crossed = [], False
    for token in _chain(trigger):
        status = _status_at(token)
        if crossed and status in ("ended", "denied"):
            status = None
        if status == "denied" and token.lemma_ == "be" and _first_of_kind(trigger):
            status = None  # "this is not their first collaboration"
        statuses.append(status)
        # a participle clause ("choosing to buy", "using parts") is not ended with its host
        crossed = crossed or (token.dep_ == "advcl" and token.tag_ in ("VBG", "VBN"))
    return statuses


def _replaced_object(trigger: Token) -> bool:
    """'replaced the chips it bought from Nvidia': what was bought is gone."""
    clause = trigger if trigger.dep_ == "relcl" else None
    if clause is None:
        return False
    governor = clause.head
    return governor.dep_ == "dobj" and governor.head.lemma_.lower() in ENDED_VERBS | {"replace", "swap"}


def _first_of_kind(trigger: Token) -> bool:
    return any(c.dep_ == "amod" and c.lower_ in ("first", "only") for c in trigger.children)


def status_of(trigger: Token, default: str = "active") -> str:
    """The status the sentence gives the relation expressed at `trigger`.

    The cue nearest to the trigger on its chain of heads wins, except that a
    denial anywhere on the chain wins, and a denied or negated ending ("no
    plans to dissolve the venture") leaves the relation active. A word like
    "existing" on the trigger itself makes it active; a relative clause on
    the trigger ("a deal, which was abandoned") speaks for it.
    """
    modifiers = {c.lower_ for c in _cues(trigger)}
    if modifiers & ACTIVE_WORDS:
        return "active"
    if modifiers & WEAK_PLANNED:  # "a planned factory": planned unless the sentence says more
        default = "planned"
    if _replaced_object(trigger):
        return "ended"
    own = [_status_at(c) for c in trigger.children if c.dep_ in ("relcl", "acl") and c.pos_ in ("VERB", "AUX")]
    own_ended = [s for s in own if s in ("ended", "denied")]
    statuses = own_ended + _chain_statuses(trigger)
    if "ended" in statuses and "denied" in statuses[statuses.index("ended") + 1 :]:
        return "active"
    if "denied" in statuses:
        return "denied"
    position = next((n for n, status in enumerate(statuses) if status), None)
    if position is None:
        return default
    nearest = statuses[position]
    chain = [None] * len(own_ended) + _chain(trigger)
    carrier = chain[position] if position < len(chain) else None
    if nearest in ("planned", "possible") and carrier is not None and carrier.pos_ == "NOUN" \
            and "ended" in statuses[position + 1 :]:
        return "ended"  # "scrapped plans to build", "called off talks": the plan itself ended
    return nearest


PRELIMINARY_WORDS = {"preliminary", "non-binding", "nonbinding", "framework", "tentative", "initial"}
PRELIMINARY_NOUNS = {"memorandum", "mou", "loi"}


def _is_preliminary(token: Token) -> bool:
    if token.lemma_.lower() in PRELIMINARY_NOUNS:
        return True
    if token.lemma_.lower() in ("letter", "sheet") and any(
            t.lower_ in ("intent", "term") for t in token.subtree if abs(t.i - token.i) <= 2):
        return True  # "a letter of intent", "a term sheet"
    modifiers = [t for c in token.children if c.dep_ in ("amod", "compound") for t in c.subtree]
    words = {t.lower_ for t in modifiers}
    joined = "".join(t.lower_ for t in sorted(modifiers, key=lambda t: t.i))  # "non - binding" parses as three words
    return bool(words & PRELIMINARY_WORDS) or "non-binding" in joined


def under_preliminary_deal(trigger: Token) -> bool:
    """'signed a preliminary deal to buy lithium', 'a memorandum under which
    it will deliver cells': supply agreed only in principle is still to come."""
    heads, token = [trigger], trigger
    while token.head.i != token.i and len(heads) < 6:
        token = token.head
        heads.append(token)
    tokens = heads + [c for t in heads for c in t.children if c.dep_ in ("dobj", "nsubj", "nsubjpass")]
    return any(_is_preliminary(t) for t in tokens)


def site_chosen(trigger: Token) -> bool:
    """'picked Ohio as the home of their plant': a site chosen is a plant not yet built."""
    for token in _chain(trigger):
        if token.lemma_.lower() in LATER_VERBS and any(
                p.lower_ == "as" and any(o.lemma_.lower() in ("site", "home", "location") for o in p.children)
                for p in token.children if p.dep_ == "prep"):
            return True
    return False
