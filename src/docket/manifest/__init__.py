"""Manifests and their entries: what an artifact version holds."""

from docket.manifest.entry import ManifestEntry
from docket.manifest.manifest import Manifest

__all__ = ["Manifest", "ManifestEntry"]
