"""Azure Blob references: ``https://ACCOUNT.blob.core.windows.net/container/blob``
and ``az://container/blob``.

Credentials: ``AZURE_STORAGE_CONNECTION_STRING`` when it names the URI's account
(its BlobEndpoint then decides where requests go: that is how Azurite is reached,
and such an endpoint is recorded with each entry), else DefaultAzureCredential on
``https://ACCOUNT.blob.core.windows.net``. ``az://`` URIs name no account: they
use the connection string's, else ``AZURE_STORAGE_ACCOUNT_NAME``. On the default
endpoint they are recorded in the ``https://`` form, which names the account.

Unlike S3 and GCS entries, a recorded endpoint is not where downloads go: the
account's connection string decides, because the credentials belong to it (and
an emulator's port rarely outlives the emulator).

``?versionId=V`` records that version. A SAS token in the query (``sig=``) is
used to read the metadata while adding and is never recorded: downloads need
credentials from the environment. Folders of accounts with a hierarchical
namespace (``hdi_isfolder`` blobs) are not recognised yet and become zero-byte
entries.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, NoReturn
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

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

CONNECTION_ENV = "AZURE_STORAGE_CONNECTION_STRING"
ACCOUNT_ENV = "AZURE_STORAGE_ACCOUNT_NAME"
DEFAULT_SUFFIX = ".blob.core.windows.net"
PAGE_SIZE = 5000
POOL_SIZE = 32  # the downloader runs 16 threads on one client
# Bytes per GET: larger blobs come in ranged GETs of this size, so 16 threads
# hold at most 16 of these in memory (the SDK's default first GET is 32 MiB).
GET_SIZE = 8 << 20


class BlobAddress(NamedTuple):
    """Where a blob lives; ``account`` is ``None`` for ``az://`` URIs."""

    account: str | None
    container: str
    blob: str


class Service(NamedTuple):
    """A client for one account, and the endpoint to record (``None`` if default)."""

    client: Any
    account: str
    endpoint: str | None


def parse_uri(uri: str, *, query: bool = False) -> tuple[BlobAddress, dict[str, str]]:
    """The address of an Azure URI, and its query when ``query`` (else none).

    Recorded URIs carry no query, so ``?`` in an ``az://`` blob name survives;
    ``https://`` paths are percent-encoded like Azure's own URLs.
    """
    if uri[:5].lower() == "az://":
        rest, params = uri[5:], ""
        if query and "?" in rest:
            rest, _, params = rest.partition("?")
        account, (container, _, blob) = None, rest.partition("/")
    else:
        parts = urlsplit(uri)
        host = (parts.hostname or "").lower()
        if not host.endswith(DEFAULT_SUFFIX):
            raise ValidationError(f"{uri!r} is not an Azure Blob URL")
        account, params = host[: -len(DEFAULT_SUFFIX)], parts.query if query else ""
        container, _, blob = unquote(parts.path.lstrip("/")).partition("/")
    if not container:
        raise ValidationError(
            f"{uri!r} names no container; use az://container/blob or "
            f"https://ACCOUNT{DEFAULT_SUFFIX}/container/blob"
        )
    pairs = parse_qs(params, keep_blank_values=True)
    return BlobAddress(account, container, blob), {k: v[-1] for k, v in pairs.items()}


def uri_of(address: BlobAddress, service: Service) -> str:
    """The recorded URI: ``https://`` on the default endpoint, else as given."""
    if address.account is None and service.endpoint is not None:
        return f"az://{address.container}/{address.blob}"
    path = quote(f"{address.container}/{address.blob}", safe="/~")
    return f"https://{service.account}{DEFAULT_SUFFIX}/{path}"


