"""file:// references: files, folders, names, limits, symlinks and the hash cache."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import docket
import docket.storage.hashcache
from docket.errors import TooManyObjectsError, ValidationError
from docket.storage.hashing import FileStat

MD5_ALPHA = "9f9f90dbe3e5ee1218c86b8839db1995"  # md5(b"alpha\n")
MD5_BRAVO = "df34f5f71a4e812327ac9b04538386af"  # md5(b"bravo\n")
MD5_BYTES = "e2c865db4162bed963bfaa9ef6ac18f0"  # md5(bytes(range(256)))
MD5_DELTA = "d2840cc81bc032bd1141b56687d0f93c"  # md5(b"delta\n")
MD5_EMPTY = "d41d8cd98f00b204e9800998ecf8427e"  # md5(b"")
MD5_REWRITTEN = "1bcd476faccbd8670b3b215933eb115b"  # md5(b"alpha, rewritten\n")


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def log(artifact: docket.Artifact) -> docket.Artifact:
    run = docket.init()
    run.log_artifact(artifact)
    run.finish()
    return artifact


def age(root: Path, seconds: float = 3600.0) -> None:
    """Date every file below ``root`` back, as files that were not just written."""
    when = time.time() - seconds
    paths = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
    for path in paths:
        os.utime(path, (when, when))


def test_single_file_reference(folder: Path) -> None:
    artifact = docket.Artifact("one", type="dataset")
    entries = artifact.add_reference(f"file://{folder}/c.bin")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.path == "c.bin"
    assert entry.ref == f"file://{folder}/c.bin"
    assert entry.size == 256
    assert MD5_BYTES in entry.digest
    assert artifact.manifest.entries == {"c.bin": entry}


def test_single_file_reference_with_name(folder: Path) -> None:
    artifact = docket.Artifact("one", type="dataset")
    [entry] = artifact.add_reference(f"file://{folder}/a.txt", name="renamed/alpha.txt")
    assert entry.path == "renamed/alpha.txt"
    assert entry.ref == f"file://{folder}/a.txt"
    assert MD5_ALPHA in entry.digest


def test_directory_reference(folder: Path) -> None:
    artifact = docket.Artifact("dir", type="dataset")
    entries = artifact.add_reference(f"file://{folder}")
    by_path = {e.path: e for e in entries}
    assert sorted(by_path) == ["a.txt", "b.txt", "c.bin", "sub/d.txt"]
    assert by_path["sub/d.txt"].ref == f"file://{folder}/sub/d.txt"
    assert {p: e.size for p, e in by_path.items()} == {
        "a.txt": 6,
        "b.txt": 6,
        "c.bin": 256,
        "sub/d.txt": 6,
    }
    assert MD5_ALPHA in by_path["a.txt"].digest
    assert MD5_BRAVO in by_path["b.txt"].digest
    assert MD5_BYTES in by_path["c.bin"].digest
    assert MD5_DELTA in by_path["sub/d.txt"].digest

    # A trailing slash names the same folder.
    slashed = docket.Artifact("dir2", type="dataset")
    slashed.add_reference(f"file://{folder}/")
    assert slashed.digest == artifact.digest


def test_directory_reference_with_name_prefix(folder: Path, tmp_path: Path) -> None:
    artifact = docket.Artifact("prefixed", type="dataset")
    artifact.add_reference(f"file://{folder}", name="mnist")
    assert sorted(artifact.manifest.entries) == [
        "mnist/a.txt",
        "mnist/b.txt",
        "mnist/c.bin",
        "mnist/sub/d.txt",
    ]
    log(artifact)
    root = Path(docket.Api().artifact("prefixed:v0").download(root=tmp_path / "out"))
    assert tree(root) == {f"mnist/{k}": v for k, v in tree(folder).items()}


def test_prefix_directory_does_not_match_a_sibling_with_a_longer_name(
    folder: Path,
) -> None:
    sibling = folder.parent / (folder.name + "2")
    sibling.mkdir()
    (sibling / "other.txt").write_bytes(b"not mnist\n")
    artifact = docket.Artifact("exact", type="dataset")
    artifact.add_reference(f"file://{folder}")
    assert sorted(artifact.manifest.entries) == ["a.txt", "b.txt", "c.bin", "sub/d.txt"]


def test_empty_files_are_entries(tmp_path: Path) -> None:
    root = tmp_path / "empties"
    root.mkdir()
    (root / "zero.txt").write_bytes(b"")
    artifact = docket.Artifact("empties", type="dataset")
    [entry] = artifact.add_reference(f"file://{root}")
    assert entry.path == "zero.txt"
    assert entry.size == 0
    assert MD5_EMPTY in entry.digest


def test_checksum_false_records_the_uri_only(folder: Path, tmp_path: Path) -> None:
    artifact = docket.Artifact("unchecked", type="dataset")
    [entry] = artifact.add_reference(f"file://{folder}/a.txt", checksum=False)
    assert entry.path == "a.txt"
    assert entry.ref == f"file://{folder}/a.txt"
    assert entry.size is None
    assert entry.digest.startswith("uri:")
    assert f"file://{folder}/a.txt" in entry.digest
    log(artifact)

    # Nothing was recorded to vouch for the bytes, so the current ones come back.
    (folder / "a.txt").write_bytes(b"alpha, rewritten\n")
    root = Path(docket.Api().artifact("unchecked:v0").download(root=tmp_path / "out"))
    assert tree(root) == {"a.txt": b"alpha, rewritten\n"}


def test_checksum_false_directory_still_downloads(folder: Path, tmp_path: Path) -> None:
    artifact = docket.Artifact("unchecked-dir", type="dataset")
    entries = artifact.add_reference(f"file://{folder}", name="data", checksum=False)
    assert [e.path for e in entries] == ["data"]
    assert entries[0].size is None
    assert entries[0].digest.startswith("uri:")
    log(artifact)
    root = Path(
        docket.Api().artifact("unchecked-dir:v0").download(root=tmp_path / "out")
    )
    assert tree(root) == {f"data/{k}": v for k, v in tree(folder).items()}


def test_missing_path_is_refused_at_add_time(folder: Path) -> None:
    artifact = docket.Artifact("missing", type="dataset")
    with pytest.raises(FileNotFoundError) as caught:
        artifact.add_reference(f"file://{folder}/no-such-thing")
    assert "no-such-thing" in str(caught.value)
    assert len(artifact.manifest.entries) == 0


def test_file_uri_with_a_host_is_refused(folder: Path) -> None:
    artifact = docket.Artifact("hosted", type="dataset")
    with pytest.raises(ValidationError) as caught:
        artifact.add_reference(f"file:/{folder}")  # file://tmp/... : 'tmp' is a host
    assert "file:///" in str(caught.value)


def make_files(root: Path, count: int) -> None:
    root.mkdir()
    for i in range(count):
        (root / f"f{i:05d}").touch()


def test_default_max_objects_is_ten_thousand(tmp_path: Path) -> None:
    big = tmp_path / "big"
    make_files(big, 10_001)
    uri = f"file://{big}"

    artifact = docket.Artifact("big", type="dataset")
    with pytest.raises(TooManyObjectsError) as caught:
        artifact.add_reference(uri)
    error = caught.value
    assert isinstance(error, ValidationError)
    message = str(error)
    assert uri in message
    assert "10,001" in message or "10001" in message
    assert "max_objects" in message
    assert error.uri == uri
    assert error.count == 10_001
    assert error.max_objects == 10_000
    assert len(artifact.manifest.entries) == 0

    entries = artifact.add_reference(uri, max_objects=10_001)
    assert len(entries) == 10_001
    assert len(artifact.manifest.entries) == 10_001
    assert all(e.size == 0 and MD5_EMPTY in e.digest for e in entries)


def test_exactly_max_objects_is_allowed(tmp_path: Path) -> None:
    root = tmp_path / "five"
    make_files(root, 5)
    artifact = docket.Artifact("five", type="dataset")
    assert len(artifact.add_reference(f"file://{root}", max_objects=5)) == 5
    with pytest.raises(TooManyObjectsError) as caught:
        docket.Artifact("four", type="dataset").add_reference(
            f"file://{root}", max_objects=4
        )
    assert caught.value.max_objects == 4


def test_max_objects_must_be_positive(folder: Path) -> None:
    artifact = docket.Artifact("limits", type="dataset")
    with pytest.raises(ValidationError):
        artifact.add_reference(f"file://{folder}", max_objects=0)


def test_symlink_to_a_file_is_followed(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"alpha, rewritten\n")
    (folder / "linked.txt").symlink_to(outside)

    artifact = docket.Artifact("links", type="dataset")
    artifact.add_reference(f"file://{folder}")
    entry = artifact.get_entry("linked.txt")
    assert entry.size == len(b"alpha, rewritten\n")
    assert MD5_REWRITTEN in entry.digest
    log(artifact)
    root = Path(docket.Api().artifact("links:v0").download(root=tmp_path / "out"))
    assert (root / "linked.txt").read_bytes() == b"alpha, rewritten\n"
    assert not (root / "linked.txt").is_symlink()


def test_single_file_reference_through_a_symlink(folder: Path, tmp_path: Path) -> None:
    link = tmp_path / "model-link.bin"
    link.symlink_to(folder / "c.bin")
    artifact = docket.Artifact("link-one", type="model")
    [entry] = artifact.add_reference(f"file://{link}")
    assert entry.path == "model-link.bin"
    assert entry.size == 256
    assert MD5_BYTES in entry.digest


def test_dangling_symlink_is_not_an_entry(folder: Path, tmp_path: Path) -> None:
    (folder / "dangling").symlink_to(tmp_path / "nowhere")
    artifact = docket.Artifact("dangling", type="dataset")
    artifact.add_reference(f"file://{folder}")
    assert sorted(artifact.manifest.entries) == ["a.txt", "b.txt", "c.bin", "sub/d.txt"]


def test_symlink_loop_terminates(folder: Path) -> None:
    (folder / "sub" / "loop").symlink_to(folder)  # sub/loop -> the referenced folder
    (folder / "self").symlink_to(".")  # self -> itself

    artifact = docket.Artifact("loop", type="dataset")
    outcome: list[object] = []

    def add() -> None:
        try:
            outcome.append(artifact.add_reference(f"file://{folder}"))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=add, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "add_reference did not return on a symlink loop"
    [result] = outcome
    assert not isinstance(result, BaseException), result
    assert sorted(artifact.manifest.entries) == ["a.txt", "b.txt", "c.bin", "sub/d.txt"]


class Md5Spy:
    """Records the files docket hands to its hasher, i.e. the files it reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        real = docket.storage.hashcache.md5_files

        def spy(stats: Sequence[FileStat], *args: Any, **kwargs: Any) -> list[str]:
            self.paths.extend(s.path for s in stats)
            return real(stats, *args, **kwargs)

        monkeypatch.setattr(docket.storage.hashcache, "md5_files", spy)

    def take(self) -> list[str]:
        taken, self.paths = sorted(self.paths), []
        return taken


