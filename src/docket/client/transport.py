"""HTTP to the tracking server: one pooled client per process, auth, retries.

Every request goes through :meth:`Transport.request`, which adds the API key,
retries what is safe to retry (connection failures always, since the request
never reached the server; 5xx answers and broken connections only for requests
that can be repeated without effect) with exponential backoff, and turns
refusals into ``docket.errors`` classes.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from docket import __version__
from docket.client.errors import error_from_answer
from docket.errors import StorageError

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# Metadata answers come quickly; blob transfers may wait on hashing a large
# body server-side, so they get a long read timeout.
METADATA_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
TRANSFER_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32)

Body = Callable[[], Iterable[bytes]]
"""Makes a fresh request body for each attempt (a file is re-read on retry)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failed request is tried again."""

    attempts: int = 6
    first_delay: float = 0.25
    max_delay: float = 4.0

    def delays(self) -> Iterator[float]:
        """The pauses between attempts: 0.25 s, 0.5 s, 1 s ... up to the cap."""
        delay = self.first_delay
        for _ in range(self.attempts - 1):
            yield delay
            delay = min(delay * 2, self.max_delay)


class RetryableError(Exception):
    """An attempt failed in a way worth another try."""

    def __init__(self, reason: str, final: Exception) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def shared_client() -> httpx.Client:
    """The process's one HTTP client: keep-alive connections are reused by
    every request to every server."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                limits=_LIMITS,
                timeout=METADATA_TIMEOUT,
                headers={"User-Agent": f"docket/{__version__}"},
            )
        return _client


def _forget_client() -> None:
    # A forked child must not share the parent's sockets.
    global _client, _client_lock
    _client = None
    _client_lock = threading.Lock()


@atexit.register
def _close_client() -> None:
    # Close idle keep-alive sockets before the interpreter tears down.
    if _client is not None:
        _client.close()


os.register_at_fork(after_in_child=_forget_client)


@dataclass(frozen=True, slots=True)
class _Call:
    """One request as the caller asked for it, repeatable on retry."""

    method: str
    path: str
    json_body: Any = None
    content: Body | None = None
    headers: Mapping[str, str] | None = None
    params: Mapping[str, str] | None = None
    idempotent: bool = True
    timeout: httpx.Timeout | None = None  # METADATA_TIMEOUT
    preload: bool = False

    @property
    def what(self) -> str:
        return what_of(self.method, self.path)


class Transport:
    """Requests to one tracking server with one API key."""

    def __init__(
        self, base_url: str, api_key: str, *, retry: RetryPolicy | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._auth = {"Authorization": f"Bearer {api_key}"}

    def url(self, path: str) -> str:
        return f"{self.base_url}{API_PREFIX}{path}"

    def json(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """Send a JSON request and return the decoded answer (``None`` for 204)."""
        call = _Call(
            method,
            path,
            json_body=body,
            params=params,
            idempotent=idempotent,
            preload=True,
        )
        with self._perform(call) as response:
            if response.status_code == 204 or not response.content:
                return None
            return response.json()

    def request(
        self,
        method: str,
        path: str,
        *,
        content: Body | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: httpx.Timeout = METADATA_TIMEOUT,
    ) -> AbstractContextManager[httpx.Response]:
        """A successful, still-streaming response; failures raise docket errors.

        Only repeatable requests go through here. The caller reads the body
        inside the ``with`` block.
        """
        call = _Call(
            method,
            path,
            content=content,
            headers=headers,
            params=params,
            timeout=timeout,
        )
        return self._perform(call)

    @contextmanager
    def _perform(self, call: _Call) -> Iterator[httpx.Response]:
        delays = self.retry.delays()
        while True:
            try:
                response = self._attempt(call)
            except RetryableError as retry:
                delay = next(delays, None)
                if delay is None:
                    raise self._gave_up(call, retry) from retry.final
                log.warning(
                    "%s failed (%s); trying again in %.2g s",
                    call.what,
                    retry.reason,
                    delay,
                )
                time.sleep(delay)
                continue
            try:
                yield response
            finally:
                response.close()
            return

    def _attempt(self, call: _Call) -> httpx.Response:
        """Send once, read the body if asked, and check the status."""
        client = shared_client()
        request = client.build_request(
            call.method,
            self.url(call.path),
            json=call.json_body,
            content=None if call.content is None else call.content(),
            headers={**self._auth, **(call.headers or {})},
            params=call.params,
            timeout=call.timeout or METADATA_TIMEOUT,
        )
        began = time.perf_counter()
        try:
            response = client.send(request, stream=True)
            if call.preload:
                response.read()
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Nothing reached the server: always safe to send again.
            raise RetryableError(f"cannot connect: {exc}", exc) from exc
        except httpx.TransportError as exc:
            if not call.idempotent:
                raise self._lost(call, exc) from exc
            raise RetryableError(f"{type(exc).__name__}: {exc}", exc) from exc
        log.debug(
            "%s %s -> %d in %.3f s",
            call.method,
            request.url,
            response.status_code,
            time.perf_counter() - began,
        )
        self._check(response, call)
        return response

    def _check(self, response: httpx.Response, call: _Call) -> None:
        status = response.status_code
        if status < 400:
            return
        body = _read_error_body(response)
        error = error_from_answer(self.base_url, status, body, what=call.what)
        # 503 means the request was not handled (a server starting, draining or
        # without its database); other 5xx may have done part of the work, so
        # only repeatable requests are sent again.
        if status == 503 or (status >= 500 and call.idempotent):
            raise RetryableError(f"status {status}", error)
        raise error

    def _gave_up(self, call: _Call, retry: RetryableError) -> Exception:
        if isinstance(retry.final, httpx.TransportError):
            return StorageError(
                f"cannot reach the tracking server at {self.base_url} "
                f"({call.what}: {retry.reason}) after {self.retry.attempts} "
                f"attempts; check that `docket server` runs there and that "
                f"DOCKET_BASE_URL is right"
            )
        return retry.final

    def _lost(self, call: _Call, exc: httpx.TransportError) -> StorageError:
        return StorageError(
            f"the connection to the tracking server at {self.base_url} broke "
            f"during {call.what} ({exc}); it may or may not have been done, so "
            f"check before trying again"
        )


def what_of(method: str, path: str) -> str:
    return f"{method} {API_PREFIX}{path}"


def _read_error_body(response: httpx.Response) -> bytes:
    try:
        return response.read()
    except httpx.TransportError:
        return b""
    finally:
        response.close()