class AzureBackend:
    """Lists, stats and downloads blobs; one client per account."""

    def __init__(self) -> None:
        self._services: dict[tuple[str | None, str | None], Service] = {}
        self._lock = threading.Lock()

    def resolve(self, uri: str, *, max_objects: int) -> Iterator[ObjectInfo]:
        address, params = parse_uri(uri, query=True)
        version_id = params.pop("versionId", None)
        service = self._service(address.account)
        if "sig" in params:
            service, params = _with_sas(service, params), {}
        if params:
            raise ValidationError(
                f"{uri} has query parameters docket does not understand "
                f"({', '.join(sorted(params))}); only versionId=V and SAS tokens"
            )
        if version_id is not None or (address.blob and not address.blob.endswith("/")):
            found = _properties(service, address, uri, version_id)
            if found is not None:
                yield _info(found, address, service, "", version_id)
                return
            if version_id is not None:
                raise ReferenceMissingError(uri)
        yield from _list(service, address, uri, max_objects)

    def stat(self, ref: ObjectRef) -> ObjectInfo:
        address, _ = parse_uri(ref.uri)
        service = self._service(address.account)
        found = _properties(service, address, ref.uri, ref.version_id)
        if found is None:
            raise ReferenceMissingError(ref.uri)
        return _info(found, address, service, "", ref.version_id)

    def fetch(self, ref: ObjectRef, sink: Sink) -> ObjectInfo:
        address, _ = parse_uri(ref.uri)
        service = self._service(address.account)
        blob = service.client.get_blob_client(address.container, address.blob)
        try:
            with _translated(ref.uri):
                download = blob.download_blob(**_conditions(ref))
                # Chunks past the first are ranged GETs that the SDK pins to the
                # first response's ETag (and to the version), so they cannot mix.
                for chunk in download.chunks():
                    sink.write(chunk)
        except _ModifiedError:
            self._explain_changed(ref)
        except ReferenceMissingError:
            if ref.version_id is None:
                raise
            self._explain_changed(ref)
        return _info(download.properties, address, service, "", ref.version_id)

    def _explain_changed(self, ref: ObjectRef) -> NoReturn:
        """The logged bytes are gone: changed if the blob lives on, else missing."""
        current = self.stat(ref._replace(version_id=None))
        expected = f"etag {ref.etag}"
        if ref.version_id is not None:
            expected = f"version {ref.version_id}"
        raise ReferenceChangedError(
            ref.uri,
            expected,
            f"etag {current.etag} (version {current.version_id})",
            pinned=ref.version_id is not None,
        )

    def _service(self, account: str | None) -> Service:
        connection = os.environ.get(CONNECTION_ENV)
        with self._lock:
            service = self._services.get((account, connection))
            if service is None:
                service = _new_service(account, connection)
                self._services[(account, connection)] = service
        return service


class _ModifiedError(Exception):
    """The blob no longer matches the If-Match condition (HTTP 412)."""


def _conditions(ref: ObjectRef) -> dict[str, Any]:
    if ref.version_id is not None:
        return {"version_id": ref.version_id}
    if ref.etag is None:
        return {}
    from azure.core import MatchConditions

    return {"etag": f'"{ref.etag}"', "match_condition": MatchConditions.IfNotModified}


def _new_service(account: str | None, connection: str | None) -> Service:
    blob_sdk = _sdk()
    options = _client_options()
    if connection:
        client = blob_sdk.BlobServiceClient.from_connection_string(
            connection, **options
        )
        if account is None or client.account_name == account:
            return Service(client, client.account_name, _custom_endpoint(client))
    account = account or os.environ.get(ACCOUNT_ENV)
    if not account:
        raise ValidationError(
            f"az:// URIs take their account from {CONNECTION_ENV} or {ACCOUNT_ENV}; "
            f"set one, or use https://ACCOUNT{DEFAULT_SUFFIX}/container/blob"
        )
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:
        raise MissingExtraError("az", "azure") from exc
    url = f"https://{account}{DEFAULT_SUFFIX}"
    client = blob_sdk.BlobServiceClient(url, DefaultAzureCredential(), **options)
    return Service(client, account, None)


def _with_sas(service: Service, params: dict[str, str]) -> Service:
    """A one-off client that reads with the SAS token the URI carried."""
    sas = urlencode(params)
    url = _base_url(service.client)
    client = _sdk().BlobServiceClient(url, credential=sas, **_client_options())
    return service._replace(client=client)


def _base_url(client: Any) -> str:
    """The service URL without a query: a connection string's SAS stays out."""
    url: str = client.url
    return url.partition("?")[0].rstrip("/")


def _custom_endpoint(client: Any) -> str | None:
    url = _base_url(client)
    default = f"https://{client.account_name}{DEFAULT_SUFFIX}"
    return None if url.lower() == default.lower() else url


def _client_options() -> dict[str, Any]:
    import requests
    from azure.storage.blob import ExponentialRetry
    from urllib3.util.retry import Retry

    # azure-core retries itself, so the adapter must not (as azure-core's own).
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=POOL_SIZE,
        pool_maxsize=POOL_SIZE,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, adapter)
    retry = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=5)
    return {
        "session": session,
        "retry_policy": retry,
        "max_single_get_size": GET_SIZE,
        "max_chunk_get_size": GET_SIZE,
    }


