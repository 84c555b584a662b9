"""The file:// samples of the W&B guide "Track external files", run unchanged.

Each sample below is copied verbatim from the guide
(``seed/000_c9f0918619870983.txt``). The only edits made before running them are
the two a user makes by switching libraries and machines: ``import wandb``
becomes ``import docket as wandb``, and the mount point ``/mount/`` becomes a
temporary folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import docket
from docket.errors import (
    DocketError,
    IntegrityError,
    ReferenceChangedError,
    ReferenceMissingError,
)

MD5_ALPHA = "9f9f90dbe3e5ee1218c86b8839db1995"  # md5(b"alpha\n")
MD5_ALPHA_UPPER = "9a3f48b78634f4f5e1e4c8363e0e1aee"  # md5(b"ALPHA\n")
MD5_MODEL = "1e48a88d001ff76a7ea01f1c6a3e23b1"  # md5(b"model weights v1\n")

LOG_MNIST = """\
import wandb

run = wandb.init()
artifact = wandb.Artifact("mnist", type="dataset")
artifact.add_reference("file:///mount/datasets/mnist/")
run.log_artifact(artifact)
"""

DOWNLOAD_MNIST = """\
import wandb

run = wandb.init()
artifact = run.use_artifact("mnist:latest", type="dataset")
artifact_dir = artifact.download()
"""

DOWNLOAD_MNIST_QUALIFIED = """\
import wandb

run = wandb.init()
artifact = run.use_artifact("entity/project/mnist:latest", type="dataset")
artifact_dir = artifact.download()
"""

USE_DRAFT_MNIST = """\
import wandb

run = wandb.init()

artifact = wandb.Artifact("mnist", type="dataset")
artifact.add_reference("file:///mount/datasets/mnist/")

# Artifact を追跡し、それをこの run の入力としてマークします。
# 新しい Artifact バージョンは
# ディレクトリー内のファイルが変更された場合にのみ
# ログに記録されます。
run.use_artifact(artifact)

artifact_dir = artifact.download()

# ここでトレーニングを実行します...
"""

LOG_MODEL = """\
import wandb

run = wandb.init()

# ここでトレーニング...

# モデルをディスクに書き込みます

model_artifact = wandb.Artifact("cnn", type="model")
model_artifact.add_reference("file:///mount/cnn/my_model.h5")
run.log_artifact(model_artifact)
"""

DOWNLOAD_MODEL = """\
import wandb

run = wandb.init()
artifact = run.use_artifact(artifact_or_name = "cnn", type="model")
datadir = artifact.download()
"""


@pytest.fixture
def mount(folder: Path) -> Path:
    """The stand-in for the guide's ``/mount``; the ``folder`` fixture lives in it."""
    root = folder.parent.parent
    assert folder == root / "datasets" / "mnist"
    return root


@pytest.fixture
def guide_names(
    monkeypatch: pytest.MonkeyPatch, join_team: Callable[[str], None]
) -> None:
    """Log under entity 'entity' and project 'project', the names the guide uses."""
    join_team("entity")
    monkeypatch.setenv("DOCKET_ENTITY", "entity")
    monkeypatch.setenv("DOCKET_PROJECT", "project")


def run_sample(source: str, mount: Path) -> dict[str, Any]:
    """Run a guide sample as a user would after switching to docket."""
    assert "import wandb\n" in source
    assert "/mount/" not in source or "file:///mount/" in source
    code = source.replace("import wandb\n", "import docket as wandb\n").replace(
        "file:///mount/", f"file://{mount}/"
    )
    namespace: dict[str, Any] = {"__name__": "guide_sample"}
    exec(compile(code, "<guide sample>", "exec"), namespace)
    return namespace


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by relative POSIX path, with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_log_directory_reference_then_download_mnist_latest(
    mount: Path, folder: Path
) -> None:
    logged = run_sample(LOG_MNIST, mount)
    artifact = logged["artifact"]
    assert artifact.name == "mnist:v0"
    assert artifact.version == "v0"
    assert "latest" in artifact.aliases
    entries = artifact.manifest.entries
    assert sorted(entries) == ["a.txt", "b.txt", "c.bin", "sub/d.txt"]
    assert entries["a.txt"].ref == f"file://{folder}/a.txt"
    assert entries["a.txt"].size == 6
    assert MD5_ALPHA in entries["a.txt"].digest
    assert all(e.ref is not None for e in entries.values())

    used = run_sample(DOWNLOAD_MNIST, mount)
    artifact_dir = Path(used["artifact_dir"])
    assert artifact_dir.resolve() == (Path.cwd() / "artifacts" / "mnist:v0").resolve()
    assert tree(artifact_dir) == tree(folder)
    assert used["artifact"].type == "dataset"
    assert used["artifact"].version == "v0"


