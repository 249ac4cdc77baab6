"""Progress for long work: a rich bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import Progress

T = TypeVar("T")
log = logging.getLogger(__name__)


def tracked(items: Iterable[T], description: str, total: int | None = None, every: int = 25) -> Iterator[T]:
    """Yield the items, showing progress on stderr."""
    if sys.stderr.isatty():
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(description, total=total)
            for item in items:
                yield item
                progress.advance(task)
        return
    done = 0
    for item in items:
        yield item
        done += 1
        if done % every == 0 or done == total:
            log.info("%s: %d%s", description, done, f"/{total}" if total else "")
