"""Download, checkout and verify, for reference and stored artifacts alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import docket
from docket.errors import IntegrityError

MD5_ALPHA = "9f9f90dbe3e5ee1218c86b8839db1995"  # md5(b"alpha\n")

Builder = Callable[[docket.Artifact, Path], None]


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def by_reference(artifact: docket.Artifact, folder: Path) -> None:
    artifact.add_reference(f"file://{folder}")


def stored(artifact: docket.Artifact, folder: Path) -> None:
    artifact.add_dir(folder)


KINDS = pytest.mark.parametrize("build", [by_reference, stored], ids=["ref", "stored"])


def log_mnist(folder: Path, build: Builder = by_reference) -> docket.Artifact:
    run = docket.init()
    artifact = docket.Artifact("mnist", type="dataset")
    build(artifact, folder)
    run.log_artifact(artifact)
    run.finish()
    return docket.Api().artifact("mnist:latest")


@KINDS
def test_default_root_is_artifacts_name_version(folder: Path, build: Builder) -> None:
    artifact = log_mnist(folder, build)
    root = Path(artifact.download())
    assert root.resolve() == (Path.cwd() / "artifacts" / "mnist:v0").resolve()
    assert tree(root) == tree(folder)


def test_default_root_follows_the_version(folder: Path) -> None:
    log_mnist(folder)
    (folder / "a.txt").write_bytes(b"ALPHA\n")
    v1 = log_mnist(folder)
    assert v1.version == "v1"
    root = Path(v1.download())
    assert root.resolve() == (Path.cwd() / "artifacts" / "mnist:v1").resolve()
    assert (root / "a.txt").read_bytes() == b"ALPHA\n"


def test_docket_artifact_dir_overrides_artifacts(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "downloads"
    monkeypatch.setenv("DOCKET_ARTIFACT_DIR", str(elsewhere))
    artifact = log_mnist(folder)
    root = Path(artifact.download())
    assert root.resolve() == (elsewhere / "mnist:v0").resolve()
    assert tree(root) == tree(folder)
    assert not (Path.cwd() / "artifacts").exists()


@KINDS
def test_root_argument(folder: Path, tmp_path: Path, build: Builder) -> None:
    artifact = log_mnist(folder, build)
    target = tmp_path / "somewhere" / "else"
    assert Path(artifact.download(root=target)) == target
    assert tree(target) == tree(folder)
    assert Path(artifact.download(root=str(tmp_path / "as-str"))) == tmp_path / "as-str"
    assert not (Path.cwd() / "artifacts").exists()


@KINDS
def test_path_prefix_downloads_a_subset(
    folder: Path, tmp_path: Path, build: Builder
) -> None:
    artifact = log_mnist(folder, build)
    root = Path(artifact.download(root=tmp_path / "out", path_prefix="sub/"))
    assert tree(root) == {"sub/d.txt": b"delta\n"}
    root = Path(artifact.download(root=tmp_path / "out2", path_prefix="a"))
    assert tree(root) == {"a.txt": b"alpha\n"}


def cache_files(cache: Path) -> dict[bytes, int]:
    """How many files under ``cache`` hold each content."""
    counts: dict[bytes, int] = {}
    if cache.exists():
        for path in cache.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                counts[data] = counts.get(data, 0) + 1
    return counts


def test_references_go_through_docket_cache_dir(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docket_home: Path
) -> None:
    cache = tmp_path / "my-cache"
    monkeypatch.setenv("DOCKET_CACHE_DIR", str(cache))
    artifact = log_mnist(folder)
    artifact.download(root=tmp_path / "out")
    held = cache_files(cache)
    for content in tree(folder).values():
        assert held.get(content) == 1, content
    assert cache_files(docket_home / "cache") == {}


def test_skip_cache_leaves_the_cache_alone(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "my-cache"
    monkeypatch.setenv("DOCKET_CACHE_DIR", str(cache))
    artifact = log_mnist(folder)
    root = Path(artifact.download(root=tmp_path / "out", skip_cache=True))
    assert tree(root) == tree(folder)
    held = cache_files(cache)
    for content in tree(folder).values():
        assert content not in held


def test_a_cached_reference_is_served_without_reading_the_source_again(
    folder: Path, tmp_path: Path
) -> None:
    artifact = log_mnist(folder)
    artifact.download(root=tmp_path / "first")
    # The source can no longer be read; the cache still holds the logged bytes.
    for path in folder.rglob("*"):
        if path.is_file():
            path.unlink()
    root = Path(artifact.download(root=tmp_path / "second"))
    assert tree(root) == tree(tmp_path / "first")


def test_reference_downloads_are_read_only_links_that_heal(
    folder: Path, tmp_path: Path
) -> None:
    artifact = log_mnist(folder, by_reference)
    first = Path(artifact.download(root=tmp_path / "first"))
    second = Path(artifact.download(root=tmp_path / "second"))
    linked = first / "a.txt"
    assert linked.stat().st_nlink >= 3  # the cache file and both downloads
    assert linked.stat().st_mode & 0o222 == 0
    # Root ignores the read-only bit: an in-place edit reaches every link, and the
    # next download notices the changed file and fetches the logged bytes again.
    with open(linked, "r+b") as handle:
        handle.write(b"ALPHA\n")
    assert (folder / "a.txt").read_bytes() == b"alpha\n"
    artifact.download(root=second)
    assert (second / "a.txt").read_bytes() == b"alpha\n"
    third = Path(artifact.download(root=tmp_path / "third"))
    assert (third / "a.txt").read_bytes() == b"alpha\n"


@KINDS
def test_copy_mode_gives_independent_writable_copies(
    folder: Path, tmp_path: Path, build: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKET_DOWNLOAD_LINKS", "copy")
    artifact = log_mnist(folder, build)
    first = Path(artifact.download(root=tmp_path / "first"))
    second = Path(artifact.download(root=tmp_path / "second"))
    # Editing one downloaded file in place touches neither the other copy, nor the
    # cache, nor the source.
    with open(first / "a.txt", "r+b") as handle:
        handle.write(b"ALPHA\n")
    assert (second / "a.txt").read_bytes() == b"alpha\n"
    assert (folder / "a.txt").read_bytes() == b"alpha\n"
    third = Path(artifact.download(root=tmp_path / "third"))
    assert (third / "a.txt").read_bytes() == b"alpha\n"


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


@KINDS
def test_files_already_in_place_are_not_rewritten(
    folder: Path, tmp_path: Path, build: Builder
) -> None:
    artifact = log_mnist(folder, build)
    root = Path(artifact.download(root=tmp_path / "out"))
    before = snapshot(root)
    assert len(before) == 4
    artifact.download(root=root)
    assert snapshot(root) == before
    docket.Api().artifact("mnist:v0").download(root=root)
    assert snapshot(root) == before


@KINDS
def test_a_corrupted_file_in_place_is_replaced(
    folder: Path, tmp_path: Path, build: Builder
) -> None:
    artifact = log_mnist(folder, build)
    root = Path(artifact.download(root=tmp_path / "out"))
    (root / "a.txt").unlink()
    (root / "a.txt").write_bytes(b"ALPHA\n")  # same size, other bytes
    (root / "b.txt").unlink()
    (root / "b.txt").write_bytes(b"bravo, but longer\n")
    (root / "sub" / "d.txt").unlink()
    artifact.download(root=root)
    assert tree(root) == tree(folder)


@KINDS
def test_a_file_corrupted_through_its_inode_is_replaced(
    folder: Path, tmp_path: Path, build: Builder
) -> None:
    artifact = log_mnist(folder, build)
    root = Path(artifact.download(root=tmp_path / "out"))
    with open(root / "a.txt", "r+b") as handle:
        handle.write(b"ALPHA\n")
    artifact.download(root=root)
    assert tree(root) == tree(folder)
    artifact.verify(root=root)


@KINDS
def test_checkout_removes_extra_files(
    folder: Path, tmp_path: Path, build: Builder
) -> None:
    artifact = log_mnist(folder, build)
    root = tmp_path / "out"
    (root / "junk" / "deeper").mkdir(parents=True)
    (root / "junk" / "deeper" / "x.txt").write_bytes(b"x")
    (root / "extra.txt").write_bytes(b"extra")
    (root / "sub").mkdir()
    (root / "sub" / "stray.txt").write_bytes(b"stray")
    assert Path(artifact.checkout(root=root)) == root
    assert tree(root) == tree(folder)
    assert not (root / "junk").exists()
    artifact.verify(root=root)


@KINDS
def test_verify_passes_on_a_good_copy(
    folder: Path, tmp_path: Path, build: Builder
) -> None:
    artifact = log_mnist(folder, build)
    artifact.download()
    artifact.verify()
    root = Path(artifact.download(root=tmp_path / "out"))
    artifact.verify(root=root)


@KINDS
def test_verify_fails_on_a_modified_download(
    folder: Path, tmp_path: Path, build: Builder
) -> None:
    artifact = log_mnist(folder, build)
    root = Path(artifact.download(root=tmp_path / "out"))
    (root / "sub" / "d.txt").unlink()
    (root / "sub" / "d.txt").write_bytes(b"DELTA\n")
    with pytest.raises(IntegrityError) as caught:
        artifact.verify(root=root)
    assert "sub/d.txt" in str(caught.value)


@KINDS
def test_verify_fails_on_a_missing_or_extra_file(
    folder: Path, tmp_path: Path, build: Builder
) -> None:
    artifact = log_mnist(folder, build)
    root = Path(artifact.download(root=tmp_path / "out"))
    (root / "b.txt").unlink()
    with pytest.raises(IntegrityError) as caught:
        artifact.verify(root=root)
    assert "b.txt" in str(caught.value)

    artifact.download(root=root)
    (root / "surprise.txt").write_bytes(b"!")
    with pytest.raises(IntegrityError) as caught:
        artifact.verify(root=root)
    assert "surprise.txt" in str(caught.value)


def test_verify_fails_when_a_referenced_source_changed(
    folder: Path, tmp_path: Path
) -> None:
    artifact = log_mnist(folder)
    root = Path(artifact.download(root=tmp_path / "out"))
    artifact.verify(root=root)
    (folder / "c.bin").write_bytes(bytes(reversed(range(256))))
    with pytest.raises(IntegrityError) as caught:
        artifact.verify(root=root)
    assert "c.bin" in str(caught.value)


def test_verify_fails_when_a_referenced_source_vanished(
    folder: Path, tmp_path: Path
) -> None:
    artifact = log_mnist(folder)
    root = Path(artifact.download(root=tmp_path / "out"))
    (folder / "b.txt").unlink()
    with pytest.raises(IntegrityError) as caught:
        artifact.verify(root=root)
    assert "b.txt" in str(caught.value)


def test_download_writes_no_temporary_files(folder: Path, tmp_path: Path) -> None:
    artifact = log_mnist(folder)
    root = Path(artifact.download(root=tmp_path / "out"))
    names = [p.name for p in root.rglob("*")]
    assert sorted(names) == ["a.txt", "b.txt", "c.bin", "d.txt", "sub"]


def test_a_failed_download_leaves_no_partial_file(folder: Path, tmp_path: Path) -> None:
    artifact = log_mnist(folder)
    (folder / "c.bin").write_bytes(b"\x00" * 256)
    root = tmp_path / "out"
    with pytest.raises(IntegrityError):
        artifact.download(root=root)
    assert not (root / "c.bin").exists()
    leftovers = [p.name for p in root.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_stored_download_survives_deleting_the_source(
    folder: Path, tmp_path: Path
) -> None:
    expected = tree(folder)
    artifact = log_mnist(folder, stored)
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            path.unlink()
        else:
            path.rmdir()
    root = Path(artifact.download(root=tmp_path / "out"))
    assert tree(root) == expected
    artifact.verify(root=root)
    assert MD5_ALPHA in artifact.get_entry("a.txt").digest


def test_download_from_another_working_directory(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifact = log_mnist(folder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    root = Path(artifact.download())
    assert root.resolve() == (elsewhere / "artifacts" / "mnist:v0").resolve()
    artifact.verify()


@KINDS
def test_entries_with_equal_content_all_download(
    folder: Path, tmp_path: Path, build: Builder
) -> None:
    for i in range(20):
        (folder / "sub" / f"copy-{i:02d}.txt").write_bytes(b"alpha\n")
    artifact = log_mnist(folder, build)
    root = Path(artifact.download(root=tmp_path / "out"))
    assert tree(root) == tree(folder)
    artifact.verify(root=root)
    again = Path(artifact.download(root=tmp_path / "again"))
    assert tree(again) == tree(folder)