def _sdk() -> Any:
    try:
        import azure.storage.blob as blob_sdk
    except ImportError as exc:
        raise MissingExtraError("az", "azure") from exc
    return blob_sdk


def _properties(
    service: Service, address: BlobAddress, uri: str, version_id: str | None
) -> Any | None:
    """The blob's properties (one request), or ``None`` when there is none."""
    if not address.blob:
        return None
    blob = service.client.get_blob_client(address.container, address.blob)
    try:
        with _translated(uri):
            return blob.get_blob_properties(version_id=version_id)
    except ReferenceMissingError:
        return None


def _list(
    service: Service, address: BlobAddress, uri: str, max_objects: int
) -> Iterator[ObjectInfo]:
    """Every current blob below the folder ``address.blob``; markers left out."""
    blob = address.blob
    prefix = blob if not blob or blob.endswith("/") else blob + "/"
    container = service.client.get_container_client(address.container)
    count = 0
    listed_any = False
    with _translated(uri):
        for item in _current_blobs(container, prefix):
            listed_any = True
            if is_folder_marker(item.name, item.size, _content_type(item)):
                continue
            count += 1
            check_limit(uri, count, max_objects)
            name = relative_name(item.name, prefix)
            found = address._replace(blob=item.name)
            yield _info(item, found, service, name, item.version_id)
    if not listed_any and prefix:
        raise ReferenceMissingError(uri)


def _current_blobs(container: Any, prefix: str) -> Iterator[Any]:
    """Listed blobs with their current version ids: old versions are not entries."""
    from azure.core.exceptions import HttpResponseError

    pages = container.list_blobs(
        name_starts_with=prefix or None,
        include=["versions"],
        results_per_page=PAGE_SIZE,
    ).by_page()
    try:
        first = list(next(pages, []))
    except HttpResponseError as exc:
        if exc.status_code not in (400, 409):
            raise
        # Accounts without versioning support (hierarchical namespace) refuse
        # include=versions: list without version ids instead.
        log.debug("listing %s without versions: %s", container.container_name, exc)
        yield from container.list_blobs(name_starts_with=prefix or None)
        return
    yield from (b for b in first if _is_current(b))
    for page in pages:
        yield from (b for b in page if _is_current(b))


def _is_current(item: Any) -> bool:
    return item.version_id is None or bool(item.is_current_version)


def _content_type(item: Any) -> str | None:
    settings = item.content_settings
    return settings.content_type if settings is not None else None


def _info(
    props: Any,
    address: BlobAddress,
    service: Service,
    name: str,
    version_id: str | None,
) -> ObjectInfo:
    etag, weak = normalize_etag(props.etag)
    md5 = props.content_settings.content_md5 if props.content_settings else None
    modified = props.last_modified
    return ObjectInfo(
        uri=uri_of(address, service),
        name=name,
        size=props.size,
        etag=etag,
        etag_weak=weak,
        version_id=props.version_id or version_id,
        checksums={"md5": bytes(md5).hex()} if md5 else {},
        last_modified=modified.isoformat() if modified else None,
        endpoint=service.endpoint,
    )


@contextmanager
def _translated(uri: str) -> Iterator[None]:
    """Provider errors as docket's, each naming the object and what to do."""
    from azure.core import exceptions as azure

    try:
        yield
    except azure.ResourceNotFoundError as exc:
        raise ReferenceMissingError(uri) from exc
    except azure.ResourceModifiedError as exc:
        raise _ModifiedError() from exc
    except azure.ClientAuthenticationError as exc:
        raise _auth_error(uri, exc) from exc
    except azure.HttpResponseError as exc:
        if exc.status_code in (401, 403):
            raise _auth_error(uri, exc) from exc
        raise StorageError(f"reading {uri} from Azure failed: {exc.message}") from exc
    except azure.AzureError as exc:
        raise StorageError(f"reading {uri} from Azure failed: {exc}") from exc


def _auth_error(uri: str, exc: Exception) -> AuthError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return AuthError(
        f"access to {uri} was refused ({reason}); set {CONNECTION_ENV} for the "
        f"account, or sign in for DefaultAzureCredential (`az login`, or the "
        f"AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET variables)"
    )
