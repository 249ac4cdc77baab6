"""Reprocessing stored articles with the current pipeline: here, and fanned
out to the workers of a local Dask cluster with this process as the single
writer. Both give the same store."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from pipeline import store
from pipeline.cli import cli
from pipeline.extract import content_hash
from pipeline.nlp import extract_many
from pipeline.records import Article, Claim, Extraction

from sitebuilder import PARTNERSHIP_ARTICLE, SUPPLY_ARTICLE

TEXTS = [
    " ".join(PARTNERSHIP_ARTICLE),
    " ".join(SUPPLY_ARTICLE),
    "Nissan replaced LG Energy Solution with CATL as its supplier of battery cells for the Leaf.",
    "Renault and Valeo announced a partnership to develop a rare-earth-free electric motor.",
    "Renault has ended its partnership with Valeo on the motor, the French carmaker said.",
    "Toyota will buy solid-state battery cells from Idemitsu Kosan from 2028.",
]


DATES = [f"{2020 + n}-0{n + 1}-10" for n in range(len(TEXTS))]


def label_of(claim: Claim) -> str:
    subject, obj = claim.subject, claim.object
    if claim.relation == "PARTNERS_WITH":
        subject, obj = sorted((subject, obj), key=str.casefold)
    return f"{subject} {claim.relation} {obj}"


def stale_store(path: str) -> None:
    """Articles stored with an old, wrong reading: one made-up claim each."""
    db = store.open_db(path)
    for n, text in enumerate(TEXTS):
        item = Article(url=f"https://news.example/{n}", canonical_url=f"https://news.example/{n}", text=text,
                       content_hash=content_hash(text), source="page", title=f"story {n}", site="news.example",
                       published_at=DATES[n], fetched_at=store.utc_now())
        wrong = Claim("SUPPLIES", "Acme Parts", "Nobody Motors", "active", text[:40], 0.5)
        store.save_article(db, item, Extraction(claims=(wrong,)))
    db.close()


def snapshot(path: str) -> dict[str, list]:
    connection = sqlite3.connect(path)
    try:
        return {
            "claims": sorted(connection.execute("SELECT relation, label FROM claims").fetchall()),
            "evidence": sorted(connection.execute(
                "SELECT c.label, e.article_id, e.status, e.sentence FROM claim_evidence e JOIN claims c ON c.id = e.claim_id").fetchall()),
            "changes": sorted(connection.execute(
                "SELECT c.label, ch.kind, ch.before_status, ch.after_status, ch.happened_at FROM claim_changes ch"
                " JOIN claims c ON c.id = ch.claim_id").fetchall()),
            "mentions": connection.execute("SELECT COUNT(*) FROM mentions").fetchone(),
        }
    finally:
        connection.close()


def test_reprocess_swaps_old_readings_for_the_pipelines(settings, nlp):
    stale_store(settings.db_path)
    result = CliRunner().invoke(cli, ["--db", settings.db_path, "reprocess"])
    assert result.exit_code == 0, result.output
    assert "reprocessed 6 articles" in result.output and "6 claim statements before" in result.output

    after = snapshot(settings.db_path)
    assert not [label for _relation, label in after["claims"] if "Acme Parts" in label]  # the old reading is gone
    readings = extract_many(nlp, TEXTS, published=DATES)
    expected = {(label_of(claim), status) for reading in readings for claim in reading.claims for status in [claim.status]}
    assert {(label, status) for label, _article, status, _sentence in after["evidence"]} == expected
    assert ("Renault PARTNERS_WITH Valeo", "status", "active", "ended", "2024-05-10") in after["changes"]
    assert after["mentions"][0] > 0

    again = CliRunner().invoke(cli, ["--db", settings.db_path, "reprocess"])
    assert again.exit_code == 0 and snapshot(settings.db_path) == after  # re-running changes nothing


def test_reprocess_on_a_local_dask_cluster_matches_local(settings, tmp_path):
    distributed = pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    local_db = str(tmp_path / "local.db")
    stale_store(local_db)
    stale_store(settings.db_path)
    assert CliRunner().invoke(cli, ["--db", local_db, "reprocess"]).exit_code == 0

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        result = CliRunner().invoke(cli, ["--db", settings.db_path, "reprocess", "--executor", "dask",
                                          "--scheduler", cluster.scheduler_address, "--chunk-size", "2"])
        assert result.exit_code == 0, result.output
        with distributed.Client(cluster) as client:
            workers_used = [w for w, info in client.scheduler_info()["workers"].items()]
        assert len(workers_used) == 2
    assert "reprocessed 6 articles" in result.output
    assert snapshot(settings.db_path) == snapshot(local_db)


@pytest.mark.parametrize("args, message", [
    (["reprocess", "--executor", "dask"], "--executor dask needs --scheduler ADDRESS"),
    (["reprocess", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
])
def test_reprocess_mistakes_are_one_line_errors(settings, args, message):
    stale_store(settings.db_path)
    result = CliRunner().invoke(cli, ["--db", settings.db_path, *args])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
