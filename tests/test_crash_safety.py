"""Crash safety: a run killed with SIGKILL and run again stores every
article exactly once with nothing half-written; corrupt, read-only and full
databases give one-line errors and lose nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Response

from pipeline import store
from pipeline.cli import cli
from pipeline.errors import UserError
from pipeline.extract import content_hash
from pipeline.records import Article, Claim, Extraction, Mention

from sitebuilder import PARTNERSHIP_ARTICLE, SUPPLY_ARTICLE, article_html, rss

SUPPLYWATCH = str(Path(sys.executable).parent / "supplywatch")
ARTICLES = 40


@pytest.fixture
def slow_site():
    """A threaded loopback site whose pages take a little while, so a run
    can be killed in the middle."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    base = server.url_for("")
    items = [{"title": f"Story {n}", "link": f"{base}/news/{n}", "date": f"2025-04-{1 + n % 28:02d}"} for n in range(ARTICLES)]
    server.expect_request("/feed.xml").respond_with_data(rss(items), content_type="application/rss+xml")

    def page(request):
        time.sleep(0.05)
        n = int(request.path.rsplit("/", 1)[1])
        paragraphs = [f"In story {n}, " + p for p in (PARTNERSHIP_ARTICLE if n % 2 else SUPPLY_ARTICLE)]
        return Response(article_html(f"Story {n}", paragraphs), content_type="text/html")

    import re

    server.expect_request(re.compile(r"^/news/\d+$")).respond_with_handler(page)
    yield server
    server.clear()
    server.stop()


def count(db_path: str, sql: str) -> int:
    connection = sqlite3.connect(db_path, timeout=10)
    try:
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


@pytest.mark.parametrize("reading", ["here", "in a worker"])
def test_sigkill_mid_run_then_run_again_stores_each_article_once(slow_site, settings, tmp_path, reading):
    import psutil

    db = store.open_db(settings.db_path)
    store.add_feed(db, slow_site.url_for("/feed.xml"))
    db.close()
    env = {**os.environ, "SUPPLYWATCH_NLP_BATCH_SIZE": "2", "SUPPLYWATCH_FETCH_WORKERS": "2",
           "SUPPLYWATCH_NLP_PROCESSES": "1" if reading == "in a worker" else "0",
           "SUPPLYWATCH_NLP_WORKER_MIN_ARTICLES": "1"}
    run = subprocess.Popen([SUPPLYWATCH, "--db", settings.db_path, "run", "--once"], env=env, cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and count(settings.db_path, "SELECT COUNT(*) FROM articles") < 6:
        time.sleep(0.05)
    children = psutil.Process(run.pid).children(recursive=True)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)
    stored_at_kill = count(settings.db_path, "SELECT COUNT(*) FROM articles")
    assert 6 <= stored_at_kill < ARTICLES, "the run was not caught in the middle"
    if reading == "in a worker":
        assert children, "no NLP worker was running"
    _gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"processes outlived the killed run: {alive}"

    again = subprocess.run([SUPPLYWATCH, "--db", settings.db_path, "run", "--once"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr[-2000:]

    assert count(settings.db_path, "SELECT COUNT(*) FROM articles") == ARTICLES
    assert count(settings.db_path, "SELECT COUNT(DISTINCT canonical_url) FROM articles") == ARTICLES
    assert count(settings.db_path, "SELECT COUNT(*) FROM pending_entries") == 0
    # nothing half-written: every article has its mentions, every claim its evidence, no evidence dangles
    assert count(settings.db_path, "SELECT COUNT(*) FROM articles a WHERE NOT EXISTS "
                                   "(SELECT 1 FROM mentions m WHERE m.article_id = a.id)") == 0
    assert count(settings.db_path, "SELECT COUNT(*) FROM claims c WHERE NOT EXISTS "
                                   "(SELECT 1 FROM claim_evidence e WHERE e.claim_id = c.id)") == 0
    assert count(settings.db_path, "SELECT COUNT(*) FROM claim_evidence e WHERE NOT EXISTS "
                                   "(SELECT 1 FROM articles a WHERE a.id = e.article_id)") == 0
    assert count(settings.db_path, "SELECT COUNT(*) FROM claim_evidence") == count(
        settings.db_path, "SELECT COUNT(*) FROM (SELECT DISTINCT claim_id, article_id FROM claim_evidence)")
    # the change events are exactly what the evidence implies
    db = store.open_db(settings.db_path)
    before = sorted(db.execute("SELECT * FROM claim_changes").fetchall())
    with store.writing(db):
        store.rebuild_changes(db)
    assert sorted(db.execute("SELECT * FROM claim_changes").fetchall()) == before
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---- databases that cannot be used --------------------------------------------------

def saved_article(db, slug: str, words: int = 50) -> None:
    text = f"{slug}: " + "Bosch supplies electric axles to Volvo Cars. " * words
    item = Article(url=f"https://news.example/{slug}", canonical_url=f"https://news.example/{slug}", text=text,
                   content_hash=content_hash(text), source="page", title=slug, site="news.example",
                   published_at="2025-01-01", fetched_at=store.utc_now())
    claim = Claim("SUPPLIES", "Bosch", "Volvo Cars", "active", "Bosch supplies electric axles to Volvo Cars.", 0.9)
    mentions = tuple(Mention("Bosch", "ORG", text.index("Bosch", n * 10), text.index("Bosch", n * 10) + 5, "Bosch")
                     for n in range(words // 2))
    store.save_article(db, item, Extraction(mentions=mentions, claims=(claim,)))


def test_a_full_disk_is_a_clear_error_and_loses_nothing(settings):
    db = store.open_db(settings.db_path)
    saved_article(db, "first")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + 2}")  # the disk fills up after two more pages
    with pytest.raises(UserError, match="cannot write to .*full.*what was stored before is intact"):
        saved_article(db, "too-big", words=4000)
    db.close()
    reopened = store.open_db(settings.db_path)
    assert [row["title"] for row in reopened["articles"].rows] == ["first"]
    assert reopened["claim_evidence"].count == 1 and reopened.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_read_only_database_is_a_clear_error(settings):
    db = store.open_db(settings.db_path)
    saved_article(db, "first")
    db.execute("PRAGMA query_only = 1")  # what SQLite answers on a read-only file or mount
    with pytest.raises(UserError, match="cannot write to"):
        saved_article(db, "second")
    assert db["articles"].count == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="file permissions do not bind root")
def test_a_read_only_file_through_the_cli(settings):
    store.open_db(settings.db_path).close()
    os.chmod(settings.db_path, 0o444)
    result = CliRunner().invoke(cli, ["--db", settings.db_path, "feeds", "add", "https://example.com/feed.xml"])
    assert result.exit_code == 1 and "Error:" in result.output and "Traceback" not in result.output


def test_a_corrupt_database_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database, just bytes " * 200)
    result = CliRunner().invoke(cli, ["--db", str(broken), "claims"])
    assert result.exit_code == 1
    assert "Error: cannot use database" in result.output and "not a database" in result.output
    assert len(result.output.strip().splitlines()) == 1
