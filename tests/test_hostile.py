"""Hostile input, all on loopback: each case runs beside a good feed, over a
store that already holds an article. Each must leave a clear log line, end
in bounded time and memory, leave the good feed's article stored, and lose
nothing stored before."""

from __future__ import annotations

import gzip
import re
import resource
import time
from dataclasses import replace
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipeline import store
from pipeline.run import run_once

from sitebuilder import PARTNERSHIP_ARTICLE, SUPPLY_ARTICLE, article_html, rss

BOMB_FEED = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<rss version="2.0"><channel><title>&g;</title>
<item><title>Bomb &g;</title><link>LINK/bomb-story</link><description>&g;</description></item>
</channel></rss>"""

EXTERNAL_ENTITY_FEED = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/hostname">]>
<rss version="2.0"><channel><title>t</title>
<item><title>Leak &secret;</title><link>LINK/leak-story</link><description>Leak &secret; here</description></item>
</channel></rss>"""


def story_feed(base: str, slug: str, title: str) -> bytes:
    return rss([{"title": title, "link": f"{base}/{slug}", "date": "2025-05-06",
                 "description": "Bosch will supply electric axles to Volvo Cars from 2027, the supplier said."}])


def endless(_request):
    def chunks():
        while True:
            yield b"<p>" + b"more text " * 1000 + b"</p>"
    return Response(chunks(), content_type="text/html")


def trickle(_request):
    def chunks():
        for _ in range(60):
            yield b"x"
            time.sleep(1)
    return Response(chunks(), content_type="application/rss+xml")


