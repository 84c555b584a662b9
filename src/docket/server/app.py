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
    # The last middleware added runs first: the log sees every answer, limits too.
    app.add_middleware(BodyLimit, max_bytes=context.settings.max_json_bytes)
    app.add_middleware(RequestLog)
    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn's workers call: settings come from the environment."""
    return create_app(ServerSettings.from_env())
