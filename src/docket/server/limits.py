"""A size limit on JSON request bodies, enforced while they arrive.

Blob uploads are exempt: they are streamed to disk and limited by their route.
"""

from __future__ import annotations

import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docket.server.errors import BodyTooLargeError, error_body

_BLOB_UPLOAD = re.compile(r"^/api/v1/blobs/(md5|sha256):")


class BodyLimit:
    """Answer 413 to a body longer than ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            scope["method"] == "PUT" and _BLOB_UPLOAD.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            too_large = BodyTooLargeError(self.max_bytes)
            response = JSONResponse(
                error_body("ValidationError", str(too_large.detail)), status_code=413
            )
            await response(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # Raised inside FastAPI's body parser, which passes HTTP errors on.
                raise BodyTooLargeError(self.max_bytes)
            return message

        return counted


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1")
            return int(text) if text.isdigit() else 0
    return 0
