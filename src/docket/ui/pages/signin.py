"""Signing in to the tracking server's UI with an API key, and out again.

The key is kept in an HttpOnly cookie (``SameSite=Lax``, ``Secure`` over HTTPS)
and checked on every request by the server's hook, like a bearer key. Forms
posted from another site are refused by their ``Origin``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from docket.ui.access import SESSION_COOKIE
from docket.ui.web import Links, render

MAX_FORM_BYTES = 4096
_COOKIE_DAYS = 30


def sign_in_page(request: Request) -> Response:
    target = _local(request.query_params.get("next"))
    return render(request, "signin.html", next=target, problem=None)


async def sign_in(request: Request) -> Response:
    _require_same_origin(request)
    form = parse_qs((await request.body())[:MAX_FORM_BYTES].decode(errors="replace"))
    key = (form.get("key") or [""])[0].strip()
    target = _local((form.get("next") or [""])[0]) or Links(_root(request)).home()
    if not key:
        return render(
            request, "signin.html", status=400, next=target, problem="enter a key"
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        key,
        max_age=_COOKIE_DAYS * 86400,
        path=_root(request) or "/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


async def sign_out(request: Request) -> Response:
    _require_same_origin(request)
    response = RedirectResponse(Links(_root(request)).sign_in(), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=_root(request) or "/")
    return response


def _require_same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        # Not an AuthError: that would also sign the viewer out.
        raise HTTPException(403, f"a form from {origin} may not post here")


def _local(target: str | None) -> str | None:
    """``target`` if it is a path on this site, never another site's URL."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    return target if "\\" not in target else None


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def routes() -> list[Route]:
    return [
        Route("/login", sign_in_page, methods=["GET"], name="sign_in_page"),
        Route("/login", sign_in, methods=["POST"], name="sign_in"),
        Route("/logout", sign_out, methods=["POST"], name="sign_out"),
    ]
