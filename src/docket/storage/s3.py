"""``s3://bucket/key`` references: Amazon S3 and S3-compatible stores, via boto3.

Adding a prefix costs one HEAD, one GetBucketVersioning and one listing request
per page: ListObjectsV2 on unversioned buckets, ListObjectVersions on versioned
ones. Both pages hold 1,000 entries, but ListObjectVersions counts every old
version and delete marker as an entry, so old versions cost listing requests too.

Downloads GET the pinned version, or the current object under ``If-Match`` on
the logged ETag; when that object changed or vanished, an older version with
the logged ETag is looked up and fetched instead.

Keys are read from the URI as written (no percent-decoding, like the AWS CLI),
except ``%25``, ``%3F`` and ``%23``: docket writes ``%``, ``?`` and ``#`` in keys
that way, so that every listed key reads back from its URI.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit, urlunsplit

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
    is_secret_param,
    normalize_etag,
    relative_name,
)
from docket.storage.hashing import CHUNK

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("AWS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
POOL_CONNECTIONS = 64
RETRY_ATTEMPTS = 8
RESUME_ATTEMPTS = 5
# Objects above RANGED_ABOVE are fetched as PART_SIZE ranges, PART_WORKERS at a
# time and at most RANGED_AT_ONCE objects so, bounding memory; any other object
# streams through one GET.
RANGED_ABOVE = 64 << 20
PART_SIZE = 8 << 20
PART_WORKERS = 4
RANGED_AT_ONCE = 2

# S3 answers 405 to a GET or HEAD of a version that is a delete marker.
MISSING_CODES = frozenset(
    {"404", "NoSuchKey", "NoSuchVersion", "NoSuchBucket", "405", "MethodNotAllowed"}
)
DENIED_CODES = frozenset(
    {"401", "403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
    | {"ExpiredToken", "InvalidToken", "AllAccessDisabled", "AccountProblem"}
)
CHECKSUM_FIELDS = {
    "ChecksumCRC32": "crc32",
    "ChecksumCRC32C": "crc32c",
    "ChecksumCRC64NVME": "crc64nvme",
    "ChecksumSHA1": "sha1",
    "ChecksumSHA256": "sha256",
}
_ESCAPES = (("%", "%25"), ("?", "%3F"), ("#", "%23"))


class S3Location(NamedTuple):
    """Where an ``s3://`` URI points: a bucket, a key, maybe a version."""

    bucket: str
    key: str
    version_id: str | None = None

    @property
    def uri(self) -> str:
        return object_uri(self.bucket, self.key)


def object_uri(bucket: str, key: str) -> str:
    """The canonical ``s3://`` URI of a key: no query, no fragment, no secrets."""
    for raw, escaped in _ESCAPES:
        key = key.replace(raw, escaped)
    return f"s3://{bucket}/{key}"


