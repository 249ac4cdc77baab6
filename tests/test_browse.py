"""Browsing the store with Datasette: the metadata, canned queries, facets,
search, labels, the timeline page, read-only access while a writer works,
and one real-browser check with headless Chromium."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from datasette.app import Datasette

from pipeline import store
from pipeline.browse import metadata_for
from pipeline.digest import claim_link
from pipeline.extract import content_hash
from pipeline.records import Article, Claim, Extraction, Mention

SUPPLYWATCH = str(Path(sys.executable).parent / "supplywatch")


def save(db, slug: str, site: str, published: str, claims: tuple[Claim, ...], title: str | None = None) -> None:
    text = f"{title or slug}. " + " ".join(c.evidence for c in claims)
    names = sorted({(c.subject, c.subject_label) for c in claims} | {(c.object, c.object_label) for c in claims})
    mentions = tuple(Mention(n, label, text.index(n), text.index(n) + len(n), n) for n, label in names if n in text)
    item = Article(url=f"https://{site}/{slug}", canonical_url=f"https://{site}/{slug}", text=text,
                   content_hash=content_hash(text), source="page", title=title or slug, site=site,
                   published_at=published, fetched_at=store.utc_now())
    store.save_article(db, item, Extraction(mentions=mentions, claims=claims))


def fixture_store(path: str) -> None:
    db = store.open_db(path)
    save(db, "valeo-2022", "autonews.example", "2022-10-17", (
        Claim("PARTNERS_WITH", "Renault", "Valeo", "active", "Renault and Valeo signed a partnership on a motor.", 0.9),))
    save(db, "valeo-2025", "reuters.example", "2025-11-14", (
        Claim("PARTNERS_WITH", "Renault", "Valeo", "ended", "Renault ended its partnership with Valeo on the stator.", 0.9),
        Claim("SOURCES_FROM", "Renault", "China", "possible", "The stator might come from a Chinese supplier.", 0.7,
              component="stator", object_label="GPE"),
    ), title="Renault drops Valeo")
    save(db, "nissan-2023", "autonews.example", "2023-02-01", (
        Claim("SUPPLIES", "LG Energy Solution", "Nissan", "active", "LG Energy Solution supplies cells to Nissan.", 0.8,
              component="battery cells"),))
    save(db, "nissan-2025", "reuters.example", "2025-06-01", (
        Claim("SUPPLIES", "LG Energy Solution", "Nissan", "ended", "Nissan stopped buying cells from LG Energy Solution.", 0.8,
              component="battery cells"),
        Claim("SUPPLIES", "CATL", "Nissan", "active", "Nissan now buys battery cells from CATL.", 0.8, component="battery cells"),
    ), title="Nissan switches to CATL <script>alert(1)</script>")
    db.close()


@pytest.fixture
def browsed(settings):
    fixture_store(settings.db_path)
    return Datasette([settings.db_path], metadata=metadata_for(settings.db_path))


def get(datasette: Datasette, path: str) -> httpx.Response:
    async def fetch():
        await datasette.invoke_startup()
        return await datasette.client.get(path)

    return asyncio.run(fetch())


def rows(datasette: Datasette, path: str) -> list[dict]:
    page, _, query = path.partition("?")
    response = get(datasette, f"{page}.json?{query}&_shape=array")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("query, expected", [
    ("changes_this_week", {("status", "Renault PARTNERS_WITH Valeo", "ended"), ("status", "LG Energy Solution SUPPLIES Nissan", "ended"),
                           ("supplier_switch", "CATL SUPPLIES Nissan", "active")}),
    ("who_supplies?company=nissan", {("CATL", "active"), ("LG Energy Solution", "ended")}),
    ("partnerships_ended", {("Renault", "Valeo")}),
    ("sourcing_from_china", {("Renault", "possible", "stator")}),
    ("company_timeline?company=Valeo", {("2022-10-17", "active"), ("2025-11-14", "ended")}),
    ("single_source_claims", {("Renault SOURCES_FROM China", "reuters.example"), ("CATL SUPPLIES Nissan", "reuters.example")}),
])
def test_every_canned_query_returns_the_expected_rows(browsed, query, expected):
    found = rows(browsed, f"/test/{query}")
    keys = {
        "changes_this_week": lambda r: (r["kind"], r["claim"], r["after_status"]),
        "who_supplies": lambda r: (r["supplier"], r["status"]),
        "partnerships_ended": lambda r: (r["subject"], r["object"]),
        "sourcing_from_china": lambda r: (r["company"], r["status"], r["component"]),
        "company_timeline": lambda r: (r["date"][:10], r["status"]),
        "single_source_claims": lambda r: (r["claim"], r["site"]),
    }[query.split("?")[0]]
    assert {keys(r) for r in found} == expected


def test_metadata_describes_tables_and_hides_internals(browsed):
    database = get(browsed, "/test.json").json()
    tables = {t["name"]: t for t in database["tables"]}
    assert tables["pending_entries"]["hidden"] and tables["_sqlite_migrations"]["hidden"]
    assert tables["articles_fts"]["hidden"] and not tables["claims"]["hidden"]
    page = get(browsed, "/test/claim_evidence").text
    assert "Each article&#39;s statement of a claim" in page or "Each article's statement of a claim" in page
    assert browsed.metadata("description", database="test", table="claims").startswith("One row per claim")
    assert browsed.metadata("columns", database="test", table="claim_evidence")["sentence"] == "The sentence the claim was read from"


def test_facets_search_and_labels(browsed):
    facets = get(browsed, "/test/claim_evidence.json").json()["facet_results"]
    assert {f["value"] for f in facets["status"]["results"]} == {"active", "ended", "possible"}
    assert {f["value"] for f in facets["site"]["results"]} == {"autonews.example", "reuters.example"}
    labelled = rows(browsed, "/test/claim_evidence?_labels=on")
    assert "Renault PARTNERS_WITH Valeo" in {row["claim_id"]["label"] for row in labelled}
    assert "Renault drops Valeo" in {row["article_id"]["label"] for row in labelled}
    assert {r["title"] for r in rows(browsed, "/test/articles?_search=Valeo")} == {"Renault drops Valeo", "valeo-2022"}
    assert [r["title"] for r in rows(browsed, "/test/articles?_search=CATL")] == ["Nissan switches to CATL <script>alert(1)</script>"]
    sentences = [r["sentence"] for r in rows(browsed, "/test/claim_evidence?_search=stator")]
    assert len(sentences) == 2 and all("stator" in s for s in sentences)
    assert {f["value"] for f in get(browsed, "/test/claims.json").json()["facet_results"]["relation"]["results"]} == {
        "PARTNERS_WITH", "SOURCES_FROM", "SUPPLIES"}


def test_the_store_cannot_be_written_through_datasette(browsed, settings):
    before = store.open_db(settings.db_path)["claims"].count
    for sql in ("delete from claims", "insert into feeds (url, error_count) values ('x', 0)", "drop table claims"):
        response = get(browsed, f"/test.json?sql={sql}")
        assert response.status_code == 400, sql
    assert store.open_db(settings.db_path)["claims"].count == before


def test_browsing_while_a_writer_holds_a_transaction(browsed, settings):
    writer = sqlite3.connect(settings.db_path, timeout=5)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE feeds SET name = 'busy'")
    writer.execute("INSERT INTO entities (canonical, label) VALUES ('Uncommitted Motors', 'ORG')")
    try:
        names = {r["canonical"] for r in rows(browsed, "/test/entities?_size=max")}
        assert "Renault" in names and "Uncommitted Motors" not in names
    finally:
        writer.rollback()
        writer.close()


def test_timeline_page_and_digest_links_land_on_it(browsed, settings):
    db = store.open_db(settings.db_path)
    claim_id = db.execute("SELECT id FROM claims WHERE label = 'Renault PARTNERS_WITH Valeo'").fetchone()[0]
    link = claim_link(replace(settings, datasette_url="http://127.0.0.1:8001"), claim_id)
    assert link == f"http://127.0.0.1:8001/-/timeline/test/{claim_id}"
    page = get(browsed, link.removeprefix("http://127.0.0.1:8001"))
    assert page.status_code == 200
    html = page.text
    assert "Renault PARTNERS_WITH Valeo" in html and html.count("<circle") == 2
    assert "Current status" in html and ">ended<" in html
    evidence_table = html.split("<h2>Evidence</h2>")[1]
    assert evidence_table.index("2022-10-17") < evidence_table.index("2025-11-14")
    assert get(browsed, "/-/timeline/test/9999").status_code == 404
    assert get(browsed, "/-/timeline/nodb/1").status_code == 404
    nissan = get(browsed, "/test/articles?_search=Nissan").text
    assert "<script>alert(1)</script>" not in nissan and "&lt;script&gt;alert(1)&lt;/script&gt;" in nissan
    claims_page = get(browsed, "/test/claims").text
    assert f'href="/-/timeline/test/{claim_id}"' in claims_page


def test_browse_refuses_a_missing_database(tmp_path):
    from click.testing import CliRunner

    from pipeline.cli import cli

    missing = tmp_path / "none.db"
    result = CliRunner().invoke(cli, ["--db", str(missing), "browse"])
    assert result.exit_code == 1 and f"no database at {missing}" in result.output
    assert not missing.exists()  # browsing never creates an empty store


# ---- a real browser ---------------------------------------------------------------------

def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(chromium() is None, reason="no Chromium here: .ci/run installs Debian's chromium; apt-get install chromium")
def test_claims_page_and_timeline_in_headless_chromium(settings, tmp_path):
    fixture_store(settings.db_path)
    port = free_port()
    server = subprocess.Popen([SUPPLYWATCH, "--db", settings.db_path, "browse", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/-/versions.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        claim_id = store.open_db(settings.db_path).execute(
            "SELECT id FROM claims WHERE label = 'Renault PARTNERS_WITH Valeo'").fetchone()[0]
        shots = {}
        for name, path in (("claims", "/test/claims"), ("timeline", f"/-/timeline/test/{claim_id}")):
            shot = tmp_path / f"{name}.png"
            browser = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                       f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900"]
            subprocess.run(browser + [f"--screenshot={shot}", base + path], capture_output=True, timeout=90, check=False)
            dom = subprocess.run(browser + ["--dump-dom", base + path], capture_output=True, text=True, timeout=90).stdout
            shots[name] = (shot, dom)
        claims_shot, claims_dom = shots["claims"]
        timeline_shot, timeline_dom = shots["timeline"]
        assert "Renault PARTNERS_WITH Valeo" in claims_dom and "CATL SUPPLIES Nissan" in claims_dom
        assert "Renault PARTNERS_WITH Valeo" in timeline_dom and "Current status" in timeline_dom
        for shot in (claims_shot, timeline_shot):
            assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
        saved = Path(os.environ.get("SUPPLYWATCH_SCREENSHOTS", tmp_path))
        saved.mkdir(parents=True, exist_ok=True)
        for shot in (claims_shot, timeline_shot):
            if saved != tmp_path:
                shutil.copy(shot, saved / shot.name)
    finally:
        server.terminate()
        assert server.wait(timeout=15) == 0
    # stopping `browse` stops its Datasette too: nothing is left serving
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/-/versions.json", timeout=2)
