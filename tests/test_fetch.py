"""Tests of pipeline.fetch against a real local HTTP server (pytest-httpserver).

Every HTTP request goes to the loopback server; the private-address guard is
exercised with literal IP addresses only, so no test does a DNS lookup of a
real internet name or connects anywhere but 127.0.0.1.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from werkzeug.wrappers import Response

from pipeline.config import Settings
from pipeline.fetch import (
    FetchError,
    check_address,
    fetch_feed,
    fetch_page,
    http_get,
    make_client,
    parse_feed,
)
from pipeline.records import Feed, FeedEntry

SETTINGS = Settings(connect_timeout=1, read_timeout=0.5)

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Auto Supply Weekly</title>
    <link>http://127.0.0.1/</link>
    <description>Supplier news</description>
    <item>
      <title>Bosch to supply brakes to Volkswagen</title>
      <link>/news/bosch-vw</link>
      <guid isPermaLink="false">asw-1001</guid>
      <pubDate>Tue, 05 Mar 2024 10:00:00 +0100</pubDate>
      <author>jane@example.com (Jane Doe)</author>
      <description>&lt;p&gt;Bosch wins a &lt;b&gt;brake&lt;/b&gt; contract.&lt;/p&gt;</description>
    </item>
    <item>
      <title>Magna opens plant in Graz</title>
      <link>https://news.example.com/magna-graz</link>
      <guid>asw-1002</guid>
      <pubDate>Wed, 06 Mar 2024 23:30:00 GMT</pubDate>
      <description>Magna opens a new plant.</description>
    </item>
  </channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Parts Journal</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-04-01T12:00:00Z</updated>
  <entry>
    <title>ZF and Foxconn form chassis joint venture</title>
    <link href="https://parts.example.org/zf-foxconn" rel="alternate"/>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <updated>2024-04-01T08:15:00+02:00</updated>
    <author><name>Max Mustermann</name></author>
    <summary>ZF and Foxconn team up.</summary>
    <content type="html">&lt;p&gt;ZF and Foxconn announced a joint venture.&lt;/p&gt;</content>
  </entry>
</feed>
"""


def loopback_url(httpserver, path: str) -> str:
    """The server URL with the literal loopback address (no name lookup)."""
    return f"http://127.0.0.1:{httpserver.port}{path}"


def release_slow_handler(httpserver, release: threading.Event) -> None:
    """Let a sleeping handler return, and wait until the server has logged its
    request, so the late request cannot show up in the next test's log."""
    release.set()
    for _ in range(200):
        if httpserver.log:
            return
        time.sleep(0.01)


@pytest.fixture
def client():
    with make_client(SETTINGS) as http_client:
        yield http_client


# --- feeds -------------------------------------------------------------------


def test_rss_feed_is_parsed_with_validators(httpserver, client):
    httpserver.expect_request("/feed.xml", method="GET").respond_with_data(
        RSS,
        content_type="application/rss+xml",
        headers={"ETag": '"v42"', "Last-Modified": "Tue, 05 Mar 2024 11:00:00 GMT"},
    )
    url = loopback_url(httpserver, "/feed.xml")
    result = fetch_feed(client, Feed(id=7, url=url), SETTINGS)

    assert result.outcome == "ok"
    assert result.error is None
    assert result.feed.id == 7
    assert result.etag == '"v42"'
    assert result.last_modified == "Tue, 05 Mar 2024 11:00:00 GMT"
    assert len(result.entries) == 2
    first, second = result.entries
    assert first.link == loopback_url(httpserver, "/news/bosch-vw")
    assert first.guid == "asw-1001"
    assert first.title == "Bosch to supply brakes to Volkswagen"
    assert first.published_at == "2024-03-05T09:00:00+00:00"
    assert "brake" in first.summary
    assert second.link == "https://news.example.com/magna-graz"
    assert second.guid == "asw-1002"
    assert second.title == "Magna opens plant in Graz"
    assert second.published_at == "2024-03-06T23:30:00+00:00"
    # no conditional headers on a first poll
    request, _response = httpserver.log[-1]
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers


