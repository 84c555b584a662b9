"""Storage backends, one module per URI scheme, chosen by ``backend_for``."""

from __future__ import annotations

import importlib
import threading
from urllib.parse import urlsplit

from docket.errors import ValidationError
from docket.storage.base import DEFAULT_MAX_OBJECTS, Backend, ObjectInfo, ObjectRef

__all__ = [
    "DEFAULT_MAX_OBJECTS",
    "Backend",
    "ObjectInfo",
    "ObjectRef",
    "backend_for",
    "scheme_of",
]


def scheme_of(uri: str) -> str:
    """The lowercase scheme of ``uri``; a bare path is refused."""
    if not isinstance(uri, str) or "://" not in uri:
        raise ValidationError(
            f"{uri!r} has no scheme; use file:// for local paths, "
            f"e.g. 'file:///mount/datasets/mnist'"
        )
    return urlsplit(uri).scheme.lower()


# scheme -> (module, class). Modules are imported on first use, so a provider SDK
# is needed only by the scheme that uses it; each module raises MissingExtraError
# naming the extra to install when its SDK is absent.
_BACKENDS: dict[str, tuple[str, str]] = {
    "file": ("docket.storage.local", "LocalBackend"),
    "http": ("docket.storage.http", "HttpBackend"),
    "https": ("docket.storage.http", "HttpBackend"),
    "s3": ("docket.storage.s3", "S3Backend"),
    "gs": ("docket.storage.gcs", "GCSBackend"),
    "az": ("docket.storage.azure", "AzureBackend"),
}
_instances: dict[str, Backend] = {}
_lock = threading.Lock()


def backend_for(uri: str) -> Backend | None:
    """The backend that handles ``uri``, or ``None`` for a scheme docket only names.

    One instance per scheme lives for the whole process, so clients and their
    connection pools are reused across artifacts.
    """
    scheme = scheme_of(uri)
    if scheme == "https" and is_azure_blob_url(uri):
        scheme = "az"
    spec = _BACKENDS.get(scheme)
    if spec is None:
        return None
    with _lock:
        backend = _instances.get(scheme)
        if backend is None:
            module = importlib.import_module(spec[0])
            backend = getattr(module, spec[1])()
            _instances[scheme] = backend
        return backend


def is_azure_blob_url(uri: str) -> bool:
    host = urlsplit(uri).hostname or ""
    return host.endswith(".blob.core.windows.net")
