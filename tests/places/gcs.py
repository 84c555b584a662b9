"""The gs:// places: a fresh bucket on fake-gcs-server, with and without versioning.

Load with ``-p tests.places.gcs``. fake-gcs-server's inserts slow down as its
memory backend grows, so each bucket is emptied and deleted after its test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.standins import GCSStandIn


class GCSPlace:
    listable = True
    has_folder_markers = True

    def __init__(self, client: Any, bucket: Any, *, versioned: bool) -> None:
        self.client = client
        self.bucket = bucket
        self.versioned = versioned
        self.label = "gcs-versioned" if versioned else "gcs"

    def uri(self, key: str) -> str:
        return f"gs://{self.bucket.name}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.bucket.blob(key).upload_from_string(data)

    def delete(self, key: str) -> None:
        self.bucket.blob(key).delete()

    def put_folder_marker(self, key: str) -> None:
        self.put(key, b"")

    def versions(self, key: str) -> list[str]:
        # fake-gcs-server wants the string "true", not the boolean the client sends.
        blobs = self.client.list_blobs(self.bucket, prefix=key, versions="true")
        return [str(g) for g in sorted(b.generation for b in blobs if b.name == key)]

    def pinned_uri(self, key: str, version: str) -> str:
        return f"{self.uri(key)}#{version}"

    def remove(self) -> None:
        # Deleting the bucket drops the noncurrent generations the server keeps.
        for blob in self.client.list_blobs(self.bucket):
            blob.delete()
        self.bucket.delete()


def gcs_client(server: GCSStandIn) -> Any:
    import google.auth.credentials
    import google.cloud.storage

    return google.cloud.storage.Client(
        project=server.project,
        credentials=google.auth.credentials.AnonymousCredentials(),
        client_options={"api_endpoint": server.endpoint_url},
    )


def make_place(
    server: GCSStandIn, name: str, monkeypatch: pytest.MonkeyPatch, *, versioned: bool
) -> Iterator[GCSPlace]:
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    client = gcs_client(server)
    bucket = client.create_bucket(name)
    if versioned:
        bucket.versioning_enabled = True
        bucket.patch()
    place = GCSPlace(client, bucket, versioned=versioned)
    yield place
    place.remove()


@pytest.fixture
def place_gcs(
    gcs_server: GCSStandIn, unique_service_name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GCSPlace]:
    yield from make_place(gcs_server, unique_service_name, monkeypatch, versioned=False)


@pytest.fixture
def place_gcs_versioned(
    gcs_server: GCSStandIn, unique_service_name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GCSPlace]:
    yield from make_place(gcs_server, unique_service_name, monkeypatch, versioned=True)
