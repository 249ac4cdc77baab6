"""The scheduled service: when feeds are polled next, the single-instance
lock, and a real `supplywatch schedule` process on loopback feeds with
second-scale intervals, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug import Response

from pipeline import store
from pipeline.cli import cli
from pipeline.feeds import next_due_at, poll_interval
from pipeline.records import Feed, FeedResult
from pipeline.run import run_once
from pipeline.scheduler import instance_lock

from sitebuilder import PARTNERSHIP_ARTICLE, SUPPLY_ARTICLE, article_html, rss

SUPPLYWATCH = str(Path(sys.executable).parent / "supplywatch")


# ---- when a feed is polled next ---------------------------------------------------------

def minutes(feed: Feed, result: FeedResult, settings) -> float:
    return poll_interval(feed, result, settings).total_seconds() / 60


def test_failures_double_the_wait_up_to_the_cap(settings):
    settings = replace(settings, poll_minutes=30, max_backoff_minutes=600)
    waits = [minutes(Feed(1, "u", error_count=n), FeedResult(Feed(1, "u"), "failed"), settings) for n in range(8)]
    assert waits == [30, 60, 120, 240, 480, 600, 600, 600]
    assert minutes(Feed(1, "u", error_count=5), FeedResult(Feed(1, "u"), "ok"), settings) == 30  # success resets


def test_server_hints_and_the_feeds_own_interval(settings):
    settings = replace(settings, poll_minutes=30)
    assert minutes(Feed(1, "u"), FeedResult(Feed(1, "u"), "ok", wait_seconds=7200), settings) == 120
    assert minutes(Feed(1, "u"), FeedResult(Feed(1, "u"), "ok", wait_seconds=60), settings) == 30
    assert minutes(Feed(1, "u", poll_minutes=5), FeedResult(Feed(1, "u"), "ok"), settings) == 5


def test_jitter_stays_within_its_fraction(settings):
    settings = replace(settings, poll_minutes=60, poll_jitter=0.1)
    rng = random.Random(7)
    polled = "2026-01-01T00:00:00+00:00"
    dues = [datetime.fromisoformat(next_due_at(Feed(1, "u"), FeedResult(Feed(1, "u"), "ok"), settings, polled, rng))
            for _ in range(200)]
    offsets = [(due - datetime.fromisoformat(polled)).total_seconds() / 60 for due in dues]
    assert 54 <= min(offsets) < 57 and 63 < max(offsets) <= 66


def test_backoff_grows_on_a_failing_feed(httpserver, settings, nlp):
    settings = replace(settings, poll_minutes=1, poll_jitter=0)
    httpserver.expect_request("/down.xml").respond_with_data("down", status=503, headers={"Retry-After": "30"})
    httpserver.expect_request("/throttled.xml").respond_with_data("slow down", status=429, headers={"Retry-After": "600"})
    db = store.open_db(settings.db_path)
    down, _ = store.add_feed(db, httpserver.url_for("/down.xml"))
    throttled, _ = store.add_feed(db, httpserver.url_for("/throttled.xml"))
    gaps = []
    for _ in range(4):
        run_once(db, settings, nlp=nlp)
        feed = store.find_feed(db, str(down.id))
        gaps.append(round((datetime.fromisoformat(feed.next_due_at) - datetime.fromisoformat(feed.last_polled_at)).total_seconds()))
    assert gaps == [60, 120, 240, 480]
    assert store.find_feed(db, str(down.id)).error_count == 4
    slow = store.find_feed(db, str(throttled.id))
    assert (datetime.fromisoformat(slow.next_due_at) - datetime.fromisoformat(slow.last_polled_at)).total_seconds() >= 600
    assert store.due_feeds(db, store.utc_now()) == []  # nothing is due again yet


# ---- one instance at a time ---------------------------------------------------------------

def test_run_once_refuses_while_another_instance_holds_the_database(settings):
    db = store.open_db(settings.db_path)
    store.add_feed(db, "http://127.0.0.1:9/feed.xml")
    with instance_lock(settings.db_path, "schedule"):
        result = CliRunner().invoke(cli, ["--db", settings.db_path, "run", "--once"])
    assert result.exit_code == 1
    assert f"another supplywatch (pid {os.getpid()}, schedule) is working on {settings.db_path}" in result.output
    assert "Traceback" not in result.output


# ---- the real service -----------------------------------------------------------------------

def news_site(httpserver, articles: int) -> None:
    base = httpserver.url_for("")
    items = [{"title": f"Story {n}", "link": f"{base}/news/{n}", "date": f"2025-03-{1 + n % 28:02d}"} for n in range(articles)]
    httpserver.expect_request("/feed.xml").respond_with_handler(
        lambda _request: Response(rss(items), headers={"Content-Type": "application/rss+xml", "Cache-Control": "max-age=1"}))
    for n in range(articles):
        paragraphs = [f"Story {n}: " + p for p in (PARTNERSHIP_ARTICLE if n % 2 else SUPPLY_ARTICLE)]
        httpserver.expect_request(f"/news/{n}").respond_with_data(article_html(f"Story {n}", paragraphs), content_type="text/html")


def start_service(settings, tmp_path, workers: bool = False) -> subprocess.Popen:
    env = {**os.environ, "SUPPLYWATCH_SCHEDULER_TICK_SECONDS": "1", "SUPPLYWATCH_POLL_MINUTES": "0.02",
           "SUPPLYWATCH_POLL_JITTER": "0", "SUPPLYWATCH_NLP_BATCH_SIZE": "1",
           "SUPPLYWATCH_NLP_PROCESSES": "1" if workers else "0", "SUPPLYWATCH_NLP_WORKER_MIN_ARTICLES": "1"}
    log_file = open(tmp_path / "schedule.log", "w")
    return subprocess.Popen([SUPPLYWATCH, "--db", settings.db_path, "schedule"], env=env, cwd=tmp_path,
                            stdout=log_file, stderr=subprocess.STDOUT)


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def count(settings, table: str) -> int:
    db = store.open_db(settings.db_path)
    try:
        return db[table].count
    finally:
        db.close()


def service_over_site(httpserver, settings, tmp_path, articles: int, workers: bool = False) -> subprocess.Popen:
    """`supplywatch schedule` running over a loopback feed of `articles` stories."""
    news_site(httpserver, articles)
    db = store.open_db(settings.db_path)
    store.add_feed(db, httpserver.url_for("/feed.xml"))
    db.close()
    return start_service(settings, tmp_path, workers)


@pytest.mark.parametrize("reading", ["here", "in a worker"])
def test_schedule_polls_again_and_again_and_stops_cleanly_on_sigterm(httpserver, settings, tmp_path, reading):
    import psutil

    service = service_over_site(httpserver, settings, tmp_path, articles=40, workers=reading == "in a worker")
    try:
        assert wait_for(lambda: count(settings, "articles") >= 3, 60), (tmp_path / "schedule.log").read_text()
        children = psutil.Process(service.pid).children(recursive=True)
        service.send_signal(signal.SIGTERM)  # to the main process only, as systemd's KillMode=mixed does
        assert service.wait(timeout=30) == 0
    finally:
        if service.poll() is None:
            service.kill()
    assert bool(children) == (reading == "in a worker")
    _gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"processes outlived the service: {alive}"
    log_text = (tmp_path / "schedule.log").read_text()
    assert "SIGTERM received" in log_text and "scheduler stopped" in log_text

    stored, waiting = count(settings, "articles"), count(settings, "pending_entries")
    assert stored + waiting == 40  # every entry is either stored or still queued: nothing half-done
    db = store.open_db(settings.db_path)
    assert db.execute("SELECT COUNT(*) FROM articles a WHERE NOT EXISTS"
                      " (SELECT 1 FROM mentions m WHERE m.article_id = a.id)").fetchone()[0] == 0

    # a restart picks up the queue where the stopped service left it
    CliRunner().invoke(cli, ["--db", settings.db_path, "run", "--once"], catch_exceptions=False)
    assert count(settings, "articles") == 40 and count(settings, "pending_entries") == 0


def test_jobs_repeat_and_a_second_schedule_is_refused(httpserver, settings, tmp_path):
    service = service_over_site(httpserver, settings, tmp_path, articles=2)
    try:
        def feed_polls() -> int:
            return sum(1 for request, _response in httpserver.log if request.path == "/feed.xml")

        assert wait_for(lambda: feed_polls() >= 3, 60), (tmp_path / "schedule.log").read_text()
        second = subprocess.run([SUPPLYWATCH, "--db", settings.db_path, "schedule"], capture_output=True, text=True,
                                timeout=60, cwd=tmp_path)
        assert second.returncode == 1
        assert f"another supplywatch (pid {service.pid}, schedule)" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
        service.send_signal(signal.SIGINT)
        assert service.wait(timeout=15) == 0
    finally:
        if service.poll() is None:
            service.kill()
    assert count(settings, "articles") == 2
    log_lines = (tmp_path / "schedule.log").read_text().splitlines()
    assert any("poll: 1 feeds polled" in line for line in log_lines)
    assert any("read: 2 articles new" in line for line in log_lines)

    status = json.loads(CliRunner().invoke(cli, ["--db", settings.db_path, "status", "--json"]).output)
    [feed] = status["feeds"]
    assert feed["error_count"] == 0 and feed["last_polled_at"] and feed["next_due_at"] > feed["last_polled_at"]
    assert status["last_digest"] is None


def test_status_table(settings):
    db = store.open_db(settings.db_path)
    feed, _ = store.add_feed(db, "http://127.0.0.1:9/feed.xml", "Loopback news")
    store.record_poll(db, FeedResult(feed, "failed", error="HTTP 503"), "2026-01-01T00:00:00+00:00",
                      "2026-01-01T01:00:00+00:00")
    result = CliRunner().invoke(cli, ["--db", settings.db_path, "status"])
    assert result.exit_code == 0
    assert "Loopback news" in result.output and "2026-01-01 01:00" in result.output and "HTTP 503" in result.output
    assert "no digest sent yet" in result.output


@pytest.mark.parametrize("env, message", [
    ({"SUPPLYWATCH_DIGEST_TIME": "7am"}, "digest_time '7am'"),
    ({"SUPPLYWATCH_DIGEST_TIMEZONE": "Mars/Olympus"}, "digest_timezone 'Mars/Olympus'"),
])
def test_schedule_rejects_bad_digest_settings(settings, env, message):
    result = CliRunner().invoke(cli, ["--db", settings.db_path, "schedule"], env=env)
    assert result.exit_code == 1 and message in result.output
