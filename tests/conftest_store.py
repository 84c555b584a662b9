"""pytest plugin: run the SDK tests against the embedded store or a real server.

``--store=embedded`` (the default) gives each test a fresh embedded store.
``--store=remote`` starts, once per session, the PostgreSQL stand-in and one
real ``docket server`` process on a fresh database, and gives each test a
fresh user (``tester-<n>``, whose own entity isolates everything the test
logs) with ``DOCKET_BASE_URL``, ``DOCKET_API_KEY`` and ``DOCKET_ENTITY`` set.
Tests marked ``embedded_only`` (they look at the embedded store's files) are
deselected in remote mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.standins import PostgresStandIn, unique_name
from tests.tracking_server import Accounts, TrackingServer

EMBEDDED, REMOTE = "embedded", "remote"
EMBEDDED_ENTITY = "tester"
EMBEDDED_ONLY_MARKER = (
    "embedded_only: inspects the embedded store's own files or settings; "
    "deselected with --store=remote"
)


@dataclass(frozen=True)
class StoreUser:
    """Whom a test logs as: an entity, and in remote mode a server and key."""

    entity: str
    base_url: str | None = None
    api_key: str | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=(EMBEDDED, REMOTE),
        default=EMBEDDED,
        help="run the SDK against the embedded store (default) or a real "
        "tracking server process on PostgreSQL",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", EMBEDDED_ONLY_MARKER)


def pytest_report_header(config: pytest.Config) -> str:
    return f"docket store: {config.getoption('--store')}"


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if config.getoption("--store") != REMOTE:
        return
    deselected = [i for i in items if i.get_closest_marker("embedded_only")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [i for i in items if not i.get_closest_marker("embedded_only")]


@pytest.fixture(scope="session")
def store_mode(pytestconfig: pytest.Config) -> str:
    mode: str = pytestconfig.getoption("--store")
    return mode


@pytest.fixture(scope="session")
def server_database(postgres_server: PostgresStandIn) -> str:
    """A fresh PostgreSQL database for the session's tracking server.

    Made here rather than with ``create_database()``, because the stand-in's
    ``reset()`` (which tests of the stand-in call) drops every database that
    made, and this one must live for the whole session.
    """
    name = unique_name("docket").replace("-", "_")
    with psycopg.connect(postgres_server.url(), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return postgres_server.url(name)


@pytest.fixture(scope="session")
def tracking_server(
    server_database: str,
    services_work_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TrackingServer]:
    """One real ``docket server`` process shared by the session."""
    server = TrackingServer(
        services_work_dir,
        database_url=server_database,
        blobs=tmp_path_factory.mktemp("server-blobs"),
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def accounts(
    server_database: str, tracking_server: TrackingServer
) -> Iterator[Accounts]:
    """Creates users in the tracking server's database (after it migrated it)."""
    made = Accounts(server_database)
    yield made
    made.close()


@pytest.fixture
def store_user(request: pytest.FixtureRequest, store_mode: str) -> StoreUser:
    """The entity the test logs as; in remote mode a fresh user on the server."""
    if store_mode == EMBEDDED:
        return StoreUser(EMBEDDED_ENTITY)
    server: TrackingServer = request.getfixturevalue("tracking_server")
    accounts: Accounts = request.getfixturevalue("accounts")
    name, key = accounts.create_user()
    return StoreUser(name, server.url, key)


@pytest.fixture
def entity(store_user: StoreUser) -> str:
    """The entity name the test's runs log under (DOCKET_ENTITY)."""
    return store_user.entity


@pytest.fixture
def join_team(
    request: pytest.FixtureRequest, store_user: StoreUser, store_mode: str
) -> Callable[[str], None]:
    """``join_team(name)``: let the test's user log under entity ``name`` too.

    Nothing to do on the embedded store, which has no users.
    """

    def join(team: str) -> None:
        if store_mode == REMOTE:
            accounts: Accounts = request.getfixturevalue("accounts")
            accounts.join(store_user.entity, team)

    return join
