"""Shared fixtures: a settings object pointing at a tmp_path database, the
NLP pipeline loaded once per session, and a loopback news site builder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.nlp import load_pipeline

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return replace(Settings(), db_path=str(tmp_path / "test.db"), connect_timeout=2.0, read_timeout=1.0)


@pytest.fixture(scope="session")
def nlp():
    return load_pipeline(Settings().models_dir)
