"""Labelled data: passages with inline entity marks and gold claims, as kept
in seeds/labelled/*.jsonl, and the checks that keep them consistent.

A record's "marked" text writes each entity as [[surface text|LABEL]]; the
plain text and character offsets are derived from it, so labels stay
readable in review and offsets can never drift.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ENTITY_LABELS = ("ORG", "GPE", "FACILITY", "COMPONENT", "PERSON")
RELATIONS = ("SUPPLIES", "SOURCES_FROM", "PARTNERS_WITH", "MANUFACTURES_AT")
STATUSES = ("active", "planned", "possible", "ended", "denied")
KINDS = (None, "joint_venture", "co_development", "alliance", "licensing", "other")
OBJECT_LABELS = {"SUPPLIES": {"ORG"}, "SOURCES_FROM": {"GPE"}, "PARTNERS_WITH": {"ORG"}, "MANUFACTURES_AT": {"FACILITY", "GPE"}}
MARK = re.compile(r"\[\[([^\[\]|]+)\|([A-Z]+)\]\]")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str
    text: str


@dataclass(frozen=True)
class GoldClaim:
    relation: str
    subject: str
    object: str
    status: str
    evidence: str = ""
    component: str | None = None
    kind: str | None = None
    optional: bool = False
    subject_aliases: tuple[str, ...] = ()
    object_aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelledDoc:
    id: str
    text: str
    entities: tuple[Span, ...]
    claims: tuple[GoldClaim, ...]
    split: str = "train"
    url: str | None = None
    published: str | None = None
    notes: str | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)


def parse_marked(marked: str) -> tuple[str, list[Span]]:
    """Plain text and entity spans of a marked passage."""
    pieces, spans, cursor, length = [], [], 0, 0
    for match in MARK.finditer(marked):
        before = marked[cursor : match.start()]
        pieces.append(before)
        length += len(before)
        surface, label = match.group(1), match.group(2)
        spans.append(Span(length, length + len(surface), label, surface))
        pieces.append(surface)
        length += len(surface)
        cursor = match.end()
    pieces.append(marked[cursor:])
    return "".join(pieces), spans


def _claim(row: dict) -> GoldClaim:
    return GoldClaim(
        relation=row["relation"], subject=row["subject"], object=row["object"],
        status=row.get("status", "active"), evidence=row.get("evidence", ""),
        component=row.get("component"), kind=row.get("kind"),
        optional=bool(row.get("optional", False)),
        subject_aliases=tuple(row.get("subject_aliases", ())),
        object_aliases=tuple(row.get("object_aliases", ())),
    )


def _problems(doc: LabelledDoc, marked: str) -> list[str]:
    found = []
    if "[[" in doc.text or "]]" in doc.text:
        found.append("unbalanced or malformed [[...|LABEL]] mark")
    for span in doc.entities:
        if span.label not in ENTITY_LABELS:
            found.append(f"unknown entity label {span.label} on {span.text!r}")
        if span.text != span.text.strip():
            found.append(f"entity {span.text!r} has surrounding white space")
    for claim in doc.claims:
        where = f"{claim.relation} {claim.subject} -> {claim.object}"
        if claim.relation not in RELATIONS:
            found.append(f"{where}: unknown relation")
        if claim.status not in STATUSES:
            found.append(f"{where}: unknown status {claim.status!r}")
        if claim.kind not in KINDS:
            found.append(f"{where}: unknown kind {claim.kind!r}")
        if claim.evidence and " ".join(claim.evidence.split()) not in " ".join(doc.text.split()):
            found.append(f"{where}: evidence is not a passage substring")
    if doc.split not in ("train", "dev", "seed"):
        found.append(f"split must be train, dev or seed, not {doc.split!r}")
    return found


def load_record(row: dict, base: Path) -> LabelledDoc:
    marked = row["marked"]
    text, spans = parse_marked(marked)
    if row.get("file"):
        original = (base / row["file"]).read_text(encoding="utf-8")
        if original != text:
            position = next((i for i, (a, b) in enumerate(zip(original, text)) if a != b), min(len(original), len(text)))
            text_problem = f"marked text differs from {row['file']} at character {position}: {text[position:position + 40]!r}"
        else:
            text_problem = None
    else:
        text_problem = None
    doc = LabelledDoc(
        id=row["id"], text=text, entities=tuple(spans),
        claims=tuple(_claim(c) for c in row.get("claims", ())),
        split=row.get("split", "train"), url=row.get("url"), published=row.get("published"),
        notes=row.get("notes"),
    )
    problems = _problems(doc, marked) + ([text_problem] if text_problem else [])
    return LabelledDoc(**{**doc.__dict__, "problems": tuple(problems)})


def load_labelled(path: str | Path) -> list[LabelledDoc]:
    """All records of one JSONL file, or of every *.jsonl in a folder."""
    source = Path(path)
    files = sorted(source.glob("*.jsonl")) if source.is_dir() else [source]
    docs = []
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    docs.append(load_record(json.loads(line), file.parent))
                except (ValueError, KeyError) as exc:
                    raise ValueError(f"{file}:{number}: {exc}") from None
    return docs


def main(argv: list[str]) -> int:
    """`python -m pipeline.labelled FILE...`: report problems and counts."""
    failures = 0
    for name in argv:
        docs = load_labelled(name)
        for doc in docs:
            for problem in doc.problems:
                print(f"{name} {doc.id}: {problem}")
                failures += 1
        labels = {}
        for doc in docs:
            for span in doc.entities:
                labels[span.label] = labels.get(span.label, 0) + 1
        claims = sum(len(doc.claims) for doc in docs)
        print(f"{name}: {len(docs)} passages, {claims} claims, entities {labels}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
