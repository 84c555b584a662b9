"""Spreading CPU-bound Python work over cores with forked workers.

Per-file Python work (stat calls, small reads, hashing of small files) holds the
GIL, so threads cannot spread it. On Linux a forked child shares the parent's
memory for free and can send back its results through a pipe. Only plain data
(what ``marshal`` can carry) crosses the pipe, and any failure in a child makes
the parent do that share itself, so errors surface exactly as in one process.
"""

from __future__ import annotations

import logging
import marshal
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

log = logging.getLogger(__name__)

S = TypeVar("S")


def can_fork() -> bool:
    # Forking a process that runs other threads can deadlock on locks they hold,
    # so only a single-threaded process forks.
    return sys.platform == "linux" and threading.active_count() == 1


def run_shares(work: Callable[[S], Any], shares: Sequence[S]) -> list[Any]:
    """``[work(share) for share in shares]``, the shares after the first in children.

    Falls back to running every share here when forking is not possible.
    """
    if len(shares) < 2 or not can_fork():
        return [work(share) for share in shares]
    children = [_spawn(work, share) for share in shares[1:]]
    results = [work(shares[0])]
    for (pid, read_end), share in zip(children, shares[1:], strict=True):
        results.append(_collect(pid, read_end, work, share))
    return results


def _spawn(work: Callable[[S], Any], share: S) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running any cleanup
        os.close(read_end)
        code = 1
        try:
            payload = marshal.dumps(work(share))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, read_end: int, work: Callable[[S], Any], share: S) -> Any:
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        log.debug("worker %d failed; doing its share here", pid)
        return work(share)
    return marshal.loads(payload)
