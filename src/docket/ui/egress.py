"""Where a preview may fetch from: the operator's rules for outgoing requests.

A preview makes the server read a referenced object with its own credentials, so
an entry must not be able to point it at the server's own disk, its loopback
services or the private network behind it. Unless the operator allows local
previews, ``file://`` references are refused and so is any endpoint whose host
resolves to a loopback, private, link-local or otherwise non-public address.

S3 and GCS entries record the endpoint they were read from; the server sends
its requests (signed with its credentials) only to the endpoint it is itself
configured for, never to one an entry names.

Names are resolved just before the fetch; a DNS answer that changes between this
check and the backend's own connection (DNS rebinding) is not caught.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from docket.errors import AuthError
from docket.manifest import ManifestEntry
from docket.storage import is_azure_blob_url, scheme_of
from docket.storage.s3 import endpoint_from_env as s3_endpoint

GCS_EMULATOR = "STORAGE_EMULATOR_HOST"
AZURE_CONNECTION = "AZURE_STORAGE_CONNECTION_STRING"
LOCAL_SWITCH = "--allow-local-previews"


class PreviewRefusedError(AuthError):
    """The operator's rules forbid fetching this reference for a preview."""


@dataclass(frozen=True, slots=True)
class EgressRules:
    """``allow_files``: read ``file://`` references; ``allow_private``: contact
    loopback and private addresses."""

    allow_files: bool = False
    allow_private: bool = False


def require_allowed(entry: ManifestEntry, rules: EgressRules) -> None:
    """Refuse (:class:`PreviewRefusedError`) a fetch that ``rules`` forbid."""
    assert entry.ref is not None
    scheme = scheme_of(entry.ref)
    if scheme == "file":
        if not rules.allow_files:
            raise PreviewRefusedError(
                f"{entry.ref} is a file on the server's disk; the operator enables "
                f"such previews with {LOCAL_SWITCH}"
            )
        return
    host = contacted_host(entry, scheme)
    if host is not None and not rules.allow_private:
        _require_public(host, entry.ref)


def contacted_host(entry: ManifestEntry, scheme: str) -> str | None:
    """The host a fetch of ``entry`` connects to; ``None`` for a provider's own."""
    assert entry.ref is not None
    if scheme == "s3":
        return _configured_endpoint_host(entry, s3_endpoint(), "AWS_S3_ENDPOINT_URL")
    if scheme == "gs":
        emulator = os.environ.get(GCS_EMULATOR) or None
        return _configured_endpoint_host(entry, emulator, GCS_EMULATOR)
    if scheme == "az":
        return _azure_host()
    if is_azure_blob_url(entry.ref):
        # The backend reads through the connection string when it names this
        # account, so that is where the bytes come from.
        return _azure_host() or urlsplit(entry.ref).hostname
    return urlsplit(entry.ref).hostname


def _configured_endpoint_host(
    entry: ManifestEntry, configured: str | None, variable: str
) -> str | None:
    recorded = (entry.endpoint or "").rstrip("/") or None
    if recorded is not None and recorded != (configured or "").rstrip("/"):
        raise PreviewRefusedError(
            f"{entry.ref} was logged from the endpoint {recorded}, which is not "
            f"this server's ({configured or 'the provider default'}); the operator "
            f"sets {variable} to read from it"
        )
    return urlsplit(configured).hostname if configured else None


def _azure_host() -> str | None:
    connection = os.environ.get(AZURE_CONNECTION) or ""
    for part in connection.split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "blobendpoint" and value:
            return urlsplit(value.strip()).hostname
    return None


def _require_public(host: str, uri: str) -> None:
    try:
        answers = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise PreviewRefusedError(f"cannot resolve {host} for {uri}: {exc}") from exc
    for answer in answers:
        address = str(answer[4][0]).partition("%")[0]
        if not _is_public(address):
            raise PreviewRefusedError(
                f"{uri} is reached through {host} ({address}), a loopback or "
                f"private address; the operator enables such previews with "
                f"{LOCAL_SWITCH}"
            )


def _is_public(address: str) -> bool:
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return parsed.is_global and not parsed.is_multicast
