"""Changes: replay each claim's evidence in news order (publication date,
then when we learned it) and name the events in that history: a claim first
seen, a change of status, and a customer moving a component from one
supplier to another. Pure functions; the store writes what they return."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

from .errors import UserError

SWITCH_WINDOW = timedelta(days=365)
STARTED = ("active", "planned")
STOPPED = ("ended", "denied")


@dataclass(frozen=True)
class Evidence:
    """One article's statement of one claim."""

    claim_id: int
    article_id: int
    status: str
    news_at: str  # publication date, or fetch time when the article has none
    learned_at: str
    component: str | None = None

    @property
    def order(self) -> tuple[str, str, int]:
        return (self.news_at, self.learned_at, self.article_id)


@dataclass(frozen=True)
class ChangeEvent:
    key: str
    kind: str  # new | status | supplier_switch
    claim_id: int
    before: Evidence | None
    after: Evidence
    happened_at: str
    learned_at: str
    old_claim_id: int | None = None
    component: str | None = None

    @property
    def before_status(self) -> str | None:
        return self.before.status if self.before else None


def claim_events(evidence: Iterable[Evidence]) -> list[ChangeEvent]:
    """The events of one claim: `new` at its earliest news, then a `status`
    event wherever its status differs from the evidence before it. An old
    article fetched late slots into place by date, so it never reads as a
    change of the current status."""
    timeline = sorted(evidence, key=lambda e: e.order)
    if not timeline:
        return []
    first = timeline[0]
    events = [ChangeEvent(
        key=f"new:{first.claim_id}", kind="new", claim_id=first.claim_id, before=None, after=first,
        happened_at=first.news_at, learned_at=min(e.learned_at for e in timeline),
        component=first.component,
    )]
    for before, after in zip(timeline, timeline[1:]):
        if after.status != before.status:
            events.append(ChangeEvent(
                key=f"status:{after.claim_id}:{before.article_id}:{after.article_id}", kind="status",
                claim_id=after.claim_id, before=before, after=after, happened_at=after.news_at,
                learned_at=max(before.learned_at, after.learned_at), component=after.component or before.component,
            ))
    return events


def current_status(evidence: Iterable[Evidence]) -> str | None:
    timeline = sorted(evidence, key=lambda e: e.order)
    return timeline[-1].status if timeline else None


@lru_cache(maxsize=4096)
def _component_words(component: str | None) -> frozenset[str]:
    words = re.findall(r"[a-z0-9]+", (component or "").lower())
    return frozenset(w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words)


def same_component(a: Evidence, b: Evidence) -> bool:
    """'battery cells' and 'cells' are the same goods; without a named
    component on both sides, only one article stating both counts."""
    words_a, words_b = _component_words(a.component), _component_words(b.component)
    if words_a and words_b:
        return words_a <= words_b or words_b <= words_a
    return a.article_id == b.article_id


def _day(moment: str) -> date:
    return date.fromisoformat(moment[:10])


def _ends(events: list[ChangeEvent]) -> list[ChangeEvent]:
    return [e for e in events if e.after.status in STOPPED and e.kind in ("new", "status")]


def _starts(events: list[ChangeEvent]) -> list[ChangeEvent]:
    return [e for e in events if e.after.status in STARTED and (e.kind == "new" or e.before_status not in STARTED)]


def switch_events(customer_claims: dict[int, list[Evidence]]) -> list[ChangeEvent]:
    """Supplier switches of one customer, from the evidence of each of its
    SUPPLIES claims (claim id -> evidence): one supplier's claim ends or is
    denied while another's starts for the same component, within a year."""
    events_by_claim = {claim_id: claim_events(evidence) for claim_id, evidence in customer_claims.items()}
    return switches_among(events_by_claim, set(events_by_claim))


def switches_among(events_by_claim: dict[int, list[ChangeEvent]], focus: set[int]) -> list[ChangeEvent]:
    """The switches between a customer's SUPPLIES claims, given their change
    events, in which a claim of `focus` is the old or the new supplier."""
    ends = {claim_id: _ends(events) for claim_id, events in events_by_claim.items()}
    starts = {claim_id: _Starts(_starts(events)) for claim_id, events in events_by_claim.items()}
    switches = []
    pairs = {(old, new) for old in focus & ends.keys() for new in starts} | {(old, new) for old in ends for new in focus & starts.keys()}
    for old_claim, new_claim in sorted(pairs):
        if old_claim == new_claim:
            continue
        old_ends, new_starts = ends[old_claim], starts[new_claim]
        for end in old_ends:
            start = new_starts.matching(end)
            if start is not None:
                switches.append(ChangeEvent(
                    key=f"switch:{old_claim}:{new_claim}", kind="supplier_switch", claim_id=new_claim,
                    before=end.after, after=start.after,
                    happened_at=max(end.happened_at, start.happened_at),
                    learned_at=max(end.learned_at, start.learned_at), old_claim_id=old_claim,
                    component=start.after.component or end.after.component,
                ))
    return _one_per_pair(switches)


class _Starts:
    """A claim's start events by day, to find the one nearest an end."""

    def __init__(self, events: list[ChangeEvent]):
        self.events = sorted(events, key=lambda e: e.happened_at)
        self.days = [_day(e.happened_at).toordinal() for e in self.events]

    def matching(self, end: ChangeEvent) -> ChangeEvent | None:
        day = _day(end.happened_at).toordinal()
        low = bisect_left(self.days, day - SWITCH_WINDOW.days)
        high = bisect_right(self.days, day + SWITCH_WINDOW.days)
        close = [e for e in self.events[low:high] if same_component(end.after, e.after)]
        return min(close, key=lambda e: abs(_day(e.happened_at).toordinal() - day), default=None)


def _one_per_pair(switches: list[ChangeEvent]) -> list[ChangeEvent]:
    by_key: dict[str, ChangeEvent] = {}
    for event in sorted(switches, key=lambda e: (e.happened_at, e.learned_at)):
        by_key.setdefault(event.key, event)
    return list(by_key.values())


# ---- reading --since ------------------------------------------------------------

SINCE_PATTERN = re.compile(r"^(\d+)\s*([hdw])$")
UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


def parse_since(value: str, now: datetime | None = None) -> str:
    """'24h', '7d', '2w' or a date (YYYY-MM-DD) -> an ISO UTC timestamp."""
    now = now or datetime.now(timezone.utc)
    text = value.strip().lower()
    match = SINCE_PATTERN.match(text)
    if match:
        moment = now - timedelta(hours=int(match.group(1)) * UNIT_HOURS[match.group(2)])
    else:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UserError(f"--since {value!r} is neither a date (2025-06-30) nor a span such as 24h, 7d or 2w") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat()
