"""Azure Blob references on Azurite: what an entry records, both URI forms, SAS
tokens kept out of manifests, If-Match downloads, and version pins.

Azurite keeps no blob versions and answers a ``versionid=`` request with the
current blob, so what a version-pinned download *receives* cannot be tested here.
What docket *sends* can: ``Relay`` is a plain HTTP relay between docket and
Azurite that keeps every request it passes on.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import pytest

import docket
from docket.errors import (
    AuthError,
    MissingExtraError,
    ReferenceChangedError,
    ReferenceMissingError,
    ValidationError,
)
from docket.storage import ObjectRef
from docket.storage.azure import AzureBackend, BlobAddress, parse_uri
from tests.places.azure import AzurePlace, new_container
from tests.standins import AzureStandIn

ACCOUNT_HOST = "devstoreaccount1.blob.core.windows.net"
VERSION = "2025-01-02T03:04:05.0000000Z"


class Seen(NamedTuple):
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class Relay:
    """Passes requests on to Azurite unchanged and remembers each one."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "", parts.port or 80)
        self.seen: list[Seen] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def requests(self, method: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k != "Host"}
                parts = urlsplit(self.path)
                query = {k.lower(): v[-1] for k, v in parse_qs(parts.query).items()}
                relay.seen.append(Seen(self.command, parts.path, query, headers))
                upstream = http.client.HTTPConnection(*relay.target, timeout=30)
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status, answer.reason)
                # One request per connection (HTTP/1.0): Azurite's keep-alive
                # headers would make clients reuse a connection closed here.
                for key, value in answer.getheaders():
                    if key.lower() not in (
                        "connection",
                        "keep-alive",
                        "transfer-encoding",
                    ):
                        self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_HEAD = do_PUT = do_DELETE = relay  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def place(
    azure_server: AzureStandIn,
    unique_service_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[AzurePlace]:
    with new_container(azure_server, unique_service_name, monkeypatch) as container:
        yield AzurePlace(container)


@pytest.fixture
def relay(
    place: AzurePlace, azure_server: AzureStandIn, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Relay]:
    """Docket's requests go through a relay; the place still talks to Azurite."""
    relay = Relay(azure_server.endpoint_url)
    connection = azure_server.connection_string.replace(
        azure_server.endpoint_url, f"{relay.url}/{azure_server.account}"
    )
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection)
    yield relay
    relay.close()


@pytest.fixture
def backend() -> AzureBackend:
    return AzureBackend()


def https_uri(place: AzurePlace, blob: str) -> str:
    return f"https://{ACCOUNT_HOST}/{place.container.container_name}/{blob}"


def log(*uris: str, **kwargs: object) -> docket.Artifact:
    with docket.init(job_type="azure") as run:
        artifact = docket.Artifact("data", type="dataset")
        for uri in uris:
            artifact.add_reference(uri, **kwargs)  # type: ignore[arg-type]
        run.log_artifact(artifact)
    return artifact


def fetched(backend: AzureBackend, ref: ObjectRef) -> bytes:
    sink = io.BytesIO()
    backend.fetch(ref, sink)
    return sink.getvalue()


def container_sas(place: AzurePlace, azure_server: AzureStandIn) -> str:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    return generate_container_sas(
        azure_server.account,
        place.container.container_name,
        account_key=azure_server.account_key,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
    )


def test_parse_uri_reads_both_forms() -> None:
    assert parse_uri("az://c/dir/a b?.txt")[0] == BlobAddress(None, "c", "dir/a b?.txt")
    address, query = parse_uri(
        f"https://{ACCOUNT_HOST}/c/a%20b?versionId=V", query=True
    )
    assert address == BlobAddress("devstoreaccount1", "c", "a b")
    assert query == {"versionId": "V"}
    assert parse_uri("az://c/a?versionId=V", query=True)[0].blob == "a"
    assert parse_uri("az://c")[0] == BlobAddress(None, "c", "")
    with pytest.raises(ValidationError, match="names no container"):
        parse_uri("az://")
    with pytest.raises(ValidationError, match="not an Azure Blob URL"):
        parse_uri("https://example.com/c/b")


