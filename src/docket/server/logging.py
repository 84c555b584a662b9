"""One INFO line per request, and the last line of defence against crashes.

Each line gives the method, path, status, duration and user. An exception no
handler expected is logged with its traceback and answered with a generic 500,
so no internal detail reaches the client.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docket.server.errors import error_body

log = logging.getLogger("docket.server")

CLIENT_GONE = 499  # nginx's status for a client that closed the connection


class RequestLog:
    """ASGI middleware: times and logs every HTTP request; turns crashes into 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer: dict[str, Any] = {"status": 500, "sent": False}

        async def watched_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["sent"] = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except ClientDisconnect:
            answer["status"] = CLIENT_GONE
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if not answer["sent"]:
                await _crash_answer(scope, receive, watched_send)
        finally:
            _log_line(scope, answer["status"], started)


async def _crash_answer(scope: Scope, receive: Receive, send: Send) -> None:
    message = "internal server error; the server log has the details"
    response = JSONResponse(error_body("ServerError", message), status_code=500)
    await response(scope, receive, send)


def _log_line(scope: Scope, status: int, started: float) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    user = scope.get("state", {}).get("user", "-")
    log.info(
        "%s %s %d %.1fms user=%s",
        scope["method"],
        scope["path"],
        status,
        elapsed_ms,
        user,
    )
