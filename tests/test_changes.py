"""Claims over time: the history of each claim in news order, its change
events, supplier switches, and the `changes` and `history` commands."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from werkzeug import Response

from pipeline import store
from pipeline.changes import Evidence, claim_events, parse_since, switch_events
from pipeline.cli import cli
from pipeline.extract import content_hash
from pipeline.records import Article, Claim, Extraction
from pipeline.run import run_once

from sitebuilder import article_html, rss

# ---- the event rules on their own ------------------------------------------------


def evidence(article_id, status, news_at, learned_at="2026-01-01T00:00:00+00:00", component=None, claim_id=1):
    return Evidence(claim_id, article_id, status, news_at, learned_at, component)


def test_events_follow_publication_order_not_arrival_order():
    late_old_article = evidence(2, "active", "2022-10-17", learned_at="2026-01-02T00:00:00+00:00")
    recent = evidence(1, "ended", "2025-11-14", learned_at="2026-01-01T00:00:00+00:00")
    events = claim_events([recent, late_old_article])
    assert [(e.kind, e.before_status, e.after.status, e.happened_at) for e in events] == [
        ("new", None, "active", "2022-10-17"),
        ("status", "active", "ended", "2025-11-14"),
    ]
    assert events[0].learned_at == "2026-01-01T00:00:00+00:00"  # we knew of the claim from the first article
    assert events[1].learned_at == "2026-01-02T00:00:00+00:00"  # the change could only be seen once both were in


def test_restating_the_same_status_is_no_change():
    events = claim_events([evidence(1, "planned", "2024-01-01"), evidence(2, "planned", "2024-06-01"),
                           evidence(3, "active", "2025-01-01"), evidence(4, "active", "2025-02-01")])
    assert [(e.kind, e.after.article_id) for e in events] == [("new", 1), ("status", 3)]


def test_a_switch_needs_the_same_component_within_a_year():
    old = [evidence(1, "active", "2023-03-01", component="battery cells", claim_id=10),
           evidence(2, "ended", "2025-05-01", component="cells", claim_id=10)]
    new = [evidence(3, "active", "2025-06-01", component="battery cells", claim_id=11)]
    other_part = [evidence(4, "active", "2025-06-01", component="seats", claim_id=12)]
    long_before = [evidence(5, "active", "2019-01-01", component="battery cells", claim_id=13)]
    switches = switch_events({10: old, 11: new, 12: other_part, 13: long_before})
    assert [(s.old_claim_id, s.claim_id, s.happened_at) for s in switches] == [(10, 11, "2025-06-01")]


@pytest.mark.parametrize("value, expected", [
    ("24h", "2026-11-21T12:00:00+00:00"), ("7d", "2026-11-15T12:00:00+00:00"), ("2w", "2026-11-08T12:00:00+00:00"),
    ("2026-01-31", "2026-01-31T00:00:00+00:00"),
])
def test_parse_since(value, expected):
    assert parse_since(value, now=datetime(2026, 11, 22, 12, tzinfo=timezone.utc)) == expected


# ---- the store keeps the history ---------------------------------------------------

def article(slug: str, published: str, fetched: str, text: str | None = None) -> Article:
    text = text or f"Text of {slug}."
    return Article(url=f"https://news.example/{slug}", canonical_url=f"https://news.example/{slug}", text=text,
                   content_hash=content_hash(text), source="page", title=slug, site="news.example",
                   published_at=published, fetched_at=fetched)


def supply(supplier: str, customer: str, status: str, component: str = "battery cells") -> Claim:
    return Claim("SUPPLIES", supplier, customer, status, f"{supplier} and {customer}: {status}.", 0.8, component)


def events_table(db) -> list[tuple]:
    return sorted(db.execute(
        "SELECT key, kind, before_status, after_status, happened_at, learned_at FROM claim_changes").fetchall())


def test_out_of_order_articles_give_the_same_history_in_any_order(settings, tmp_path):
    saves = [
        (article("ended", "2025-05-01", "2026-01-01T08:00:00+00:00"), supply("LG Energy Solution", "Nissan", "ended")),
        (article("old", "2023-02-01", "2026-01-02T08:00:00+00:00"), supply("LG Energy Solution", "Nissan", "active")),
        (article("new", "2025-06-01", "2026-01-03T08:00:00+00:00"), supply("CATL", "Nissan", "active")),
    ]
    tables = []
    for order in (saves, saves[::-1]):
        db = store.open_db(tmp_path / f"order-{len(tables)}.db")
        for item, claim in order:
            store.save_article(db, item, Extraction(claims=(claim,)))
        current = {(r["subject"], r["object"], r["status"]) for r in store.current_claims(db)}
        assert current == {("LG Energy Solution", "Nissan", "ended"), ("CATL", "Nissan", "active")}
        rows = store.changes_since(db)
        tables.append([(r.kind, r.subject, r.before_status, r.after_status, r.happened_at[:10]) for r in rows])
        before = events_table(db)
        for item, claim in order:  # processing the same articles again changes nothing
            assert store.save_article(db, item, Extraction(claims=(claim,))).duplicate
        assert events_table(db) == before
    assert tables[0] == tables[1]
    assert tables[0] == [
        ("new", "LG Energy Solution", None, "active", "2023-02-01"),
        ("status", "LG Energy Solution", "active", "ended", "2025-05-01"),
        ("new", "CATL", None, "active", "2025-06-01"),
        ("supplier_switch", "CATL", "ended", "active", "2025-06-01"),
    ]
    switch = [r for r in store.changes_since(db) if r.kind == "supplier_switch"]
    assert len(switch) == 1 and (switch[0].old_subject, switch[0].subject, switch[0].object) == (
        "LG Energy Solution", "CATL", "Nissan")
    assert switch[0].before_status == "ended" and switch[0].component == "battery cells"


def random_news(seed: int, articles: int = 120) -> list[tuple[Article, Extraction]]:
    """Articles over three years about one customer's suppliers, with
    statuses, components and dates drawn at random: many ends and starts,
    so that switches overlap in every way."""
    rng = random.Random(seed)
    suppliers = ["CATL", "LG Energy Solution", "Panasonic", "Samsung SDI", "SK On", "Gotion"]
    components = ["battery cells", "cells", "battery modules", None]
    news = []
    for n in range(articles):
        day = date(2023, 1, 1) + timedelta(days=rng.randrange(3 * 365))
        claims = tuple(supply(supplier, rng.choice(["Nissan", "Renault"]),
                              rng.choice(["active", "planned", "ended", "denied", "possible"]), rng.choice(components))
                       for supplier in rng.sample(suppliers, rng.randint(1, 3)))
        item = article(f"random-{seed}-{n}", day.isoformat(), f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}+00:00",
                       text=f"Random article {n}.")
        news.append((item, Extraction(claims=claims)))
    return news


def all_events(db) -> list[tuple]:
    return sorted(db.execute("SELECT * FROM claim_changes").fetchall())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_events_kept_article_by_article_equal_a_full_rebuild(tmp_path, seed):
    news = random_news(seed)
    shuffled = news[:]
    random.Random(seed).shuffle(shuffled)
    tables = []
    for name, order in (("in-order", sorted(news, key=lambda pair: pair[0].published_at)), ("shuffled", shuffled)):
        db = store.open_db(tmp_path / f"{name}.db")
        for item, extraction in order:
            store.save_article(db, item, extraction)
        kept = all_events(db)
        assert any(row[1] == "supplier_switch" for row in kept)
        with store.writing(db):
            store.rebuild_changes(db)
        assert all_events(db) == kept, name
        tables.append(sorted((r.kind, r.subject, r.object, r.old_subject, r.before_status, r.after_status,
                              r.happened_at, r.url, r.before_url) for r in store.changes_since(db)))
    # ids differ between the two stores; what the events say does not
    assert tables[0] == tables[1]


def test_rereading_an_article_keeps_the_events_equal_to_a_full_rebuild(tmp_path):
    news = random_news(7, articles=60)
    db = store.open_db(tmp_path / "reread.db")
    ids = [store.save_article(db, item, extraction).article_id for item, extraction in news]
    rng = random.Random(7)
    for article_id in rng.sample(ids, 15):  # each re-read says something else, or nothing
        _item, other = news[rng.randrange(len(news))]
        store.replace_extraction(db, article_id, other if rng.random() < 0.7 else Extraction())
        kept = all_events(db)
        with store.writing(db):
            store.rebuild_changes(db)
        assert all_events(db) == kept


def test_changes_for_claims_stored_before_the_migration_are_backfilled(tmp_path):
    from sqlite_utils import Database

    from pipeline.store import migrations

    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m002_claim_changes")
    db["entities"].insert_all([{"id": 1, "canonical": "Renault", "label": "ORG"},
                               {"id": 2, "canonical": "Valeo", "label": "ORG"}])
    db["articles"].insert({"id": 7, "url": "u", "canonical_url": "u", "text": "t", "content_hash": "h", "source": "page",
                           "published_at": "2022-10-17", "fetched_at": "2026-01-01T00:00:00+00:00"})
    db["claims"].insert({"id": 3, "relation": "PARTNERS_WITH", "subject_id": 1, "object_id": 2, "first_seen_at": "x"})
    db["claim_evidence"].insert({"claim_id": 3, "article_id": 7, "sentence": "s", "status": "active",
                                 "published_at": "2022-10-17", "learned_at": "2026-01-01T00:00:00+00:00"})
    upgraded = store.open_db(path)
    assert [(r.kind, r.subject, r.object) for r in store.changes_since(upgraded)] == [("new", "Renault", "Valeo")]


# ---- end to end over a loopback feed --------------------------------------------

ANNOUNCED = ["Renault and Valeo announced a partnership on Monday to develop a rare-earth-free electric motor, "
             "the two French companies said in a statement."]
ENDED = ["Renault has ended its partnership with Valeo on the rare-earth-free electric motor, "
         "the French carmaker said on Friday."]
RESTATED = ["Renault and Valeo are collaborating on a new electric motor, a Valeo spokesperson said."]


class ChangingSite:
    """A loopback news site whose feed gains items between polls."""

    def __init__(self, httpserver):
        self.httpserver = httpserver
        self.items: list[dict] = []
        httpserver.expect_request("/feed.xml").respond_with_handler(self.feed)

    def feed(self, _request):
        return Response(rss(self.items), headers={"Content-Type": "application/rss+xml"})

    def publish(self, slug: str, date: str, paragraphs: list[str]) -> None:
        link = self.httpserver.url_for(f"/news/{slug}")
        body = article_html(slug, paragraphs + BACKGROUND, date)
        self.httpserver.expect_request(f"/news/{slug}").respond_with_data(body, content_type="text/html")
        self.items.append({"title": slug, "link": link, "date": date})


BACKGROUND = [
    "Electric car sales in Europe rose by a fifth last year, industry figures show, although growth slowed in the "
    "second half as several governments cut purchase incentives for private buyers.",
    "Analysts expect prices of battery metals to stay low this year, which would help carmakers that are trying to "
    "sell smaller electric models at prices closer to those of petrol cars.",
]


def partner_events(db) -> list[tuple]:
    return [(r.kind, r.before_status, r.after_status, r.happened_at[:10])
            for r in store.changes_since(db) if r.relation == "PARTNERS_WITH"]


def test_an_old_article_fetched_late_creates_no_false_change(httpserver, settings, nlp):
    site = ChangingSite(httpserver)
    db = store.open_db(settings.db_path)
    store.add_feed(db, httpserver.url_for("/feed.xml"))

    site.publish("ended", "2025-11-14", ENDED)
    run_once(db, settings, nlp=nlp)
    assert partner_events(db) == [("new", None, "ended", "2025-11-14")]

    site.publish("announced", "2022-10-17", ANNOUNCED)  # the old story arrives late
    site.publish("restated", "2023-05-02", RESTATED)
    run_once(db, settings, nlp=nlp)
    assert partner_events(db) == [("new", None, "active", "2022-10-17"), ("status", "active", "ended", "2025-11-14")]
    assert [r["status"] for r in store.current_claims(db) if r["relation"] == "PARTNERS_WITH"] == ["ended"]

    before = events_table(db)
    summary = run_once(db, settings, nlp=nlp)
    assert summary.articles_new == 0 and events_table(db) == before

    history = store.company_history(db, "valeo", "Renault")
    assert [(h.news_at[:10], h.status, h.change) for h in history] == [
        ("2022-10-17", "active", "new"), ("2023-05-02", "active", None), ("2025-11-14", "ended", "status")]


def test_a_supplier_switch_read_from_news_is_one_event(httpserver, settings, nlp):
    site = ChangingSite(httpserver)
    db = store.open_db(settings.db_path)
    store.add_feed(db, httpserver.url_for("/feed.xml"))
    site.publish("switch", "2025-06-01", ["Nissan replaced LG Energy Solution with CATL as its supplier of battery cells "
                                          "for the Leaf, the Japanese carmaker said."])
    site.publish("before", "2024-02-01", ["LG Energy Solution supplies battery cells to Nissan for the Leaf."])
    run_once(db, settings, nlp=nlp)
    switches = [r for r in store.changes_since(db) if r.kind == "supplier_switch"]
    assert [(s.old_subject, s.subject, s.object, s.happened_at[:10]) for s in switches] == [
        ("LG Energy Solution", "CATL", "Nissan", "2025-06-01")]


# ---- the commands --------------------------------------------------------------------

def stored_history(settings) -> None:
    db = store.open_db(settings.db_path)
    partners = Claim("PARTNERS_WITH", "Renault", "Valeo", "active", "Renault and Valeo announced a partnership.", 0.9)
    ended = Claim("PARTNERS_WITH", "Valeo", "Renault", "ended", "Renault ended its partnership with Valeo.", 0.9)
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    store.save_article(db, article("a", "2022-10-17", now), Extraction(claims=(partners,)))
    store.save_article(db, article("b", "2025-11-14", now), Extraction(claims=(ended,)))


def test_changes_command_table_and_json(settings):
    stored_history(settings)
    runner = CliRunner()
    table = runner.invoke(cli, ["--db", settings.db_path, "changes", "--since", "24h"])
    assert table.exit_code == 0, table.output
    assert "active → ended" in table.output and "Renault" in table.output
    as_json = runner.invoke(cli, ["--db", settings.db_path, "changes", "--since", "2020-01-01", "--json"])
    rows = json.loads(as_json.output)
    assert [(r["kind"], r["after_status"]) for r in rows] == [("new", "active"), ("status", "ended")]
    assert rows[1]["sentence"] == "Renault ended its partnership with Valeo." and rows[1]["url"].endswith("/b")
    none_yet = runner.invoke(cli, ["--db", settings.db_path, "changes", "--since", "2999-01-01"])
    assert none_yet.exit_code == 0 and "no changes learned" in none_yet.output


def test_history_command(settings):
    stored_history(settings)
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", settings.db_path, "history", "Renault", "valeo"])
    assert result.exit_code == 0, result.output
    assert "2022-10-17" in result.output and "2025-11-14" in result.output and "ended" in result.output
    as_json = json.loads(runner.invoke(cli, ["--db", settings.db_path, "history", "Valeo", "--json"]).output)
    assert [(r["status"], r["change"]) for r in as_json] == [("active", "new"), ("ended", "status")]


@pytest.mark.parametrize("args, message", [
    (["history", "Nobody Motors"], "no company or place named 'Nobody Motors'"),
    (["changes", "--since", "last tuesday"], "--since 'last tuesday' is neither a date"),
])
def test_command_mistakes_are_one_line_errors(settings, args, message):
    stored_history(settings)
    result = CliRunner().invoke(cli, ["--db", settings.db_path, *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
