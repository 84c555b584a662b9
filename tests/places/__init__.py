"""Places: one storage location per scheme that the conformance suite writes to.

Every place offers the same few verbs, so the same reference scenarios run against
local folders, the S3, GCS and Azure stand-ins and an HTTP server.
"""

from __future__ import annotations

from typing import Protocol


class Place(Protocol):
    """A fresh, empty location (a folder, bucket or container) for one test."""

    #: Short name shown in test ids.
    label: str
    #: Old bytes survive an overwrite and stay reachable by the version docket pinned.
    versioned: bool
    #: URIs can name a folder prefix whose objects docket lists.
    listable: bool
    #: The store can hold folder-marker objects (keys ending in "/").
    has_folder_markers: bool

    def uri(self, key: str) -> str:
        """The reference URI of ``key`` ("" is the root of the place)."""
        ...

    def put(self, key: str, data: bytes) -> None:
        """Create or overwrite the object at ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object at ``key`` (its old versions may survive)."""
        ...

    def put_folder_marker(self, key: str) -> None:
        """Create an empty folder-marker object at ``key`` (ending in "/")."""
        ...

    def versions(self, key: str) -> list[str]:
        """Version ids of ``key``, oldest first (versioned places only)."""
        ...

    def pinned_uri(self, key: str, version: str) -> str:
        """The URI that pins ``key`` at ``version`` (versioned places only)."""
        ...
