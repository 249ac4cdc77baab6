"""Reading the inputs of `supplywatch extract`: files, URLs or standard input."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

from .config import Settings
from .errors import UserError
from .extract import text_of_document
from .fetch import FetchError, fetch_page, make_client


def read_input(source: str, settings: Settings) -> tuple[str, str | None]:
    """(text, title) of one input: '-' is standard input, http(s) is fetched,
    anything else is a file path."""
    if source == "-":
        return text_of_document(sys.stdin.buffer.read(), source)
    if "://" in source:
        if urlsplit(source).scheme not in ("http", "https") or not urlsplit(source).hostname:
            raise UserError(f"not a URL supplywatch can fetch: {source!r}; give an http:// or https:// address")
        with make_client(settings) as client:
            try:
                page = fetch_page(client, source, settings, trusted_host=urlsplit(source).hostname)
            except FetchError as exc:
                raise UserError(str(exc)) from None
        return text_of_document(page.body, page.final_url)
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {source}: {exc.strerror}") from None
    return text_of_document(data, source)
