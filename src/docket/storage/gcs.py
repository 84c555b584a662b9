"""``gs://bucket/key`` references: Google Cloud Storage, pinned by generation.

Every GCS object has a generation, versioned bucket or not, so every entry records
one; ``gs://bucket/key#GENERATION`` records that generation instead of the live one.
Downloads always GET an explicit generation, which is atomic even where a server
ignores ``ifGenerationMatch`` on reads (fake-gcs-server does): when that
generation is gone, the live object tells a changed reference from a missing one.

Credentials are Google's application-default credentials; without any, public
buckets are read anonymously. ``STORAGE_EMULATOR_HOST`` points at an emulator:
it is read anonymously, recorded as the entry's endpoint, and downloads of the
entry go back to it (as for S3).
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from docket.errors import (
    AuthError,
    MissingExtraError,
    ReferenceChangedError,
    ReferenceMissingError,
    StorageError,
    ValidationError,
)
from docket.storage.base import (
    ObjectInfo,
    ObjectRef,
    Sink,
    check_limit,
    is_folder_marker,
    normalize_etag,
    relative_name,
)

log = logging.getLogger(__name__)

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
PAGE_SIZE = 1000
# The downloader runs 16 threads on one client; requests' default pool of 10
# connections per host would drop and reopen connections under that load.
POOL_SIZE = 32
_LIST_FIELDS = (
    "items(name,size,etag,generation,md5Hash,crc32c,updated,contentType),nextPageToken"
)


def parse_uri(uri: str, *, pinned: bool = False) -> tuple[str, str, int | None]:
    """``(bucket, key, generation)`` of a ``gs://`` URI.

    With ``pinned``, a trailing ``#DIGITS`` is a generation; otherwise ``#`` and
    ``?`` are part of the object name, as in every URI docket records.
    """
    rest = uri[5:] if uri[:5].lower() == "gs://" else ""
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValidationError(f"{uri!r} names no bucket; use gs://bucket/key")
    generation = None
    if pinned and "#" in key:
        name, _, fragment = key.rpartition("#")
        if fragment.isdigit():
            key, generation = name, int(fragment)
    return bucket, key, generation


def uri_of(bucket: str, key: str) -> str:
    return f"gs://{bucket}/{key}"


class GCSBackend:
    """Lists, stats and downloads GCS objects; one client per endpoint."""

    def __init__(self) -> None:
        self._clients: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    def resolve(self, uri: str, *, max_objects: int) -> Iterator[ObjectInfo]:
        bucket, key, generation = parse_uri(uri, pinned=True)
        endpoint = _endpoint()
        client = self._client(endpoint)
        if generation is not None or (key and not key.endswith("/")):
            found = _get(client, uri, bucket, key, generation)
            if found is not None:
                yield _info(found, "", endpoint)
                return
            if generation is not None:
                raise ReferenceMissingError(uri)
        prefix = key if not key or key.endswith("/") else key + "/"
        yield from _list(client, uri, bucket, prefix, max_objects, endpoint)

    def stat(self, ref: ObjectRef) -> ObjectInfo:
        bucket, key, _ = parse_uri(ref.uri)
        endpoint = _endpoint(ref.endpoint)
        generation = int(ref.version_id) if ref.version_id else None
        found = _get(self._client(endpoint), ref.uri, bucket, key, generation)
        if found is None:
            raise ReferenceMissingError(ref.uri)
        return _info(found, "", endpoint)

    def fetch(self, ref: ObjectRef, sink: Sink) -> ObjectInfo:
        bucket, key, _ = parse_uri(ref.uri)
        endpoint = _endpoint(ref.endpoint)
        client = self._client(endpoint)
        generation = ref.version_id
        if generation is None and ref.etag is not None:
            current = self.stat(ref)
            if current.etag != ref.etag:
                raise ReferenceChangedError(
                    ref.uri, f"etag {ref.etag}", f"etag {current.etag}"
                )
            generation = current.version_id
        blob = client.bucket(bucket).blob(
            key, generation=int(generation) if generation else None
        )
        counted = _CountingSink(sink)
        try:
            with _translated(ref.uri):
                # Raw: the stored bytes, never decompressed on the way, so that
                # size and MD5 match what was logged for gzip-encoded objects.
                blob.download_to_file(counted, raw_download=True)
        except ReferenceMissingError:
            if generation is None:
                raise
            self._explain_lost(ref, generation, endpoint)
        return _info(blob, "", endpoint, size=counted.size)

    def _explain_lost(
        self, ref: ObjectRef, generation: str, endpoint: str | None
    ) -> NoReturn:
        """The logged generation is gone: changed if a newer one lives, else missing."""
        current = self.stat(ref._replace(version_id=None, endpoint=endpoint))
        expected = f"generation {generation}" + (
            f", etag {ref.etag}" if ref.etag else ""
        )
        raise ReferenceChangedError(
            ref.uri,
            expected,
            f"generation {current.version_id}, etag {current.etag}",
            pinned=ref.version_id is not None,
        )

    def _client(self, endpoint: str | None) -> Any:
        with self._lock:
            client = self._clients.get(endpoint)
            if client is None:
                client = _new_client(endpoint)
                self._clients[endpoint] = client
            return client


def _endpoint(recorded: str | None = None) -> str | None:
    """Where to send requests: where the entry was read, else this process's
    emulator, else Google's default endpoint (``None``)."""
    return recorded or os.environ.get(EMULATOR_ENV) or None


