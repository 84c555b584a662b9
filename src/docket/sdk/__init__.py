"""The Python SDK: runs, artifacts and read access, with W&B's names."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docket.sdk.run import Run

_active: Run | None = None


def active_run() -> Run | None:
    return _active


def set_active_run(run: Run | None) -> None:
    global _active
    _active = run
    import docket

    docket.run = run
