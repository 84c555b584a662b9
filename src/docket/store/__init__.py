"""The store: metadata in SQL (SQLite embedded, PostgreSQL for teams) and blobs."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from docket.manifest import Manifest
from docket.store.blobs import BlobStore
from docket.store.database import open_engine
from docket.store.metadata import INPUT, OUTPUT, MetadataStore
from docket.store.protocol import BlobAPI
from docket.store.records import NewVersion, RunRecord, VersionRecord

__all__ = [
    "INPUT",
    "OUTPUT",
    "BlobStore",
    "MetadataStore",
    "NewVersion",
    "RunRecord",
    "Store",
    "VersionRecord",
]


@dataclass(frozen=True)
class Store:
    """Metadata and blobs of one docket installation."""

    metadata: MetadataStore
    blobs: BlobAPI

    def load_manifest(self, version: VersionRecord) -> Manifest:
        return Manifest.from_json(self.blobs.get_bytes(version.manifest_key))

    def save_manifest(self, manifest: Manifest) -> str:
        """Store a manifest under its content digest and return the key."""
        raw = manifest.to_json()
        key = manifest.digest()
        self.blobs.put_bytes(key, raw)
        return key


_embedded: dict[Path, Store] = {}
_lock = threading.Lock()


def embedded_store(home: Path) -> Store:
    """The embedded store under ``home``, created and migrated on first use."""
    home = home.expanduser().resolve()
    with _lock:
        store = _embedded.get(home)
        if store is None:
            home.mkdir(parents=True, exist_ok=True)
            engine = open_engine(f"sqlite:///{home / 'docket.sqlite'}", lock_dir=home)
            store = Store(MetadataStore(engine), BlobStore(home / "blobs"))
            _embedded[home] = store
        return store