def _new_client(endpoint: str | None) -> Any:
    storage, credentials = _sdk()
    if endpoint is not None:
        # An emulator: no credentials, and no project is needed to read.
        client = storage.Client(
            project=None,
            credentials=credentials.AnonymousCredentials(),
            client_options={"api_endpoint": endpoint},
        )
    else:
        client = _default_client(storage, credentials)
    _widen_pool(client)
    return client


def _default_client(storage: Any, credentials: Any) -> Any:
    from google.auth.exceptions import DefaultCredentialsError

    try:
        return storage.Client(project=None)
    except DefaultCredentialsError:
        log.warning(
            "no Google application-default credentials; reading gs:// anonymously, "
            "which reaches public buckets only"
        )
        return storage.Client.create_anonymous_client()


def _widen_pool(client: Any) -> None:
    import requests

    adapter = requests.adapters.HTTPAdapter(
        pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE
    )
    for prefix in ("http://", "https://"):
        client._http.mount(prefix, adapter)


def _sdk() -> tuple[Any, Any]:
    try:
        import google.auth.credentials as credentials
        import google.cloud.storage as storage
    except ImportError as exc:
        raise MissingExtraError("gs", "gcs") from exc
    return storage, credentials


def _get(
    client: Any, uri: str, bucket: str, key: str, generation: int | None
) -> Any | None:
    """The object's metadata (one request), or ``None`` when there is none."""
    if not key:
        return None
    with _translated(uri):
        return client.bucket(bucket).get_blob(key, generation=generation)


def _list(
    client: Any,
    uri: str,
    bucket: str,
    prefix: str,
    max_objects: int,
    endpoint: str | None,
) -> Iterator[ObjectInfo]:
    """Every object below ``prefix``, page by page; folder markers left out."""
    count = 0
    listed_any = False
    with _translated(uri):
        blobs = client.list_blobs(
            bucket, prefix=prefix or None, page_size=PAGE_SIZE, fields=_LIST_FIELDS
        )
        for blob in blobs:
            listed_any = True
            if is_folder_marker(blob.name, blob.size, blob.content_type):
                continue
            count += 1
            check_limit(uri, count, max_objects)
            yield _info(blob, relative_name(blob.name, prefix), endpoint)
    if not listed_any and prefix:
        raise ReferenceMissingError(uri)


def _info(
    blob: Any, name: str, endpoint: str | None, *, size: int | None = None
) -> ObjectInfo:
    etag, weak = normalize_etag(blob.etag)
    checksums = {}
    if blob.md5_hash:
        checksums["md5"] = base64.b64decode(blob.md5_hash).hex()
    if blob.crc32c:
        checksums["crc32c"] = blob.crc32c
    return ObjectInfo(
        uri=uri_of(blob.bucket.name, blob.name),
        name=name,
        size=blob.size if size is None else size,
        etag=etag,
        etag_weak=weak,
        version_id=str(blob.generation) if blob.generation else None,
        checksums=checksums,
        last_modified=blob.updated.isoformat() if blob.updated else None,
        endpoint=endpoint,
    )


class _CountingSink:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.size += len(data)
        return self.sink.write(data)


@contextmanager
def _translated(uri: str) -> Iterator[None]:
    """Provider errors as docket's, each naming the object and what to do."""
    import requests
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth
    from google.cloud.storage.exceptions import DataCorruption

    try:
        yield
    except api.NotFound as exc:
        raise ReferenceMissingError(uri) from exc
    except (api.Unauthorized, api.Forbidden, auth.GoogleAuthError) as exc:
        raise AuthError(
            f"access to {uri} was refused ({exc}); check the application-default "
            f"credentials: `gcloud auth application-default login` or "
            f"GOOGLE_APPLICATION_CREDENTIALS"
        ) from exc
    except DataCorruption as exc:
        raise StorageError(
            f"{uri} arrived corrupted (checksum mismatch in transit); retry"
        ) from exc
    except (api.GoogleAPICallError, api.RetryError, requests.RequestException) as exc:
        raise StorageError(f"reading {uri} from GCS failed: {exc}") from exc
