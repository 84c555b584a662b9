"""Real ``docket server`` processes sharing one PostgreSQL database.

Several servers start at once on a fresh database (one migrates, the others wait
on the advisory lock), concurrent writers log through all of them, and servers
and clients are killed halfway through uploads. Everything talks HTTP to real
processes; the database is the PostgreSQL stand-in.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from docket.manifest import Manifest, ManifestEntry
from tests.standins import PostgresStandIn
from tests.tracking_server import TrackingServer, create_user_with_cli

pytestmark = pytest.mark.services

WRITERS = 12
DISTINCT = 5
PROJECT = "shared"


class ServerProcess(TrackingServer):
    """A tracking server that a test can also SIGKILL."""

    def kill(self) -> None:
        process = self._process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


def client_for(server: TrackingServer, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def md5_key(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def content(n: int) -> dict[str, bytes]:
    """Files of the n-th distinct content: two stored files, one shared by all."""
    return {"common.txt": b"the same in every version\n", "n.txt": f"{n}\n".encode()}


def manifest_of(files: dict[str, bytes]) -> Manifest:
    return Manifest(
        ManifestEntry(path=path, digest=md5_key(data), size=len(data))
        for path, data in files.items()
    )


def upload(client: httpx.Client, files: dict[str, bytes]) -> Manifest:
    """Upload what the server lacks, as the SDK does: ask, then PUT the rest."""
    manifest = manifest_of(files)
    blobs = {md5_key(data): data for data in files.values()}
    blobs[manifest.digest()] = manifest.to_json()
    missing = client.post("/blobs/missing", json={"keys": list(blobs)})
    missing.raise_for_status()
    for key in missing.json()["missing"]:
        answer = client.put(f"/blobs/{key}", content=blobs[key])
        assert answer.status_code in (200, 201), answer.text
    return manifest


def version_body(
    entity: str, name: str, manifest: Manifest, run_uid: str | None
) -> dict[str, Any]:
    return {
        "entity": entity,
        "project": PROJECT,
        "name": name,
        "type": "dataset",
        "digest": manifest.digest(),
        "manifest_key": manifest.digest(),
        "size": manifest.size,
        "entry_count": len(manifest),
        "has_references": False,
        "run_uid": run_uid,
    }


def start_servers(
    work_dir: Path, database_url: str, blobs: Path, names: list[str]
) -> list[ServerProcess]:
    """Start servers at the same moment, so that they race to migrate."""
    servers = [
        ServerProcess(work_dir, database_url=database_url, blobs=blobs, name=name)
        for name in names
    ]
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda server: server.start(), servers))
    return servers


def assert_clean_logs(servers: list[ServerProcess]) -> None:
    for server in servers:
        text = server.log_text()
        assert "Traceback" not in text, text[-3000:]
        statuses = [status for _, _, status in server.requests()]
        assert not [s for s in statuses if s >= 500], text[-3000:]


@pytest.fixture
def database_url(postgres_server: PostgresStandIn) -> Iterator[str]:
    url = postgres_server.create_database()
    yield url


@pytest.fixture
def blobs(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def two_servers(
    tmp_path: Path, database_url: str, blobs: Path
) -> Iterator[list[ServerProcess]]:
    began = time.monotonic()
    servers = start_servers(tmp_path, database_url, blobs, ["server-a", "server-b"])
    both_ready = time.monotonic() - began
    print(
        f"two servers on a fresh database ready in {both_ready:.2f} s "
        f"({', '.join(f'{s.startup_seconds:.2f} s' for s in servers)})"
    )
    yield servers
    for server in servers:
        server.stop()


# -- identity ----------------------------------------------------------------------


def test_admin_create_user_prints_a_key_stored_only_as_a_hash(
    two_servers: list[ServerProcess], database_url: str
) -> None:
    key = create_user_with_cli(database_url, "writer", "lab")
    for server in two_servers:
        with client_for(server, key) as client:
            assert client.get("/whoami").json() == {
                "user": "writer",
                "entities": ["lab", "writer"],
            }
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT * FROM api_keys").fetchall()
        everything = str(rows) + str(conn.execute("SELECT * FROM users").fetchall())
    secret = key.rsplit("_", 1)[1]
    assert len(rows) == 1
    assert secret not in everything and key not in everything
    forged_key = key[:-1] + ("1" if key.endswith("0") else "0")
    with client_for(two_servers[0], forged_key) as forged:
        assert forged.get("/whoami").status_code == 401


# -- concurrent writers ------------------------------------------------------------


def test_concurrent_writers_through_two_servers_get_gapless_versions(
    two_servers: list[ServerProcess], database_url: str
) -> None:
    key = create_user_with_cli(database_url, "writer", None)
    barrier = threading.Barrier(WRITERS)

    def write(number: int) -> list[tuple[int, str, str]]:
        server = two_servers[number % len(two_servers)]
        uid = f"writer-{number}"
        logged = []
        with client_for(server, key) as client:
            run = {"entity": "writer", "project": PROJECT, "uid": uid}
            assert client.post("/runs", json=run).status_code == 201
            # Two rounds: each writer logs its own content, then its neighbour's.
            for shift in (0, 1):
                manifest = upload(client, content((number + shift) % DISTINCT))
                barrier.wait(timeout=60)
                body = version_body("writer", "corpus", manifest, uid)
                answer = client.post("/versions", json=body)
                assert answer.status_code in (200, 201), answer.text
                version = answer.json()["version"]
                logged.append((answer.status_code, version["digest"], uid))
        return logged

    with ThreadPoolExecutor(WRITERS) as pool:
        results = [item for batch in pool.map(write, range(WRITERS)) for item in batch]

    with client_for(two_servers[1], key) as client:
        versions = client.get(f"/artifacts/writer/{PROJECT}/corpus/versions").json()
        producers = {
            version["digest"]: {
                run["uid"]
                for run in client.get(f"/versions/{version['id']}/runs").json()
            }
            for version in versions
        }
    expected_digests = {manifest_of(content(n)).digest() for n in range(DISTINCT)}
    assert [v["index"] for v in versions] == list(range(DISTINCT))
    assert Counter(v["digest"] for v in versions) == Counter(expected_digests)
    assert Counter(status for status, _, _ in results) == {
        201: DISTINCT,
        200: 2 * WRITERS - DISTINCT,
    }
    for _, digest, uid in results:
        assert uid in producers[digest]
    assert sum("latest" in v["aliases"] for v in versions) == 1
    assert_clean_logs(two_servers)


def test_first_runs_of_a_new_project_race_without_errors(
    two_servers: list[ServerProcess], database_url: str
) -> None:
    key = create_user_with_cli(database_url, "racer", None)
    barrier = threading.Barrier(WRITERS)

    def create(number: int) -> int:
        with client_for(two_servers[number % 2], key) as client:
            body = {"entity": "racer", "project": "brand-new", "uid": f"r{number}"}
            barrier.wait(timeout=60)
            return client.post("/runs", json=body).status_code

    with ThreadPoolExecutor(WRITERS) as pool:
        assert set(pool.map(create, range(WRITERS))) == {201}
    with psycopg.connect(database_url) as conn:
        projects = conn.execute(
            "SELECT count(*) FROM projects WHERE name = 'brand-new'"
        ).fetchone()
    assert projects == (1,)
    assert_clean_logs(two_servers)


# -- inputs PostgreSQL would refuse are refused first, with a reason --------------

_RUN = b'{"entity": "odd", "project": "p", "uid": "r1", '
AWKWARD_BODIES = [
    ("/runs", _RUN + b'"name": "a\\u0000b"}'),
    ("/runs", _RUN + b'"config": {"\\ud800": 1}}'),
    ("/runs", _RUN + b'"config": {"x": "\\udc00"}}'),
    ("/runs", _RUN + b'"config": {"x": NaN}}'),
    ("/runs", _RUN + b'"job_type": "' + b"j" * 129 + b'"}'),
    ("/runs", _RUN + b'"config": {"\\u0000": 1}}'),
    (
        "/versions/99999999999/use",
        b'{"entity": "odd", "project": "p", "run_uid": "r1"}',
    ),
    ("/blobs/missing", b'{"keys": ["md5:' + b"0" * 33 + b'"]}'),
]


def test_inputs_postgres_would_refuse_get_a_4xx(
    two_servers: list[ServerProcess], database_url: str
) -> None:
    key = create_user_with_cli(database_url, "odd", None)
    headers = {"content-type": "application/json"}
    with client_for(two_servers[0], key) as client:
        for path, raw in AWKWARD_BODIES:
            answer = client.post(path, content=raw, headers=headers)
            assert answer.status_code == 422, (path, raw, answer.text)
            assert answer.json()["error"]["type"] == "ValidationError"
        fine = {"entity": "odd", "project": "p", "uid": "ok", "config": {"n": 10**30}}
        assert client.post("/runs", json=fine).status_code == 201
    assert_clean_logs(two_servers)


# -- killed uploads leave nothing behind -------------------------------------------

SLOW_UPLOAD = textwrap.dedent(
    """
    import sys, time, httpx
    url, key, size = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def body():
        sent = 0
        while sent < size:
            yield b"x" * 65536
            sent += 65536
            if sent == 65536 * 4:
                print("uploading", flush=True)
            time.sleep(0.01)

    httpx.put(url, content=body(), headers={"Authorization": f"Bearer {key}"},
              timeout=120)
    print("finished", flush=True)
    """
)


def big_file(size: int) -> bytes:
    return b"x" * size


def test_a_client_killed_mid_upload_leaves_no_blob_and_no_version(
    two_servers: list[ServerProcess], database_url: str, blobs: Path
) -> None:
    key = create_user_with_cli(database_url, "uploader", None)
    server = two_servers[0]
    data = big_file(65536 * 200)
    files = {"small.txt": b"small", "big.bin": data}
    manifest = manifest_of(files)
    with client_for(server, key) as client:
        client.put(f"/blobs/{md5_key(files['small.txt'])}", content=files["small.txt"])
        client.put(f"/blobs/{manifest.digest()}", content=manifest.to_json())

    url = f"{server.url}/api/v1/blobs/{md5_key(data)}"
    command = [sys.executable, "-c", SLOW_UPLOAD, url, key, str(len(data))]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as uploader:
        assert uploader.stdout is not None
        assert uploader.stdout.readline().strip() == "uploading"
        uploader.send_signal(signal.SIGKILL)
        uploader.wait(timeout=30)

    with client_for(two_servers[1], key) as client:
        body = version_body("uploader", "weights", manifest, None)
        refused = client.post("/versions", json=body)
        assert refused.status_code == 409
        assert refused.json()["error"]["missing"] == [md5_key(data)]
        assert client.get(f"/artifacts/uploader/{PROJECT}/weights").status_code == 404
        _wait_until_empty(blobs / ".uploads")

        upload(client, files)
        retried = client.post("/versions", json=body)
        assert retried.status_code == 201
        assert retried.json()["version"]["index"] == 0
        vid = retried.json()["version"]["id"]
        fetched = client.get(f"/blobs/{md5_key(data)}", params={"version": vid})
        assert fetched.content == data
    assert_clean_logs(two_servers)


def test_a_server_killed_mid_upload_leaves_no_blob_and_no_version(
    tmp_path: Path,
    two_servers: list[ServerProcess],
    database_url: str,
    blobs: Path,
) -> None:
    key = create_user_with_cli(database_url, "survivor", None)
    (doomed,) = start_servers(tmp_path, database_url, blobs, ["server-doomed"])
    data = big_file(65536 * 200)
    files = {"big.bin": data}
    manifest = manifest_of(files)
    started = threading.Event()

    def slow_body() -> Iterator[bytes]:
        for chunk in range(200):
            if chunk == 4:
                started.set()
            time.sleep(0.01)
            yield data[chunk * 65536 : (chunk + 1) * 65536]

    def upload_to_doomed() -> Exception | None:
        try:
            with client_for(doomed, key) as client:
                client.put(f"/blobs/{md5_key(data)}", content=slow_body())
        except httpx.HTTPError as exc:
            return exc
        return None

    with ThreadPoolExecutor(1) as pool:
        outcome = pool.submit(upload_to_doomed)
        assert started.wait(timeout=60)
        doomed.kill()
        assert isinstance(outcome.result(timeout=60), httpx.HTTPError)
    doomed.stop()

    with client_for(two_servers[0], key) as client:
        missing = client.post("/blobs/missing", json={"keys": [md5_key(data)]})
        assert missing.json()["missing"] == [md5_key(data)]
        assert client.get(f"/artifacts/survivor/{PROJECT}/big").status_code == 404
        upload(client, files)
        body = version_body("survivor", "big", manifest, None)
        assert client.post("/versions", json=body).status_code == 201
    assert_clean_logs(two_servers)


def _wait_until_empty(folder: Path, timeout: float = 10.0) -> None:
    """The server notices the client is gone and drops the partial upload."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not folder.exists() or not any(folder.iterdir()):
            return
        time.sleep(0.05)
    raise AssertionError(f"partial uploads left in {folder}: {list(folder.iterdir())}")
