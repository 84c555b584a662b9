"""Frozen records the store hands out: versions and runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One logged artifact version, as the store knows it."""

    id: int
    entity: str
    project: str
    name: str
    type: str
    index: int
    digest: str
    manifest_key: str
    size: int
    entry_count: int
    has_references: bool
    aliases: tuple[str, ...]
    created_at: datetime
    created_by: str | None = None
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return f"v{self.index}"

    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}:v{self.index}"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run: the process that logged and used artifact versions."""

    uid: str
    entity: str
    project: str
    name: str | None
    job_type: str | None
    state: str
    created_at: datetime
    config: Mapping[str, Any] = field(default_factory=dict)
    finished_at: datetime | None = None

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.uid}"


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What logging asks the store to record."""

    entity: str
    project: str
    name: str
    type: str
    digest: str
    manifest_key: str
    size: int
    entry_count: int
    has_references: bool
    aliases: tuple[str, ...] = ()
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    run_uid: str | None = None
