"""The learned claim scorer: candidate pairs, features, logistic regression."""

from pipeline.claims import collect_args, rule_candidates
from pipeline.scorer import ClaimScorer, _path, _rule_hits, pair_candidates


def test_logistic_regression_learns_a_separable_rule(tmp_path):
    examples = [({"bias": 1.0, "good": 1.0}, 1)] * 20 + [({"bias": 1.0, "bad": 1.0}, 0)] * 20
    scorer = ClaimScorer.train(examples, threshold=0.5)
    assert scorer.probability({"bias": 1.0, "good": 1.0}) > 0.8
    assert scorer.probability({"bias": 1.0, "bad": 1.0}) < 0.2
    scorer.to_disk(tmp_path / "s.json")
    again = ClaimScorer.from_disk(tmp_path / "s.json")
    assert again.weights == scorer.weights and again.threshold == 0.5


def test_dependency_path_joins_two_arguments(nlp):
    doc = nlp("Bosch will supply electric axles to Volvo Cars.")
    bosch, volvo = doc[0], doc[7]
    path, head = _path(bosch, volvo)
    assert head.lemma_ == "supply"
    assert [t.text for t in path][0] == "Bosch" and [t.text for t in path][-1] == "Cars"


def test_pair_candidates_cover_each_allowed_relation(nlp):
    doc = nlp("Bosch will supply electric axles to Volvo Cars from its plant in Hungary.")
    gazetteer = nlp.get_pipe("supplywatch_claims").gazetteer
    args, candidates = rule_candidates(doc, gazetteer)
    hits = _rule_hits(candidates)
    pairs = pair_candidates(next(doc.sents), args, gazetteer, hits)
    kinds = {(p.relation, p.subject.name, p.object.name) for p in pairs}
    assert ("SUPPLIES", "Bosch", "Volvo Cars") in kinds and ("SUPPLIES", "Volvo Cars", "Bosch") in kinds
    assert ("MANUFACTURES_AT", "Bosch", "Hungary") in kinds and ("SOURCES_FROM", "Volvo Cars", "Hungary") in kinds
    assert sum(1 for k in kinds if k[0] == "PARTNERS_WITH") == 1  # once per pair
    supply = next(p for p in pairs if (p.relation, p.subject.name) == ("SUPPLIES", "Bosch"))
    assert supply.rule_confidence > 0 and supply.features["SUPPLIES:rule"] == 1.0
    assert collect_args(doc, gazetteer)
