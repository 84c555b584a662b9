"""The tracking server's error answers, turned back into ``docket.errors``.

The server answers a refused request with
``{"error": {"type": "<class name>", "message": "..."}}``; the client raises the
class of that name with the server's message, so code catching ``NotFoundError``
or ``ConflictError`` works the same against the embedded store and a server.
Anything else (a proxy's HTML page, a crash) becomes a ``StorageError`` that
names the server and the status.
"""

from __future__ import annotations

import json
from typing import Any

from docket.errors import (
    AuthError,
    ConflictError,
    DocketError,
    IntegrityError,
    NotFoundError,
    StorageError,
    ValidationError,
)

_BY_TYPE: dict[str, type[DocketError]] = {
    "NotFoundError": NotFoundError,
    "ConflictError": ConflictError,
    "ValidationError": ValidationError,
    "IntegrityError": IntegrityError,
    "AuthError": AuthError,
}
# When the body names no known type, the status still tells the branch.
_BY_STATUS: dict[int, type[DocketError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
}
_LOGIN_HINT = "run `docket login` or set DOCKET_API_KEY to a valid key"


def error_from_answer(
    base_url: str, status: int, body: bytes, *, what: str
) -> DocketError:
    """The exception a refused request stands for.

    ``what`` names the request (``GET /api/v1/...``) for messages about
    answers that carry no docket error.
    """
    kind, message = _parse(body)
    cls = _BY_TYPE.get(kind or "") or _BY_STATUS.get(status)
    if cls is None:
        return StorageError(
            f"the tracking server at {base_url} failed on {what} with status "
            f"{status}: {message or 'no message'}; check the server's log"
        )
    if cls is AuthError:
        return AuthError(_auth_message(base_url, status, message))
    return cls(message or f"{what} answered {status}")


def _auth_message(base_url: str, status: int, message: str | None) -> str:
    where = f"tracking server {base_url}"
    if status == 403:
        return f"{message or 'forbidden'} ({where})"
    text = message or "the API key was refused"
    if "docket login" in text:
        return f"{text} ({where})"
    return f"{text} ({where}); {_LOGIN_HINT}"


def _parse(body: bytes) -> tuple[str | None, str | None]:
    try:
        document: Any = json.loads(body)
    except ValueError:
        text = body.decode(errors="replace").strip()
        return None, text[:200] or None
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict):
        kind, message = error.get("type"), error.get("message")
        return (
            kind if isinstance(kind, str) else None,
            message if isinstance(message, str) else None,
        )
    # FastAPI's own validation answers: {"detail": ...}.
    if isinstance(document, dict) and "detail" in document:
        return None, str(document["detail"])[:500]
    return None, None
