"""The labelled data: its format, its consistency, and its train/dev split."""

from pathlib import Path

from pipeline.labelled import load_labelled, load_record, parse_marked

LABELLED = Path(__file__).resolve().parent.parent / "seeds" / "labelled"


def test_marks_give_text_and_offsets():
    text, spans = parse_marked("[[Bosch|ORG]] builds [[e-axles|COMPONENT]] in [[Hungary|GPE]].")
    assert text == "Bosch builds e-axles in Hungary."
    assert [(s.start, s.end, s.label) for s in spans] == [(0, 5, "ORG"), (13, 20, "COMPONENT"), (24, 31, "GPE")]
    assert all(text[s.start:s.end] == s.text for s in spans)


def test_problems_are_reported():
    doc = load_record(
        {"id": "x", "marked": "[[Bosch|COMPANY]] and [[BMW|ORG]", "claims": [
            {"relation": "BUYS", "subject": "BMW", "object": "Bosch", "status": "maybe", "evidence": "not in text"}]},
        LABELLED,
    )
    problems = " ".join(doc.problems)
    for fragment in ("unknown entity label COMPANY", "unknown relation", "unknown status", "not a passage substring", "malformed"):
        assert fragment in problems


def test_every_labelled_file_is_clean():
    docs = load_labelled(LABELLED)
    assert [f"{d.id}: {p}" for d in docs for p in d.problems] == []
    assert len({d.id for d in docs}) == len(docs)


def test_seed_records_match_the_seed_files_exactly():
    seeds = [d for d in load_labelled(LABELLED) if d.split == "seed"]
    assert len(seeds) == 2
    for doc in seeds:
        assert doc.text == (LABELLED.parent / f"{doc.id}.txt").read_text(encoding="utf-8")


def test_split_has_enough_real_news_on_both_sides():
    docs = load_labelled(LABELLED)
    news = [d for d in docs if d.split != "seed"]
    assert len(news) >= 40 and all(d.url for d in news)
    dev = [d for d in news if d.split == "dev"]
    assert len(dev) >= 20
    # a story restated twice stays on one side of the split
    sides: dict[str, set[str]] = {}
    for doc in news:
        sides.setdefault(doc.url.split("://", 1)[-1].removeprefix("www.").rstrip("/"), set()).add(doc.split)
    assert all(len(split) == 1 for split in sides.values())
