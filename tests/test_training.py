"""Building the NER corpus: our labels, plus rehearsal of the base model's own
predictions for the labels we do not annotate."""

import spacy

from pipeline.labelled import load_record
from pipeline.nlp import BASE_MODEL
from pipeline.training import gold_doc
from tests_paths import LABELLED


def test_gold_doc_keeps_our_labels_and_rehearses_the_rest():
    base = spacy.load(BASE_MODEL)
    record = load_record(
        {"id": "t", "marked": "On Monday [[Bosch|ORG]] said it will supply 2 million [[e-axles|COMPONENT]] "
                              "to [[Volvo Cars|ORG]] from its [[Hatvan plant|FACILITY]] in [[Hungary|GPE]] by 2027."},
        LABELLED,
    )
    doc = gold_doc(base, record)
    labelled = {(e.text, e.label_) for e in doc.ents}
    assert {("Bosch", "ORG"), ("e-axles", "COMPONENT"), ("Volvo Cars", "ORG"), ("Hatvan plant", "FACILITY"),
            ("Hungary", "GPE")} <= labelled
    # the base model's DATE/CARDINAL predictions are kept, so the NER does not forget them
    assert {"DATE", "CARDINAL"} & {label for _, label in labelled}
    # nothing the base model calls ORG/GPE/PERSON survives unless we labelled it
    assert all(label not in ("ORG", "GPE", "PERSON") or (text, label) in {
        ("Bosch", "ORG"), ("Volvo Cars", "ORG"), ("Hungary", "GPE")} for text, label in labelled)
