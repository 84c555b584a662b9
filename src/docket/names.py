"""Artifact names: ``name``, ``project/name``, ``entity/project/name``, each with
``:alias``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from docket.errors import ValidationError

MAX_NAME_LENGTH = 128
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_ALIAS = re.compile(r"^[A-Za-z0-9_.\-/ ]+$")
_VERSION_ALIAS = re.compile(r"^v(\d+)$")
RESERVED_TYPES = frozenset({"job", "run_table", "code", "wandb-history"})


@dataclass(frozen=True, slots=True)
class ArtifactPath:
    """A parsed artifact address; missing parts are ``None``."""

    name: str
    entity: str | None = None
    project: str | None = None
    alias: str | None = None


def validate_name(name: str, *, what: str = "artifact name") -> str:
    if (
        not isinstance(name, str)
        or not _NAME.match(name)
        or len(name) > MAX_NAME_LENGTH
    ):
        raise ValidationError(
            f"invalid {what} {name!r}: use at most {MAX_NAME_LENGTH} letters, digits, "
            f"'-', '_' or '.'"
        )
    return name


def validate_alias(alias: str) -> str:
    if (
        not isinstance(alias, str)
        or not alias
        or not _ALIAS.match(alias)
        or ":" in alias
    ):
        raise ValidationError(
            f"invalid alias {alias!r}: use letters, digits, '-', '_', '.' or '/'"
        )
    if len(alias) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"alias {alias!r} is longer than {MAX_NAME_LENGTH} characters"
        )
    return alias


def validate_type(type_name: str) -> str:
    if not isinstance(type_name, str) or not _NAME.match(type_name):
        raise ValidationError(
            f"invalid artifact type {type_name!r}: use letters, digits, '-', '_' or '.'"
        )
    if type_name in RESERVED_TYPES or type_name.startswith("wandb-"):
        raise ValidationError(
            f"artifact type {type_name!r} is reserved; choose another, e.g. 'dataset'"
        )
    return type_name


def version_index(alias: str) -> int | None:
    """The number ``N`` of a ``vN`` alias, or ``None`` for any other alias."""
    match = _VERSION_ALIAS.match(alias)
    return int(match.group(1)) if match else None


def parse_artifact_path(text: str) -> ArtifactPath:
    """Parse ``[[entity/]project/]name[:alias]``."""
    if not isinstance(text, str) or not text:
        raise ValidationError("an artifact name is required, such as 'mnist:latest'")
    path, _, alias = text.partition(":")
    parts = path.split("/")
    if len(parts) > 3 or not all(parts):
        raise ValidationError(
            f"invalid artifact path {text!r}: use name, project/name or "
            f"entity/project/name, optionally followed by :alias"
        )
    name = validate_name(parts[-1])
    project = validate_name(parts[-2], what="project name") if len(parts) >= 2 else None
    entity = validate_name(parts[0], what="entity name") if len(parts) == 3 else None
    return ArtifactPath(
        name=name,
        entity=entity,
        project=project,
        alias=validate_alias(alias) if alias else None,
    )
