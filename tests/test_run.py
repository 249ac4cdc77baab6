"""End to end over a real loopback HTTP server: feeds -> pages -> claims -> SQLite."""

import hashlib
import time

from werkzeug import Response

from pipeline import store
from pipeline.run import run_once

from sitebuilder import PARTNERSHIP_ARTICLE, SUPPLY_ARTICLE, article_html, rss


def serve_with_etag(httpserver, path, body, content_type):
    """Serve body at path, answering a matching If-None-Match with 304."""
    etag = '"' + hashlib.sha1(body).hexdigest()[:12] + '"'

    def handler(request):
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, status=200, headers={"ETag": etag, "Content-Type": content_type})

    httpserver.expect_request(path).respond_with_handler(handler)


def news_site(httpserver):
    base = httpserver.url_for("")
    feed = rss([
        {"title": "Stellantis and CATL form battery venture", "link": f"{base}/news/catl?utm_source=rss", "date": "2025-03-04"},
        {"title": "Bosch to supply Volvo Cars", "link": f"{base}/news/bosch", "date": "2025-05-06"},
    ])
    serve_with_etag(httpserver, "/feed.xml", feed, "application/rss+xml")
    for path, title, paragraphs in (("/news/catl", "Stellantis and CATL", PARTNERSHIP_ARTICLE),
                                    ("/news/bosch", "Bosch and Volvo", SUPPLY_ARTICLE)):
        body = article_html(title, paragraphs).encode()
        serve_with_etag(httpserver, path, body, "text/html; charset=utf-8")
    return httpserver.url_for("/feed.xml")


def test_second_run_against_unchanged_feed_is_conditional_and_stores_nothing(httpserver, settings, nlp):
    db = store.open_db(settings.db_path)
    store.add_feed(db, news_site(httpserver))

    first = run_once(db, settings, nlp=nlp)
    assert (first.feeds_polled, first.articles_new, first.feeds_failed) == (1, 2, 0)
    assert first.claims_new > 0
    stored = {name: db[name].count for name in ("articles", "claims", "claim_evidence", "mentions")}
    assert db["feeds"].get(1)["etag"]
    published = {row["canonical_url"].rsplit("/", 1)[1]: row["published_at"] for row in db["articles"].rows}
    assert published["catl"].startswith("2025-03-04")

    httpserver.clear_log()
    second = run_once(db, settings, nlp=nlp)
    assert second.feeds_not_modified == 1 and second.articles_new == 0 and second.claims_new == 0
    assert "1 not modified" in second.line() and "0 new" in second.line()
    feed_requests = [req for req, _resp in httpserver.log if req.path == "/feed.xml"]
    assert feed_requests and feed_requests[0].headers.get("If-None-Match")
    assert not [req for req, _resp in httpserver.log if req.path.startswith("/news/")]
    assert stored == {name: db[name].count for name in stored}


def test_bad_feeds_are_counted_and_others_still_processed(httpserver, settings, nlp):
    db = store.open_db(settings.db_path)
    httpserver.expect_request("/garbage.xml").respond_with_data(b"\x00\x01<<not xml at all", content_type="application/xml")
    httpserver.expect_request("/error.xml").respond_with_data("boom", status=500)

    def hang(_request):
        time.sleep(settings.read_timeout + 1.0)
        return Response("<rss/>")

    httpserver.expect_request("/slow.xml").respond_with_handler(hang)
    for path in ("/garbage.xml", "/error.xml", "/slow.xml"):
        store.add_feed(db, httpserver.url_for(path))
    store.add_feed(db, news_site(httpserver))

    summary = run_once(db, settings, nlp=nlp)
    assert (summary.feeds_polled, summary.feeds_failed, summary.articles_new) == (4, 3, 2)
    errors = {feed.url.rsplit("/", 1)[1]: feed for feed in store.list_feeds(db)}
    assert "HTTP 500" in errors["error.xml"].last_error
    assert "timed out" in errors["slow.xml"].last_error
    assert "feed" in errors["garbage.xml"].last_error
    assert all(errors[name].error_count == 1 for name in ("garbage.xml", "error.xml", "slow.xml"))
    assert errors["feed.xml"].error_count == 0


