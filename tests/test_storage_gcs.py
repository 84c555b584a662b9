"""gs:// references on fake-gcs-server: what an entry records, generations pinned
in the URI and kept by versioned buckets, and how downloads tell a changed object
from a vanished one.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import docket
from docket.errors import (
    MissingExtraError,
    ReferenceChangedError,
    ReferenceMissingError,
    ValidationError,
)
from docket.storage import ObjectRef
from docket.storage.gcs import GCSBackend, parse_uri
from tests.places.gcs import GCSPlace, make_place
from tests.standins import GCSStandIn


@pytest.fixture
def place(
    gcs_server: GCSStandIn, unique_service_name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GCSPlace]:
    yield from make_place(gcs_server, unique_service_name, monkeypatch, versioned=False)


@pytest.fixture
def versioned(
    gcs_server: GCSStandIn, unique_service_name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GCSPlace]:
    yield from make_place(gcs_server, unique_service_name, monkeypatch, versioned=True)


@pytest.fixture
def backend() -> GCSBackend:
    return GCSBackend()


def log(*uris: str, **kwargs: object) -> docket.Artifact:
    with docket.init(job_type="gcs") as run:
        artifact = docket.Artifact("data", type="dataset")
        for uri in uris:
            artifact.add_reference(uri, **kwargs)  # type: ignore[arg-type]
        run.log_artifact(artifact)
    return artifact


def fetched(backend: GCSBackend, ref: ObjectRef) -> bytes:
    sink = io.BytesIO()
    backend.fetch(ref, sink)
    return sink.getvalue()


def test_parse_uri_reads_a_generation_only_where_asked() -> None:
    assert parse_uri("gs://b/k#123", pinned=True) == ("b", "k", 123)
    assert parse_uri("gs://b/k#123") == ("b", "k#123", None)
    assert parse_uri("gs://b/notes#draft", pinned=True) == ("b", "notes#draft", None)
    assert parse_uri("gs://b/a?b", pinned=True) == ("b", "a?b", None)
    assert parse_uri("gs://b") == ("b", "", None)
    with pytest.raises(ValidationError, match="names no bucket"):
        parse_uri("gs:///key")


def test_entry_records_generation_checksums_and_the_emulator(
    place: GCSPlace, backend: GCSBackend, gcs_server: GCSStandIn
) -> None:
    place.put("m/model.bin", b"weights")
    blob = place.bucket.get_blob("m/model.bin")
    (info,) = backend.resolve(place.uri("m/model.bin"), max_objects=1)

    assert info.uri == place.uri("m/model.bin") and info.name == ""
    assert info.size == 7
    assert info.version_id == str(blob.generation)
    assert info.checksums == {
        "md5": hashlib.md5(b"weights").hexdigest(),
        "crc32c": blob.crc32c,
    }
    # fake-gcs-server's ETag is the base64 MD5; real GCS's is opaque.
    assert info.etag == blob.etag.strip('"') and not info.etag_weak
    assert info.endpoint == gcs_server.endpoint_url
    assert info.last_modified is not None and "T" in info.last_modified


def test_listing_records_what_a_single_lookup_does(
    place: GCSPlace, backend: GCSBackend
) -> None:
    place.put("data/a.txt", b"alpha")
    place.put("data/sub/b.txt", b"")
    (single,) = backend.resolve(place.uri("data/a.txt"), max_objects=1)
    listed = {i.name: i for i in backend.resolve(place.uri("data/"), max_objects=9)}

    assert sorted(listed) == ["a.txt", "sub/b.txt"]
    assert listed["a.txt"]._replace(name="", last_modified=None) == single._replace(
        last_modified=None
    )
    assert listed["sub/b.txt"].size == 0
    assert listed["sub/b.txt"].checksums["md5"] == hashlib.md5(b"").hexdigest()


def test_empty_prefix_and_missing_bucket_are_missing(
    place: GCSPlace, backend: GCSBackend
) -> None:
    place.put("data/a.txt", b"a")
    with pytest.raises(ReferenceMissingError):
        list(backend.resolve(place.uri("nothing"), max_objects=9))
    with pytest.raises(ReferenceMissingError):
        list(backend.resolve("gs://no-such-bucket-here/k", max_objects=9))
    (root,) = backend.resolve(place.uri(""), max_objects=9)
    assert root.name == "data/a.txt"


def test_versioned_bucket_brings_back_the_logged_generation(
    versioned: GCSPlace, tmp_path: Path
) -> None:
    versioned.put("data/a.txt", b"logged")
    versioned.put("data/b.txt", b"kept")
    artifact = log(versioned.uri("data"))
    versioned.put("data/a.txt", b"overwritten once")
    versioned.put("data/a.txt", b"overwritten twice")
    versioned.delete("data/b.txt")

    root = Path(artifact.download(root=tmp_path / "out", skip_cache=True))
    assert (root / "a.txt").read_bytes() == b"logged"
    assert (root / "b.txt").read_bytes() == b"kept"


def test_fragment_pins_that_generation_metadata(
    versioned: GCSPlace, backend: GCSBackend
) -> None:
    versioned.put("a.txt", b"first")
    versioned.put("a.txt", b"second!")
    first, second = versioned.versions("a.txt")
    (info,) = backend.resolve(versioned.pinned_uri("a.txt", first), max_objects=1)

    assert info.version_id == first != second
    assert info.uri == versioned.uri("a.txt")
    assert info.size == 5
    assert info.checksums["md5"] == hashlib.md5(b"first").hexdigest()
    assert backend.stat(ObjectRef(info.uri, version_id=first)).size == 5
    assert fetched(backend, ObjectRef(info.uri, version_id=first)) == b"first"


def test_unknown_generation_is_missing(place: GCSPlace, backend: GCSBackend) -> None:
    place.put("a.txt", b"a")
    with pytest.raises(ReferenceMissingError):
        list(backend.resolve(place.pinned_uri("a.txt", "1"), max_objects=1))


def test_overwrite_in_an_unversioned_bucket_names_both_generations(
    place: GCSPlace, backend: GCSBackend
) -> None:
    place.put("a.txt", b"logged")
    (logged,) = backend.resolve(place.uri("a.txt"), max_objects=1)
    place.put("a.txt", b"overwritten")
    current = place.bucket.get_blob("a.txt")
    ref = ObjectRef(logged.uri, version_id=logged.version_id, etag=logged.etag)

    with pytest.raises(ReferenceChangedError) as caught:
        fetched(backend, ref)
    assert caught.value.expected == (
        f"generation {logged.version_id}, etag {logged.etag}"
    )
    assert str(current.generation) in caught.value.found
    assert caught.value.pinned

    place.delete("a.txt")
    with pytest.raises(ReferenceMissingError):
        fetched(backend, ref)


def test_unpinned_ref_is_checked_against_its_etag(
    place: GCSPlace, backend: GCSBackend
) -> None:
    place.put("a.txt", b"logged")
    (logged,) = backend.resolve(place.uri("a.txt"), max_objects=1)
    ref = ObjectRef(logged.uri, etag=logged.etag)
    assert fetched(backend, ref) == b"logged"

    place.put("a.txt", b"changed")
    with pytest.raises(ReferenceChangedError) as caught:
        fetched(backend, ref)
    assert caught.value.expected == f"etag {logged.etag}" and not caught.value.pinned
    assert fetched(backend, ObjectRef(logged.uri)) == b"changed"


def test_fetch_returns_what_it_read(place: GCSPlace, backend: GCSBackend) -> None:
    place.put("a.txt", b"bytes")
    (logged,) = backend.resolve(place.uri("a.txt"), max_objects=1)
    sink = io.BytesIO()
    info = backend.fetch(ObjectRef(logged.uri, version_id=logged.version_id), sink)

    assert info.size == 5 and info.version_id == logged.version_id
    assert info.etag == logged.etag and info.checksums == logged.checksums


def test_gzip_encoded_objects_come_back_as_stored(
    place: GCSPlace, tmp_path: Path
) -> None:
    stored = gzip.compress(b"text " * 100)
    blob = place.bucket.blob("logs/app.log")
    blob.content_encoding = "gzip"
    blob.upload_from_string(stored, content_type="text/plain")
    artifact = log(place.uri("logs/app.log"))

    assert artifact.get_entry("app.log").size == len(stored)
    root = Path(artifact.download(root=tmp_path / "out"))
    assert (root / "app.log").read_bytes() == stored


def test_recorded_endpoint_serves_downloads_without_the_variable(
    place: GCSPlace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    place.put("a.txt", b"a")
    artifact = log(place.uri("a.txt"))
    (logged,) = GCSBackend().resolve(place.uri("a.txt"), max_objects=1)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")

    ref = ObjectRef(logged.uri, version_id=logged.version_id, endpoint=logged.endpoint)
    assert fetched(GCSBackend(), ref) == b"a"
    root = Path(artifact.download(root=tmp_path / "out"))
    assert (root / "a.txt").read_bytes() == b"a"


def test_sixteen_threads_share_one_backend(
    place: GCSPlace, backend: GCSBackend
) -> None:
    for i in range(32):
        place.put(f"f/{i}", str(i).encode())
    refs = [
        ObjectRef(i.uri, version_id=i.version_id)
        for i in backend.resolve(place.uri("f"), max_objects=32)
    ]
    with ThreadPoolExecutor(16) as pool:
        bodies = list(pool.map(lambda ref: fetched(backend, ref), refs))
    assert sorted(bodies) == sorted(str(i).encode() for i in range(32))


def test_md5_is_hex_even_though_gcs_sends_base64(
    place: GCSPlace, backend: GCSBackend
) -> None:
    place.put("a", b"abc")
    raw = place.bucket.get_blob("a").md5_hash
    (info,) = backend.resolve(place.uri("a"), max_objects=1)
    assert info.checksums["md5"] == base64.b64decode(raw).hex()


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)
    with pytest.raises(MissingExtraError) as caught:
        list(GCSBackend().resolve("gs://bucket/key", max_objects=1))
    assert caught.value.extra == "gcs"
    assert "pip install 'docket[gcs]'" in str(caught.value)
