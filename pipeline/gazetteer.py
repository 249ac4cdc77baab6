"""The domain gazetteer kept as data under models/gazetteer: companies with
their aliases, kind and home country; components; places and demonyms; and
strings the base English model wrongly takes for entities."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

from .errors import UserError

log = logging.getLogger(__name__)

LEGAL_SUFFIXES = (
    "ag", "sa", "se", "nv", "n.v.", "bv", "plc", "inc", "inc.", "corp", "corp.", "corporation",
    "co", "co.", "ltd", "ltd.", "limited", "llc", "gmbh", "kgaa", "spa", "s.p.a.", "s.a.",
    "oyj", "ab", "asa", "kk", "holdings", "holding", "group", "groupe", "company",
)
_SUFFIX_RE = re.compile(
    r"(?:[\s,]+(?:" + "|".join(re.escape(s) for s in LEGAL_SUFFIXES) + r"))+\s*$", re.I
)
_PREFIX_RE = re.compile(r"^(?:the\s+|groupe\s+)", re.I)
_POSSESSIVE_RE = re.compile(r"[’']s?$")
FUZZY_MIN_RATIO = 0.88


def strip_legal(name: str) -> str:
    """'Mercedes-Benz Group AG' -> 'Mercedes-Benz'; 'Groupe Renault' -> 'Renault'."""
    stripped = _POSSESSIVE_RE.sub("", name.strip()).strip()
    stripped = _PREFIX_RE.sub("", stripped)
    shorter = _SUFFIX_RE.sub("", stripped).strip(" ,")
    return shorter or stripped


def name_key(name: str) -> str:
    """A lookup key that ignores case, punctuation, legal suffixes and 'Group'."""
    return re.sub(r"[^0-9a-z]+", "", strip_legal(name).lower())


@dataclass(frozen=True)
class Company:
    canonical: str
    aliases: tuple[str, ...] = ()
    kind: str = "other"
    country: str | None = None
    ambiguous: bool = False


@dataclass
class Gazetteer:
    companies: dict[str, Company] = field(default_factory=dict)  # canonical -> Company
    company_keys: dict[str, str] = field(default_factory=dict)  # name_key -> canonical
    components: tuple[str, ...] = ()
    demonyms: dict[str, str] = field(default_factory=dict)
    place_aliases: dict[str, str] = field(default_factory=dict)
    not_entities: frozenset[str] = frozenset()
    _fuzzy_cache: dict[str, str | None] = field(default_factory=dict, repr=False)

    def company(self, text: str) -> Company | None:
        """The company a name stands for: an exact match of a name or alias
        after normalisation, else a close spelling of one company's names."""
        key = name_key(text)
        canonical = self.company_keys.get(key) or self._fuzzy(key)
        return self.companies.get(canonical) if canonical else None

    def _fuzzy(self, key: str) -> str | None:
        """A near spelling ('Volkswagon') of exactly one company's names. A
        name with more to it ('Renault Trucks') is not close enough, and a
        spelling close to two companies matches neither."""
        if len(key) < 5:
            return None
        cached = self._fuzzy_cache.get(key, False)
        if cached is not False:
            return cached
        scores: dict[str, float] = {}
        for alias_key, canonical in self.company_keys.items():
            if abs(len(alias_key) - len(key)) > 2 or alias_key[0] != key[0]:
                continue
            if alias_key.startswith(key) or key.startswith(alias_key):
                continue  # "Shanghai" is not "Shanghai GM": a name with more to it is another name
            ratio = SequenceMatcher(None, key, alias_key).ratio()
            scores[canonical] = max(ratio, scores.get(canonical, 0.0))
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        found = None
        if ranked and ranked[0][1] >= FUZZY_MIN_RATIO and (len(ranked) < 2 or ranked[1][1] < FUZZY_MIN_RATIO):
            found = ranked[0][0]
        self._fuzzy_cache[key] = found
        return found

    def unambiguous_names(self) -> list[str]:
        """Every company name and alias safe to match as written; a one-word
        name of an ambiguous entry ("Lear", "Volvo") is left to the NER."""
        return sorted({
            name
            for company in self.companies.values()
            for name in (company.canonical, *company.aliases)
            if not (company.ambiguous and len(name.split()) < 2)
        })

    def place(self, text: str) -> str | None:
        """A country or region name for a place name or demonym, if known."""
        cleaned = text.strip()
        if cleaned.lower().startswith("the "):
            cleaned = cleaned[4:]
        return self.place_aliases.get(cleaned) or self.demonyms.get(cleaned)


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [
        line.strip() for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _read_companies(path: Path) -> list[Company]:
    companies = []
    for number, line in enumerate(_read_lines(path), start=1):
        try:
            row = json.loads(line)
            companies.append(
                Company(
                    canonical=row["canonical"], aliases=tuple(row.get("aliases", ())),
                    kind=row.get("kind", "other"), country=row.get("country"),
                    ambiguous=bool(row.get("ambiguous", False)),
                )
            )
        except (ValueError, KeyError) as exc:
            raise UserError(f"{path}:{number}: not a valid company record ({exc})") from None
    return companies


@lru_cache(maxsize=4)
def load_gazetteer(directory: str) -> Gazetteer:
    folder = Path(directory)
    if not folder.is_dir():
        raise UserError(f"gazetteer folder {folder} is missing: restore models/gazetteer from the repository")
    gazetteer = Gazetteer()
    for company in _read_companies(folder / "companies.jsonl"):
        gazetteer.companies[company.canonical] = company
        for name in (company.canonical, *company.aliases):
            gazetteer.company_keys.setdefault(name_key(name), company.canonical)
    gazetteer.components = tuple(_read_lines(folder / "components.txt"))
    places_file = folder / "places.json"
    if places_file.is_file():
        places = json.loads(places_file.read_text(encoding="utf-8"))
        gazetteer.demonyms = dict(places.get("demonyms", {}))
        gazetteer.place_aliases = dict(places.get("aliases", {}))
        for country in set(gazetteer.demonyms.values()) | set(gazetteer.place_aliases.values()):
            gazetteer.place_aliases.setdefault(country, country)
    gazetteer.not_entities = frozenset(_read_lines(folder / "not_entities.txt"))
    log.debug("gazetteer: %d companies, %d components", len(gazetteer.companies), len(gazetteer.components))
    return gazetteer
