"""Every error docket raises on purpose.

The tree is shallow on purpose: catch a branch, or ``DocketError`` for all of them.

    DocketError
    ├── ValidationError (ValueError)       bad names, URIs, paths or arguments
    │   └── TooManyObjectsError            a reference lists more than max_objects
    ├── NotFoundError (LookupError)        no such artifact, version, alias or run
    ├── ConflictError                      the request contradicts what is stored
    ├── IntegrityError                     bytes differ from what was logged
    │   └── ReferenceChangedError          a referenced object changed since logging
    ├── ReferenceMissingError (FileNotFoundError)
    │                                      a referenced object is gone
    ├── StorageError (OSError)             a storage backend failed
    │   └── MissingExtraError (ImportError-like)  a provider SDK is not installed
    └── AuthError (PermissionError)        credentials are missing or refused

Each error keeps the facts of its message as attributes, so the CLI and the server
can render them without parsing text.
"""

from __future__ import annotations


class DocketError(Exception):
    """Base class of every error docket raises on purpose."""


class ValidationError(DocketError, ValueError):
    """An argument, name, URI or path was refused before anything was written."""


class TooManyObjectsError(ValidationError):
    """A reference lists more objects than ``max_objects`` allows."""

    def __init__(self, uri: str, count: int, max_objects: int) -> None:
        self.uri = uri
        self.count = count
        self.max_objects = max_objects
        super().__init__(
            f"{uri} holds more than {max_objects:,} objects (found {count:,} so far); "
            f"pass max_objects= with a higher limit to track them all"
        )


class NotFoundError(DocketError, LookupError):
    """An artifact, version, alias, project or run does not exist."""


class ConflictError(DocketError):
    """The request contradicts what is already stored (for example another type)."""


class IntegrityError(DocketError):
    """Bytes differ from what was logged."""


class ReferenceChangedError(IntegrityError):
    """A referenced object no longer matches the digest recorded when it was logged."""

    def __init__(
        self,
        uri: str,
        expected: str,
        found: str,
        *,
        path: str | None = None,
        pinned: bool = False,
    ) -> None:
        self.uri = uri
        self.path = path
        self.expected = expected
        self.found = found
        self.pinned = pinned
        if pinned:
            hint = "the pinned version is gone too"
        elif uri.startswith("file:"):
            hint = "local files keep no history, so the logged bytes are gone"
        elif uri.startswith(("http:", "https:")) and ".blob.core." not in uri:
            hint = "web servers keep no history, so the logged bytes are gone"
        else:
            hint = "no version of it was pinned; enable versioning to keep old bytes"
        super().__init__(
            f"{uri} changed since it was logged: expected {expected}, found {found}; "
            f"{hint}. Log a new version to track the current content"
        )


class ReferenceMissingError(DocketError, FileNotFoundError):
    """A referenced object vanished since it was logged."""

    def __init__(self, uri: str, *, path: str | None = None) -> None:
        self.uri = uri
        self.path = path
        super().__init__(
            f"{uri} no longer exists; pass allow_missing_references=True "
            f"to download the rest"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class StorageError(DocketError, OSError):
    """A storage backend failed in a way that is not about the object itself."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else super().__str__()


class MissingExtraError(StorageError):
    """A provider SDK needed for a scheme is not installed."""

    def __init__(self, scheme: str, extra: str) -> None:
        self.scheme = scheme
        self.extra = extra
        super().__init__(
            f"{scheme}:// references need the {extra!r} extra: "
            f"pip install 'docket[{extra}]'"
        )


class AuthError(DocketError, PermissionError):
    """Credentials are missing, wrong, or do not reach the requested object."""
