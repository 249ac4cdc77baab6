"""The offline demo: a loopback web site whose feed carries the seed
articles as dated HTML pages, and a full pipeline run over it."""

from __future__ import annotations

import hashlib
import html
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import format_datetime
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .config import PROJECT_ROOT
from .errors import UserError

SEEDS_DIR = PROJECT_ROOT / "seeds"


@dataclass(frozen=True)
class SampleArticle:
    slug: str
    title: str
    author: str
    published: str  # YYYY-MM-DD
    text: str


def load_samples(seeds_dir: Path = SEEDS_DIR) -> list[SampleArticle]:
    """The demo feed's items: titles from demo_feed.json; text and date from
    the item itself, or for a seed article from gold-claims.jsonl."""
    try:
        listing = json.loads((seeds_dir / "demo_feed.json").read_text(encoding="utf-8"))
        gold_lines = (seeds_dir / "gold-claims.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"demo material missing in {seeds_dir}: {exc.strerror}; restore seeds/ from the repository") from None
    gold = {row["id"]: row for row in map(json.loads, filter(str.strip, gold_lines))}
    samples = []
    for item in listing["items"]:
        record = gold[item["id"]] if "id" in item else item
        text = (seeds_dir / record["file"]).read_text(encoding="utf-8")
        samples.append(SampleArticle(item["slug"], item["title"], item["author"], record["published"], text))
    return samples


def render_page(article: SampleArticle) -> bytes:
    paragraphs = "\n".join(
        f"<p>{html.escape(line)}</p>" for line in article.text.splitlines() if line.strip()
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(article.title)}</title>
<meta name="author" content="{html.escape(article.author)}">
<meta property="og:site_name" content="supplywatch sample news">
<meta property="article:published_time" content="{article.published}">
</head><body>
<nav><a href="/">Home</a> | <a href="/feed.xml">Feed</a></nav>
<article><h1>{html.escape(article.title)}</h1>
{paragraphs}
</article>
<footer>Sample page served by supplywatch demo.</footer>
</body></html>"""
    return page.encode("utf-8")


def _rfc822(day: str) -> str:
    return format_datetime(datetime.fromisoformat(day).replace(hour=9, tzinfo=timezone.utc))


def render_feed(articles: list[SampleArticle], base_url: str) -> bytes:
    items = "\n".join(
        f"""<item><title>{html.escape(a.title)}</title>
<link>{base_url}/articles/{a.slug}.html</link>
<guid isPermaLink="false">supplywatch-sample-{a.slug}</guid>
<pubDate>{_rfc822(a.published)}</pubDate>
<description>{html.escape(a.text.split(chr(10))[0])}</description></item>"""
        for a in articles
    )
    feed = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>supplywatch sample feed</title><link>{base_url}/</link>
<description>The labelled seed articles, served offline.</description>
{items}
</channel></rss>"""
    return feed.encode("utf-8")


def sample_site(base_url: str, samples: list[SampleArticle]) -> dict[str, tuple[str, bytes]]:
    """path -> (content type, body) for the whole sample site."""
    site = {"/feed.xml": ("application/rss+xml", render_feed(samples, base_url))}
    for article in samples:
        site[f"/articles/{article.slug}.html"] = ("text/html; charset=utf-8", render_page(article))
    return site


class _SiteHandler(BaseHTTPRequestHandler):
    site: dict[str, tuple[str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        found = self.site.get(self.path.split("?", 1)[0])
        if found is None:
            self.send_error(404)
            return
        content_type, body = found
        etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # keep the demo's output clean
        return


@contextmanager
def serve_samples(samples: list[SampleArticle]) -> Iterator[str]:
    """Serve the sample site on 127.0.0.1 (a free port); yields its base URL."""
    handler = type("SampleSite", (_SiteHandler,), {"site": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    handler.site = sample_site(base_url, samples)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