def test_page_that_fails_falls_back_to_feed_entry_text(httpserver, settings, nlp):
    db = store.open_db(settings.db_path)
    base = httpserver.url_for("")
    summary_text = "Magna will supply seats to BMW for the new iX3, the Canadian supplier said on Monday. " * 4
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([{"title": "Magna and BMW", "link": f"{base}/gone", "description": summary_text}]),
        content_type="application/rss+xml",
    )
    httpserver.expect_request("/gone").respond_with_data("not found", status=404)
    store.add_feed(db, httpserver.url_for("/feed.xml"))
    summary = run_once(db, settings, nlp=nlp)
    assert summary.articles_new == 1
    row = next(db["articles"].rows)
    assert row["source"] == "feed_entry" and "Magna will supply seats" in row["text"]


def test_links_to_private_hosts_other_than_the_feed_host_are_refused(httpserver, settings, nlp):
    db = store.open_db(settings.db_path)
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([{"title": "internal", "link": "http://10.1.2.3/secret", "description": ""}]),
        content_type="application/rss+xml",
    )
    store.add_feed(db, httpserver.url_for("/feed.xml"))
    summary = run_once(db, settings, nlp=nlp)
    assert summary.articles_failed == 1 and summary.articles_new == 0
    assert db["articles"].count == 0


# ---- reading in NLP worker processes -----------------------------------------------

def stored_reading(db) -> dict[str, list]:
    """What the store says, without row ids."""
    return {
        "mentions": sorted(db.execute(
            "SELECT a.canonical_url, m.start, m.end, e.canonical, e.label FROM mentions m"
            " JOIN articles a ON a.id = m.article_id JOIN entities e ON e.id = m.entity_id").fetchall()),
        "claims": sorted(db.execute(
            "SELECT c.label, ce.status, ce.component, ce.sentence, a.canonical_url FROM claim_evidence ce"
            " JOIN claims c ON c.id = ce.claim_id JOIN articles a ON a.id = ce.article_id").fetchall()),
    }


def test_a_worker_process_reads_the_same_as_this_process(httpserver, settings, nlp, caplog):
    from dataclasses import replace

    feed = news_site(httpserver)
    readings = {}
    for name, processes in (("here", 0), ("worker", 1)):
        local = replace(settings, db_path=settings.db_path.replace(".db", f"-{name}.db"),
                        nlp_processes=processes, nlp_worker_min_articles=1)
        db = store.open_db(local.db_path)
        store.add_feed(db, feed)
        with caplog.at_level("INFO", logger="pipeline.run"):
            caplog.clear()
            summary = run_once(db, local, nlp=nlp if name == "here" else None)
        assert summary.articles_new == 2 and summary.claims_new > 0
        assert ("NLP worker process" in caplog.text) == (name == "worker")
        readings[name] = stored_reading(db)
    assert readings["worker"]["claims"] and readings["worker"] == readings["here"]


def test_a_worker_that_cannot_start_leaves_the_reading_to_this_process(httpserver, settings, nlp, caplog, tmp_path):
    from dataclasses import replace

    broken = replace(settings, models_dir=str(tmp_path / "no-models"), nlp_processes=1, nlp_worker_min_articles=1,
                     nlp_batch_size=1)  # batches of 4 articles: the later ones meet a pool already broken
    base = httpserver.url_for("")
    items = [{"title": f"Story {n}", "link": f"{base}/news/{n}", "date": f"2025-05-{1 + n % 28:02d}"} for n in range(30)]
    httpserver.expect_request("/feed.xml").respond_with_data(rss(items), content_type="application/rss+xml")
    for n in range(30):
        paragraphs = [f"Story {n}: " + p for p in (PARTNERSHIP_ARTICLE if n % 2 else SUPPLY_ARTICLE)]
        httpserver.expect_request(f"/news/{n}").respond_with_data(article_html(f"Story {n}", paragraphs),
                                                                  content_type="text/html")
    db = store.open_db(broken.db_path)
    store.add_feed(db, httpserver.url_for("/feed.xml"))
    with caplog.at_level("WARNING", logger="pipeline.run"):
        summary = run_once(db, broken, nlp=nlp)
    assert "an NLP worker failed" in caplog.text
    assert summary.articles_new == 30 and summary.claims_new > 0
    assert store.pending_count(db) == 0
