"""Tests of pipeline.extract: canonical URLs, hashes, dates and main text."""

from __future__ import annotations

import pytest

from pipeline.extract import (
    article_from_entry,
    article_from_page,
    canonical_url,
    content_hash,
    normalise_date,
    text_of_document,
)
from pipeline.records import FeedEntry, Page

PARAGRAPHS = [
    "Bosch will supply brake-by-wire systems to Volkswagen for its next generation of electric "
    "compact cars, the two companies said on Tuesday. The contract covers production in Europe "
    "and China starting in 2026 and is worth several billion euros over its lifetime.",
    "The deal extends a partnership that began a decade ago with electronic stability control "
    "units. Volkswagen said it chose the supplier after a two-year tender in which four companies "
    "competed, citing both price and the maturity of the software that controls the braking hardware.",
    "Analysts said the agreement strengthens Bosch's position against rivals such as Continental "
    "and ZF, which have both invested heavily in by-wire technology. Shares of the supplier's listed "
    "peers moved little on the news, while Volkswagen's stock closed slightly higher in Frankfurt trading.",
]
TITLE = "Bosch to supply brake-by-wire to Volkswagen"

ARTICLE_HTML = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{TITLE}</title>
  <meta name="author" content="Jane Doe">
  <meta property="og:site_name" content="Auto Supply Weekly">
  <meta property="og:title" content="{TITLE}">
  <meta property="article:published_time" content="2024-03-05T09:30:00+01:00">
</head>
<body>
  <header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/subscribe">Subscribe now</a></nav></header>
  <main>
    <article>
      <h1>{TITLE}</h1>
      {''.join(f'<p>{p}</p>' for p in PARAGRAPHS)}
    </article>
  </main>
  <footer><p>Copyright 2024 Auto Supply Weekly. All rights reserved.</p></footer>
