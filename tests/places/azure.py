"""The az:// place: a fresh container on Azurite.

Load with ``-p tests.places.azure``. Azurite keeps no blob versions, so the place
is unversioned; version-pinned downloads are covered in test_storage_azure.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.standins import AzureStandIn


class AzurePlace:
    label = "azure"
    versioned = False
    listable = True
    has_folder_markers = True

    def __init__(self, container: Any) -> None:
        self.container = container

    def uri(self, key: str) -> str:
        return f"az://{self.container.container_name}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.container.upload_blob(key, data, overwrite=True)

    def delete(self, key: str) -> None:
        self.container.delete_blob(key)

    def put_folder_marker(self, key: str) -> None:
        self.put(key, b"")

    def versions(self, key: str) -> list[str]:
        raise NotImplementedError("Azurite keeps no blob versions")

    def pinned_uri(self, key: str, version: str) -> str:
        return f"{self.uri(key)}?versionId={version}"


@contextmanager
def new_container(
    server: AzureStandIn, name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A new container, with the environment pointing docket at Azurite."""
    from azure.storage.blob import BlobServiceClient

    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    service = BlobServiceClient.from_connection_string(server.connection_string)
    container = service.create_container(name)
    try:
        yield container
    finally:
        container.delete_container()
        service.close()


@pytest.fixture
def place_azure(
    azure_server: AzureStandIn,
    unique_service_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[AzurePlace]:
    with new_container(azure_server, unique_service_name, monkeypatch) as container:
        yield AzurePlace(container)
