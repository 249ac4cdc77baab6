"""Scoring by the rules of CLAIMS.md, and `supplywatch evaluate` on the seeds."""

import json

from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.evaluate import Report, claim_matches, score_claims, score_entities
from pipeline.labelled import GoldClaim, LabelledDoc, Span
from pipeline.records import Claim, Extraction, Mention


def _claim(relation, subject, obj, status="active"):
    return Claim(relation, subject, obj, status, "evidence", 0.8)


def test_claim_matching_normalises_names_and_partner_direction():
    gold = GoldClaim("PARTNERS_WITH", "Renault", "Valeo", "ended")
    assert claim_matches(_claim("PARTNERS_WITH", "Valeo SA", "Groupe Renault"), gold)
    assert not claim_matches(_claim("SUPPLIES", "Valeo", "Renault"), gold)
    supply = GoldClaim("SUPPLIES", "Valeo", "Renault", "active")
    assert not claim_matches(_claim("SUPPLIES", "Renault", "Valeo"), supply)  # direction counts
    aliased = GoldClaim("SOURCES_FROM", "Renault", "China", "possible", subject_aliases=("Ampere",))
    assert claim_matches(_claim("SOURCES_FROM", "Ampere", "China"), aliased)


def test_scores_count_optional_claims_as_neither_gain_nor_loss():
    doc = LabelledDoc(
        id="d", text="t", entities=(),
        claims=(GoldClaim("SUPPLIES", "Bosch", "BMW", "active"),
                GoldClaim("PARTNERS_WITH", "BMW", "Toyota", "active", optional=True),
                GoldClaim("SUPPLIES", "Denso", "Toyota", "planned")),
    )
    report = Report()
    predicted = [_claim("SUPPLIES", "Bosch", "BMW", "planned"), _claim("PARTNERS_WITH", "Toyota", "BMW"),
                 _claim("SUPPLIES", "CATL", "BMW")]
    score_claims(doc, predicted, report)
    assert (report.claims.tp, report.claims.fp, report.claims.fn) == (1, 1, 1)
    assert report.status_total == 1 and report.status_accuracy == 0.0
    assert {e.kind for e in report.errors} == {"false_positive", "false_negative", "wrong_status"}


def test_entity_scores_need_exact_span_and_label():
    doc = LabelledDoc(id="d", text="Bosch supplies BMW", claims=(),
                      entities=(Span(0, 5, "ORG", "Bosch"), Span(15, 18, "ORG", "BMW")))
    extraction = Extraction(mentions=(Mention("Bosch", "ORG", 0, 5, "Bosch"), Mention("BM", "ORG", 15, 17, "BM"),
                                      Mention("BMW", "GPE", 15, 18, "BMW")))
    report = Report()
    score_entities(doc, extraction, report)
    org = report.entities["ORG"]
    assert (org.tp, org.fp, org.fn) == (1, 1, 1) and report.entities["GPE"].fp == 1


def test_evaluate_on_the_seeds_keeps_its_floor():
    result = CliRunner().invoke(cli, ["evaluate", "--split", "seed", "--json", "--errors"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["passages"] == 2
    assert scores["claims"]["f1"] >= 0.85, scores["claims"]
    assert scores["status_accuracy"] >= 0.85
    assert scores["entities"]["ORG"]["f1"] >= 0.90
    assert all(set(e) >= {"doc_id", "kind", "sentence"} for e in scores["errors"])


def test_evaluate_table_and_error_listing():
    result = CliRunner().invoke(cli, ["evaluate", "--split", "seed", "--errors"])
    assert result.exit_code == 0
    assert "claims" in result.output and "status accuracy" in result.output
    assert "\t" in result.output  # one tab-separated line per error


def test_evaluate_user_errors(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["evaluate", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 1 and missing.output.startswith("Error: no labelled data")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    bad = runner.invoke(cli, ["evaluate", str(broken), "--split", "all"])
    assert bad.exit_code == 1 and "cannot read labelled data" in bad.output and "Traceback" not in bad.output
