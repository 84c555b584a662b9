"""The ASGI application: routes, error rendering, body limits and request logs."""

from __future__ import annotations

import logging

from fastapi import FastAPI

import docket
from docket.server.context import ServerContext, open_context
from docket.server.errors import install_error_handlers
from docket.server.limits import BodyLimit
from docket.server.logging import RequestLog
from docket.server.routes import api_router
from docket.server.settings import ServerSettings
from docket.store import Store

log = logging.getLogger("docket.server")


def create_app(
    settings: ServerSettings | None = None, *, context: ServerContext | None = None
) -> FastAPI:
    """The tracking server for ``settings`` (or an already opened ``context``)."""
    if context is None:
        if settings is None:
            raise TypeError("create_app needs settings or a context")
        context = open_context(settings)
    app = FastAPI(
        title="docket tracking server",
        version=docket.__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.context = context
    app.include_router(api_router())
    install_error_handlers(app)
    _mount_ui(app, context)
    # The last middleware added runs first: the log sees every answer, limits too.
    app.add_middleware(BodyLimit, max_bytes=context.settings.max_json_bytes)
    app.add_middleware(RequestLog)
    return app


def _mount_ui(app: FastAPI, context: ServerContext) -> None:
    """The web UI at ``/``, signed in with the same API keys as the JSON API."""
    try:
        from docket.ui import UISettings, api_key_viewer, create_ui
        from docket.ui.egress import EgressRules
        from docket.ui.previews import PreviewSettings
    except ImportError as exc:  # the ui extra is not installed
        log.warning("web UI disabled (%s): pip install 'docket[ui]'", exc)
        return
    store = Store(context.metadata, context.blobs)

    def authenticate(key: str) -> tuple[str, frozenset[str]]:
        caller = context.identity.authenticate(key)
        return caller.user, caller.entities

    local = context.settings.allow_local_previews
    rules = EgressRules(allow_files=local, allow_private=local)
    settings = UISettings(sign_in=True, previews=PreviewSettings(rules=rules))
    ui = create_ui(lambda request: store, api_key_viewer(authenticate), settings)
    # The UI answers what no API route matches; a known API path called with the
    # wrong method still gets the API's 405 rather than a UI page.
    app.router.default = ui


def app_from_env() -> FastAPI:
    """The factory uvicorn's workers call: settings come from the environment."""
    return create_app(ServerSettings.from_env())
