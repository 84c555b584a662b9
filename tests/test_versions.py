"""Version numbers, identical content, aliases, types, deletion, concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

import docket
from docket.errors import ConflictError, NotFoundError


def log_bytes(
    name: str,
    content: bytes,
    *,
    type_name: str = "dataset",
    aliases: list[str] | None = None,
    run: docket.Run | None = None,
) -> docket.Artifact:
    """Log an artifact holding one stored file with ``content``, from a new run."""
    own_run = run is None
    active = run or docket.init()
    artifact = docket.Artifact(name, type=type_name)
    with artifact.new_file("data.bin", mode="wb") as handle:
        handle.write(content)
    active.log_artifact(artifact, aliases=aliases)
    if own_run:
        active.finish()
    return artifact


def aliases_of(name: str) -> dict[str, list[str]]:
    """``version -> sorted aliases`` of every version of a dataset collection."""
    return {
        a.version: sorted(a.aliases) for a in docket.Api().artifacts("dataset", name)
    }


def test_versions_count_up_from_v0() -> None:
    assert log_bytes("counted", b"one").version == "v0"
    assert log_bytes("counted", b"two").version == "v1"
    assert log_bytes("counted", b"three").version == "v2"
    assert [a.version for a in docket.Api().artifacts("dataset", "counted")] == [
        "v0",
        "v1",
        "v2",
    ]
    assert aliases_of("counted") == {"v0": [], "v1": [], "v2": ["latest"]}
    assert docket.Api().artifact("counted:v1").get_entry("data.bin").size == 3


def test_collections_number_independently() -> None:
    log_bytes("first", b"one")
    log_bytes("first", b"two")
    assert log_bytes("second", b"one").version == "v0"


def test_identical_content_returns_the_existing_version(entity: str) -> None:
    first_run = docket.init()
    first = log_bytes("same", b"payload", run=first_run)
    first_run.finish()

    second_run = docket.init()
    second = log_bytes("same", b"payload", run=second_run, aliases=["best"])
    second_run.finish()

    assert second.version == "v0"
    assert second.id == first.id
    assert [a.version for a in docket.Api().artifacts("dataset", "same")] == ["v0"]
    assert sorted(second.aliases) == ["best", "latest"]
    assert aliases_of("same") == {"v0": ["best", "latest"]}

    # Both runs are producers of v0; the first one created it.
    logged_by = docket.Api().artifact("same:v0").logged_by()
    assert logged_by is not None
    assert logged_by.id == first_run.id
    for run in (first_run, second_run):
        outputs = docket.Api().run(run.path).logged_artifacts()
        assert [a.qualified_name for a in outputs] == [
            f"{entity}/uncategorized/same:v0"
        ]


def test_identical_content_moves_latest_back_to_the_old_version() -> None:
    log_bytes("flip", b"A")
    log_bytes("flip", b"B")
    again = log_bytes("flip", b"A", aliases=["golden"])
    assert again.version == "v0"
    assert aliases_of("flip") == {"v0": ["golden", "latest"], "v1": []}
    assert docket.Api().artifact("flip:latest").version == "v0"
    assert docket.Api().artifact("flip").version == "v0"


def test_identical_reference_content_reuses_the_version(folder: Path) -> None:
    def log_ref() -> docket.Artifact:
        run = docket.init()
        artifact = docket.Artifact("refs", type="dataset")
        artifact.add_reference(f"file://{folder}")
        run.log_artifact(artifact)
        run.finish()
        return artifact

    assert log_ref().version == "v0"
    assert log_ref().version == "v0"
    (folder / "sub" / "d.txt").write_bytes(b"DELTA\n")
    assert log_ref().version == "v1"
    (folder / "sub" / "d.txt").write_bytes(b"delta\n")
    assert log_ref().version == "v0"


def test_a_collection_keeps_one_type() -> None:
    log_bytes("typed", b"x", type_name="dataset")
    with pytest.raises(ConflictError) as caught:
        log_bytes("typed", b"y", type_name="model")
    message = str(caught.value)
    assert "typed" in message
    assert "dataset" in message
    assert "model" in message
    assert [a.version for a in docket.Api().artifacts("dataset", "typed")] == ["v0"]
    assert docket.Api().artifacts("model", "typed") == []


def test_same_name_in_another_project_may_have_another_type(entity: str) -> None:
    log_bytes("shared-name", b"x", type_name="dataset")
    with docket.init(project="other") as run:
        artifact = log_bytes("shared-name", b"x", type_name="model", run=run)
    assert artifact.version == "v0"
    assert artifact.qualified_name == f"{entity}/other/shared-name:v0"


def test_aliases_move_between_versions() -> None:
    log_bytes("moving", b"zero", aliases=["best", "candidate"])
    assert aliases_of("moving") == {"v0": ["best", "candidate", "latest"]}
    log_bytes("moving", b"one", aliases=["best"])
    assert aliases_of("moving") == {
        "v0": ["candidate"],
        "v1": ["best", "latest"],
    }
    assert docket.Api().artifact("moving:best").version == "v1"
    assert docket.Api().artifact("moving:candidate").version == "v0"


def test_version_aliases_are_not_user_aliases() -> None:
    log_bytes("numbered", b"zero")
    # Asking for alias "v5" must not make v0 answer to "v5".
    log_bytes("numbered", b"one", aliases=["v5"])
    with pytest.raises(NotFoundError):
        docket.Api().artifact("numbered:v5")


def test_save_persists_aliases_description_and_metadata() -> None:
    log_bytes("saved", b"zero")
    artifact = docket.Api().artifact("saved:v0")
    artifact.aliases = [*artifact.aliases, "production"]
    artifact.description = "the good one"
    artifact.metadata["accuracy"] = 0.97
    artifact.save()
    fetched = docket.Api().artifact("saved:production")
    assert fetched.version == "v0"
    assert "latest" in fetched.aliases
    assert fetched.description == "the good one"
    assert fetched.metadata == {"accuracy": 0.97}


def test_delete_a_version() -> None:
    log_bytes("deleted", b"zero")
    log_bytes("deleted", b"one")
    docket.Api().artifact("deleted:v1").delete()
    with pytest.raises(NotFoundError):
        docket.Api().artifact("deleted:v1")
    assert [a.version for a in docket.Api().artifacts("dataset", "deleted")] == ["v0"]
    # latest falls back to the newest remaining version.
    assert docket.Api().artifact("deleted:latest").version == "v0"
    assert not docket.Api().artifact_exists("deleted:v1")


def test_delete_refuses_a_version_with_user_aliases_unless_asked() -> None:
    log_bytes("held", b"zero", aliases=["production"])
    artifact = docket.Api().artifact("held:v0")
    with pytest.raises(ConflictError) as caught:
        artifact.delete()
    assert "production" in str(caught.value)
    assert docket.Api().artifact_exists("held:v0")
    artifact.delete(delete_aliases=True)
    assert not docket.Api().artifact_exists("held:v0")
    assert not docket.Api().artifact_exists("held:production")


def test_a_deleted_version_number_is_never_reused() -> None:
    # Someone who pinned "reused:v1" must never get other bytes under that name.
    log_bytes("reused", b"zero")
    log_bytes("reused", b"one")
    docket.Api().artifact("reused:v1").delete()
    assert log_bytes("reused", b"two").version == "v2"
    assert not docket.Api().artifact_exists("reused:v1")


# -- many processes at once --------------------------------------------------------

WORKERS = 8
# Eight writers, five distinct contents: three of them are logged twice.
CONTENT_OF_WORKER = [0, 1, 2, 3, 4, 0, 1, 2]


def _concurrent_writer(
    home: str, entity: str, cwd: str, worker: int, barrier: Any, results: Any
) -> None:
    """One process: build its artifact, wait for the others, then log it.

    In remote mode the tracking server's DOCKET_BASE_URL and DOCKET_API_KEY
    come with the environment the process inherits.
    """
    os.environ["DOCKET_HOME"] = home
    os.environ["DOCKET_ENTITY"] = entity
    os.environ["DOCKET_PROGRESS"] = "0"
    for name in ("DOCKET_CACHE_DIR", "DOCKET_ARTIFACT_DIR", "DOCKET_PROJECT"):
        os.environ.pop(name, None)
    os.chdir(cwd)
    try:
        import docket as wandb

        content = CONTENT_OF_WORKER[worker]
        run = wandb.init(job_type="concurrent")
        artifact = wandb.Artifact("contended", type="dataset")
        with artifact.new_file("payload.txt") as handle:
            handle.write(f"content number {content}\n" * (content + 1))
        barrier.wait(timeout=120)
        run.log_artifact(artifact)
        run.finish()
        results.put((worker, content, artifact.version, artifact.digest, run.path, ""))
    except BaseException as exc:
        results.put((worker, -1, "", "", "", f"{type(exc).__name__}: {exc}"))
        raise


def test_concurrent_processes_get_gapless_unique_versions(
    docket_home: Path, entity: str, tmp_path: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(
            target=_concurrent_writer,
            args=(
                str(docket_home),
                entity,
                str(tmp_path / "work"),
                i,
                barrier,
                results,
            ),
        )
        for i in range(WORKERS)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    errors = [r[5] for r in reports if r[5]]
    assert errors == []
    assert [p.exitcode for p in processes] == [0] * WORKERS

    distinct = len(set(CONTENT_OF_WORKER))
    versions = docket.Api().artifacts("dataset", "contended")
    assert sorted(v.version for v in versions) == [f"v{i}" for i in range(distinct)]
    assert len({v.digest for v in versions}) == distinct

    # Each content got exactly one version, and every writer of it was told so.
    version_of_content: dict[int, set[str]] = {}
    for _worker, content, version, _digest, _path, _error in reports:
        version_of_content.setdefault(content, set()).add(version)
    assert all(len(v) == 1 for v in version_of_content.values()), version_of_content
    assert len({next(iter(v)) for v in version_of_content.values()}) == distinct

    by_version = {v.version: v for v in versions}
    for _worker, content, version, digest, run_path, _error in reports:
        stored = by_version[version]
        assert stored.digest == digest
        expected = f"content number {content}\n" * (content + 1)
        assert stored.get_entry("payload.txt").size == len(expected)
        # Every writing process is a producer of the version it logged.
        outputs = docket.Api().run(run_path).logged_artifacts()
        assert [a.version for a in outputs] == [version]

    latest = docket.Api().artifact("contended:latest")
    assert latest.version in by_version
    root = Path(latest.download(root=tmp_path / "latest"))
    latest.verify(root=root)
