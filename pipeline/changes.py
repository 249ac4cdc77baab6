"""Changes: replay each claim's evidence in news order (publication date,
then when we learned it) and name the events in that history: a claim first
seen, a change of status, and a customer moving a component from one
supplier to another. Pure functions; the store writes what they return."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, replace
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


def news_day(moment: str) -> date:
    """The calendar day of an ISO date or timestamp."""
    return date.fromisoformat(moment[:10])


def is_end(event: ChangeEvent) -> bool:
    """The event ends a supply (or says there is none)."""
    return event.kind in ("new", "status") and event.after.status in STOPPED


def is_start(event: ChangeEvent) -> bool:
    """The event starts a supply: first seen planned or active, or moving there from another status."""
    return (event.kind in ("new", "status") and event.after.status in STARTED
            and (event.kind == "new" or event.before_status not in STARTED))


def as_stored(event: ChangeEvent) -> ChangeEvent:
    """The event as the store keeps it, where the component is the event's:
    switches are found the same way from fresh events and from stored ones."""
    return replace(event, after=replace(event.after, component=event.component))


def switch_key(old_claim_id: int, new_claim_id: int, end_article_id: int) -> str:
    return f"switch:{old_claim_id}:{new_claim_id}:{end_article_id}"


def switch_events(customer_claims: dict[int, list[Evidence]]) -> list[ChangeEvent]:
    """Supplier switches of one customer, from the evidence of each of its
    SUPPLIES claims (claim id -> evidence), rebuilt from scratch."""
    events = [as_stored(event) for evidence in customer_claims.values() for event in claim_events(evidence)]
    starts = SwitchStarts(event for event in events if is_start(event))
    return [switch for end in events if is_end(end) for switch in starts.switches_from(end)]


class SwitchStarts:
    """The start events of a customer's SUPPLIES claims, by claim and day.

    A switch pairs one end (a supplier's claim ending or denied) with, for
    each other supplier, its start nearest in time within SWITCH_WINDOW for
    the same component. Each end has its own switches, so a new article only
    touches the switches of the ends and starts it changes."""

    def __init__(self, starts: Iterable[ChangeEvent]):
        by_claim: dict[int, list[ChangeEvent]] = {}
        for event in starts:
            by_claim.setdefault(event.claim_id, []).append(event)
        self.by_claim = {claim_id: _ByDay(events) for claim_id, events in by_claim.items()}

    def switches_from(self, end: ChangeEvent, only_claim: int | None = None) -> list[ChangeEvent]:
        claims = [only_claim] if only_claim is not None else sorted(self.by_claim)
        found = []
        for claim_id in claims:
            if claim_id == end.claim_id or claim_id not in self.by_claim:
                continue
            start = self.by_claim[claim_id].nearest(end)
            if start is not None:
                found.append(_switch(end, start))
        return found


def _switch(end: ChangeEvent, start: ChangeEvent) -> ChangeEvent:
    return ChangeEvent(
        key=switch_key(end.claim_id, start.claim_id, end.after.article_id), kind="supplier_switch",
        claim_id=start.claim_id, before=end.after, after=start.after,
        happened_at=max(end.happened_at, start.happened_at), learned_at=max(end.learned_at, start.learned_at),
        old_claim_id=end.claim_id, component=start.after.component or end.after.component,
    )


class _ByDay:
    """One claim's start events sorted by day, to find the one nearest an end."""

    def __init__(self, events: list[ChangeEvent]):
        self.events = sorted(events, key=lambda e: (e.happened_at, e.key))
        self.days = [news_day(e.happened_at).toordinal() for e in self.events]

    def nearest(self, end: ChangeEvent) -> ChangeEvent | None:
        day = news_day(end.happened_at).toordinal()
        low = bisect_left(self.days, day - SWITCH_WINDOW.days)
        high = bisect_right(self.days, day + SWITCH_WINDOW.days)
        best, best_gap = None, None
        for event_day, event in zip(self.days[low:high], self.events[low:high]):
            gap = abs(event_day - day)
            if (best_gap is None or gap < best_gap) and same_component(end.after, event.after):
                best, best_gap = event, gap
        return best


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