def parse_uri(uri: str) -> S3Location:
    """Bucket, key and pinned version of an ``s3://`` URI; refuses what cannot work.

    Refusals never repeat the query or the user part, which may hold secrets.
    """
    parts = urlsplit(uri)
    bucket = parts.netloc.rpartition("@")[2]
    plain = f"s3://{bucket}{parts.path}"
    if "@" in parts.netloc or not bucket:
        raise ValidationError(
            f"{plain} must name a bucket and no credentials: write s3://BUCKET/KEY "
            f"and let boto3 find credentials (AWS_PROFILE, ~/.aws/credentials)"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    if any(is_secret_param(name) for name in query):
        raise ValidationError(
            f"a presigned URL was given for {plain}; pass the plain {plain} "
            f"instead: docket signs its requests with your own credentials"
        )
    unknown = sorted(set(query) - {"versionId"})
    if unknown or parts.fragment:
        raise ValidationError(
            f"{plain} comes with a query or fragment docket does not understand "
            f"({', '.join(unknown) or '#...'}); only ?versionId= pins a version. "
            f"Write '?' and '#' inside keys as %3F and %23"
        )
    key = parts.path[1:]
    for raw, escaped in reversed(_ESCAPES):
        key = key.replace(escaped, raw).replace(escaped.lower(), raw)
    version = query["versionId"][-1] if "versionId" in query else None
    if version and not key:
        raise ValidationError(f"{plain} pins a version but names no key")
    return S3Location(bucket, key, version or None)


def endpoint_from_env() -> str | None:
    """The S3 endpoint the environment names, without credentials or query."""
    for variable in ENDPOINT_VARIABLES:
        if value := os.environ.get(variable):
            parts = urlsplit(value)
            host = parts.netloc.rpartition("@")[2]
            return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
    return None


class S3Backend:
    """Lists, inspects and fetches S3 objects; one boto3 client per endpoint."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str | None, str | None], Any] = {}
        self._lock = threading.Lock()
        self._ranged = threading.BoundedSemaphore(RANGED_AT_ONCE)

    def resolve(self, uri: str, *, max_objects: int) -> Iterator[ObjectInfo]:
        where = parse_uri(uri)
        endpoint = endpoint_from_env()
        client = self._client(endpoint)
        if where.version_id is not None:
            yield self._head(client, where, endpoint)
            return
        if where.key and not where.key.endswith("/"):
            found = _head_or_none(client, where)
            if found is not None and not is_folder_marker(
                where.key, _size(found), found.get("ContentType")
            ):
                yield _info(where.uri, "", found, endpoint)
                return
        yield from self._list(client, where, uri, endpoint, max_objects)

    def stat(self, ref: ObjectRef) -> ObjectInfo:
        where = parse_uri(ref.uri)
        if ref.version_id:
            where = where._replace(version_id=ref.version_id)
        endpoint = ref.endpoint or endpoint_from_env()
        return self._head(self._client(endpoint), where, endpoint)

    def fetch(self, ref: ObjectRef, sink: Sink) -> ObjectInfo:
        where = parse_uri(ref.uri)
        client = self._client(ref.endpoint or endpoint_from_env())
        where = where._replace(version_id=ref.version_id or where.version_id)
        etag = None if where.version_id else ref.etag
        try:
            return self._get(client, where, etag, ref, sink)
        except (ReferenceChangedError, ReferenceMissingError) as exc:
            if etag is None:
                raise
            mismatch = exc
        # Logged without a version id: the logged bytes may survive as an older
        # version if versioning was turned on since.
        try:
            older = _version_with_etag(client, where, etag)
        except AuthError:
            raise mismatch from None  # may not list versions: report what GET said
        return self._get(client, where._replace(version_id=older), None, ref, sink)

    def _head(self, client: Any, where: S3Location, endpoint: str | None) -> ObjectInfo:
        with _translated(where.uri):
            response = client.head_object(**_params(where), ChecksumMode="ENABLED")
        return _info(where.uri, "", response, endpoint)

    def _list(
        self,
        client: Any,
        where: S3Location,
        uri: str,
        endpoint: str | None,
        max_objects: int,
    ) -> Iterator[ObjectInfo]:
        key = where.key
        prefix = key if not key or key.endswith("/") else key + "/"
        versioned = _versioned(client, where.bucket, uri)
        count = 0
        with _translated(uri):
            for item in _live_objects(client, where.bucket, prefix, versioned, uri):
                if is_folder_marker(item["Key"], item.get("Size")):
                    continue
                count += 1
                check_limit(uri, count, max_objects)
                name = relative_name(item["Key"], prefix)
                yield _info(object_uri(where.bucket, item["Key"]), name, item, endpoint)
        if count == 0:
            raise ReferenceMissingError(uri)

    def _get(
        self,
        client: Any,
        where: S3Location,
        etag: str | None,
        ref: ObjectRef,
        sink: Sink,
    ) -> ObjectInfo:
        params = _params(where) | ({"IfMatch": f'"{etag}"'} if etag else {})
        large = ref.size is not None and ref.size > RANGED_ABOVE
        with _translated(where.uri, etag=etag, pinned=where.version_id is not None):
            if large and self._ranged.acquire(blocking=False):
                try:
                    response = _get_in_parts(client, params, sink)
                finally:
                    self._ranged.release()
            else:
                response = _get_streamed(client, params, sink)
        return _info(where.uri, "", response, ref.endpoint)

    def _client(self, endpoint: str | None) -> Any:
        region = os.environ.get("AWS_REGION") or None
        with self._lock:
            client = self._clients.get((endpoint, region))
            if client is None:
                client = self._clients[(endpoint, region)] = _new_client(
                    endpoint, region
                )
            return client


def _new_client(endpoint: str | None, region: str | None) -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
        import botocore.session  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
    except ImportError as exc:
        raise MissingExtraError("s3", "s3") from exc
    # botocore parses every timestamp with dateutil, two thirds of the time it
    # spends on a 1,000-key listing page; docket only keeps them as text.
    core = botocore.session.get_session()
    parsers = core.get_component("response_parser_factory")
    parsers.set_parser_defaults(timestamp_parser=str)
    config = Config(
        max_pool_connections=POOL_CONNECTIONS,
        retries={"mode": "standard", "max_attempts": RETRY_ATTEMPTS},
        connect_timeout=10,
        read_timeout=60,
    )
    # A session is not thread-safe, the client made from it is.
    session = boto3.session.Session(botocore_session=core)
    return session.client(
        "s3", endpoint_url=endpoint, region_name=region, config=config
    )


def _params(where: S3Location) -> dict[str, Any]:
    params: dict[str, Any] = {"Bucket": where.bucket, "Key": where.key}
    if where.version_id is not None:
        params["VersionId"] = where.version_id
    return params


def _head_or_none(client: Any, where: S3Location) -> Mapping[str, Any] | None:
    """HEAD of the exact key, or ``None`` when no object is there (a prefix)."""
    try:
        with _translated(where.uri):
            found: Mapping[str, Any] = client.head_object(
                **_params(where), ChecksumMode="ENABLED"
            )
    except ReferenceMissingError:
        return None
    return found


def _versioned(client: Any, bucket: str, uri: str) -> bool:
    try:
        with _translated(uri):
            status = client.get_bucket_versioning(Bucket=bucket).get("Status")
    except AuthError:
        _warn_unpinned(bucket, uri, "read the versioning status")
        return False
    return status in ("Enabled", "Suspended")


def _live_objects(
    client: Any, bucket: str, prefix: str, versioned: bool, uri: str
) -> Iterator[Mapping[str, Any]]:
    """Every current object under ``prefix``, one page of 1,000 entries at a time."""
    if versioned:
        listing = client.get_paginator("list_object_versions")
        pages = iter(listing.paginate(Bucket=bucket, Prefix=prefix))
        try:
            with _translated(uri):
                first = next(pages, None)
        except AuthError:
            _warn_unpinned(bucket, uri, "list the object versions")
        else:
            for page in itertools.chain([first] if first else [], pages):
                # Each key has one latest entry: its live version, or a delete
                # marker (listed apart) when it was deleted. Older ones are skipped.
                yield from (v for v in page.get("Versions", ()) if v.get("IsLatest"))
            return
    listing = client.get_paginator("list_objects_v2")
    for page in listing.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", ())


def _warn_unpinned(bucket: str, uri: str, what: str) -> None:
    log.warning(
        "may not %s of bucket %s: %s is listed without version ids, and an "
        "overwritten object comes back only if an older version with its ETag "
        "is found",
        what,
        bucket,
        uri,
    )


def _version_with_etag(client: Any, where: S3Location, etag: str) -> str:
    """The newest version of ``where`` whose ETag is ``etag``."""
    current = None
    with _translated(where.uri):
        pages = client.get_paginator("list_object_versions").paginate(
            Bucket=where.bucket, Prefix=where.key
        )
        # Listings are sorted by key, then newest version first.
        for version in (v for page in pages for v in page.get("Versions", ())):
            if version["Key"] > where.key:
                break
            version_etag = normalize_etag(version.get("ETag"))[0]
            if version["Key"] == where.key and version.get("IsLatest"):
                current = version_etag
            if version["Key"] == where.key and version_etag == etag:
                found = str(version["VersionId"])
                log.debug("%s changed; fetching its version %s", where.uri, found)
                return found
    if current is None:
        raise ReferenceMissingError(where.uri)
    raise ReferenceChangedError(where.uri, f"etag {etag}", f"etag {current}")


def _info(
    uri: str, name: str, item: Mapping[str, Any], endpoint: str | None
) -> ObjectInfo:
    """One object's metadata from a listing entry or a HEAD/GET response."""
    etag, weak = normalize_etag(item.get("ETag"))
    return ObjectInfo(
        uri=uri,
        name=name,
        size=item["Size"] if "Size" in item else _size(item),
        etag=etag,
        etag_weak=weak,
        version_id=_version(item.get("VersionId")),
        checksums={n: item[f] for f, n in CHECKSUM_FIELDS.items() if item.get(f)},
        last_modified=_iso(item.get("LastModified")),
        endpoint=endpoint,
    )


def _iso(timestamp: str | None) -> str | None:
    """ISO 8601 from a listing's ISO text or a response's HTTP date header."""
    if not timestamp:
        return None
    if "," in timestamp:  # "Thu, 03 Dec 2026 14:05:10 GMT"
        return parsedate_to_datetime(timestamp).isoformat()
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).isoformat()


