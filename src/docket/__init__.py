"""docket: versioned datasets and models, with lineage and exact reference artifacts.

``import docket as wandb`` runs W&B's artifact code unchanged on the embedded store.
"""

from __future__ import annotations

from typing import Any

from docket import errors
from docket.manifest import Manifest, ManifestEntry
from docket.sdk import active_run, set_active_run
from docket.sdk.api import Api
from docket.sdk.artifact import Artifact
from docket.sdk.run import Run

__all__ = [
    "Api",
    "Artifact",
    "Manifest",
    "ManifestEntry",
    "Run",
    "errors",
    "finish",
    "init",
    "run",
]

__version__ = "0.1.0"

run: Run | None = None


def init(
    project: str | None = None,
    entity: str | None = None,
    job_type: str | None = None,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    dir: str | None = None,
    mode: str | None = None,
    settings: Any = None,
    **_ignored: Any,
) -> Run:
    """Start a run and make it ``docket.run``; use it as a context manager to finish it.

    ``dir``, ``mode`` and ``settings`` are accepted for compatibility; the embedded
    store keeps everything under ``DOCKET_HOME``.
    """
    previous = active_run()
    if previous is not None:
        previous.finish()
    new_run = Run.start(
        project=project, entity=entity, job_type=job_type, name=name, config=config
    )
    set_active_run(new_run)
    return new_run


def finish(exit_code: int | None = None) -> None:
    """Finish the active run, if any."""
    current = active_run()
    if current is not None:
        current.finish(exit_code=exit_code)
