"""The same reference scenarios on every scheme: add, log, download, overwrite,
delete, pinned versions, limits and names.

Each place is a fresh folder, bucket or container on a real stand-in service.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import docket
from docket.errors import (
    ReferenceChangedError,
    ReferenceMissingError,
    TooManyObjectsError,
)
from tests.places import Place

PLACES = [
    "file",
    "s3",
    "s3-versioned",
    "gcs",
    "gcs-versioned",
    "azure",
    "http",
    "http-noetag",
]


@pytest.fixture(params=PLACES)
def place(request: pytest.FixtureRequest) -> Place:
    fixture_name = "place_" + request.param.replace("-", "_")
    place: Place = request.getfixturevalue(fixture_name)
    return place


def log(*uris: str, artifact_name: str = "data", **kwargs: object) -> docket.Artifact:
    with docket.init(job_type="conformance") as run:
        artifact = docket.Artifact(artifact_name, type="dataset")
        for uri in uris:
            artifact.add_reference(uri, **kwargs)  # type: ignore[arg-type]
        run.log_artifact(artifact)
    return artifact


def read_tree(root: str | Path) -> dict[str, bytes]:
    base = Path(root)
    return {
        p.relative_to(base).as_posix(): p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def require(condition: bool, why: str) -> None:
    # Scenarios that a scheme cannot express at all (HTTP has no listing, local
    # folders no versions) are not parametrised away silently: they are xfails
    # with the reason, so the matrix stays visible in the report.
    if not condition:
        pytest.xfail(why)


def test_single_object_round_trip(place: Place, tmp_path: Path) -> None:
    place.put("models/cnn/model.h5", b"weights v1")
    artifact = log(place.uri("models/cnn/model.h5"))

    entry = artifact.get_entry("model.h5")
    assert entry.size == len(b"weights v1")
    assert entry.ref is not None and entry.ref.startswith(place.uri("")[:5])
    root = artifact.download(root=tmp_path / "out")
    assert read_tree(root) == {"model.h5": b"weights v1"}


def test_prefix_lists_the_folder_and_never_its_siblings(
    place: Place, tmp_path: Path
) -> None:
    require(place.listable, f"{place.label} URIs name single objects only")
    place.put("data/a.txt", b"a")
    place.put("data/sub/b.txt", b"bb")
    place.put("data2/c.txt", b"ccc")
    artifact = log(place.uri("data"))

    assert sorted(artifact.manifest.entries) == ["a.txt", "sub/b.txt"]
    root = artifact.download(root=tmp_path / "out")
    assert read_tree(root) == {"a.txt": b"a", "sub/b.txt": b"bb"}


def test_names_prefix_entries(place: Place) -> None:
    place.put("data/a.txt", b"a")
    single = log(place.uri("data/a.txt"), artifact_name="one", name="renamed.txt")
    assert list(single.manifest.entries) == ["renamed.txt"]
    if place.listable:
        folder = log(place.uri("data"), artifact_name="many", name="inputs")
        assert list(folder.manifest.entries) == ["inputs/a.txt"]


def test_root_of_the_place_and_zero_byte_objects(place: Place, tmp_path: Path) -> None:
    require(place.listable, f"{place.label} URIs name single objects only")
    place.put("empty", b"")
    place.put("dir/x", b"x")
    artifact = log(place.uri(""))

    assert artifact.get_entry("empty").size == 0
    assert read_tree(artifact.download(root=tmp_path / "out")) == {
        "empty": b"",
        "dir/x": b"x",
    }


def test_folder_markers_are_not_entries(place: Place) -> None:
    require(place.has_folder_markers, f"{place.label} has no folder-marker objects")
    place.put_folder_marker("data/")
    place.put_folder_marker("data/sub/")
    place.put("data/sub/x", b"x")
    artifact = log(place.uri("data"))
    assert list(artifact.manifest.entries) == ["sub/x"]


def test_overwrite_after_logging(place: Place, tmp_path: Path) -> None:
    place.put("data/a.txt", b"logged bytes")
    artifact = log(place.uri("data/a.txt"))
    place.put("data/a.txt", b"overwritten, and longer")

    if place.versioned:
        root = artifact.download(root=tmp_path / "out", skip_cache=True)
        assert read_tree(root) == {"a.txt": b"logged bytes"}
    else:
        with pytest.raises(ReferenceChangedError) as caught:
            artifact.download(root=tmp_path / "out", skip_cache=True)
        assert caught.value.path == "a.txt"
        assert "a.txt" in caught.value.uri
        assert not (tmp_path / "out" / "a.txt").exists()


def test_delete_after_logging(place: Place, tmp_path: Path) -> None:
    place.put("data/a.txt", b"a")
    place.put("data/b.txt", b"b")
    artifact = log(place.uri("data/a.txt"), place.uri("data/b.txt"))
    place.delete("data/a.txt")

    if place.versioned:
        root = artifact.download(root=tmp_path / "out", skip_cache=True)
        assert read_tree(root) == {"a.txt": b"a", "b.txt": b"b"}
        return
    with pytest.raises(ReferenceMissingError) as caught:
        artifact.download(root=tmp_path / "out", skip_cache=True)
    assert isinstance(caught.value, FileNotFoundError)
    root = artifact.download(
        root=tmp_path / "rest", skip_cache=True, allow_missing_references=True
    )
    assert read_tree(root) == {"b.txt": b"b"}


def test_pinned_version_in_the_uri(place: Place, tmp_path: Path) -> None:
    require(place.versioned, f"{place.label} keeps no object versions")
    place.put("data/a.txt", b"first")
    place.put("data/a.txt", b"second!")
    first = place.versions("data/a.txt")[0]
    artifact = log(place.pinned_uri("data/a.txt", first))

    entry = artifact.get_entry("a.txt")
    assert entry.version_id == first
    assert entry.size == len(b"first")
    assert "?" not in (entry.ref or "") and "#" not in (entry.ref or "")
    assert read_tree(artifact.download(root=tmp_path / "out")) == {"a.txt": b"first"}


def test_limit_raises_instead_of_truncating(place: Place) -> None:
    require(place.listable, f"{place.label} URIs name single objects only")
    for i in range(3):
        place.put(f"data/{i}.txt", b"x")
    with pytest.raises(TooManyObjectsError) as caught:
        log(place.uri("data"), max_objects=2)
    assert caught.value.max_objects == 2
    assert "max_objects" in str(caught.value)
    assert len(log(place.uri("data"), max_objects=3).manifest) == 3


def test_unchecked_reference_still_downloads(place: Place, tmp_path: Path) -> None:
    place.put("data/a.txt", b"now")
    artifact = log(place.uri("data/a.txt"), checksum=False)

    entry = artifact.get_entry("a.txt")
    assert entry.digest.startswith("uri:") and entry.size is None
    assert read_tree(artifact.download(root=tmp_path / "out")) == {"a.txt": b"now"}


def test_second_download_finds_everything_in_place(
    place: Place, tmp_path: Path
) -> None:
    place.put("data/a.txt", b"a")
    place.put("data/b.txt", b"bb")
    artifact = log(place.uri("data/a.txt"), place.uri("data/b.txt"))

    artifact.download(root=tmp_path / "out")
    assert artifact.last_download.fetched == ["a.txt", "b.txt"]
    artifact.download(root=tmp_path / "out")
    assert artifact.last_download.fetched == []
    assert sorted(artifact.last_download.present) == ["a.txt", "b.txt"]
    artifact.verify(root=tmp_path / "out")
