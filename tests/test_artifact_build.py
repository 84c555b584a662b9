"""Building artifacts: add_file, add_dir, new_file, remove, get_entry, manifests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import docket
from docket.errors import ValidationError

MD5_ALPHA = "9f9f90dbe3e5ee1218c86b8839db1995"  # md5(b"alpha\n")
MD5_BRAVO = "df34f5f71a4e812327ac9b04538386af"  # md5(b"bravo\n")
MD5_BYTES = "e2c865db4162bed963bfaa9ef6ac18f0"  # md5(bytes(range(256)))
MD5_DELTA = "d2840cc81bc032bd1141b56687d0f93c"  # md5(b"delta\n")


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def log(artifact: docket.Artifact) -> docket.Artifact:
    run = docket.init()
    run.log_artifact(artifact)
    run.finish()
    return artifact


def test_add_file_records_name_digest_and_size(folder: Path) -> None:
    artifact = docket.Artifact("files", type="dataset")
    entry = artifact.add_file(folder / "a.txt")
    assert entry.path == "a.txt"
    assert entry.size == 6
    assert MD5_ALPHA in entry.digest
    assert entry.ref is None
    named = artifact.add_file(str(folder / "c.bin"), name="raw/bytes.bin")
    assert named.path == "raw/bytes.bin"
    assert named.size == 256
    assert MD5_BYTES in named.digest
    assert sorted(artifact.manifest.entries) == ["a.txt", "raw/bytes.bin"]


def test_file_edited_after_add_file_logs_the_original_bytes(
    folder: Path, tmp_path: Path
) -> None:
    source = folder / "a.txt"
    artifact = docket.Artifact("snapshot", type="dataset")
    artifact.add_file(source)
    source.write_bytes(b"edited after add_file, before logging\n")
    log(artifact)

    assert MD5_ALPHA in artifact.get_entry("a.txt").digest
    fetched = docket.Api().artifact("snapshot:v0")
    root = Path(fetched.download(root=tmp_path / "out"))
    assert (root / "a.txt").read_bytes() == b"alpha\n"
    fetched.verify(root=root)


def test_file_deleted_after_add_file_still_logs(folder: Path, tmp_path: Path) -> None:
    artifact = docket.Artifact("gone", type="dataset")
    artifact.add_file(folder / "b.txt")
    (folder / "b.txt").unlink()
    log(artifact)
    root = Path(docket.Api().artifact("gone:latest").download(root=tmp_path / "out"))
    assert tree(root) == {"b.txt": b"bravo\n"}


def test_add_dir_with_and_without_name(folder: Path, tmp_path: Path) -> None:
    artifact = docket.Artifact("dirs", type="dataset")
    artifact.add_dir(folder)
    artifact.add_dir(str(folder / "sub"), name="images/train")
    assert sorted(artifact.manifest.entries) == [
        "a.txt",
        "b.txt",
        "c.bin",
        "images/train/d.txt",
        "sub/d.txt",
    ]
    assert MD5_DELTA in artifact.get_entry("images/train/d.txt").digest
    log(artifact)
    root = Path(docket.Api().artifact("dirs:v0").download(root=tmp_path / "out"))
    assert tree(root) == {
        "a.txt": b"alpha\n",
        "b.txt": b"bravo\n",
        "c.bin": bytes(range(256)),
        "images/train/d.txt": b"delta\n",
        "sub/d.txt": b"delta\n",
    }


def test_add_file_and_add_dir_refuse_the_wrong_kind_of_path(folder: Path) -> None:
    artifact = docket.Artifact("kinds", type="dataset")
    with pytest.raises(ValidationError):
        artifact.add_file(folder)
    with pytest.raises(ValidationError):
        artifact.add_dir(folder / "a.txt")
    with pytest.raises(ValidationError):
        artifact.add_file(folder / "no-such-file.txt")
    assert len(artifact.manifest.entries) == 0


def test_new_file_writes_into_the_artifact(tmp_path: Path) -> None:
    artifact = docket.Artifact("written", type="dataset")
    with artifact.new_file("notes/readme.txt") as handle:
        handle.write("hello from new_file\n")
    with artifact.new_file("blob.bin", mode="wb") as handle:
        handle.write(b"\x00\x01\x02")
    entry = artifact.get_entry("notes/readme.txt")
    assert entry.size == len(b"hello from new_file\n")
    assert hashlib.md5(b"hello from new_file\n").hexdigest() in entry.digest
    log(artifact)
    root = Path(docket.Api().artifact("written:v0").download(root=tmp_path / "out"))
    assert tree(root) == {
        "blob.bin": b"\x00\x01\x02",
        "notes/readme.txt": b"hello from new_file\n",
    }


def test_new_file_refuses_an_existing_entry_in_x_mode(folder: Path) -> None:
    artifact = docket.Artifact("exclusive", type="dataset")
    artifact.add_file(folder / "a.txt")
    with pytest.raises(ValidationError), artifact.new_file("a.txt") as handle:
        handle.write("replacement")
    assert MD5_ALPHA in artifact.get_entry("a.txt").digest


def test_remove_a_file_and_a_folder(folder: Path, tmp_path: Path) -> None:
    artifact = docket.Artifact("trimmed", type="dataset")
    artifact.add_dir(folder)
    artifact.remove("b.txt")
    assert "b.txt" not in artifact.manifest.entries
    artifact.remove("sub")
    assert sorted(artifact.manifest.entries) == ["a.txt", "c.bin"]
    artifact.remove(artifact.get_entry("c.bin"))
    assert sorted(artifact.manifest.entries) == ["a.txt"]
    log(artifact)
    root = Path(docket.Api().artifact("trimmed:v0").download(root=tmp_path / "out"))
    assert tree(root) == {"a.txt": b"alpha\n"}


def test_get_entry(folder: Path) -> None:
    artifact = docket.Artifact("lookup", type="dataset")
    artifact.add_dir(folder)
    entry = artifact.get_entry("sub/d.txt")
    assert entry.path == "sub/d.txt"
    assert entry.size == 6
    assert MD5_DELTA in entry.digest
    with pytest.raises(KeyError):
        artifact.get_entry("sub/missing.txt")


def test_manifest_entries_is_a_mapping_of_path_to_entry(folder: Path) -> None:
    artifact = docket.Artifact("mapping", type="dataset")
    artifact.add_file(folder / "a.txt")
    artifact.add_reference(f"file://{folder}/b.txt")
    entries = artifact.manifest.entries
    assert set(entries) == {"a.txt", "b.txt"}
    for path, entry in entries.items():
        assert entry.path == path
        assert isinstance(entry.digest, str)
        assert isinstance(entry.size, int)
        assert isinstance(entry.extra, dict)
    assert entries["a.txt"].ref is None
    assert entries["b.txt"].ref == f"file://{folder}/b.txt"
    assert MD5_ALPHA in entries["a.txt"].digest
    assert MD5_BRAVO in entries["b.txt"].digest
    assert len(artifact.manifest) == 2
    assert sorted(e.path for e in artifact.manifest) == ["a.txt", "b.txt"]


def test_entry_digest_is_equal_for_equal_content_only(
    folder: Path, tmp_path: Path
) -> None:
    twin = tmp_path / "twin.txt"
    twin.write_bytes(b"alpha\n")
    artifact = docket.Artifact("digests", type="dataset")
    a = artifact.add_file(folder / "a.txt")
    same = artifact.add_file(twin)
    other = artifact.add_file(folder / "b.txt")
    assert a.digest == same.digest
    assert a.digest != other.digest


def test_artifact_digest_is_equal_for_equal_content_only(
    folder: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("a.txt", "b.txt"):
        (copy / name).write_bytes((folder / name).read_bytes())

    first = docket.Artifact("d1", type="dataset")
    first.add_file(folder / "a.txt")
    first.add_file(folder / "b.txt")
    second = docket.Artifact("d2", type="dataset")
    second.add_file(copy / "b.txt")
    second.add_file(copy / "a.txt")
    assert first.digest == second.digest

    renamed = docket.Artifact("d3", type="dataset")
    renamed.add_file(copy / "a.txt", name="A.txt")
    renamed.add_file(copy / "b.txt")
    assert renamed.digest != first.digest

    (copy / "a.txt").write_bytes(b"ALPHA\n")
    changed = docket.Artifact("d4", type="dataset")
    changed.add_file(copy / "a.txt")
    changed.add_file(copy / "b.txt")
    assert changed.digest != first.digest


def test_size_is_the_total_of_the_entries(folder: Path) -> None:
    artifact = docket.Artifact("sized", type="dataset")
    artifact.add_dir(folder)
    assert artifact.size == 6 + 6 + 256 + 6
    log(artifact)
    assert docket.Api().artifact("sized:v0").size == 274


@pytest.mark.embedded_only
def test_blobs_are_deduplicated_by_content(
    folder: Path, tmp_path: Path, docket_home: Path
) -> None:
    twin = tmp_path / "twin.txt"
    twin.write_bytes(b"alpha\n")
    artifact = docket.Artifact("dedup", type="dataset")
    artifact.add_file(folder / "a.txt")
    artifact.add_file(twin, name="copy-of-a.txt")
    artifact.add_file(folder / "b.txt")
    log(artifact)

    blob_root = docket_home / "blobs" / "md5"
    assert files_under(blob_root) == sorted(
        [
            blob_root / MD5_ALPHA[:2] / MD5_ALPHA[2:],
            blob_root / MD5_BRAVO[:2] / MD5_BRAVO[2:],
        ]
    )
    assert (blob_root / MD5_ALPHA[:2] / MD5_ALPHA[2:]).read_bytes() == b"alpha\n"

    # Another artifact holding the same bytes adds no blob either.
    again = docket.Artifact("dedup-again", type="dataset")
    again.add_file(twin)
    log(again)
    assert len(files_under(blob_root)) == 2


def test_logging_leaves_no_staged_copies(folder: Path, docket_home: Path) -> None:
    artifact = docket.Artifact("clean", type="dataset")
    artifact.add_dir(folder)
    with artifact.new_file("new.txt") as handle:
        handle.write("x")
    log(artifact)
    assert files_under(docket_home / "staging") == []


def test_a_logged_artifact_refuses_changes(folder: Path) -> None:
    artifact = docket.Artifact("frozen", type="dataset")
    artifact.add_file(folder / "a.txt")
    log(artifact)

    with pytest.raises(ValidationError):
        artifact.add_file(folder / "b.txt")
    with pytest.raises(ValidationError):
        artifact.add_dir(folder)
    with pytest.raises(ValidationError):
        artifact.add_reference(f"file://{folder}/b.txt")
    with pytest.raises(ValidationError), artifact.new_file("new.txt") as handle:
        handle.write("x")
    with pytest.raises(ValidationError):
        artifact.remove("a.txt")
    assert sorted(artifact.manifest.entries) == ["a.txt"]

    fetched = docket.Api().artifact("frozen:v0")
    with pytest.raises(ValidationError):
        fetched.add_file(folder / "b.txt")
    with pytest.raises(ValidationError):
        fetched.remove("a.txt")
    assert sorted(fetched.manifest.entries) == ["a.txt"]


def test_a_fetched_artifact_reports_what_was_logged(folder: Path, entity: str) -> None:
    artifact = docket.Artifact(
        "described",
        type="model",
        description="a small model",
        metadata={"epochs": 3, "lr": 0.1},
    )
    artifact.add_file(folder / "a.txt")
    log(artifact)

    fetched = docket.Api().artifact("described:latest")
    assert fetched.name == "described:v0"
    assert fetched.type == "model"
    assert fetched.version == "v0"
    assert fetched.description == "a small model"
    assert fetched.metadata == {"epochs": 3, "lr": 0.1}
    assert fetched.digest == artifact.digest
    assert fetched.qualified_name == f"{entity}/uncategorized/described:v0"
    assert fetched.id == artifact.id
    assert fetched.state == "COMMITTED"
    assert [e.path for e in fetched.files()] == ["a.txt"]
