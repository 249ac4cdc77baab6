"""Status of a claim as the sentence states it: active, planned, possible,
ended or denied, read from cue words in the trigger's scope in the parse."""

from __future__ import annotations

from spacy.tokens import Token

ENDED_VERBS = {
    "end", "terminate", "cancel", "scrap", "abandon", "quit", "exit", "dissolve", "drop",
    "halt", "withdraw", "sever", "unwind", "axe", "ditch", "dump", "discontinue", "stop",
    "divest", "shelve", "split", "cease",
}
ENDED_PARTICLES = {("walk", "away"), ("wind", "down"), ("pull", "out"), ("back", "out"), ("break", "up"), ("call", "off"), ("phase", "out")}
ENDED_WORDS = {"history", "former", "formerly", "longer", "defunct", "dissolution", "termination"}
DENIED_VERBS = {"deny", "reject", "dismiss", "refute", "rebuff"}
DENIED_PARTICLES = {("rule", "out")}
POSSIBLE_WORDS = {
    "may", "might", "could", "would", "possibly", "potentially", "reportedly", "allegedly",
    "possibility", "potential", "option", "talk", "talks", "consider", "weigh", "explore",
    "discuss", "negotiate", "negotiation", "evaluate", "study", "mull", "eye", "seek",
    "rumor", "rumour", "speculation", "candidate", "likely", "poised",
}
PLANNED_WORDS = {
    "will", "shall", "plan", "aim", "intend", "expect", "schedule", "prepare", "set",
    "target", "agree", "commit",
}
STATUSES = ("active", "planned", "possible", "ended", "denied")


CUE_CHILD_DEPS = ("aux", "auxpass", "neg", "prt", "advmod", "det", "acomp", "attr")


def _chain(trigger: Token, limit: int = 8) -> list[Token]:
    """The trigger and the heads above it, nearest first, up to the clause root."""
    chain, token = [trigger], trigger
    while token.head is not token and len(chain) < limit:
        token = token.head
        chain.append(token)
    return chain


def _has_no_or_not(token: Token) -> bool:
    return any(child.dep_ == "neg" or (child.dep_ == "det" and child.lower_ == "no") for child in token.children)


def _status_at(token: Token) -> str | None:
    """The status cue carried by one token of the chain and its modifiers, if any."""
    cues = [token, *(child for child in token.children if child.dep_ in CUE_CHILD_DEPS)]
    words = {t.lemma_.lower() for t in cues} | {t.lower_ for t in cues}
    particles = {(token.lemma_.lower(), child.lower_) for child in token.children if child.dep_ in ("prt", "advmod", "prep")}
    if words & DENIED_VERBS or particles & DENIED_PARTICLES:
        return "denied"
    if token.lemma_ in ("plan", "intention", "intend") and _has_no_or_not(token):
        return "denied"
    if words & (ENDED_VERBS | ENDED_WORDS) or particles & ENDED_PARTICLES:
        return "ended"
    if words & POSSIBLE_WORDS:
        return "possible"
    if words & PLANNED_WORDS or any(t.tag_ == "MD" for t in cues):
        return "planned"
    return None


def status_of(trigger: Token) -> str:
    """The status the sentence gives the relation expressed at `trigger`: the
    cue nearest to it on its chain of heads wins, except that a denial anywhere
    on the chain wins outright; no cue means active."""
    statuses = [_status_at(token) for token in _chain(trigger)]
    if "denied" in statuses:  # "denied it would supply": the denial governs the modal
        return "denied"
    return next((status for status in statuses if status), "active")