</body>
</html>
""".encode("utf-8")

ENTRY = FeedEntry(
    link="https://news.example.com/bosch-vw?utm_source=rss&utm_medium=feed",
    guid="asw-1001",
    title="Feed title: Bosch and VW",
    published_at="2024-03-04T18:00:00+00:00",
    author="Feed Author",
    summary="<p>Short <b>summary</b> of the story.</p>",
    content="<div><p>Bosch will supply <a href='/x'>brakes</a> to VW.</p><ul><li>Europe</li><li>China</li></ul></div>",
)


def page(body: bytes, content_type: str = "text/html; charset=utf-8",
         url: str = "https://news.example.com/bosch-vw?utm_source=rss",
         final_url: str = "https://News.Example.com/bosch-vw?utm_source=rss#top") -> Page:
    return Page(url=url, final_url=final_url, status=200, content_type=content_type, body=body)


# --- canonical_url --------------------------------------------------------------


def test_canonical_url_strips_tracking_fragment_port_and_sorts_query():
    url = ("HTTPS://News.Example.COM:443/Path/Story?utm_source=x&b=2&fbclid=abc&a=1"
           "&gclid=zz&utm_medium=email&UTM_Campaign=c#comments")
    assert canonical_url(url) == "https://news.example.com/Path/Story?a=1&b=2"


def test_canonical_url_drops_default_http_port_keeps_other_port():
    assert canonical_url("http://Example.com:80/x?id=5") == "http://example.com/x?id=5"
    assert canonical_url("http://Example.com:8080/x?id=5") == "http://example.com:8080/x?id=5"
    assert canonical_url("https://example.com:80/x") == "https://example.com:80/x"


def test_canonical_url_keeps_non_tracking_params_and_blank_values():
    assert canonical_url("https://example.com/search?q=brakes&page=2&empty=") == (
        "https://example.com/search?empty=&page=2&q=brakes"
    )


def test_canonical_url_of_equivalent_urls_is_equal():
    a = canonical_url("https://example.com/a?x=1&y=2&utm_source=feed")
    b = canonical_url("https://EXAMPLE.com:443/a?y=2&fbclid=1&x=1#frag")
    assert a == b == "https://example.com/a?x=1&y=2"


def test_canonical_url_empty_path_becomes_slash():
    assert canonical_url("https://example.com?utm_source=x") == "https://example.com/"


# --- content_hash ----------------------------------------------------------------


def test_content_hash_ignores_case_and_whitespace():
    h = content_hash("Bosch supplies   brakes\nto VW.")
    assert h == content_hash("  bosch SUPPLIES brakes to\tvw.  ")
    assert len(h) == 64
    assert int(h, 16) >= 0


def test_content_hash_differs_for_different_text():
    assert content_hash("Bosch supplies brakes to VW.") != content_hash("Bosch supplies brakes to BMW.")
    assert content_hash("abc") != content_hash("ab c")


# --- normalise_date ----------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-03-05", "2024-03-05"),
        ("  2024-03-05 ", "2024-03-05"),
        ("2024-03-05T10:15:00Z", "2024-03-05T10:15:00+00:00"),
        ("2024-03-05T12:15:00+02:00", "2024-03-05T10:15:00+00:00"),
        ("2024-03-05T23:30:00-05:00", "2024-03-06T04:30:00+00:00"),
        ("2024-03-05T10:15:00.123456Z", "2024-03-05T10:15:00+00:00"),
        ("2024-03-05T10:15:00", "2024-03-05T10:15:00+00:00"),
    ],
)
def test_normalise_date_valid(value, expected):
    assert normalise_date(value) == expected


@pytest.mark.parametrize("value", [None, "", "yesterday", "2024-13-45", "not a date at all", "05/03/2024"])
def test_normalise_date_garbage_is_none(value):
    assert normalise_date(value) is None


# --- article_from_page --------------------------------------------------------------


def test_article_from_realistic_page():
    article = article_from_page(page(ARTICLE_HTML), fetched_at="2024-03-05T12:00:00+00:00")

    assert article is not None
    assert article.source == "page"
    assert article.title == TITLE
    assert article.author == "Jane Doe"
    assert article.site == "Auto Supply Weekly"
    assert article.published_at == "2024-03-05"
    assert article.url == "https://news.example.com/bosch-vw?utm_source=rss"
    assert article.canonical_url == "https://news.example.com/bosch-vw"
    assert article.fetched_at == "2024-03-05T12:00:00+00:00"
    for paragraph in PARAGRAPHS:
        assert paragraph in article.text
    assert "Subscribe now" not in article.text
    assert "All rights reserved" not in article.text
    assert article.content_hash == content_hash(article.text)
    assert article.feed_id is None and article.guid is None


def test_article_from_page_with_entry_keeps_entry_identity():
    article = article_from_page(page(ARTICLE_HTML), ENTRY, feed_id=9)

    assert article is not None
    assert article.source == "page"
    assert article.feed_id == 9
    assert article.guid == "asw-1001"
    # page metadata wins for title/author; the feed's date wins for published_at
    assert article.title == TITLE
    assert article.author == "Jane Doe"
    assert article.published_at == "2024-03-04T18:00:00+00:00"
    assert PARAGRAPHS[0] in article.text


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"<html><head><title>Empty</title></head><body></body></html>", "text/html"),
        (b"", "text/html"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb", "image/jpeg"),
    ],
    ids=["empty-body", "no-bytes", "png", "jpeg"],
)
def test_article_from_page_without_text_falls_back_to_entry_content(body, content_type):
    article = article_from_page(page(body, content_type), ENTRY, feed_id=3, fetched_at="2024-03-05T12:00:00+00:00")

    assert article is not None
    assert article.source == "feed_entry"
    assert article.text == "Bosch will supply brakes to VW.\nEurope\nChina"
    assert article.title == "Feed title: Bosch and VW"
    assert article.author == "Feed Author"
    assert article.published_at == "2024-03-04T18:00:00+00:00"
    assert article.url == ENTRY.link
    assert article.canonical_url == "https://news.example.com/bosch-vw"
    assert article.site == "news.example.com"
    assert article.guid == "asw-1001"
    assert article.feed_id == 3
    assert article.fetched_at == "2024-03-05T12:00:00+00:00"


def test_article_from_page_without_text_falls_back_to_entry_summary():
    entry = FeedEntry(link="https://news.example.com/s", title="S", summary="<p>Short <b>summary</b> of the story.</p>")
    article = article_from_page(page(b"<html><body></body></html>"), entry)
    assert article is not None
    assert article.source == "feed_entry"
    assert article.text == "Short summary of the story."


def test_article_from_page_with_no_text_anywhere_is_none():
    entry = FeedEntry(link="https://news.example.com/s", title="S")
    assert article_from_page(page(b"<html><body></body></html>"), entry) is None
    assert article_from_page(page(b"<html><body></body></html>")) is None


# --- article_from_entry ---------------------------------------------------------------


def test_article_from_entry_strips_html_and_prefers_content():
    article = article_from_entry(ENTRY, feed_id=4)
    assert article is not None
    assert article.source == "feed_entry"
    assert article.text == "Bosch will supply brakes to VW.\nEurope\nChina"
    assert "<" not in article.text and ">" not in article.text
    assert article.content_hash == content_hash("Bosch will supply brakes to VW.\nEurope\nChina")
    assert article.feed_id == 4


def test_article_from_entry_uses_summary_when_no_content():
    entry = FeedEntry(
        link="https://news.example.com/a?fbclid=1",
        summary="<p>First <em>paragraph</em>.</p><p>Second<br>line.</p>",
    )
    article = article_from_entry(entry)
    assert article is not None
    assert article.text == "First paragraph.\nSecond\nline."
    assert article.canonical_url == "https://news.example.com/a"


def test_article_from_entry_plain_text_summary():
    entry = FeedEntry(link="https://news.example.com/a", summary="Magna opens a new plant in Graz.")
    article = article_from_entry(entry)
    assert article is not None
    assert article.text == "Magna opens a new plant in Graz."


@pytest.mark.parametrize("summary", [None, "", "   \n  "])
def test_article_from_entry_without_text_is_none(summary):
    assert article_from_entry(FeedEntry(link="https://news.example.com/a", summary=summary)) is None


# --- text_of_document ---------------------------------------------------------------------


def test_text_of_document_plain_text_is_returned_as_is():
    data = "Continental sells its brake unit to Aumovio.\n\nSecond  paragraph, café.  \n".encode("utf-8")
    text, title = text_of_document(data, "notes.txt")
    assert text == "Continental sells its brake unit to Aumovio.\n\nSecond  paragraph, café.  \n"
    assert title is None


def test_text_of_document_html_extracts_main_text_and_title():
    text, title = text_of_document(ARTICLE_HTML, "article.html")
    assert title == TITLE
    for paragraph in PARAGRAPHS:
        assert paragraph in text
    assert "Subscribe now" not in text
    assert "All rights reserved" not in text
    assert text == text.strip()


def test_text_of_document_html_with_url_source():
    text, title = text_of_document(ARTICLE_HTML, "https://news.example.com/bosch-vw")
    assert title == TITLE
    assert PARAGRAPHS[2] in text


# --- once known bugs, now fixed ----------------------------------------------------


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://[2001:DB8::1]:8080/a?utm_source=x&b=1", "http://[2001:db8::1]:8080/a?b=1"),
        ("https://[2001:db8::1]:443/a#frag", "https://[2001:db8::1]/a"),
    ],
)
def test_canonical_url_keeps_ipv6_brackets(url, expected):
    assert canonical_url(url) == expected


def test_text_of_document_html_with_utf8_bom():
    text, title = text_of_document(b"\xef\xbb\xbf" + ARTICLE_HTML, "article.html")
    assert title == TITLE
    assert PARAGRAPHS[0] in text
    assert "<p>" not in text and "<!DOCTYPE" not in text


@pytest.mark.parametrize(
    "prefix",
    [b"<!-- saved from url=(0014)about:internet -->\n", b"<?xml version='1.0' encoding='utf-8'?>\n"],
    ids=["leading-comment", "xml-prolog"],
)
def test_text_of_document_html_with_leading_comment_or_prolog(prefix):
    text, title = text_of_document(prefix + ARTICLE_HTML, "article.html")
    assert title == TITLE
    assert PARAGRAPHS[0] in text
    assert "<p>" not in text
