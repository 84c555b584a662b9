"""Receiving a blob: streamed to a spool file, hashed on the way, then checked.

A blob's key is its digest, so the server accepts an upload only when the bytes
match it: the MD5 of a stored file, or the manifest digest of a manifest. A client
that disconnects (or a server that dies) mid-upload leaves no blob behind: the
spool file is removed, and blobs only ever appear under their key complete.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from docket.errors import ValidationError
from docket.server.context import ServerContext
from docket.server.errors import BodyTooLargeError
from docket.server.manifests import summarize

_FLUSH_BYTES = 1024 * 1024
# A manifest is parsed in memory; a million entries fit well within this.
MAX_MANIFEST_BYTES = 1024**3


def upload_limit(ctx: ServerContext, key: str) -> int:
    limit = ctx.settings.max_blob_bytes
    return limit if key.startswith("md5:") else min(limit, MAX_MANIFEST_BYTES)


async def receive_blob(request: Request, key: str, ctx: ServerContext) -> Path:
    """Spool the request body, check it against ``key``, and return the file."""
    limit = upload_limit(ctx, key)
    _refuse_declared_size(request, limit)
    fd, name = tempfile.mkstemp(dir=ctx.spool_dir, prefix=".upload-")
    path = Path(name)
    try:
        md5 = hashlib.md5(usedforsecurity=False) if key.startswith("md5:") else None
        with os.fdopen(fd, "wb") as handle:
            await _spool(request, handle, md5, limit)
        if md5 is not None:
            _check_md5(key, md5.hexdigest())
        else:
            await run_in_threadpool(_check_manifest, key, path, ctx)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


async def discard_body(request: Request, limit: int) -> None:
    """Read and drop a body the server does not need (its blob exists already)."""
    _refuse_declared_size(request, limit)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise BodyTooLargeError(limit, "blobs")


def _refuse_declared_size(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(limit, "blobs")


async def _spool(
    request: Request, handle: BinaryIO, md5: hashlib._Hash | None, limit: int
) -> None:
    buffer = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise BodyTooLargeError(limit, "blobs")
        buffer += chunk
        if len(buffer) >= _FLUSH_BYTES:
            await run_in_threadpool(_write, handle, md5, bytes(buffer))
            buffer.clear()
    if buffer:
        await run_in_threadpool(_write, handle, md5, bytes(buffer))


def _write(handle: BinaryIO, md5: hashlib._Hash | None, data: bytes) -> None:
    handle.write(data)
    if md5 is not None:
        md5.update(data)


def _check_md5(key: str, found: str) -> None:
    if key != f"md5:{found}":
        raise ValidationError(
            f"the uploaded bytes have MD5 {found}, not the key {key}; the upload "
            f"was damaged or sent under the wrong key: upload the file again "
            f"under md5:<its MD5>"
        )


def _check_manifest(key: str, path: Path, ctx: ServerContext) -> None:
    summary = summarize(
        path.read_bytes(), max_entries=ctx.settings.max_manifest_entries
    )
    if summary.digest != key:
        raise ValidationError(
            f"the uploaded manifest has digest {summary.digest}, not the key {key}; "
            f"upload it under the key Manifest.digest() gives"
        )
    ctx.manifests.remember(key, summary)