def test_entry_records_etag_md5_and_the_emulator_endpoint(
    place: AzurePlace, backend: AzureBackend, azure_server: AzureStandIn
) -> None:
    place.put("m/model.bin", b"weights")
    props = place.container.get_blob_client("m/model.bin").get_blob_properties()
    (info,) = backend.resolve(place.uri("m/model.bin"), max_objects=1)

    assert info.uri == place.uri("m/model.bin") and info.name == ""
    assert info.size == 7
    assert info.etag == props.etag.strip('"') and not info.etag_weak
    assert info.checksums == {"md5": hashlib.md5(b"weights").hexdigest()}
    assert info.version_id is None  # Azurite keeps no versions
    assert info.endpoint == azure_server.endpoint_url
    assert info.last_modified is not None and info.last_modified.endswith("+00:00")


def test_https_form_reaches_azurite_and_keeps_its_form(
    place: AzurePlace, backend: AzureBackend, tmp_path: Path
) -> None:
    place.put("dir/a b.txt", b"spaced")
    (info,) = backend.resolve(https_uri(place, "dir/a%20b.txt"), max_objects=1)
    assert info.uri == https_uri(place, "dir/a%20b.txt")

    listed = list(backend.resolve(https_uri(place, "dir"), max_objects=1))
    assert [(i.name, i.uri) for i in listed] == [("a b.txt", info.uri)]

    artifact = log(https_uri(place, "dir"))
    root = Path(artifact.download(root=tmp_path / "out"))
    assert (root / "a b.txt").read_bytes() == b"spaced"


def test_listing_asks_for_versions_and_never_heads_each_blob(
    place: AzurePlace, relay: Relay, backend: AzureBackend
) -> None:
    for name in ("data/a", "data/b", "data/sub/c", "data2/d"):
        place.put(name, b"x")
    names = sorted(i.name for i in backend.resolve(place.uri("data"), max_objects=9))

    assert names == ["a", "b", "sub/c"]
    (listing,) = relay.requests("GET")
    assert listing.query["include"] == "versions"
    assert listing.query["prefix"] == "data/"
    assert len(relay.requests("HEAD")) == 1  # is "data" itself a blob? no


def test_sas_token_reads_while_adding_and_is_never_recorded(
    place: AzurePlace,
    azure_server: AzureStandIn,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    place.put("data/a.txt", b"a")
    sas = container_sas(place, azure_server)
    # A connection string with a wrong key: only the SAS can read the listing.
    wrong = azure_server.connection_string.replace(azure_server.account_key, "A" * 88)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", wrong)
    artifact = log(f"{https_uri(place, 'data')}?{sas}")

    entry = artifact.get_entry("a.txt")
    assert entry.ref == https_uri(place, "data/a.txt")
    assert "sig" not in json.dumps(
        [e.to_dict() for e in artifact.manifest.entries.values()]
    )
    with pytest.raises(AuthError, match="AZURE_STORAGE_CONNECTION_STRING"):
        artifact.download(root=tmp_path / "refused")

    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING", azure_server.connection_string
    )
    root = Path(artifact.download(root=tmp_path / "out"))
    assert (root / "a.txt").read_bytes() == b"a"


def test_unknown_query_parameters_are_refused(
    place: AzurePlace, backend: AzureBackend
) -> None:
    place.put("a", b"a")
    with pytest.raises(ValidationError, match="snapshot"):
        list(backend.resolve(place.uri("a") + "?snapshot=2025-01-01", max_objects=1))


def test_az_uris_need_an_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)
    with pytest.raises(ValidationError, match="AZURE_STORAGE_ACCOUNT_NAME"):
        list(AzureBackend().resolve("az://container/blob", max_objects=1))


