"""pytest plugin: session-wide real stand-ins for S3, GCS, Azure, HTTP, Postgres.

Load it from tests/conftest.py with::

    pytest_plugins = ["tests.conftest_services"]

Each fixture starts its server the first time a test asks for it and stops it
at the end of the session; a server that cannot start fails the test (never
skips). Logs go to ``<pytest tmp>/services0/<name>/``. Start-up times are
printed in the terminal summary.

Servers are shared by the whole session: give each test its own bucket,
container or database (``unique_service_name``) or call the stand-in's
``reset()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.standins import (
    AzureStandIn,
    GCSStandIn,
    NginxStandIn,
    PostgresStandIn,
    S3StandIn,
    StandIn,
    unique_name,
)

SERVICES_MARKER = (
    "services: needs the real local stand-ins (scripts/install-services.sh)"
)
_startup_times = pytest.StashKey[dict[str, float]]()
_StandInT = TypeVar("_StandInT", bound=StandIn)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", SERVICES_MARKER)
    config.stash[_startup_times] = {}


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    times = config.stash.get(_startup_times, {})
    if times:
        summary = ", ".join(f"{name} {secs:.2f} s" for name, secs in times.items())
        terminalreporter.write_line(f"stand-in start-up: {summary}")


def _serve(stand_in: _StandInT, config: pytest.Config) -> Iterator[_StandInT]:
    stand_in.start()
    config.stash[_startup_times][stand_in.name] = stand_in.startup_seconds
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture(scope="session")
def services_work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder holding every stand-in's log and state for this session."""
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def s3_server(
    services_work_dir: Path, pytestconfig: pytest.Config
) -> Iterator[S3StandIn]:
    """moto server; ``endpoint_url``, ``env()``, ``request_count()``, ``reset()``."""
    stand_in = S3StandIn(services_work_dir)
    yield from _serve(stand_in, pytestconfig)


@pytest.fixture(scope="session")
def gcs_server(
    services_work_dir: Path, pytestconfig: pytest.Config
) -> Iterator[GCSStandIn]:
    """fake-gcs-server; ``endpoint_url``, ``env()`` (STORAGE_EMULATOR_HOST)."""
    stand_in = GCSStandIn(services_work_dir)
    yield from _serve(stand_in, pytestconfig)


@pytest.fixture(scope="session")
def azure_server(
    services_work_dir: Path, pytestconfig: pytest.Config
) -> Iterator[AzureStandIn]:
    """Azurite blob service; ``connection_string``, ``env()``."""
    stand_in = AzureStandIn(services_work_dir)
    yield from _serve(stand_in, pytestconfig)


@pytest.fixture(scope="session")
def http_server(
    services_work_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> Iterator[NginxStandIn]:
    """nginx serving ``http_server.root`` (a session tmp folder).

    ``etag_url`` sends ETags, ``no_etag_url`` does not; ``url(path, etag=...)``.
    """
    stand_in = NginxStandIn(services_work_dir, root=tmp_path_factory.mktemp("www"))
    yield from _serve(stand_in, pytestconfig)


@pytest.fixture(scope="session")
def postgres_server(
    services_work_dir: Path, pytestconfig: pytest.Config
) -> Iterator[PostgresStandIn]:
    """PostgreSQL; ``database_url``, ``create_database()``, ``reset()``."""
    stand_in = PostgresStandIn(services_work_dir)
    yield from _serve(stand_in, pytestconfig)


@pytest.fixture
def unique_service_name(request: pytest.FixtureRequest) -> str:
    """A fresh bucket/container name derived from the test's name."""
    return unique_name(request.node.name)
