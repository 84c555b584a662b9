"""A real ``docket server`` process for the tests and benchmarks in remote mode.

:class:`TrackingServer` starts ``docket server`` (the console script of this
virtualenv) on a free port against a PostgreSQL database and a blob folder,
waits until it answers, and can be stopped and restarted on the same port (the
client's retries are tested that way). :class:`Accounts` creates users and
their API keys directly in the server's database, which is much faster than a
``docket admin create-user`` process per test.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from sqlalchemy import Engine

from docket.store.database import open_engine
from docket.store.identity import IdentityStore
from tests.standins import HOST, StandIn, free_port

DOCKET = Path(sys.executable).with_name("docket")
# The server's access log: one INFO line per request naming method, path and
# status (e.g. "PUT /api/v1/blobs/md5:... 201").
_REQUEST = re.compile(r"\b(GET|PUT|POST|PATCH|DELETE) (/api/v1/\S+) (\d{3})\b")


class TrackingServer(StandIn):
    """``docket server --db URL --blobs DIR --port PORT`` in its own process."""

    name = "docket-server"
    stop_timeout = 20.0

    def __init__(
        self,
        work_dir: Path,
        *,
        database_url: str,
        blobs: Path,
        name: str | None = None,
        extra_args: tuple[str, ...] = (),
        start_timeout: float = 60.0,
    ) -> None:
        if name is not None:
            self.name = name
        super().__init__(work_dir, start_timeout)
        self.database_url = database_url
        self.blobs = blobs
        self.extra_args = extra_args
        self._keep_port = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def restart(self) -> None:
        """Stop the server and start it again on the same port."""
        self.stop()
        self._keep_port = True
        try:
            self.start()
        finally:
            self._keep_port = False

    def requests(self) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of every request in the server's log."""
        return [(m[1], m[2], int(m[3])) for m in _REQUEST.finditer(self.log_text())]

    def _pick_ports(self) -> None:
        if not (self._keep_port and self.port):
            self.port = free_port()

    def _command(self) -> list[str]:
        if not DOCKET.exists():
            raise FileNotFoundError(
                f"{DOCKET} not found; install docket into this virtualenv with "
                f"`pip install -e .[server]`"
            )
        return [
            str(DOCKET),
            "server",
            "--db",
            self.database_url,
            "--blobs",
            str(self.blobs),
            "--host",
            HOST,
            "--port",
            str(self.port),
            *self.extra_args,
        ]

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=1):
                return True
        except OSError:  # refused, or an HTTP error while it starts
            return False

    def _launch(self) -> None:
        # The server must not pick up the tests' DOCKET_* settings (a
        # DOCKET_BASE_URL pointing at itself, a private DOCKET_HOME).
        saved = {k: v for k, v in os.environ.items() if k.startswith("DOCKET_")}
        for key in saved:
            del os.environ[key]
        try:
            super()._launch()
        finally:
            os.environ.update(saved)


class Accounts:
    """Users with API keys in a tracking server's database."""

    def __init__(self, database_url: str, prefix: str = "tester") -> None:
        self.engine: Engine = open_engine(database_url, pool_size=2)
        self.identity = IdentityStore(self.engine)
        self._prefix = prefix
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def create_user(self, teams: tuple[str, ...] = ()) -> tuple[str, str]:
        """A fresh user (``tester-<n>``) and its API key."""
        with self._lock:
            name = f"{self._prefix}-{next(self._numbers)}"
        return name, self.identity.create_user(name, teams=teams)

    def join(self, user: str, team: str) -> None:
        self.identity.add_member(user, team)

    def close(self) -> None:
        self.engine.dispose()


def create_user_with_cli(database_url: str, name: str, team: str | None) -> str:
    """``docket admin create-user``: the API key it printed."""
    command = [str(DOCKET), "admin", "create-user", name, "--db", database_url]
    if team is not None:
        command += ["--team", team]
    result = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=120
    )
    keys = re.findall(r"\bdk_\w+", result.stdout)
    assert keys, f"no API key in the output of {command}: {result.stdout!r}"
    return keys[-1]