def test_download_sends_if_match_and_names_both_etags(
    place: AzurePlace, relay: Relay, backend: AzureBackend
) -> None:
    place.put("a.txt", b"logged")
    (logged,) = backend.resolve(place.uri("a.txt"), max_objects=1)
    ref = ObjectRef(logged.uri, etag=logged.etag, size=logged.size)
    assert fetched(backend, ref) == b"logged"
    assert relay.requests("GET")[-1].headers["If-Match"] == f'"{logged.etag}"'

    place.put("a.txt", b"overwritten")
    with pytest.raises(ReferenceChangedError) as caught:
        fetched(backend, ref)
    (current,) = backend.resolve(place.uri("a.txt"), max_objects=1)
    assert caught.value.expected == f"etag {logged.etag}"
    assert caught.value.found.startswith(f"etag {current.etag}")
    assert not caught.value.pinned

    place.delete("a.txt")
    with pytest.raises(ReferenceMissingError):
        fetched(backend, ref)


def test_pinned_version_is_sent_with_every_request(
    place: AzurePlace, relay: Relay, backend: AzureBackend
) -> None:
    place.put("a.txt", b"bytes")
    (info,) = backend.resolve(
        f"{place.uri('a.txt')}?versionId={VERSION}", max_objects=1
    )
    assert info.version_id == VERSION and info.uri == place.uri("a.txt")
    assert relay.requests("HEAD")[-1].query["versionid"] == VERSION

    # Azurite answers with the current blob whatever version is asked for: only
    # the request can be checked here, not that the old bytes come back.
    assert fetched(backend, ObjectRef(info.uri, version_id=VERSION)) == b"bytes"
    (download,) = relay.requests("GET")
    assert download.query["versionid"] == VERSION
    assert "If-Match" not in download.headers  # a version never changes


def test_large_blob_comes_in_ranged_chunks(
    place: AzurePlace, relay: Relay, tmp_path: Path
) -> None:
    data = bytes(range(256)) * (17 << 12)  # 17 MiB: three ranged GETs of 8 MiB
    place.put("big.bin", data)
    artifact = log(place.uri("big.bin"))

    root = Path(artifact.download(root=tmp_path / "out"))
    assert (root / "big.bin").read_bytes() == data
    ranges = [s.headers.get("x-ms-range") for s in relay.requests("GET")]
    assert len(ranges) == 3 and all(ranges)


def test_missing_blob_and_container(place: AzurePlace, backend: AzureBackend) -> None:
    with pytest.raises(ReferenceMissingError):
        list(backend.resolve(place.uri("nothing"), max_objects=1))
    with pytest.raises(ReferenceMissingError):
        list(backend.resolve("az://no-such-container/blob", max_objects=1))
    with pytest.raises(ReferenceMissingError):
        backend.stat(ObjectRef(place.uri("nothing")))


def test_wrong_key_is_an_auth_error(
    place: AzurePlace, azure_server: AzureStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    place.put("a", b"a")
    wrong = azure_server.connection_string.replace(azure_server.account_key, "A" * 88)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", wrong)
    with pytest.raises(AuthError) as caught:
        list(AzureBackend().resolve(place.uri("a"), max_objects=1))
    assert place.uri("a") in str(caught.value)


def test_sixteen_threads_share_one_backend(
    place: AzurePlace, backend: AzureBackend
) -> None:
    for i in range(32):
        place.put(f"f/{i}", str(i).encode())
    refs = [
        ObjectRef(i.uri, etag=i.etag)
        for i in backend.resolve(place.uri("f"), max_objects=32)
    ]
    with ThreadPoolExecutor(16) as pool:
        bodies = list(pool.map(lambda ref: fetched(backend, ref), refs))
    assert sorted(bodies) == sorted(str(i).encode() for i in range(32))


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.storage.blob", None)
    with pytest.raises(MissingExtraError) as caught:
        list(AzureBackend().resolve("az://container/blob", max_objects=1))
    assert caught.value.extra == "azure"
