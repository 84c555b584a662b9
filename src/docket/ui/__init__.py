"""The web UI: projects, version history, file browser, lineage graph, previews.

``create_ui`` builds the application; the tracking server mounts it at ``/``
and ``docket ui`` serves it alone on the embedded store (``local_app``). It needs
the ``ui`` extra (Jinja2, Starlette; pyarrow for Parquet previews).
"""

from __future__ import annotations

from docket.ui.access import Viewer, ViewerHook, api_key_viewer, everyone
from docket.ui.app import UISettings, create_ui, local_app
from docket.ui.egress import EgressRules
from docket.ui.fetching import Limits
from docket.ui.previews import PreviewSettings

__all__ = [
    "EgressRules",
    "Limits",
    "PreviewSettings",
    "UISettings",
    "Viewer",
    "ViewerHook",
    "api_key_viewer",
    "create_ui",
    "everyone",
    "local_app",
]
