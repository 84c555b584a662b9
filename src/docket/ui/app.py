"""The UI as one ASGI application, for ``docket server`` and ``docket ui`` alike.

:func:`create_ui` takes a way to reach the store for a request and a hook that
says who is looking (:mod:`docket.ui.access`); whoever mounts it decides both.
The tracking server mounts it at ``/`` beside ``/api/v1``, with its database and
API keys; ``docket ui`` serves it alone on the embedded store (:func:`local_app`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docket.errors import (
    AuthError,
    IntegrityError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from docket.store.protocol import StoreAPI
from docket.ui.access import SESSION_COOKIE, SignInRequiredError, ViewerHook, everyone
from docket.ui.pages import entries, files, history, lineage, projects, runs, signin
from docket.ui.previews import Previewer, PreviewSettings
from docket.ui.tree import IndexCache
from docket.ui.web import Links, StoreHook, UIState, render

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
CONTENT_POLICY = (
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True, slots=True)
class UISettings:
    """``sign_in``: offer the API-key sign-in page (the tracking server does)."""

    previews: PreviewSettings = field(default_factory=PreviewSettings)
    sign_in: bool = False
    title: str = "docket"


def create_ui(
    store: StoreHook,
    viewer: ViewerHook = everyone,
    settings: UISettings | None = None,
) -> Starlette:
    """The UI application; mount it at any prefix (links follow ``root_path``)."""
    settings = settings or UISettings()
    routes: list[BaseRoute] = [
        *projects.routes(),
        *history.routes(),
        *files.routes(),
        *entries.routes(),
        *lineage.routes(),
        *runs.routes(),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    if settings.sign_in:
        routes += signin.routes()
    app = Starlette(routes=routes, exception_handlers=_error_pages())
    app.state.ui = UIState(
        store_for=store,
        viewer_for=viewer,
        templates=Jinja2Templates(env=template_environment()),
        indexes=IndexCache(),
        previewer=Previewer(settings.previews),
        sign_in=settings.sign_in,
        title=settings.title,
    )
    app.add_middleware(SecurityHeaders)
    return app


def local_app(store: StoreAPI, previews: PreviewSettings) -> ASGIApp:
    """``docket ui``: every entity of one store readable, one log line a request."""
    ui = create_ui(lambda request: store, everyone, UISettings(previews=previews))
    return RequestLog(ui)


def template_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(size=human_size, when=when, count=count, short=short_digest)
    return env


def human_size(nbytes: int | None) -> str:
    if nbytes is None:
        return "unknown"
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{nbytes:,} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{nbytes} B"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    if moment.tzinfo is None:  # SQLite hands back naive UTC times
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def count(number: int) -> str:
    return f"{number:,}"


def short_digest(digest: str, keep: int = 12) -> str:
    algorithm, _, value = digest.partition(":")
    if not value:
        return digest[: keep + 8]
    return f"{algorithm}:{value[:keep]}" + ("…" if len(value) > keep else "")


# -- errors as pages ---------------------------------------------------------------


def _error_pages() -> dict[Any, Any]:
    return {
        SignInRequiredError: _sign_in_required,
        AuthError: _refused,
        NotFoundError: _not_found,
        IntegrityError: _damaged,
        ValidationError: _invalid,
        StorageError: _unavailable,
        HTTPException: _http_error,
        Exception: _crashed,
    }


def _error_page(request: Request, status: int, heading: str, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        # Under the tracking server, unknown API paths answer in the API's terms.
        kind = "NotFoundError" if status == 404 else "ServerError"
        body = {"error": {"type": kind, "message": message}}
        return JSONResponse(body, status_code=status)
    return render(
        request, "error.html", status=status, heading=heading, message=message
    )


def _sign_in_required(request: Request, exc: Exception) -> Response:
    if not request.app.state.ui.sign_in:
        return _error_page(request, 401, "Not signed in", str(exc))
    target = Links(request.scope.get("root_path", "")).sign_in()
    return RedirectResponse(f"{target}?next={request.url.path}", status_code=303)


def _refused(request: Request, exc: Exception) -> Response:
    if not request.app.state.ui.sign_in:
        return _error_page(request, 403, "Not allowed", str(exc))
    path = request.url.path
    response = render(request, "signin.html", status=401, next=path, problem=str(exc))
    response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path") or "/")
    return response


def _not_found(request: Request, exc: Exception) -> Response:
    return _error_page(request, 404, "Not found", str(exc))


def _damaged(request: Request, exc: Exception) -> Response:
    return _error_page(request, 409, "Stored data is damaged", str(exc))


def _invalid(request: Request, exc: Exception) -> Response:
    return _error_page(request, 400, "Not a valid request", str(exc))


def _unavailable(request: Request, exc: Exception) -> Response:
    log.warning("storage unavailable for %s: %s", request.url.path, exc)
    return _error_page(request, 503, "Storage unavailable", str(exc))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and request.url.path.startswith("/api/"):
        message = (
            f"no route {request.method} {request.url.path}; the routes are "
            f"listed in /api/v1/openapi.json"
        )
        return _error_page(request, 404, "Not found", message)
    if exc.status_code == 404:
        return _error_page(request, 404, "Not found", "there is no page here")
    return _error_page(request, exc.status_code, "Request refused", str(exc.detail))


def _crashed(request: Request, exc: Exception) -> Response:
    message = "the server failed to show this page; its log has the details"
    return _error_page(request, 500, "Something went wrong", message)


# -- middleware --------------------------------------------------------------------


class SecurityHeaders:
    """Pages load only this site's own scripts, styles and images."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {name.lower() for name, _ in headers}
                for name, value in (
                    (b"content-security-policy", CONTENT_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ):
                    if name not in present:
                        headers.append((name, value))
            await send(message)

        await self.app(scope, receive, with_headers)


class RequestLog:
    """One INFO line per request: method, path, status and duration.

    The tracking server logs its requests itself; only ``docket ui`` adds this.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status[0],
                (time.perf_counter() - started) * 1000,
            )