def _size(response: Mapping[str, Any]) -> int | None:
    content_range = response.get("ContentRange")  # "bytes 0-8388607/123456789"
    if content_range:
        return int(content_range.rpartition("/")[2])
    size = response.get("ContentLength")
    return None if size is None else int(size)


def _version(version_id: str | None) -> str | None:
    # "null" names the version written while versioning was off or suspended;
    # the next such write replaces it, so it pins nothing.
    return None if version_id in (None, "null") else version_id


def _get_streamed(client: Any, params: dict[str, Any], sink: Sink) -> Any:
    """GET the object into ``sink``; a dropped connection resumes where it stopped."""
    response = client.get_object(**params)
    written, pinned = 0, _pinned_to(params, response)
    for attempt in range(1, RESUME_ATTEMPTS + 1):
        try:
            for chunk in response["Body"].iter_chunks(CHUNK):
                sink.write(chunk)
                written += len(chunk)
            break
        except _stream_errors() as exc:
            if attempt == RESUME_ATTEMPTS:
                raise
            log.debug("%s: resuming at byte %d after %s", params["Key"], written, exc)
            response = client.get_object(**pinned, Range=f"bytes={written}-")
    return response


def _get_in_parts(client: Any, params: dict[str, Any], sink: Sink) -> Any:
    """GET a large object as concurrent ranges, written to ``sink`` in order."""
    first = client.get_object(**params, Range=f"bytes=0-{PART_SIZE - 1}")
    size, pinned = _size(first) or 0, _pinned_to(params, first)
    sink.write(first["Body"].read())
    starts = iter(range(PART_SIZE, size, PART_SIZE))
    pending: deque[Future[bytes]] = deque()
    with ThreadPoolExecutor(PART_WORKERS, thread_name_prefix="s3-part") as pool:
        for start in starts:
            end = min(start + PART_SIZE, size) - 1
            pending.append(pool.submit(_read_range, client, pinned, start, end))
            if len(pending) == PART_WORKERS:
                sink.write(pending.popleft().result())
        while pending:
            sink.write(pending.popleft().result())
    return first


