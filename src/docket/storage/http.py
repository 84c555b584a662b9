"""``http://`` and ``https://`` references: single files on a web server.

An HTTP URI names one object; there is no listing. Metadata comes from a HEAD
request (a one-byte ranged GET where HEAD is refused), so adding a reference
reads no content. Downloads are conditional GETs: ``If-Match`` on the recorded
ETag, and the response's ETag and size are checked before any byte is written,
for the servers that ignore ``If-Match``.

Credentials never reach a manifest. A URI with ``user:password@`` or with a
query parameter that carries a secret (``X-Amz-Signature``, ``sig``, ``token``,
``access_token``...) is refused: stripping the secret would record a URL that
fetches something else, or nothing. Servers that need a login get it from
``~/.netrc`` (or the file ``$NETRC`` names), for adds and downloads alike.
Other query strings are part of what the URL names and are kept in the ref.
"""

from __future__ import annotations

import base64
import binascii
import logging
import netrc
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from docket.errors import (
    AuthError,
    ReferenceChangedError,
    ReferenceMissingError,
    StorageError,
    ValidationError,
)
from docket.storage.base import (
    ObjectInfo,
    ObjectRef,
    Sink,
    is_secret_param,
    normalize_etag,
)

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 4
BACKOFF_SECONDS = 0.25
MAX_RETRY_AFTER_SECONDS = 10.0
TIMEOUT_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 10.0
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# The file as stored, never gzip-ed on the fly, so sizes and ETags describe it.
IDENTITY = {"Accept-Encoding": "identity"}


def canonical_uri(uri: str) -> str:
    """``uri`` as recorded: fragment dropped, refused when it carries a secret."""
    parts = urlsplit(uri)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"{uri!r} is not an http:// or https:// URL with a host")
    if "@" in parts.netloc:
        raise ValidationError(
            f"{parts.hostname}: credentials in the URL would be stored with the "
            f"artifact; remove them and put them in ~/.netrc as "
            f"'machine {parts.hostname} login USER password PASS'"
        )
    secret = _secret_param(parts.query)
    if secret is not None:
        raise ValidationError(
            f"{urlunsplit(parts._replace(query='', fragment=''))}: the query "
            f"parameter {secret!r} carries a credential, which would be stored with "
            f"the artifact; reference a URL without it (s3://, gs:// or az:// for "
            f"signed cloud URLs, ~/.netrc for servers that need a login)"
        )
    return urlunsplit(parts._replace(scheme=parts.scheme.lower(), fragment=""))


def _secret_param(query: str) -> str | None:
    for name, _ in parse_qsl(query, keep_blank_values=True):
        if is_secret_param(name):
            return name
    return None