def test_unchanged_folder_is_not_read_again(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    age(folder)
    spy = Md5Spy(monkeypatch)
    first = docket.Artifact("cached", type="dataset")
    first.add_reference(f"file://{folder}")
    assert len(spy.take()) == 4

    second = docket.Artifact("cached", type="dataset")
    second.add_reference(f"file://{folder}")
    assert spy.take() == []
    assert second.digest == first.digest


def test_changed_size_is_hashed_again(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    age(folder)
    spy = Md5Spy(monkeypatch)
    docket.Artifact("cached", type="dataset").add_reference(f"file://{folder}")
    spy.take()

    (folder / "a.txt").write_bytes(b"alpha, rewritten\n")
    age(folder / "a.txt", seconds=7200)
    again = docket.Artifact("cached", type="dataset")
    again.add_reference(f"file://{folder}")
    assert spy.take() == [str(folder / "a.txt")]
    assert MD5_REWRITTEN in again.get_entry("a.txt").digest


def test_changed_mtime_is_hashed_again(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    age(folder)
    spy = Md5Spy(monkeypatch)
    docket.Artifact("cached", type="dataset").add_reference(f"file://{folder}")
    spy.take()

    # Same size, other bytes, and an mtime that moved: the cache must not vouch.
    (folder / "b.txt").write_bytes(b"BRAVO\n")
    age(folder / "b.txt", seconds=7200)
    again = docket.Artifact("cached", type="dataset")
    again.add_reference(f"file://{folder}")
    assert spy.take() == [str(folder / "b.txt")]
    assert MD5_BRAVO not in again.get_entry("b.txt").digest


def test_a_file_replaced_by_another_inode_is_hashed_again(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    age(folder)
    before = (folder / "a.txt").stat()
    spy = Md5Spy(monkeypatch)
    docket.Artifact("cached", type="dataset").add_reference(f"file://{folder}")
    spy.take()

    # Replace a.txt by another file with the same size and mtime (rename over it).
    replacement = folder / "a.txt.new"
    replacement.write_bytes(b"ALPHA\n")
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    replacement.replace(folder / "a.txt")
    assert (folder / "a.txt").stat().st_ino != before.st_ino

    again = docket.Artifact("cached", type="dataset")
    again.add_reference(f"file://{folder}")
    assert spy.take() == [str(folder / "a.txt")]
    assert MD5_ALPHA not in again.get_entry("a.txt").digest


def test_adding_the_same_path_twice_with_other_content_is_refused(
    folder: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.txt").write_bytes(b"ALPHA\n")
    artifact = docket.Artifact("clash", type="dataset")
    artifact.add_reference(f"file://{folder}/a.txt")
    with pytest.raises(ValidationError):
        artifact.add_reference(f"file://{other}/a.txt")
    assert MD5_ALPHA in artifact.get_entry("a.txt").digest


ODD_NAMES = [
    "with space.txt",
    "100%.txt",
    "a%20b.txt",
    "hash#tag.txt",
    "question?.txt",
    "données.txt",
    "semi;colon.txt",
]


def test_odd_file_names_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "odd folder #1"
    (root / "sub dir%").mkdir(parents=True)
    for i, name in enumerate(ODD_NAMES):
        (root / name).write_bytes(f"file {i}\n".encode())
        (root / "sub dir%" / name).write_bytes(f"nested {i}\n".encode())
    expected = tree(root)

    artifact = docket.Artifact("odd", type="dataset")
    artifact.add_reference(f"file://{root}")
    assert sorted(artifact.manifest.entries) == sorted(expected)
    log(artifact)

    fetched = docket.Api().artifact("odd:v0")
    out = Path(fetched.download(root=tmp_path / "out"))
    assert tree(out) == expected
    fetched.verify(root=out)


@pytest.mark.parametrize("name", ["with space.txt", "100%.txt", "données.txt"])
def test_single_file_with_an_odd_name(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(b"alpha\n")
    artifact = docket.Artifact("odd-one", type="dataset")
    [entry] = artifact.add_reference(f"file://{path}")
    assert entry.path == name
    assert MD5_ALPHA in entry.digest
    log(artifact)
    out = Path(docket.Api().artifact("odd-one:v0").download(root=tmp_path / "out"))
    assert tree(out) == {name: b"alpha\n"}