def serve_case(httpserver, case: str) -> None:
    """The hostile feed at /hostile.xml (and its article pages) for one case."""
    base = httpserver.url_for("")
    feed_of = {"content_type": "application/rss+xml"}
    if case == "truncated_xml":
        body = story_feed(base, "story", "Truncated")
        httpserver.expect_request("/hostile.xml").respond_with_data(body[: len(body) // 2], **feed_of)
    elif case == "malformed_xml":
        httpserver.expect_request("/hostile.xml").respond_with_data(b"<rss><channel><item><title>a</b></rss", **feed_of)
    elif case == "entity_bomb":
        httpserver.expect_request("/hostile.xml").respond_with_data(BOMB_FEED.replace(b"LINK", base.encode()), **feed_of)
    elif case == "external_entity":
        httpserver.expect_request("/hostile.xml").respond_with_data(EXTERNAL_ENTITY_FEED.replace(b"LINK", base.encode()), **feed_of)
    elif case == "gzip_bomb":
        bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9)
        httpserver.expect_request("/hostile.xml").respond_with_data(
            bomb, headers={"Content-Encoding": "gzip"}, **feed_of)
    elif case == "huge_page":
        httpserver.expect_request("/hostile.xml").respond_with_data(story_feed(base, "huge", "Huge page"), **feed_of)
        httpserver.expect_request("/huge").respond_with_data(b"<html><body>" + b"<p>word </p>" * 5_000_000, content_type="text/html")
    elif case == "endless_chunked":
        httpserver.expect_request("/hostile.xml").respond_with_data(story_feed(base, "endless", "Endless"), **feed_of)
        httpserver.expect_request("/endless").respond_with_handler(endless)
    elif case == "one_byte_per_second":
        httpserver.expect_request("/hostile.xml").respond_with_handler(trickle)
    elif case == "pdf_for_html":
        httpserver.expect_request("/hostile.xml").respond_with_data(story_feed(base, "report.pdf", "A PDF"), **feed_of)
        httpserver.expect_request("/report.pdf").respond_with_data(b"%PDF-1.7\n" + bytes(range(256)) * 100, content_type="application/pdf")
    elif case == "image_for_html":
        httpserver.expect_request("/hostile.xml").respond_with_data(story_feed(base, "photo", "A photo"), **feed_of)
        httpserver.expect_request("/photo").respond_with_data(b"\x89PNG\r\n\x1a\n" + bytes(2000), content_type="text/html")
    elif case == "wrong_encoding":
        page = article_html("Citroën und Škoda", ["Citroën et Škoda : " + p for p in SUPPLY_ARTICLE]).encode("cp1252", "replace")
        httpserver.expect_request("/hostile.xml").respond_with_data(story_feed(base, "latin", "Encodings"), **feed_of)
        httpserver.expect_request("/latin").respond_with_data(page, content_type="text/html; charset=utf-8")
    elif case == "mixed_encoding":
        page = article_html("Mixed", SUPPLY_ARTICLE).encode() + "Citroën".encode("latin-1") + "Škoda".encode("utf-16")
        httpserver.expect_request("/hostile.xml").respond_with_data(story_feed(base, "mixed", "Mixed"), **feed_of)
        httpserver.expect_request("/mixed").respond_with_data(page, content_type="text/html")
    elif case == "duplicate_guids":
        items = [{"title": f"Same story {n}", "link": f"{base}/same"} for n in range(3)]
        httpserver.expect_request("/hostile.xml").respond_with_data(rss(items), **feed_of)
        httpserver.expect_request("/same").respond_with_data(article_html("Same", SUPPLY_ARTICLE), content_type="text/html")
    elif case == "ten_thousand_items":
        items = [{"title": f"Item {n}", "link": f"{base}/item/{n}"} for n in range(10_000)]
        httpserver.expect_request("/hostile.xml").respond_with_data(rss(items), **feed_of)
        httpserver.expect_request(re.compile(r"^/item/\d+$")).respond_with_handler(
            lambda request: Response(article_html("Item", [f"{request.path}: {p}" for p in SUPPLY_ARTICLE]), content_type="text/html"))
    elif case == "megabyte_article":
        text = [f"Part {n}. " + " ".join(SUPPLY_ARTICLE * 2) for n in range(1200)]  # about 1 MB of text
        httpserver.expect_request("/hostile.xml").respond_with_data(story_feed(base, "long", "Long read"), **feed_of)
        httpserver.expect_request("/long").respond_with_data(article_html("Long read", text), content_type="text/html")
    else:
        raise AssertionError(case)


CASES = {
    # case: (a word the log must show, articles the hostile feed may add)
    "truncated_xml": ("feed", {0, 1}),
    "malformed_xml": ("mismatched tag", {0}),
    "entity_bomb": ("problems but was read", {0, 1}),
    "external_entity": ("problems but was read", {0, 1}),
    "gzip_bomb": ("cap", {0}),
    "huge_page": ("cap", {1}),
    "endless_chunked": ("cap", {1}),
    "one_byte_per_second": ("deadline", {0}),
    "pdf_for_html": ("is not an HTML page (application/pdf", {1}),
    "image_for_html": ("is not an HTML page (text/html", {1}),
    "wrong_encoding": ("", {1}),
    "mixed_encoding": ("", {1}),
    "duplicate_guids": ("", {1}),
    "ten_thousand_items": ("reading the first 5", {5}),
    "megabyte_article": ("cut to", {1}),
}


@pytest.fixture
def httpserver():
    """A threaded loopback server: one slow hostile response must not hold up the others."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def good_site(httpserver) -> tuple[str, str]:
    base = httpserver.url_for("")
    for slug, paragraphs in (("earlier", PARTNERSHIP_ARTICLE), ("good", SUPPLY_ARTICLE)):
        httpserver.expect_request(f"/{slug}").respond_with_data(article_html(slug, paragraphs), content_type="text/html")
        httpserver.expect_request(f"/{slug}.xml").respond_with_data(
            rss([{"title": slug, "link": f"{base}/{slug}", "date": "2025-03-04"}]), content_type="application/rss+xml")
    return httpserver.url_for("/earlier.xml"), httpserver.url_for("/good.xml")


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_is_flagged_bounded_and_harmless(case, httpserver, settings, nlp, caplog):
    settings = replace(settings, read_timeout=1.0, max_response_bytes=2_000_000, max_entries_per_feed=5)
    expected_log, hostile_articles = CASES[case]
    earlier_feed, good_feed = good_site(httpserver)
    db = store.open_db(settings.db_path)
    store.add_feed(db, earlier_feed)
    run_once(db, settings, nlp=nlp)
    before = {row["canonical_url"]: row["content_hash"] for row in db["articles"].rows}
    claims_before = db["claim_evidence"].count
    assert len(before) == 1 and claims_before > 0

    serve_case(httpserver, case)
    store.add_feed(db, httpserver.url_for("/hostile.xml"))
    store.add_feed(db, good_feed)
    memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    summary = run_once(db, settings, nlp=nlp)
    elapsed = time.monotonic() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory_before) / 1024

    assert elapsed < 30, f"{case} took {elapsed:.1f} s"
    assert grown_mb < 400, f"{case} grew peak memory by {grown_mb:.0f} MB"
    if expected_log:
        assert expected_log in caplog.text, caplog.text[-2000:]
    after = {row["canonical_url"]: row["content_hash"] for row in db["articles"].rows}
    assert all(after.get(url) == digest for url, digest in before.items())  # nothing stored is lost
    assert any(url.endswith("/good") for url in after)  # the rest of the run went on
    assert len(after) - len(before) - 1 in hostile_articles, sorted(after)
    assert db["claim_evidence"].count >= claims_before
    assert summary.feeds_polled == 3
    texts = " ".join(row["text"] + (row["title"] or "") for row in db["articles"].rows)
    assert "aaaaaaaaaaaaaaaaaaaaaaaa" * 50 not in texts  # no entity was expanded
    secret = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").is_file() else ""
    assert not secret or f"Leak {secret}" not in texts  # no external entity was read
