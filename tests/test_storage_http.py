"""http(s):// references: metadata without content, credentials kept out of
manifests, conditional downloads, retries and resumed transfers.

Most tests run against the nginx stand-in (ETags on and off, Range, If-Match).
What nginx never does on demand (refuse HEAD, ignore If-Match, send weak ETags,
fail with 503, drop a connection mid-body, ask for a login) comes from
``QuirkyServer``: a real HTTP/1.1 server on a socket whose behaviour each test
sets.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import docket
from docket.errors import (
    AuthError,
    ReferenceChangedError,
    ReferenceMissingError,
    StorageError,
    ValidationError,
)
from docket.storage import ObjectRef
from docket.storage.http import HttpBackend, canonical_uri
from tests.places.http import HttpPlace
from tests.standins import NginxStandIn

LAST_MODIFIED = "Wed, 02 Dec 2026 10:00:00 GMT"


class Collected:
    """A sink that keeps every chunk it is given."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(data)
        return len(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


@pytest.fixture
def backend() -> Iterator[HttpBackend]:
    backend = HttpBackend()
    yield backend
    backend.close()


@pytest.fixture
def place(http_server: NginxStandIn, unique_service_name: str) -> HttpPlace:
    return HttpPlace(http_server, unique_service_name, etag=True)


@pytest.fixture
def noetag(http_server: NginxStandIn, unique_service_name: str) -> HttpPlace:
    return HttpPlace(http_server, unique_service_name, etag=False)


def nginx_etag(path: Path) -> str:
    st = path.stat()
    return f"{int(st.st_mtime):x}-{st.st_size:x}"


def log_reference(uri: str, **kwargs: object) -> docket.Artifact:
    with docket.init(job_type="test") as run:
        artifact = docket.Artifact("web", type="dataset")
        artifact.add_reference(uri, **kwargs)  # type: ignore[arg-type]
        run.log_artifact(artifact)
    return artifact


# -- metadata from nginx ------------------------------------------------------


def test_stat_reads_etag_size_and_last_modified(
    place: HttpPlace, backend: HttpBackend
) -> None:
    place.put("m/model.bin", b"weights")
    info = backend.stat(ObjectRef(place.uri("m/model.bin")))

    assert info.uri == place.uri("m/model.bin") and info.name == ""
    assert info.size == 7
    assert info.etag == nginx_etag(place.path("m/model.bin"))
    assert not info.etag_weak and info.version_id is None and info.endpoint is None
    assert info.last_modified is not None and info.last_modified.endswith("+00:00")
    assert dict(info.checksums) == {}


def test_server_without_etags_gives_last_modified_and_size(
    noetag: HttpPlace, backend: HttpBackend
) -> None:
    noetag.put("a.txt", b"abc")
    (info,) = backend.resolve(noetag.uri("a.txt"), max_objects=1)
    assert (info.name, info.size, info.etag) == ("", 3, None)
    assert info.last_modified is not None


def test_entry_is_named_without_the_query_string(
    place: HttpPlace, tmp_path: Path
) -> None:
    place.put("data/table.csv", b"a,b\n")
    artifact = log_reference(place.uri("data/table.csv") + "?format=csv#top")

    entry = artifact.get_entry("table.csv")
    assert entry.ref == place.uri("data/table.csv") + "?format=csv"
    assert entry.digest == "etag:" + nginx_etag(place.path("data/table.csv"))
    root = artifact.download(root=tmp_path / "out")
    assert (Path(root) / "table.csv").read_bytes() == b"a,b\n"


@pytest.mark.parametrize(
    "query",
    [
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=s3cr3t",
        "sv=2024-01-01&sig=s3cr3t",
        "token=s3cr3t",
        "access_token=s3cr3t",
        "X-Goog-Signature=s3cr3t",
    ],
)
def test_query_strings_with_credentials_are_refused(query: str) -> None:
    with pytest.raises(ValidationError) as caught:
        log_reference(f"https://example.com/data/file.bin?{query}")
    assert "s3cr3t" not in str(caught.value)
    assert "credential" in str(caught.value)


def test_credentials_in_the_url_are_refused(place: HttpPlace) -> None:
    place.put("a.txt", b"a")
    uri = place.uri("a.txt").replace("http://", "http://alice:s3cr3t@")
    with pytest.raises(ValidationError) as caught:
        log_reference(uri)
    assert "s3cr3t" not in str(caught.value) and ".netrc" in str(caught.value)


def test_canonical_uri_keeps_plain_queries_and_drops_fragments() -> None:
    assert canonical_uri("HTTPS://example.com/a.bin?v=2#x") == (
        "https://example.com/a.bin?v=2"
    )
    with pytest.raises(ValidationError):
        canonical_uri("https:///no-host")


def test_missing_file_and_folder_urls(place: HttpPlace, backend: HttpBackend) -> None:
    with pytest.raises(ReferenceMissingError):
        log_reference(place.uri("nothing/here.txt"))
    place.put("folder/x", b"x")
    with pytest.raises(AuthError, match="folders cannot be listed"):
        backend.stat(ObjectRef(place.uri("folder") + "/"))


# -- downloads from nginx -----------------------------------------------------


def test_same_size_rewrite_is_caught_by_the_etag(
    place: HttpPlace, backend: HttpBackend
) -> None:
    place.put("a.txt", b"before")
    logged = backend.stat(ObjectRef(place.uri("a.txt")))
    place.put("a.txt", b"after!")
    later = place.path("a.txt").stat().st_mtime + 5
    os.utime(place.path("a.txt"), (later, later))

    sink = Collected()
    ref = ObjectRef(place.uri("a.txt"), etag=logged.etag, size=logged.size)
    with pytest.raises(ReferenceChangedError) as caught:
        backend.fetch(ref, sink)
    assert caught.value.expected == f"ETag {logged.etag}"
    assert caught.value.found == f"ETag {nginx_etag(place.path('a.txt'))}"
    assert sink.chunks == []


def test_size_change_without_etag_is_caught_before_any_byte(
    noetag: HttpPlace, backend: HttpBackend
) -> None:
    noetag.put("a.txt", b"short")
    uri = noetag.uri("a.txt")
    noetag.put("a.txt", b"much longer now")

    sink = Collected()
    with pytest.raises(ReferenceChangedError, match="expected 5 bytes, found 15"):
        backend.fetch(ObjectRef(uri, size=5), sink)
    assert sink.chunks == []


def test_large_files_stream_in_chunks(place: HttpPlace, backend: HttpBackend) -> None:
    data = os.urandom(5 * 1024 * 1024 + 3)
    place.put("big.bin", data)
    info = backend.stat(ObjectRef(place.uri("big.bin")))

    sink = Collected()
    ref = ObjectRef(info.uri, etag=info.etag, size=info.size)
    assert backend.fetch(ref, sink).size == len(data)
    assert len(sink.chunks) > 1 and sink.data == data


def test_sixteen_threads_share_one_backend(
    place: HttpPlace, backend: HttpBackend
) -> None:
    files = {f"f{i}.bin": os.urandom(1000 + i) for i in range(48)}
    for key, data in files.items():
        place.put(key, data)

    def fetch(key: str) -> bytes:
        info = backend.stat(ObjectRef(place.uri(key)))
        sink = Collected()
        backend.fetch(ObjectRef(info.uri, etag=info.etag, size=info.size), sink)
        return sink.data

    with ThreadPoolExecutor(16) as pool:
        fetched = dict(zip(files, pool.map(fetch, files), strict=True))
    assert fetched == files


def test_empty_file(place: HttpPlace, backend: HttpBackend) -> None:
    place.put("empty", b"")
    info = backend.stat(ObjectRef(place.uri("empty")))
    sink = Collected()
    backend.fetch(ObjectRef(info.uri, etag=info.etag, size=0), sink)
    assert info.size == 0 and sink.data == b""


def test_deleted_file_is_missing(place: HttpPlace, backend: HttpBackend) -> None:
    place.put("a.txt", b"a")
    place.delete("a.txt")
    with pytest.raises(ReferenceMissingError):
        backend.fetch(ObjectRef(place.uri("a.txt"), etag="x", size=1), Collected())


# -- a server with quirks -----------------------------------------------------


@dataclass
class Served:
    data: bytes
    etag: str | None = '"v1"'
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Quirks:
    files: dict[str, Served] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    head: bool = True
    if_match: bool = True
    ranges: bool = True
    failures: int = 0  # requests answered 503 before the server recovers
    drop_after: int | None = None  # bytes sent before the next body is cut off
    login: str | None = None  # the Authorization value the server requires
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)


class QuirkyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: QuirkyHTTPServer

    def do_HEAD(self) -> None:
        self.answer(body=False)

    def do_GET(self) -> None:
        self.answer(body=True)

    def answer(self, *, body: bool) -> None:
        quirks = self.server.quirks
        quirks.seen.append((self.command, dict(self.headers.items())))
        path = self.path.partition("?")[0]
        if quirks.failures:
            quirks.failures -= 1
            self.status(503, {"Retry-After": "0"})
        elif quirks.login and self.headers.get("Authorization") != quirks.login:
            self.status(401)
        elif path in quirks.redirects:
            self.status(302, {"Location": quirks.redirects[path]})
        elif path in quirks.gone or path not in quirks.files:
            self.status(410 if path in quirks.gone else 404)
        elif not body and not quirks.head:
            self.status(405)
        elif not self.if_match_holds(quirks.files[path]):
            self.status(412)
        else:
            self.serve(quirks.files[path], body=body)

    def if_match_holds(self, served: Served) -> bool:
        expected = self.headers.get("If-Match")
        if not (self.server.quirks.if_match and expected):
            return True
        strong = served.etag is not None and not served.etag.startswith("W/")
        return strong and expected == served.etag

    def serve(self, served: Served, *, body: bool) -> None:
        size = len(served.data)
        start, status = self.range_start(served)
        if status == 416:
            self.status(416, {"Content-Range": f"bytes */{size}"})
            return
        headers = {"Last-Modified": LAST_MODIFIED, **served.headers}
        if served.etag:
            headers["ETag"] = served.etag
        if self.server.quirks.ranges:
            headers["Accept-Ranges"] = "bytes"
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        payload = served.data[start:]
        self.status(status, headers, length=len(payload))
        if body:
            self.send_body(payload)

    def range_start(self, served: Served) -> tuple[int, int]:
        requested = self.headers.get("Range")
        if not (self.server.quirks.ranges and requested):
            return 0, 200
        if_range = self.headers.get("If-Range")
        if if_range and if_range not in (served.etag, LAST_MODIFIED):
            return 0, 200
        start = int(requested.removeprefix("bytes=").partition("-")[0])
        return (start, 206) if start < len(served.data) else (0, 416)

    def send_body(self, payload: bytes) -> None:
        quirks = self.server.quirks
        cut = quirks.drop_after
        if cut is None or cut >= len(payload):
            self.wfile.write(payload)
            return
        quirks.drop_after = None
        self.wfile.write(payload[:cut])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def status(
        self, code: int, headers: dict[str, str] | None = None, length: int = 0
    ) -> None:
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class QuirkyHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), QuirkyHandler)
        self.quirks = Quirks()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture
def quirky() -> Iterator[QuirkyHTTPServer]:
    server = QuirkyHTTPServer()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_head_refused_falls_back_to_a_one_byte_range(
    quirky: QuirkyHTTPServer, backend: HttpBackend
) -> None:
    quirky.quirks.head = False
    quirky.quirks.files["/a.bin"] = Served(b"0123456789")
    quirky.quirks.files["/empty"] = Served(b"", etag='"e"')

    info = backend.stat(ObjectRef(quirky.url("/a.bin")))
    assert (info.size, info.etag) == (10, "v1")
    assert backend.stat(ObjectRef(quirky.url("/empty"))).size == 0
    assert [m for m, h in quirky.quirks.seen] == ["HEAD", "GET", "HEAD", "GET"]
    assert quirky.quirks.seen[1][1]["Range"] == "bytes=0-0"


def test_server_ignoring_if_match_is_caught_by_the_response_etag(
    quirky: QuirkyHTTPServer, backend: HttpBackend
) -> None:
    quirky.quirks.if_match = False
    quirky.quirks.files["/a.bin"] = Served(b"new bytes", etag='"v2"')

    sink = Collected()
    with pytest.raises(ReferenceChangedError) as caught:
        backend.fetch(ObjectRef(quirky.url("/a.bin"), etag="v1", size=9), sink)
    assert (caught.value.expected, caught.value.found) == ("ETag v1", "ETag v2")
    assert sink.chunks == []
    assert quirky.quirks.seen[0][1]["If-Match"] == '"v1"'


def test_weak_etag_is_recorded_and_still_downloads(
    quirky: QuirkyHTTPServer, backend: HttpBackend
) -> None:
    quirky.quirks.files["/a.bin"] = Served(b"bytes", etag='W/"v1"')
    info = backend.stat(ObjectRef(quirky.url("/a.bin")))
    assert (info.etag, info.etag_weak) == ("v1", True)

    # If-Match never matches a weak ETag; the 412 is explained by a HEAD.
    sink = Collected()
    backend.fetch(ObjectRef(info.uri, etag=info.etag, size=5), sink)
    assert sink.data == b"bytes"
    assert [method for method, _ in quirky.quirks.seen] == [
        "HEAD",  # stat
        "GET",  # If-Match "v1": 412
        "HEAD",  # still W/"v1"
        "GET",  # without If-Match, ETag checked on the response
    ]