def test_download_copies_the_referenced_files(mount: Path, folder: Path) -> None:
    run_sample(LOG_MNIST, mount)
    artifact_dir = Path(run_sample(DOWNLOAD_MNIST, mount)["artifact_dir"])
    copy = artifact_dir / "a.txt"
    assert not copy.is_symlink()
    assert copy.stat().st_ino != (folder / "a.txt").stat().st_ino
    # A copy: editing what was downloaded leaves the mounted dataset alone.
    copy.write_bytes(b"scribbled on\n")
    assert (folder / "a.txt").read_bytes() == b"alpha\n"


def test_download_by_entity_project_name(
    guide_names: None, mount: Path, folder: Path
) -> None:
    run_sample(LOG_MNIST, mount)
    used = run_sample(DOWNLOAD_MNIST_QUALIFIED, mount)
    artifact = used["artifact"]
    assert artifact.qualified_name == "entity/project/mnist:v0"
    artifact_dir = Path(used["artifact_dir"])
    assert artifact_dir.resolve() == (Path.cwd() / "artifacts" / "mnist:v0").resolve()
    assert tree(artifact_dir) == tree(folder)


def test_downloading_run_is_recorded_as_a_consumer(mount: Path, entity: str) -> None:
    run_sample(LOG_MNIST, mount)
    used = run_sample(DOWNLOAD_MNIST, mount)
    run = used["run"]
    consumers = [r.id for r in used["artifact"].used_by()]
    assert consumers == [run.id]
    inputs = docket.Api().run(run.path).used_artifacts()
    assert [a.qualified_name for a in inputs] == [f"{entity}/uncategorized/mnist:v0"]


def test_use_artifact_logs_a_draft_and_marks_it_an_input(
    mount: Path, folder: Path
) -> None:
    first = run_sample(USE_DRAFT_MNIST, mount)
    artifact = first["artifact"]
    assert artifact.version == "v0"
    assert "latest" in artifact.aliases
    artifact_dir = Path(first["artifact_dir"])
    assert artifact_dir.resolve() == (Path.cwd() / "artifacts" / "mnist:v0").resolve()
    assert tree(artifact_dir) == tree(folder)
    run = first["run"]
    inputs = docket.Api().run(run.path).used_artifacts()
    assert [a.version for a in inputs] == ["v0"]
    assert run.id in [r.id for r in artifact.used_by()]


def test_use_artifact_creates_a_version_only_when_files_changed(
    mount: Path, folder: Path
) -> None:
    assert run_sample(USE_DRAFT_MNIST, mount)["artifact"].version == "v0"

    again = run_sample(USE_DRAFT_MNIST, mount)
    assert again["artifact"].version == "v0"
    assert [a.version for a in docket.Api().artifacts("dataset", "mnist")] == ["v0"]
    # The second run used v0 too.
    used = docket.Api().run(again["run"].path).used_artifacts()
    assert [a.version for a in used] == ["v0"]

    (folder / "a.txt").write_bytes(b"ALPHA\n")
    changed = run_sample(USE_DRAFT_MNIST, mount)
    assert changed["artifact"].version == "v1"
    assert [a.version for a in docket.Api().artifacts("dataset", "mnist")] == [
        "v0",
        "v1",
    ]
    artifact_dir = Path(changed["artifact_dir"])
    assert artifact_dir.resolve() == (Path.cwd() / "artifacts" / "mnist:v1").resolve()
    assert (artifact_dir / "a.txt").read_bytes() == b"ALPHA\n"
    assert MD5_ALPHA_UPPER in changed["artifact"].get_entry("a.txt").digest
    latest = docket.Api().artifact("mnist:latest")
    assert latest.version == "v1"


