"""The public surface of ``docket``: pinned, so that changes to it are deliberate."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

import docket

PUBLIC_NAMES = [
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


def test_all_is_pinned() -> None:
    assert sorted(docket.__all__) == PUBLIC_NAMES


def test_every_public_name_exists() -> None:
    for name in docket.__all__:
        assert hasattr(docket, name), name


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, Any] = {}
    exec("from docket import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == PUBLIC_NAMES


def test_version_is_a_string() -> None:
    assert isinstance(docket.__version__, str)
    assert docket.__version__.count(".") >= 2


# W&B's argument names and order, as REFERENCE.md section 2 lists them: code written
# for wandb passes them by keyword and often by position.
SIGNATURES: list[tuple[Callable[..., Any], list[str]]] = [
    (
        docket.init,
        [
            "project",
            "entity",
            "job_type",
            "name",
            "config",
            "dir",
            "mode",
            "settings",
        ],
    ),
    (docket.finish, ["exit_code"]),
    (docket.Artifact.__init__, ["self", "name", "type", "description", "metadata"]),
    (
        docket.Artifact.add_reference,
        ["self", "uri", "name", "checksum", "max_objects"],
    ),
    (docket.Artifact.add_file, ["self", "local_path", "name"]),
    (docket.Artifact.add_dir, ["self", "local_path", "name"]),
    (docket.Artifact.new_file, ["self", "name", "mode"]),
    (docket.Artifact.remove, ["self", "item"]),
    (docket.Artifact.get_entry, ["self", "name"]),
    (
        docket.Artifact.download,
        ["self", "root", "allow_missing_references", "skip_cache", "path_prefix"],
    ),
    (docket.Artifact.checkout, ["self", "root"]),
    (docket.Artifact.verify, ["self", "root"]),
    (docket.Artifact.delete, ["self", "delete_aliases"]),
    (
        docket.Run.log_artifact,
        ["self", "artifact_or_path", "name", "type", "aliases", "tags"],
    ),
    (docket.Run.use_artifact, ["self", "artifact_or_name", "type", "aliases"]),
    (docket.Api.artifact, ["self", "name", "type"]),
    (docket.Api.artifacts, ["self", "type_name", "name"]),
    (docket.Api.artifact_exists, ["self", "name"]),
    (docket.Api.artifact_types, ["self", "project"]),
    (docket.Api.run, ["self", "path"]),
]


@pytest.mark.parametrize(
    ("function", "expected"), SIGNATURES, ids=[f.__qualname__ for f, _ in SIGNATURES]
)
def test_wandb_argument_names(
    function: Callable[..., Any], expected: list[str]
) -> None:
    parameters = list(inspect.signature(function).parameters)
    assert parameters[: len(expected)] == expected


def test_defaults_match_wandb() -> None:
    add_reference = inspect.signature(docket.Artifact.add_reference).parameters
    assert add_reference["name"].default is None
    assert add_reference["checksum"].default is True
    assert add_reference["max_objects"].default is None
    download = inspect.signature(docket.Artifact.download).parameters
    assert download["root"].default is None
    assert download["allow_missing_references"].default is False
    assert download["path_prefix"].default is None
    assert inspect.signature(docket.Artifact.new_file).parameters["mode"].default == "x"
    delete = inspect.signature(docket.Artifact.delete).parameters
    assert delete["delete_aliases"].default is False


ARTIFACT_PROPERTIES = [
    "manifest",
    "digest",
    "size",
    "name",
    "version",
    "aliases",
    "qualified_name",
    "type",
    "state",
    "id",
]


@pytest.mark.parametrize("attribute", ARTIFACT_PROPERTIES)
def test_artifact_properties(attribute: str) -> None:
    assert isinstance(inspect.getattr_static(docket.Artifact, attribute), property)


@pytest.mark.parametrize(
    "method", ["files", "logged_by", "used_by", "wait", "save", "is_draft"]
)
def test_artifact_methods(method: str) -> None:
    assert callable(getattr(docket.Artifact, method))


def test_artifact_description_and_metadata_are_plain_attributes() -> None:
    artifact = docket.Artifact("a", type="dataset", description="d", metadata={"k": 1})
    assert artifact.description == "d"
    assert artifact.metadata == {"k": 1}
    assert artifact.state == "PENDING"
    assert artifact.id is None
    assert artifact.is_draft()


def test_run_attributes(entity: str) -> None:
    run = docket.init(project="p", name="named", config={"lr": 0.1})
    assert run.project == "p"
    assert run.entity == entity
    assert run.name == "named"
    assert isinstance(run.id, str)
    assert run.id
    assert run.config["lr"] == 0.1
    assert run.config.lr == 0.1
    run.finish()