def test_server_errors_are_retried_then_reported(
    quirky: QuirkyHTTPServer, backend: HttpBackend
) -> None:
    quirky.quirks.files["/a.bin"] = Served(b"bytes")
    quirky.quirks.failures = 2
    sink = Collected()
    backend.fetch(ObjectRef(quirky.url("/a.bin"), etag="v1", size=5), sink)
    assert sink.data == b"bytes"

    quirky.quirks.failures = 100
    with pytest.raises(StorageError, match="HTTP 503, still after 4 attempts"):
        backend.stat(ObjectRef(quirky.url("/a.bin")))


@pytest.mark.parametrize("ranges", [True, False])
def test_dropped_connection_resumes_where_it_stopped(
    quirky: QuirkyHTTPServer, backend: HttpBackend, ranges: bool
) -> None:
    data = os.urandom(300_000)
    quirky.quirks.files["/big.bin"] = Served(data)
    quirky.quirks.ranges = ranges
    quirky.quirks.drop_after = 100_000

    sink = Collected()
    ref = ObjectRef(quirky.url("/big.bin"), etag="v1", size=len(data))
    assert backend.fetch(ref, sink).size == len(data)
    assert sink.data == data
    retried = quirky.quirks.seen[-1][1]
    if ranges:
        start = int(retried["Range"].removeprefix("bytes=").rstrip("-"))
        assert 0 < start <= 100_000 and retried["If-Range"] == '"v1"'
    else:
        assert "Range" not in retried


def test_content_md5_and_goog_hash_become_checksums(
    quirky: QuirkyHTTPServer, backend: HttpBackend
) -> None:
    md5 = hashlib.md5(b"bytes").digest()
    quirky.quirks.files["/a"] = Served(
        b"bytes", headers={"Content-MD5": base64.b64encode(md5).decode()}
    )
    goog_hash = f"crc32c=AAAAAA==,md5={base64.b64encode(md5).decode()}"
    quirky.quirks.files["/b"] = Served(b"bytes", headers={"x-goog-hash": goog_hash})
    assert dict(backend.stat(ObjectRef(quirky.url("/a"))).checksums) == {
        "md5": md5.hex()
    }
    assert dict(backend.stat(ObjectRef(quirky.url("/b"))).checksums) == {
        "md5": md5.hex(),
        "crc32c": "AAAAAA==",
    }
    assert quirky.quirks.seen[0][1]["Accept-Encoding"] == "identity"


def test_login_comes_from_netrc(
    quirky: QuirkyHTTPServer,
    backend: HttpBackend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quirky.quirks.files["/private.bin"] = Served(b"secret bytes")
    quirky.quirks.login = "Basic " + base64.b64encode(b"alice:pw").decode()
    ref = ObjectRef(quirky.url("/private.bin"))

    monkeypatch.setenv("NETRC", str(tmp_path / "absent"))
    with pytest.raises(AuthError, match=r"machine 127\.0\.0\.1 login USER"):
        backend.stat(ref)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password pw\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with_login = HttpBackend()  # logins are read when the client is made
    try:
        assert with_login.stat(ref).size == len(b"secret bytes")
    finally:
        with_login.close()


def test_gone_and_redirected(quirky: QuirkyHTTPServer, backend: HttpBackend) -> None:
    quirky.quirks.gone.add("/old.bin")
    quirky.quirks.files["/new.bin"] = Served(b"moved")
    quirky.quirks.redirects["/latest.bin"] = "/new.bin"

    with pytest.raises(ReferenceMissingError):
        backend.stat(ObjectRef(quirky.url("/old.bin")))
    info = backend.stat(ObjectRef(quirky.url("/latest.bin")))
    assert (info.uri, info.size) == (quirky.url("/latest.bin"), 5)


def test_last_modified_is_iso_8601(
    quirky: QuirkyHTTPServer, backend: HttpBackend
) -> None:
    quirky.quirks.files["/a"] = Served(b"a", etag=None)
    info = backend.stat(ObjectRef(quirky.url("/a")))
    assert info.last_modified == "2026-12-02T10:00:00+00:00"