def test_single_file_reference_model(mount: Path) -> None:
    model = mount / "cnn" / "my_model.h5"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"model weights v1\n")

    logged = run_sample(LOG_MODEL, mount)
    model_artifact = logged["model_artifact"]
    assert model_artifact.version == "v0"
    assert model_artifact.type == "model"
    entries = model_artifact.manifest.entries
    assert list(entries) == ["my_model.h5"]
    entry = entries["my_model.h5"]
    assert entry.ref == f"file://{model}"
    assert entry.size == len(b"model weights v1\n")
    assert MD5_MODEL in entry.digest

    used = run_sample(DOWNLOAD_MODEL, mount)
    datadir = Path(used["datadir"])
    assert datadir.resolve() == (Path.cwd() / "artifacts" / "cnn:v0").resolve()
    assert tree(datadir) == {"my_model.h5": b"model weights v1\n"}


def test_download_of_an_overwritten_file_raises_reference_changed(
    mount: Path, folder: Path
) -> None:
    run_sample(LOG_MNIST, mount)
    # Same size, other bytes: only the content digest can tell.
    (folder / "a.txt").write_bytes(b"ALPHA\n")

    with pytest.raises(ReferenceChangedError) as caught:
        run_sample(DOWNLOAD_MNIST, mount)
    error = caught.value
    assert isinstance(error, IntegrityError)
    assert isinstance(error, DocketError)
    message = str(error)
    assert f"{folder}/a.txt" in message
    assert MD5_ALPHA in message
    assert MD5_ALPHA_UPPER in message
    assert error.uri == f"file://{folder}/a.txt"
    assert error.path == "a.txt"
    assert MD5_ALPHA in error.expected
    assert MD5_ALPHA_UPPER in error.found
    assert not (Path.cwd() / "artifacts" / "mnist:v0" / "a.txt").exists()


def test_download_of_a_file_overwritten_with_another_size_raises(
    mount: Path, folder: Path
) -> None:
    run_sample(LOG_MNIST, mount)
    (folder / "b.txt").write_bytes(b"bravo, but longer\n")

    with pytest.raises(ReferenceChangedError) as caught:
        run_sample(DOWNLOAD_MNIST, mount)
    message = str(caught.value)
    assert f"{folder}/b.txt" in message
    assert caught.value.path == "b.txt"
    assert "6" in caught.value.expected
    assert "18" in caught.value.found
    assert not (Path.cwd() / "artifacts" / "mnist:v0" / "b.txt").exists()


def test_download_of_a_vanished_file_raises_reference_missing(
    mount: Path, folder: Path
) -> None:
    run_sample(LOG_MNIST, mount)
    (folder / "sub" / "d.txt").unlink()

    with pytest.raises(ReferenceMissingError) as caught:
        run_sample(DOWNLOAD_MNIST, mount)
    error = caught.value
    assert isinstance(error, FileNotFoundError)
    assert isinstance(error, DocketError)
    assert f"{folder}/sub/d.txt" in str(error)
    assert "allow_missing_references" in str(error)
    assert error.path == "sub/d.txt"


def test_allow_missing_references_skips_vanished_files(
    mount: Path, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_sample(LOG_MNIST, mount)
    (folder / "sub" / "d.txt").unlink()

    run = docket.init()
    artifact = run.use_artifact("mnist:latest", type="dataset")
    with caplog.at_level(logging.WARNING):
        artifact_dir = Path(artifact.download(allow_missing_references=True))
    assert tree(artifact_dir) == {
        "a.txt": b"alpha\n",
        "b.txt": b"bravo\n",
        "c.bin": bytes(range(256)),
    }
    # The user is told what was skipped.
    assert "sub/d.txt" in caplog.text


def active_run() -> docket.Run | None:
    return docket.run


def test_docket_run_is_the_active_run_and_init_is_a_context_manager(
    entity: str,
) -> None:
    with docket.init(project="ctx") as run:
        assert active_run() is run
        assert run.project == "ctx"
        assert run.entity == entity
    assert active_run() is None
    state = docket.Api().run(f"{entity}/ctx/{run.id}").state
    assert state == "finished"


def test_init_finishes_the_previous_run() -> None:
    first = docket.init()
    second = docket.init()
    assert active_run() is second
    assert docket.Api().run(first.path).state == "finished"
    assert docket.Api().run(second.path).state == "running"
    assert first.id != second.id
    assert os.path.sep not in first.id
