"""The tracking server: docket's store over HTTP for many users and machines.

``create_app`` builds the ASGI application; ``docket server`` runs it with uvicorn.
The HTTP contract is ``docs/http-api.md``.
"""

from __future__ import annotations

from docket.server.app import create_app
from docket.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