def test_feed_without_validators_has_none(httpserver, client):
    httpserver.expect_request("/feed.xml").respond_with_data(RSS, content_type="application/rss+xml")
    result = fetch_feed(client, Feed(id=1, url=loopback_url(httpserver, "/feed.xml")), SETTINGS)
    assert result.outcome == "ok"
    assert result.etag is None
    assert result.last_modified is None


def test_conditional_get_with_etag_gives_not_modified(httpserver, client):
    httpserver.expect_request("/feed.xml", headers={"If-None-Match": '"abc"'}).respond_with_data(
        "", status=304, headers={"ETag": '"abc"'}
    )
    feed = Feed(id=1, url=loopback_url(httpserver, "/feed.xml"), etag='"abc"')
    result = fetch_feed(client, feed, SETTINGS)

    assert result.outcome == "not_modified"
    assert result.entries == ()
    assert result.error is None
    assert result.etag == '"abc"'
    assert len(httpserver.log) == 1
    request, response = httpserver.log[0]
    assert request.headers["If-None-Match"] == '"abc"'
    assert "If-Modified-Since" not in request.headers
    assert response.status_code == 304
    httpserver.check_assertions()


def test_conditional_get_with_last_modified_gives_not_modified(httpserver, client):
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    httpserver.expect_request("/feed.xml", headers={"If-Modified-Since": stamp}).respond_with_data(
        "", status=304
    )
    feed = Feed(id=2, url=loopback_url(httpserver, "/feed.xml"), last_modified=stamp)
    result = fetch_feed(client, feed, SETTINGS)

    assert result.outcome == "not_modified"
    assert result.entries == ()
    assert result.last_modified == stamp
    request, response = httpserver.log[0]
    assert request.headers["If-Modified-Since"] == stamp
    assert "If-None-Match" not in request.headers
    assert response.status_code == 304
    httpserver.check_assertions()


def test_conditional_get_changed_feed_returns_new_validators(httpserver, client):
    httpserver.expect_request("/feed.xml", headers={"If-None-Match": '"old"'}).respond_with_data(
        RSS, content_type="application/rss+xml", headers={"ETag": '"new"'}
    )
    feed = Feed(id=3, url=loopback_url(httpserver, "/feed.xml"), etag='"old"')
    result = fetch_feed(client, feed, SETTINGS)
    assert result.outcome == "ok"
    assert result.etag == '"new"'
    assert [e.guid for e in result.entries] == ["asw-1001", "asw-1002"]


@pytest.mark.parametrize("status", [404, 500])
def test_feed_http_error_fails(httpserver, client, status):
    httpserver.expect_request("/feed.xml").respond_with_data("nope", status=status)
    result = fetch_feed(client, Feed(id=1, url=loopback_url(httpserver, "/feed.xml")), SETTINGS)
    assert result.outcome == "failed"
    assert result.entries == ()
    assert f"HTTP {status}" in result.error


@pytest.mark.parametrize(
    "body",
    [b"<html><body>not a feed", bytes(range(256)) * 4, b""],
    ids=["html", "binary", "empty"],
)
def test_feed_that_is_not_a_feed_fails(httpserver, client, body):
    httpserver.expect_request("/feed.xml").respond_with_data(body, content_type="application/xml")
    result = fetch_feed(client, Feed(id=1, url=loopback_url(httpserver, "/feed.xml")), SETTINGS)
    assert result.outcome == "failed"
    assert result.entries == ()
    assert "not a readable feed" in result.error


def test_parse_feed_refuses_garbage():
    with pytest.raises(FetchError, match="not a readable feed"):
        parse_feed(b"<html><body>not a feed", "http://127.0.0.1/feed", 10)