def _read_range(client: Any, pinned: dict[str, Any], start: int, end: int) -> bytes:
    for attempt in range(1, RESUME_ATTEMPTS + 1):
        response = client.get_object(**pinned, Range=f"bytes={start}-{end}")
        try:
            data: bytes = response["Body"].read()
            return data
        except _stream_errors():
            if attempt == RESUME_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _pinned_to(params: dict[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters that make later ranges come from the object first read."""
    pinned = {"Bucket": params["Bucket"], "Key": params["Key"]}
    version = _version(response.get("VersionId"))
    if version is not None:
        return pinned | {"VersionId": version}
    return pinned | {"IfMatch": response["ETag"]}


def _exceptions() -> Any:
    import botocore.exceptions  # type: ignore[import-untyped]

    return botocore.exceptions


def _stream_errors() -> tuple[type[Exception], ...]:
    errors = _exceptions()
    return (
        errors.ResponseStreamingError,
        errors.IncompleteReadError,
        errors.ReadTimeoutError,
    )


@contextmanager
def _translated(
    uri: str, *, etag: str | None = None, pinned: bool = False
) -> Iterator[None]:
    """Turn botocore's errors into docket's, naming the object and the next step."""
    errors = _exceptions()
    try:
        yield
    except errors.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in MISSING_CODES:
            raise ReferenceMissingError(uri) from exc
        if code in ("PreconditionFailed", "412") and etag:
            raise ReferenceChangedError(
                uri, f"etag {etag}", "another etag", pinned=pinned
            ) from exc
        if code in DENIED_CODES:
            raise AuthError(
                f"S3 refused access to {uri} ({code}); check the credentials boto3 "
                f"finds (AWS_PROFILE, AWS_ACCESS_KEY_ID...) and the bucket policy"
            ) from exc
        message = f"{code} {error.get('Message', '')}".strip()
        raise StorageError(f"S3 request for {uri} failed: {message}") from exc
    except errors.NoCredentialsError as exc:
        raise AuthError(
            f"no AWS credentials found for {uri}; set AWS_PROFILE, or "
            f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from exc
    except errors.BotoCoreError as exc:
        raise StorageError(
            f"S3 request for {uri} failed: {exc}; check AWS_S3_ENDPOINT_URL, "
            f"AWS_REGION and the network"
        ) from exc
