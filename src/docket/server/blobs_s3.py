"""Blobs in an S3-compatible bucket, for servers started with ``--blobs s3://...``.

Objects are laid out like the blob folder: ``<prefix>/md5/ab/cdef...`` for stored
files and ``<prefix>/manifests/ab/cdef...`` for manifests. ``AWS_S3_ENDPOINT_URL``
points the client at MinIO, Ceph or another S3-compatible store; credentials come
from boto3's default chain.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from docket.errors import IntegrityError, NotFoundError, StorageError
from docket.progress import ProgressCallback

log = logging.getLogger(__name__)

_KEY = re.compile(r"^(md5:[0-9a-f]{32}|sha256:[0-9a-f]{64})$")
_CHUNK = 1024 * 1024
_HEAD_THREADS = 16
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")


class S3BlobStore:
    """The blob API (``docket.store.protocol.BlobAPI``) on one bucket and prefix."""

    def __init__(self, uri: str) -> None:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or not bucket:
            raise StorageError(
                f"{uri!r} is not a blob location such as s3://bucket/prefix"
            )
        self.uri = uri
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = _client()

    def object_key(self, key: str) -> str:
        if not _KEY.match(key):
            raise IntegrityError(f"{key!r} is not a blob key such as 'md5:<hex>'")
        algorithm, _, value = key.partition(":")
        folder = "md5" if algorithm == "md5" else "manifests"
        name = f"{folder}/{value[:2]}/{value[2:]}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def has(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except Exception as exc:
            if _is_not_found(exc):
                return False
            raise self._storage_error("check", key, exc) from exc
        return True

    def missing(self, keys: Iterable[str]) -> set[str]:
        """The keys not stored yet.

        Keys share folders (``md5/ab/``): a folder holding several of the asked
        keys is listed rather than probed key by key, as long as its listing
        takes fewer requests than the HEADs it replaces; the rest get a HEAD.
        """
        by_folder: dict[str, list[str]] = {}
        for key in dict.fromkeys(keys):
            folder = self.object_key(key).rpartition("/")[0] + "/"
            by_folder.setdefault(folder, []).append(key)
        with ThreadPoolExecutor(max_workers=_HEAD_THREADS) as pool:
            answers = pool.map(lambda item: self._missing_in(*item), by_folder.items())
            return set().union(*answers)

    def _missing_in(self, folder: str, keys: list[str]) -> set[str]:
        listed = self._list_folder(folder, max_pages=len(keys) - 1)
        if listed is None:
            return {key for key in keys if not self.has(key)}
        return {key for key in keys if self.object_key(key) not in listed}

    def _list_folder(self, folder: str, *, max_pages: int) -> set[str] | None:
        """Every object name in ``folder``, or ``None`` past ``max_pages`` pages."""
        names: set[str] = set()
        token: str | None = None
        for _ in range(max_pages):
            request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": folder}
            if token:
                request["ContinuationToken"] = token
            try:
                page = self._client.list_objects_v2(**request)
            except Exception as exc:
                raise self._storage_error("list", folder, exc) from exc
            names.update(item["Key"] for item in page.get("Contents", ()))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated"):
                return names
        return None

    def put_file(
        self, key: str, source: Path, *, on_progress: ProgressCallback | None = None
    ) -> None:
        if not self.has(key):
            try:
                self._client.upload_file(str(source), self.bucket, self.object_key(key))
            except Exception as exc:
                raise self._storage_error("upload", key, exc) from exc
        if on_progress is not None:
            on_progress(source.stat().st_size)

    def put_bytes(self, key: str, data: bytes) -> None:
        if self.has(key):
            return
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=self.object_key(key), Body=data
            )
        except Exception as exc:
            raise self._storage_error("upload", key, exc) from exc

    def get_bytes(self, key: str, *, version_id: int | None = None) -> bytes:
        # The server checks who may read a version before it reads the blob.
        body = self._open(key)
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data

    def copy_to(
        self, key: str, destination: Path, *, version_id: int | None = None
    ) -> None:
        with open(destination, "wb") as handle:
            for chunk in self.iter_chunks(key):
                handle.write(chunk)

    def iter_chunks(self, key: str) -> Iterator[bytes]:
        """The content of blob ``key`` in pieces of about a MiB.

        The object is opened before this returns, so a missing blob raises here
        and not halfway through an answer whose status was already sent.
        """
        return _chunks(self._open(key))

    def _open(self, key: str) -> Any:
        try:
            response = self._client.get_object(
                Bucket=self.bucket, Key=self.object_key(key)
            )
        except Exception as exc:
            if _is_not_found(exc):
                raise NotFoundError(
                    f"blob {key} is missing from {self.uri}; the store is damaged, "
                    f"restore the bucket from a backup"
                ) from None
            raise self._storage_error("read", key, exc) from exc
        return response["Body"]

    def _storage_error(self, verb: str, key: str, exc: Exception) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        return StorageError(
            f"could not {verb} blob {key} in {self.uri}: {exc}; check the bucket, "
            f"the credentials and AWS_S3_ENDPOINT_URL"
        )


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(_CHUNK)
    finally:
        body.close()


def _client() -> Any:
    try:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
    except ImportError:
        raise StorageError(
            "--blobs s3://... needs boto3: pip install 'docket[server]'"
        ) from None
    config = Config(
        max_pool_connections=_HEAD_THREADS * 2, retries={"mode": "standard"}
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None,
        region_name=os.environ.get("AWS_REGION") or None,
        config=config,
    )


def _is_not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    return code in _NOT_FOUND
