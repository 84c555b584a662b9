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
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

ProgressCallback = Callable[[int], None]


def enabled() -> bool:
    if os.environ.get("DOCKET_PROGRESS") == "0":
        return False
    return os.environ.get("DOCKET_PROGRESS") == "1" or sys.stderr.isatty()


class ByteProgress:
    """A thread-safe byte counter drawn as a bar; the total may come later."""

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar = bar
        self._task = task
        self._lock = threading.Lock()

    def __call__(self, nbytes: int) -> None:
        with self._lock:
            self._bar.advance(self._task, nbytes)

    def set_total(self, total: int) -> None:
        with self._lock:
            self._bar.update(self._task, total=total)


@contextmanager
def byte_progress(
    description: str, total: int | None = None
) -> Iterator[ByteProgress | None]:
    """Yield a progress callback, or ``None`` when bars are off or there is no work."""
    if not enabled() or total == 0:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        yield ByteProgress(bar, bar.add_task(description, total=total))
