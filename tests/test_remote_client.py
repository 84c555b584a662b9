"""The SDK's remote mode against real ``docket server`` processes: what only a
client of a server can get wrong (uploads, retries, keys, a server that is down).

These tests always talk to a tracking server, whatever ``--store`` says.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import docket
from docket.cli.main import main
from docket.client.remote import RemoteStore
from docket.client.transport import RetryPolicy
from docket.errors import AuthError, StorageError, ValidationError
from tests.standins import free_port
from tests.tracking_server import Accounts, TrackingServer, create_user_with_cli


@pytest.fixture
def remote(
    tracking_server: TrackingServer,
    accounts: Accounts,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[TrackingServer, str, str]:
    """The session's server, a fresh user on it, and the environment pointing
    the SDK there: ``(server, user, key)``."""
    user, key = accounts.create_user()
    use_server(monkeypatch, tracking_server.url, key, user)
    return tracking_server, user, key


def use_server(
    monkeypatch: pytest.MonkeyPatch, url: str, key: str | None, entity: str
) -> None:
    monkeypatch.setenv("DOCKET_BASE_URL", url)
    monkeypatch.setenv("DOCKET_ENTITY", entity)
    if key is None:
        monkeypatch.delenv("DOCKET_API_KEY", raising=False)
    else:
        monkeypatch.setenv("DOCKET_API_KEY", key)


def blob_puts(server: TrackingServer) -> list[str]:
    """Paths of the stored-file uploads the server answered, oldest first."""
    return [
        path
        for method, path, status in server.requests()
        if method == "PUT" and path.startswith("/api/v1/blobs/md5:") and status < 300
    ]


def write_files(folder: Path, count: int, size: int, seed: str) -> dict[str, bytes]:
    """``count`` files of distinct pseudo-random content under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = {}
    for i in range(count):
        block = hashlib.sha256(f"{seed}-{i}".encode()).digest()
        data = (block * (size // len(block) + 1))[:size]
        (folder / f"f{i:04d}.bin").write_bytes(data)
        contents[f"f{i:04d}.bin"] = data
    return contents


def log_folder(name: str, folder: Path) -> docket.Artifact:
    with docket.init(job_type="upload") as run:
        artifact = docket.Artifact(name, type="dataset")
        artifact.add_dir(folder)
        run.log_artifact(artifact)
    return artifact


# -- uploads -----------------------------------------------------------------------


def test_upload_sends_only_the_files_the_server_lacks(
    remote: tuple[TrackingServer, str, str], tmp_path: Path
) -> None:
    server = remote[0]
    first = write_files(tmp_path / "first", 3, 1000, "shared")
    before = len(blob_puts(server))
    log_folder("uploads", tmp_path / "first")
    assert len(blob_puts(server)) - before == 3

    # Same three files plus two new ones: only the new ones travel.
    second = tmp_path / "second"
    write_files(second, 3, 1000, "shared")
    write_files(second / "more", 2, 1000, "new")
    before = len(blob_puts(server))
    artifact = log_folder("uploads", second)
    assert len(blob_puts(server)) - before == 2
    assert artifact.version == "v1"

    # Equal content again: no upload at all, and the same version.
    before = len(blob_puts(server))
    assert log_folder("uploads", tmp_path / "first").version == "v0"
    assert len(blob_puts(server)) == before

    root = Path(docket.Api().artifact("uploads:v0").download())
    assert {p.name: p.read_bytes() for p in root.iterdir()} == first


def test_missing_is_asked_in_batches_of_at_most_10000(
    remote: tuple[TrackingServer, str, str],
) -> None:
    server, _user, key = remote
    store = RemoteStore(server.url, key)
    keys = [f"md5:{hashlib.md5(str(i).encode()).hexdigest()}" for i in range(25_000)]
    before = sum(1 for r in server.requests() if r[1] == "/api/v1/blobs/missing")
    assert store.blobs.missing(keys) == set(keys)
    after = sum(1 for r in server.requests() if r[1] == "/api/v1/blobs/missing")
    assert after - before == 3


def test_upload_survives_a_server_restart_midway(
    server_database: str,
    accounts: Accounts,
    services_work_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="docket.client")
    server = TrackingServer(
        services_work_dir,
        database_url=server_database,
        blobs=tmp_path / "restart-blobs",
        name="docket-server-restart",
    )
    files = write_files(tmp_path / "data", 120, 256 * 1024, "restart")
    with server:
        user, key = accounts.create_user()
        use_server(monkeypatch, server.url, key, user)
        restarted = threading.Event()

        def restart_after_some_uploads() -> None:
            deadline = time.monotonic() + 60
            while len(blob_puts(server)) < 10 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.restart()
            restarted.set()

        watcher = threading.Thread(target=restart_after_some_uploads)
        watcher.start()
        try:
            artifact = log_folder("restarted", tmp_path / "data")
        finally:
            watcher.join(timeout=90)
        assert restarted.is_set()
        # Uploads failed while the server was down, were sent again, and every
        # file landed: some before the restart, the rest after it.
        assert "trying again" in caplog.text
        log = server.log_text()
        assert log.count(f"--- {server.name}:") == 2
        first_life, second_life = log.split(f"--- {server.name}:")[1:]
        assert "PUT /api/v1/blobs/md5:" in first_life
        assert "PUT /api/v1/blobs/md5:" in second_life
        assert len(blob_puts(server)) >= len(files)
        root = Path(artifact.download(root=tmp_path / "back"))
        assert {p.name: p.read_bytes() for p in root.iterdir()} == files


# -- keys and servers that refuse or are gone --------------------------------------


def test_a_wrong_key_says_how_to_fix_it(
    remote: tuple[TrackingServer, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, user, key = remote
    use_server(monkeypatch, server.url, key[:-4] + "xxxx", user)
    with pytest.raises(AuthError) as caught:
        docket.init()
    message = str(caught.value)
    assert "docket login" in message
    assert "DOCKET_API_KEY" in message
    assert server.url in message


def test_no_key_at_all_says_how_to_fix_it(
    remote: tuple[TrackingServer, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, user, _key = remote
    use_server(monkeypatch, server.url, None, user)
    with pytest.raises(AuthError) as caught:
        docket.init()
    assert "docket login" in str(caught.value)
    assert "DOCKET_API_KEY" in str(caught.value)


def test_another_users_entity_is_not_found(
    remote: tuple[TrackingServer, str, str],
    accounts: Accounts,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server, owner, _key = remote
    write_files(tmp_path / "data", 1, 10, "mine")
    log_folder("private", tmp_path / "data")
    assert docket.Api().artifact_exists(f"{owner}/uncategorized/private")
    stranger, stranger_key = accounts.create_user()
    use_server(monkeypatch, server.url, stranger_key, stranger)
    assert not docket.Api().artifact_exists(f"{owner}/uncategorized/private")


def test_a_server_that_is_down_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    store = RemoteStore(url, "dk_0000000000000000_x", retry=RetryPolicy(attempts=2))
    with pytest.raises(StorageError) as caught:
        store.metadata.get_run("e", "p", "r")
    assert url in str(caught.value)
    assert "docket server" in str(caught.value)

    # The SDK reports the same, after its default retries.
    use_server(monkeypatch, url, "dk_0000000000000000_x", "e")
    began = time.monotonic()
    with pytest.raises(StorageError) as caught:
        docket.init()
    assert url in str(caught.value)
    assert time.monotonic() - began < 30


def test_a_blob_read_needs_its_version(
    remote: tuple[TrackingServer, str, str],
) -> None:
    server, _user, key = remote
    store = RemoteStore(server.url, key)
    with pytest.raises(ValidationError):
        store.blobs.get_bytes("md5:" + "0" * 32)


# -- docket login ------------------------------------------------------------------


@pytest.fixture
def logged_out(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("DOCKET_BASE_URL", "DOCKET_API_KEY", "DOCKET_ENTITY"):
        monkeypatch.delenv(name, raising=False)
    yield


def test_login_checks_the_key_and_saves_it(
    tracking_server: TrackingServer,
    server_database: str,
    docket_home: Path,
    logged_out: None,
    tmp_path: Path,
) -> None:
    key = create_user_with_cli(server_database, "login-user", team="login-team")
    runner = CliRunner()
    result = runner.invoke(
        main, ["login", "--base-url", tracking_server.url, "--key", key]
    )
    assert result.exit_code == 0, result.output
    assert "login-user" in result.output

    saved = docket_home / "credentials.json"
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    assert key in saved.read_text()

    # With nothing in the environment, the SDK now logs to the server as that
    # user, under the user's own entity.
    write_files(tmp_path / "data", 2, 100, "login")
    artifact = log_folder("after-login", tmp_path / "data")
    assert artifact.qualified_name == "login-user/uncategorized/after-login:v0"
    assert docket.Api().artifact("after-login").version == "v0"


def test_login_refuses_a_wrong_key(
    tracking_server: TrackingServer, docket_home: Path, logged_out: None
) -> None:
    result = CliRunner().invoke(
        main,
        ["login", "--base-url", tracking_server.url, "--key", "dk_0000000000000000_x"],
    )
    assert result.exit_code == 1
    assert "error:" in result.output
    assert not (docket_home / "credentials.json").exists()
