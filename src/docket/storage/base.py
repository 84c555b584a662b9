"""What every storage backend returns and offers, whatever its scheme."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import NamedTuple, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from docket.errors import TooManyObjectsError

DEFAULT_MAX_OBJECTS = 10_000


class ObjectInfo(NamedTuple):
    """Metadata of one stored object, normalised across providers.

    ``name`` is the object's path relative to the listed URI ("" for a single object
    addressed exactly). ``checksums`` holds what the provider returned without
    reading bytes (``md5``, ``crc32c``, ``sha256``... as lowercase hex or the
    provider's encoding); for local files it holds the MD5 docket computed.
    """

    uri: str
    name: str
    size: int | None
    etag: str | None = None
    etag_weak: bool = False
    version_id: str | None = None
    checksums: Mapping[str, str] = MappingProxyType({})
    last_modified: str | None = None
    endpoint: str | None = None


class ObjectRef(NamedTuple):
    """What a download asks a backend for: an object, pinned as well as was logged."""

    uri: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    endpoint: str | None = None
    etag_weak: bool = False
    last_modified: str | None = None


class Sink(Protocol):
    """Where fetched bytes go: a file, or a wrapper that hashes on the way."""

    def write(self, data: bytes, /) -> int: ...


class Backend(Protocol):
    """One storage scheme. Backends never print, cache, or build manifest entries."""

    def resolve(self, uri: str, *, max_objects: int) -> Iterator[ObjectInfo]:
        """The object at ``uri``, or every object under it when it is a prefix.

        Raises ``TooManyObjectsError`` past ``max_objects`` rather than truncating.
        """
        ...

    def stat(self, ref: ObjectRef) -> ObjectInfo:
        """The current metadata of the object ``ref`` names (its pinned version
        when ``ref.version_id`` is set), without reading its bytes.

        Raises ``ReferenceMissingError`` when there is no such object (or version).
        """
        ...

    def fetch(self, ref: ObjectRef, sink: Sink) -> ObjectInfo:
        """Write the bytes of ``ref`` into ``sink`` and return what was read.

        Raises ``ReferenceMissingError`` when the object is gone and
        ``ReferenceChangedError`` when it no longer matches ``ref``.
        """
        ...


def normalize_etag(raw: str | None) -> tuple[str | None, bool]:
    """``(etag without quotes, whether it is weak)`` from a provider's ETag value."""
    if not raw:
        return None, False
    weak = raw.startswith(("W/", "w/"))
    value = raw[2:] if weak else raw
    return value.strip().strip('"') or None, weak


def relative_name(key: str, prefix: str) -> str:
    """The name of ``key`` below a folder ``prefix`` ("" or ending in "/")."""
    return key[len(prefix) :]


def is_folder_marker(
    key: str, size: int | None, content_type: str | None = None
) -> bool:
    """Keys ending in "/" and x-directory objects stand for folders, not files."""
    return key.endswith("/") or (
        content_type is not None and "x-directory" in content_type and not size
    )


def check_limit(uri: str, count: int, max_objects: int) -> None:
    """Stop a listing as soon as it passes ``max_objects``: never truncate."""
    if count > max_objects:
        raise TooManyObjectsError(uri, count, max_objects)


# Query parameters that carry credentials: presigned S3/GCS URLs, Azure SAS
# tokens, API keys. Such values are never recorded in a manifest.
_SECRET_PARAMS = frozenset(
    {"sig", "key", "apikey", "api_key", "x-api-key", "auth", "awsaccesskeyid"}
    | {"se", "sp", "sv", "sr", "st", "ss", "srt", "spr", "skoid", "sktid", "skt"}
    | {"ske", "sks", "skv", "sdd", "x-amz-date", "x-amz-algorithm", "x-goog-date"}
)
_SECRET_WORDS = ("signature", "token", "secret", "password", "credential")


def is_secret_param(name: str) -> bool:
    """Whether a query parameter named ``name`` carries (part of) a credential."""
    lowered = name.lower()
    return lowered in _SECRET_PARAMS or any(w in lowered for w in _SECRET_WORDS)


def strip_secrets(uri: str) -> str:
    """``uri`` without user info and without credential-carrying query parameters."""
    parts = urlsplit(uri)
    netloc = parts.netloc.rpartition("@")[2]
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = urlencode([(k, v) for k, v in query if not is_secret_param(k)])
    return urlunsplit((parts.scheme, netloc, parts.path, kept, parts.fragment))