class _TransientError(Exception):
    """A failure worth retrying: 5xx, throttling, a dropped connection."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class _Transfer:
    """One download: what was asked for and how far it got across attempts."""

    ref: ObjectRef
    url: str
    sink: Sink
    if_match: bool
    written: int = 0
    first: ObjectInfo | None = None
    validator: str | None = None  # sent as If-Range when resuming

    def headers(self) -> dict[str, str]:
        headers = dict(IDENTITY)
        if self.if_match and self.ref.etag:
            headers["If-Match"] = f'"{self.ref.etag}"'
        if self.written and self.validator:
            headers["Range"] = f"bytes={self.written}-"
            headers["If-Range"] = self.validator
        return headers

    def check(self, found: ObjectInfo) -> None:
        """Raise unless ``found`` is the recorded object (and, when resuming,
        the one the earlier attempts of this download were reading)."""
        first = self.first
        etag = first.etag if first else self.ref.etag
        size = first.size if first else self.ref.size
        # Without an ETag, Last-Modified tells a same-size rewrite; refs carry it
        # only where the downloader passes it on.
        modified = (
            first.last_modified if first else getattr(self.ref, "last_modified", None)
        )
        if etag and found.etag:
            if found.etag != etag:
                raise ReferenceChangedError(
                    self.url, f"ETag {etag}", f"ETag {found.etag}"
                )
        elif modified and found.last_modified and found.last_modified != modified:
            raise ReferenceChangedError(
                self.url,
                f"last modified {modified}",
                f"last modified {found.last_modified}",
            )
        if size is not None and found.size is not None and found.size != size:
            raise ReferenceChangedError(
                self.url, f"{size} bytes", f"{found.size} bytes"
            )

    def write(self, chunks: Iterator[bytes], skip: int) -> None:
        for chunk in chunks:
            if skip:
                dropped = min(skip, len(chunk))
                chunk, skip = chunk[dropped:], skip - dropped
            if chunk:
                self.sink.write(chunk)
                self.written += len(chunk)


class HttpBackend:
    """Reads single files from web servers through one pooled httpx client."""

    def __init__(self) -> None:
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close pooled connections; the next request opens new ones."""
        with self._lock:
            client, self._http = self._http, None
        if client is not None:
            client.close()

    def resolve(self, uri: str, *, max_objects: int) -> Iterator[ObjectInfo]:
        yield self.stat(ObjectRef(uri))

    def stat(self, ref: ObjectRef) -> ObjectInfo:
        url = canonical_uri(ref.uri)
        return self._retrying(url, lambda: self._head(url))

    def fetch(self, ref: ObjectRef, sink: Sink) -> ObjectInfo:
        transfer = _Transfer(ref, canonical_uri(ref.uri), sink, if_match=True)
        return self._retrying(transfer.url, lambda: self._get(transfer))

    # -- requests -----------------------------------------------------------

    def _head(self, url: str) -> ObjectInfo:
        with self._request("HEAD", url, IDENTITY) as response:
            if response.status_code not in (405, 501):
                _raise_for_status(url, response)
                return _info(url, response)
        return self._probe(url)

    def _probe(self, url: str) -> ObjectInfo:
        # For servers that refuse HEAD: one byte tells the size (Content-Range)
        # and the validators; a 416 is an empty file.
        headers = {**IDENTITY, "Range": "bytes=0-0"}
        with self._request("GET", url, headers) as response:
            if response.status_code != 416:
                _raise_for_status(url, response)
            return _info(url, response)

    def _get(self, transfer: _Transfer) -> ObjectInfo:
        with self._request("GET", transfer.url, transfer.headers()) as response:
            if response.status_code != 412 or not transfer.if_match:
                return self._receive(transfer, response)
        self._explain_precondition(transfer)
        return self._get(transfer)

    def _receive(self, transfer: _Transfer, response: httpx.Response) -> ObjectInfo:
        _raise_for_status(transfer.url, response)
        found = _info(transfer.url, response)
        transfer.check(found)

        resumed = response.status_code == 206
        if resumed and _range_start(response) != transfer.written:
            raise StorageError(f"{transfer.url}: the server resumed at a wrong offset")
        if transfer.first is None:
            transfer.first = found
            transfer.validator = _resume_validator(response)

        # A server that ignored the Range header sends everything again.
        skip = 0 if resumed else transfer.written
        transfer.write(response.iter_bytes(), skip)
        return found._replace(size=transfer.written)

    def _explain_precondition(self, transfer: _Transfer) -> None:
        """After a 412: raise with what the object is now, unless only the
        recorded ETag's weakness (If-Match compares strongly) made it fail."""
        current = self._head(transfer.url)
        if current.etag != transfer.ref.etag:
            found = f"ETag {current.etag}" if current.etag else "no ETag"
            raise ReferenceChangedError(
                transfer.url, f"ETag {transfer.ref.etag}", found
            )
        transfer.if_match = False

    def _request(
        self, method: str, url: str, headers: dict[str, str]
    ) -> AbstractContextManager[httpx.Response]:
        log.debug("%s %s", method, url)
        return self._client().stream(method, url, headers=headers)

    def _retrying(self, url: str, attempt: Callable[[], T]) -> T:
        self._client()  # fails first, naming what to install, if httpx is missing
        import httpx

        for number in range(1, ATTEMPTS + 1):
            try:
                return attempt()
            except httpx.TransportError as exc:
                failure = _TransientError(f"{type(exc).__name__}: {exc}")
                failure.__cause__ = exc
            except _TransientError as exc:
                failure = exc
            except httpx.HTTPError as exc:  # too many redirects, undecodable body
                raise StorageError(f"{url}: {exc}") from exc
            if number == ATTEMPTS:
                raise StorageError(
                    f"{url}: {failure.reason}, still after {ATTEMPTS} attempts; "
                    f"check that the server is up, then try again"
                ) from failure
            delay = _backoff(number, failure.retry_after)
            log.warning("%s: %s; retrying in %.1f s", url, failure.reason, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = _new_client()
            return self._http


# -- helpers ------------------------------------------------------------------


def _new_client() -> httpx.Client:
    try:
        import httpx
    except ImportError as exc:
        raise StorageError(
            "http:// references need httpx, a dependency of docket: "
            "pip install 'httpx>=0.27'"
        ) from exc
    return httpx.Client(
        auth=_netrc_auth(httpx.NetRCAuth),
        follow_redirects=True,
        timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        headers={"User-Agent": "docket"},
    )


def _netrc_auth(netrc_auth: type[httpx.NetRCAuth]) -> httpx.Auth | None:
    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    if not os.path.isfile(path):
        return None
    try:
        return netrc_auth(path)
    except (OSError, netrc.NetrcParseError) as exc:
        raise StorageError(f"cannot read logins from {path}: {exc}") from exc


def _raise_for_status(uri: str, response: httpx.Response) -> None:
    code = response.status_code
    if code < 300:
        return
    if code in (404, 410):
        raise ReferenceMissingError(uri)
    if code in (401, 403):
        host = urlsplit(uri).hostname
        raise AuthError(
            f"{uri}: the server refused access (HTTP {code}); if it needs a login, "
            f"put it in ~/.netrc as 'machine {host} login USER password PASS' "
            f"(HTTP URLs name single files: folders cannot be listed)"
        )
    if code in RETRY_STATUSES:
        raise _TransientError(f"HTTP {code}", _retry_after(response))
    raise StorageError(
        f"{uri}: the server answered HTTP {code} {response.reason_phrase}"
    )


def _info(uri: str, response: httpx.Response) -> ObjectInfo:
    headers = response.headers
    etag, weak = normalize_etag(headers.get("etag"))
    return ObjectInfo(
        uri=uri,
        name="",
        size=_size(response),
        etag=etag,
        etag_weak=weak,
        checksums=_checksums(response),
        last_modified=_iso_date(headers.get("last-modified")),
    )


def _size(response: httpx.Response) -> int | None:
    """The size of the whole object, not of this (partial) response."""
    headers = response.headers
    if response.status_code in (206, 416):
        total = headers.get("content-range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    if _encoded(response):
        return None
    length = headers.get("content-length", "")
    return int(length) if length.isdigit() else None


def _encoded(response: httpx.Response) -> bool:
    """True when the body is not the file's bytes as stored (gzip and alike)."""
    encoding: str = response.headers.get("content-encoding", "identity")
    return encoding.lower() != "identity"


def _range_start(response: httpx.Response) -> int | None:
    unit_and_range = response.headers.get("content-range", "")
    start = unit_and_range.removeprefix("bytes ").partition("-")[0]
    return int(start) if start.isdigit() else None


def _checksums(response: httpx.Response) -> dict[str, str]:
    """Digests the server sent for the whole file (Content-MD5, x-goog-hash)."""
    headers = response.headers
    if response.status_code != 200 or _encoded(response):
        return {}
    if headers.get("x-goog-stored-content-encoding", "identity") != "identity":
        return {}  # GCS decompresses on the fly: its hashes are of the gzip bytes
    found: dict[str, str] = {}
    hashes = [("md5", headers.get("content-md5", ""))]
    for item in headers.get_list("x-goog-hash", split_commas=True):
        algorithm, _, value = item.strip().partition("=")
        hashes.append((algorithm.lower(), value))
    for algorithm, value in hashes:
        if algorithm == "md5" and (hex_md5 := _base64_md5(value)):
            found["md5"] = hex_md5
        elif algorithm == "crc32c" and value:
            found["crc32c"] = value
    return found


def _base64_md5(value: str) -> str | None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 16 else None


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError):
        return None


def _resume_validator(response: httpx.Response) -> str | None:
    """What If-Range can carry to resume this body, when the server does ranges."""
    headers = response.headers
    if headers.get("accept-ranges") != "bytes" or _encoded(response):
        return None
    etag: str | None = headers.get("etag")
    if etag and not etag.startswith(("W/", "w/")):
        return etag
    last_modified: str | None = headers.get("last-modified")
    return last_modified


def _retry_after(response: httpx.Response) -> float | None:
    value: str = response.headers.get("retry-after", "")
    return min(float(value), MAX_RETRY_AFTER_SECONDS) if value.isdigit() else None


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    return BACKOFF_SECONDS * 2.0 ** (attempt - 1) * (0.5 + random.random())