def test_parse_feed_respects_max_entries_and_skips_linkless_items():
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>no link</title><guid isPermaLink="false">g0</guid></item>
    <item><title>a</title><link>http://127.0.0.1/a</link></item>
    <item><title>b</title><link>http://127.0.0.1/b</link></item>
    <item><title>c</title><link>http://127.0.0.1/c</link></item>
    </channel></rss>"""
    entries = parse_feed(rss, "http://127.0.0.1/feed", 3)
    assert [e.link for e in entries] == ["http://127.0.0.1/a", "http://127.0.0.1/b"]


def test_atom_feed_is_parsed(httpserver, client):
    httpserver.expect_request("/atom.xml").respond_with_data(ATOM, content_type="application/atom+xml")
    result = fetch_feed(client, Feed(id=5, url=loopback_url(httpserver, "/atom.xml")), SETTINGS)

    assert result.outcome == "ok"
    assert len(result.entries) == 1
    (entry,) = result.entries
    assert isinstance(entry, FeedEntry)
    assert entry.link == "https://parts.example.org/zf-foxconn"
    assert entry.guid == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert entry.title == "ZF and Foxconn form chassis joint venture"
    assert entry.published_at == "2024-04-01T06:15:00+00:00"
    assert entry.author == "Max Mustermann"
    assert entry.summary == "ZF and Foxconn team up."
    assert entry.content == "<p>ZF and Foxconn announced a joint venture.</p>"


def test_slow_feed_times_out(httpserver, client):
    release = threading.Event()

    def slow(_request):
        # Sleeps up to 1.5 s, far longer than the 0.5 s read timeout; the
        # test releases it as soon as the client has given up, so the
        # single-threaded server is free again for the next test.
        release.wait(1.5)
        return Response(RSS, content_type="application/rss+xml")

    httpserver.expect_request("/slow.xml").respond_with_handler(slow)
    try:
        result = fetch_feed(client, Feed(id=1, url=loopback_url(httpserver, "/slow.xml")), SETTINGS)
    finally:
        release_slow_handler(httpserver, release)
    assert result.outcome == "failed"
    assert result.entries == ()
    assert "timed out" in result.error


def test_slow_page_raises_timeout(httpserver, client):
    release = threading.Event()

    def slow(_request):
        release.wait(1.5)
        return Response("<html><body>late</body></html>", content_type="text/html")

    httpserver.expect_request("/slow.html").respond_with_handler(slow)
    try:
        with pytest.raises(FetchError, match="timed out"):
            fetch_page(client, loopback_url(httpserver, "/slow.html"), SETTINGS, trusted_host="127.0.0.1")
    finally:
        release_slow_handler(httpserver, release)


# --- redirects -----------------------------------------------------------------


def test_feed_redirect_is_followed(httpserver, client):
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/feed.xml"})
    httpserver.expect_request("/feed.xml").respond_with_data(RSS, content_type="application/rss+xml")
    result = fetch_feed(client, Feed(id=1, url=loopback_url(httpserver, "/old")), SETTINGS)

    assert result.outcome == "ok"
    assert [e.guid for e in result.entries] == ["asw-1001", "asw-1002"]
    # a relative item link is resolved against the final (redirected) URL
    assert result.entries[0].link == loopback_url(httpserver, "/news/bosch-vw")
    assert [req.path for req, _ in httpserver.log] == ["/old", "/feed.xml"]


def test_page_redirect_is_followed(httpserver, client):
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": loopback_url(httpserver, "/article.html")}
    )
    httpserver.expect_request("/article.html").respond_with_data(
        "<html><body><p>Hello</p></body></html>", content_type="text/html; charset=utf-8"
    )
    start = loopback_url(httpserver, "/old")
    page = fetch_page(client, start, SETTINGS, trusted_host="127.0.0.1")

    assert page.url == start
    assert page.final_url == loopback_url(httpserver, "/article.html")
    assert page.status == 200
    assert page.body == b"<html><body><p>Hello</p></body></html>"
    assert page.content_type == "text/html; charset=utf-8"
    assert page.encoding == "utf-8"
    assert [req.path for req, _ in httpserver.log] == ["/old", "/article.html"]


def test_redirect_loop_fails_for_feed(httpserver, client):
    httpserver.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})
    settings = Settings(connect_timeout=1, read_timeout=0.5, max_redirects=2)
    result = fetch_feed(client, Feed(id=1, url=loopback_url(httpserver, "/loop")), settings)

    assert result.outcome == "failed"
    assert "more than 2 redirects" in result.error
    assert len(httpserver.log) == 3  # the first request and two redirects


def test_redirect_loop_fails_for_page(httpserver, client):
    httpserver.expect_request("/a").respond_with_data("", status=307, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=308, headers={"Location": "/a"})
    with pytest.raises(FetchError, match="redirects"):
        fetch_page(client, loopback_url(httpserver, "/a"), SETTINGS, trusted_host="127.0.0.1")
    assert len(httpserver.log) == SETTINGS.max_redirects + 1


def test_redirect_to_private_address_is_refused(httpserver, client):
    httpserver.expect_request("/article.html").respond_with_data(
        "", status=302, headers={"Location": "http://10.0.0.5/internal"}
    )
    with pytest.raises(FetchError, match="non-public") as excinfo:
        fetch_page(client, loopback_url(httpserver, "/article.html"), SETTINGS, trusted_host="127.0.0.1")
    assert "10.0.0.5" in str(excinfo.value)
    # the loopback page was fetched, the private target never was
    assert [req.path for req, _ in httpserver.log] == ["/article.html"]


def test_page_on_untrusted_loopback_is_refused_without_request(httpserver, client):
    httpserver.expect_request("/article.html").respond_with_data("<html></html>", content_type="text/html")
    with pytest.raises(FetchError, match="non-public"):
        fetch_page(client, loopback_url(httpserver, "/article.html"), SETTINGS)
    assert len(httpserver.log) == 0


# --- page errors and size cap ---------------------------------------------------


@pytest.mark.parametrize("status", [404, 500])
def test_page_http_error_raises(httpserver, client, status):
    httpserver.expect_request("/article.html").respond_with_data("err", status=status)
    with pytest.raises(FetchError, match=f"HTTP {status}"):
        fetch_page(client, loopback_url(httpserver, "/article.html"), SETTINGS, trusted_host="127.0.0.1")


def test_page_over_size_cap_with_content_length(httpserver, client):
    httpserver.expect_request("/big.html").respond_with_data("x" * 5000, content_type="text/html")
    settings = Settings(connect_timeout=1, read_timeout=0.5, max_response_bytes=1000)
    with pytest.raises(FetchError, match="1000-byte cap") as excinfo:
        fetch_page(client, loopback_url(httpserver, "/big.html"), settings, trusted_host="127.0.0.1")
    assert "5000" in str(excinfo.value)


def test_page_over_size_cap_when_streamed_without_length(httpserver, client):
    def chunks():
        for _ in range(10):
            yield b"y" * 300

    httpserver.expect_request("/stream.html").respond_with_handler(
        lambda _request: Response(chunks(), content_type="text/html")
    )
    settings = Settings(connect_timeout=1, read_timeout=0.5, max_response_bytes=1000)
    with pytest.raises(FetchError, match="over the 1000-byte cap"):
        fetch_page(client, loopback_url(httpserver, "/stream.html"), settings, trusted_host="127.0.0.1")


def test_page_at_size_cap_is_accepted(httpserver, client):
    httpserver.expect_request("/ok.html").respond_with_data("z" * 1000, content_type="text/html")
    settings = Settings(connect_timeout=1, read_timeout=0.5, max_response_bytes=1000)
    page = fetch_page(client, loopback_url(httpserver, "/ok.html"), settings, trusted_host="127.0.0.1")
    assert page.body == b"z" * 1000


def test_http_get_returns_response_body_and_final_url(httpserver, client):
    httpserver.expect_request("/start").respond_with_data("", status=303, headers={"Location": "/end"})
    httpserver.expect_request("/end").respond_with_data("done", content_type="text/plain")
    response, body, final_url = http_get(
        client, loopback_url(httpserver, "/start"), SETTINGS, trusted_host="127.0.0.1"
    )
    assert response.status_code == 200
    assert body == b"done"
    assert final_url == loopback_url(httpserver, "/end")


def test_http_get_connection_refused_is_fetch_error(client):
    # a loopback port that nothing listens on
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(FetchError, match="cannot fetch"):
        http_get(client, f"http://127.0.0.1:{port}/x", SETTINGS, trusted_host="127.0.0.1")


# --- address guard ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/x",
        "http://192.168.1.1/",
        "http://127.0.0.1:8080/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://0.0.0.0/",
    ],
)
def test_check_address_refuses_private_addresses(url):
    with pytest.raises(FetchError, match="non-public"):
        check_address(url)


def test_check_address_allows_trusted_loopback():
    assert check_address("http://127.0.0.1:8080/feed.xml", trusted_host="127.0.0.1") is None


def test_check_address_trusted_host_does_not_cover_other_hosts():
    with pytest.raises(FetchError, match="non-public"):
        check_address("http://10.0.0.5/x", trusted_host="127.0.0.1")


def test_check_address_allows_public_literal_ip():
    assert check_address("http://93.184.216.34/") is None


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/file", "not a url", "file:///etc/passwd", "http:///path"])
def test_check_address_refuses_non_http_urls(url):
    with pytest.raises(FetchError, match="not an http"):
        check_address(url, trusted_host="127.0.0.1")


# --- request headers ----------------------------------------------------------------


def test_requests_carry_project_user_agent(httpserver, client):
    ua = Settings().user_agent
    assert ua.startswith("supplywatch/")
    httpserver.expect_request("/feed.xml", headers={"User-Agent": ua}).respond_with_data(
        RSS, content_type="application/rss+xml"
    )
    httpserver.expect_request("/page.html", headers={"User-Agent": ua}).respond_with_data(
        "<html></html>", content_type="text/html"
    )
    result = fetch_feed(client, Feed(id=1, url=loopback_url(httpserver, "/feed.xml")), SETTINGS)
    page = fetch_page(client, loopback_url(httpserver, "/page.html"), SETTINGS, trusted_host="127.0.0.1")

    assert result.outcome == "ok"
    assert page.status == 200
    assert [req.headers["User-Agent"] for req, _ in httpserver.log] == [ua, ua]
    httpserver.check_assertions()


def test_feed_and_page_send_accept_headers(httpserver, client):
    httpserver.expect_request("/feed.xml").respond_with_data(RSS, content_type="application/rss+xml")
    httpserver.expect_request("/page.html").respond_with_data("<html></html>", content_type="text/html")
    fetch_feed(client, Feed(id=1, url=loopback_url(httpserver, "/feed.xml")), SETTINGS)
    fetch_page(client, loopback_url(httpserver, "/page.html"), SETTINGS, trusted_host="127.0.0.1")
    feed_request, page_request = (req for req, _ in httpserver.log)
    assert "application/rss+xml" in feed_request.headers["Accept"]
    assert page_request.headers["Accept"].startswith("text/html")


def test_feed_redirect_to_private_address_is_refused(httpserver):
    """A feed may live on a private host the user chose, but it cannot send
    the fetcher on to another private address."""
    settings = Settings(connect_timeout=1, read_timeout=0.5)
    httpserver.expect_request("/feed.xml").respond_with_data(
        "", status=302, headers={"Location": "http://10.0.0.5/feed.xml"}
    )
    feed = Feed(id=1, url=httpserver.url_for("/feed.xml"))
    with make_client(settings) as client:
        result = fetch_feed(client, feed, settings)
    assert result.outcome == "failed"
    assert "non-public" in result.error and "10.0.0.5" in result.error
