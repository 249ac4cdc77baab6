"""Settings: built-in defaults, overridden by supplywatch.toml, then by
SUPPLYWATCH_* environment variables, then by command-line options."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = "supplywatch.toml"


@dataclass(frozen=True)
class Settings:
    db_path: str = "db/supplywatch.db"
    models_dir: str = str(PROJECT_ROOT / "models")
    user_agent: str = f"supplywatch/{__version__} (+automotive news monitor)"
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_response_bytes: int = 5_000_000
    max_redirects: int = 5
    max_entries_per_feed: int = 200
    nlp_batch_size: int = 16
    nlp_processes: int = 1  # NLP worker processes for a large queue; 0 reads everything in this process
    nlp_worker_min_articles: int = 100  # a smaller queue is read in this process: a worker takes seconds to start
    fetch_workers: int = 8  # pages fetched at once, while the NLP reads the batch before
    per_host_connections: int = 2  # at most this many requests to one site at a time
    politeness_delay: float = 0.0  # seconds between two requests to the same site
    poll_minutes: float = 30.0  # how often each feed is polled, unless the feed sets its own
    poll_jitter: float = 0.1  # +/- this fraction of the interval, so feeds do not poll in step
    max_backoff_minutes: float = 24 * 60.0  # cap on the doubling wait after failures
    scheduler_tick_seconds: float = 60.0  # how often the scheduler looks for due feeds and pending articles
    digest_time: str = "07:00"  # local time of the daily digest (HH:MM)
    digest_timezone: str = "UTC"
    datasette_url: str = ""  # e.g. http://127.0.0.1:8001: digest links then open the claims there
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls | ssl | none
    smtp_timeout: float = 30.0
    smtp_ca_file: str = ""  # a CA bundle (PEM) for a mail server whose certificate a private CA signed
    digest_from: str = "supplywatch@localhost"
    digest_to: str = ""  # comma-separated addresses


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, value: object) -> object:
    expected = type(getattr(Settings(), name))
    try:
        return expected(value)
    except (TypeError, ValueError):
        raise UserError(f"setting {name!r} must be a {expected.__name__}, got {value!r}") from None


def _from_toml(path: Path) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("supplywatch", data)
    unknown = sorted(set(section) - set(_FIELDS))
    if unknown:
        raise UserError(
            f"unknown setting(s) in {path}: {', '.join(unknown)}; known: {', '.join(_FIELDS)}"
        )
    return dict(section)


def _from_environment(environ: dict[str, str]) -> dict[str, object]:
    found = {}
    for name in _FIELDS:
        key = f"SUPPLYWATCH_{name.upper()}"
        if key in environ:
            found[name] = environ[key]
    return found


def load_settings(
    config_path: str | None = None,
    overrides: dict[str, object] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Layer the settings sources; an explicitly named config file must exist."""
    values: dict[str, object] = {}
    if config_path is not None:
        values.update(_from_toml(Path(config_path)))
    elif Path(DEFAULT_CONFIG_FILE).is_file():
        values.update(_from_toml(Path(DEFAULT_CONFIG_FILE)))
    values.update(_from_environment(dict(os.environ) if environ is None else environ))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return Settings(**{name: _coerce(name, value) for name, value in values.items()})
