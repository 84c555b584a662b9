"""Storage backends, one module per URI scheme, chosen by ``backend_for``."""

from __future__ import annotations

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


def backend_for(uri: str) -> Backend | None:
    """The backend that handles ``uri``, or ``None`` for a scheme docket only names.

    Backends are imported on first use so that a provider SDK is only needed by
    the scheme that uses it.
    """
    scheme = scheme_of(uri)
    if scheme == "file":
        from docket.storage.local import LocalBackend

        return LocalBackend()
    return None
