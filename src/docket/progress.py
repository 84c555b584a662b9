"""Progress bars for long work, shown only on an interactive terminal."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

ProgressCallback = Callable[[int], None]


def enabled() -> bool:
    if os.environ.get("DOCKET_PROGRESS") == "0":
        return False
    return os.environ.get("DOCKET_PROGRESS") == "1" or sys.stderr.isatty()


@contextmanager
def byte_progress(
    description: str, total: int | None
) -> Iterator[ProgressCallback | None]:
    """Yield a thread-safe callback that advances a byte bar, or ``None`` when off."""
    if not enabled() or not total:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    lock = threading.Lock()
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(nbytes: int) -> None:
            with lock:
                bar.advance(task, nbytes)

        yield advance
