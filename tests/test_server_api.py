"""The tracking server's HTTP API, in process: every route, identity, limits, errors.

The application runs on a SQLite database and a blob folder in the test's own
temporary directory and is called through httpx's ASGI transport, so a test sees
exactly the answers a remote client would.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from docket.cli.main import main as cli
from docket.manifest import Manifest, ManifestEntry
from docket.server import ServerSettings, create_app
from docket.server.context import ServerContext, open_context
from docket.store.identity import api_keys

KIB = 1024
ENTITY, PROJECT = "alice", "proj"


class AppClient:
    """A synchronous httpx client on the ASGI app (no sockets, same answers)."""

    def __init__(self, app: Any, key: str | None) -> None:
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://docket.test/api/v1",
            headers=headers,
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        call = partial(self._client.request, method, url, **kwargs)
        return self._portal.call(call)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def close(self) -> None:
        self._portal.call(self._client.aclose)
        self._portal_cm.__exit__(None, None, None)


class Server:
    """An application, its stores, and clients for users made on demand."""

    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self.app = create_app(context=context)
        self._clients: list[AppClient] = []

    def client(self, key: str | None) -> AppClient:
        client = AppClient(self.app, key)
        self._clients.append(client)
        return client

    def user(self, name: str, teams: tuple[str, ...] = ()) -> AppClient:
        return self.client(self.context.identity.create_user(name, teams=teams))

    def close(self) -> None:
        for client in self._clients:
            client.close()


def settings_for(tmp_path: Path, **limits: Any) -> ServerSettings:
    return ServerSettings(
        database_url=f"sqlite:///{tmp_path / 'server.sqlite'}",
        blobs_uri=str(tmp_path / "server-blobs"),
        **limits,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    limits = {"max_json_bytes": 64 * KIB, "max_blob_bytes": 256 * KIB}
    limits.update(max_manifest_entries=50, max_missing_keys=100)
    running = Server(open_context(settings_for(tmp_path, **limits)))
    yield running
    running.close()


@pytest.fixture
def alice(server: Server) -> AppClient:
    return server.user(ENTITY, teams=("team",))


# -- content helpers -------------------------------------------------------------


def md5_key(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def manifest_of(files: dict[str, bytes], references: int = 0) -> Manifest:
    entries = [
        ManifestEntry(path=path, digest=md5_key(data), size=len(data))
        for path, data in files.items()
    ]
    entries += [
        ManifestEntry(path=f"ref/{n}", digest=f"etag:e{n}", size=1, ref=f"s3://b/k{n}")
        for n in range(references)
    ]
    return Manifest(entries)


def new_version(manifest: Manifest, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "entity": ENTITY,
        "project": PROJECT,
        "name": "data",
        "type": "dataset",
        "digest": manifest.digest(),
        "manifest_key": manifest.digest(),
        "size": manifest.size,
        "entry_count": len(manifest),
        "has_references": manifest.has_references,
    }
    body.update(fields)
    return body


def upload(client: AppClient, files: dict[str, bytes], manifest: Manifest) -> None:
    for data in files.values():
        assert client.put(f"/blobs/{md5_key(data)}", content=data).status_code in (
            200,
            201,
        )
    answer = client.put(f"/blobs/{manifest.digest()}", content=manifest.to_json())
    assert answer.status_code in (200, 201), answer.text


def log(client: AppClient, files: dict[str, bytes], **fields: Any) -> httpx.Response:
    manifest = manifest_of(files)
    upload(client, files, manifest)
    return client.post("/versions", json=new_version(manifest, **fields))


def start_run(client: AppClient, uid: str, entity: str = ENTITY) -> None:
    body = {"entity": entity, "project": PROJECT, "uid": uid, "job_type": "train"}
    assert client.post("/runs", json=body).status_code == 201


def error_of(answer: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = answer.json()["error"]
    assert set(error) >= {"type", "message"}
    return error


# -- identity ----------------------------------------------------------------------


def test_whoami_names_the_user_and_its_entities(alice: AppClient) -> None:
    assert alice.get("/whoami").json() == {
        "user": ENTITY,
        "entities": ["alice", "team"],
    }


def test_health_and_openapi_need_no_key(server: Server) -> None:
    anonymous = server.client(None)
    assert anonymous.get("/health").json() == {"status": "ok"}
    spec = anonymous.get("/openapi.json").json()
    assert "/api/v1/versions" in spec["paths"]


ROUTES = [
    ("GET", "/whoami"),
    ("POST", "/runs"),
    ("GET", "/runs/alice/proj/r1"),
    ("POST", "/runs/alice/proj/r1/finish"),
    ("GET", "/runs/alice/proj/r1/versions"),
    ("POST", "/versions"),
    ("GET", "/versions/1"),
    ("PATCH", "/versions/1"),
    ("PUT", "/versions/1/aliases"),
    ("DELETE", "/versions/1"),
    ("POST", "/versions/1/use"),
    ("GET", "/versions/1/runs"),
    ("GET", "/artifacts/alice/proj/data"),
    ("GET", "/artifacts/alice/proj/data/versions"),
    ("GET", "/projects"),
    ("GET", "/projects/alice/proj/collections"),
    ("POST", "/blobs/missing"),
    ("PUT", f"/blobs/{md5_key(b'x')}"),
    ("GET", f"/blobs/{md5_key(b'x')}?version=1"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_a_valid_key(
    server: Server, alice: AppClient, method: str, path: str
) -> None:
    for key in (None, "dk_0123456789abcdef_wrong", "not-a-docket-key"):
        answer = server.client(key).request(method, path, json={})
        assert answer.status_code == 401, (key, answer.text)
        assert error_of(answer)["type"] == "AuthError"
        assert answer.headers["www-authenticate"] == "Bearer"


def test_a_revoked_key_is_refused(server: Server) -> None:
    key = server.context.identity.create_user("carol")
    client = server.client(key)
    assert client.get("/whoami").status_code == 200
    server.context.identity.revoke_key(key)
    assert client.get("/whoami").status_code == 401


def test_keys_are_stored_as_salted_hashes(server: Server) -> None:
    key = server.context.identity.create_user("dave")
    with server.context.metadata.engine.connect() as conn:
        rows = conn.execute(select(api_keys)).all()
    secret = key.rsplit("_", 1)[1]
    stored = json.dumps([[str(value) for value in row] for row in rows])
    assert secret not in stored and key not in stored
    assert len({row.salt for row in rows}) == len(rows)


def test_admin_create_user_prints_a_working_key(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["admin", "create-user", "erin", "--team", "ml", "--db", settings.database_url],
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    running = Server(open_context(settings))
    try:
        answer = running.client(key).get("/whoami")
        assert answer.json() == {"user": "erin", "entities": ["erin", "ml"]}
    finally:
        running.close()
    again = CliRunner().invoke(
        cli, ["admin", "create-user", "erin", "--db", settings.database_url]
    )
    assert again.exit_code == 1
    assert "already exists" in again.stderr and "create-key" in again.stderr


def test_admin_commands_manage_keys_and_teams(tmp_path: Path) -> None:
    db = settings_for(tmp_path).database_url
    runner = CliRunner()

    def admin(*args: str) -> str:
        result = runner.invoke(cli, ["admin", *args, "--db", db])
        assert result.exit_code == 0, result.output
        return result.stdout.strip()

    first = admin("create-user", "fay")
    second = admin("create-key", "fay")
    admin("add-member", "fay", "vision")
    listing = admin("list-users")
    assert "fay  entities: fay, vision" in listing
    assert first.split("_")[1] in listing and second.split("_")[1] in listing
    admin("revoke-key", first)
    running = Server(open_context(settings_for(tmp_path)))
    try:
        assert running.client(first).get("/whoami").status_code == 401
        whoami = running.client(second).get("/whoami").json()
        assert whoami == {"user": "fay", "entities": ["fay", "vision"]}
    finally:
        running.close()
    refused = runner.invoke(cli, ["admin", "add-member", "fay", "fay", "--db", db])
    assert refused.exit_code == 1 and "not a team" in refused.stderr
    unknown = runner.invoke(cli, ["admin", "create-key", "nobody", "--db", db])
    assert unknown.exit_code == 1 and "create-user nobody" in unknown.stderr


# -- foreign entities look missing -------------------------------------------------


def test_a_foreign_entity_answers_exactly_like_a_missing_one(
    server: Server, alice: AppClient
) -> None:
    bob = server.user("bob")
    start_run(bob, "b1", entity="bob")
    files = {"a.txt": b"bob's"}
    assert log(bob, files, entity="bob", run_uid="b1").status_code == 201
    for owner in ("bob", "nobody"):
        answers = [
            alice.post(
                "/runs", json={"entity": owner, "project": PROJECT, "uid": "b1"}
            ),
            alice.get(f"/runs/{owner}/{PROJECT}/b1"),
            alice.post(f"/runs/{owner}/{PROJECT}/b1/finish", json={"state": "done"}),
            alice.get(f"/runs/{owner}/{PROJECT}/b1/versions"),
            alice.get(f"/artifacts/{owner}/{PROJECT}/data"),
            alice.get(f"/artifacts/{owner}/{PROJECT}/data/versions"),
            alice.get("/projects", params={"entity": owner}),
            alice.get(f"/projects/{owner}/{PROJECT}/collections"),
            alice.post("/versions", json=new_version(manifest_of(files), entity=owner)),
        ]
        if owner == "bob":
            foreign = answers
        else:
            missing = answers
    for seen, absent in zip(foreign, missing, strict=True):
        assert seen.status_code == absent.status_code == 404
        # The same body, but for the entity name the caller sent.
        assert seen.text.replace("bob", "X") == absent.text.replace("nobody", "X")


def test_a_foreign_version_answers_like_a_missing_one(
    server: Server, alice: AppClient
) -> None:
    bob = server.user("bob")
    files = {"a.txt": b"bob's"}
    version_id = log(bob, files, entity="bob").json()["version"]["id"]
    blob = md5_key(files["a.txt"])
    for vid in (version_id, 999):
        requests = [
            ("GET", f"/versions/{vid}", None),
            ("PATCH", f"/versions/{vid}", {"description": "x"}),
            ("PUT", f"/versions/{vid}/aliases", {"aliases": ["x"]}),
            ("DELETE", f"/versions/{vid}", None),
            ("GET", f"/versions/{vid}/runs", None),
            ("GET", f"/blobs/{blob}?version={vid}", None),
        ]
        bodies = []
        for method, path, body in requests:
            answer = alice.request(method, path, json=body)
            assert answer.status_code == 404, (method, path, answer.text)
            message = error_of(answer)["message"]
            bodies.append(message.replace(f"version {vid}", "version N"))
        if vid == version_id:
            foreign = bodies
    assert foreign == bodies
    assert bob.get(f"/versions/{version_id}").json()["description"] is None


def test_projects_lists_only_the_callers_entities(
    server: Server, alice: AppClient
) -> None:
    bob = server.user("bob")
    start_run(bob, "b1", entity="bob")
    start_run(alice, "a1")
    start_run(alice, "t1", entity="team")
    names = alice.get("/projects").json()
    assert names == [
        {"entity": "alice", "name": PROJECT},
        {"entity": "team", "name": PROJECT},
    ]


# -- runs --------------------------------------------------------------------------


def test_runs_are_created_read_and_finished(alice: AppClient) -> None:
    body = {
        "entity": ENTITY,
        "project": PROJECT,
        "uid": "r1",
        "name": "first run",
        "job_type": "train",
        "config": {"lr": 0.1, "layers": [1, 2]},
    }
    created = alice.post("/runs", json=body)
    assert created.status_code == 201
    run = created.json()
    assert run["state"] == "running" and run["config"] == body["config"]
    assert run["created_at"].endswith(("Z", "+00:00"))
    assert alice.get("/runs/alice/proj/r1").json() == run
    finished = alice.post("/runs/alice/proj/r1/finish", json={"state": "finished"})
    assert finished.status_code == 204
    again = alice.get("/runs/alice/proj/r1").json()
    assert again["state"] == "finished" and again["finished_at"] is not None


def test_a_run_id_can_be_used_once(alice: AppClient) -> None:
    start_run(alice, "r1")
    twice = alice.post(
        "/runs", json={"entity": ENTITY, "project": PROJECT, "uid": "r1"}
    )
    assert twice.status_code == 409
    assert error_of(twice)["type"] == "ConflictError"


def test_a_missing_run_is_404(alice: AppClient) -> None:
    answer = alice.get("/runs/alice/proj/nope")
    assert answer.status_code == 404
    assert error_of(answer) == {
        "type": "NotFoundError",
        "message": "run alice/proj/nope does not exist",
    }


# -- versions ----------------------------------------------------------------------


def test_logging_creates_once_and_records_every_producer(alice: AppClient) -> None:
    start_run(alice, "r1")
    start_run(alice, "r2")
    files = {"a.txt": b"alpha", "sub/b.txt": b"bravo"}
    first = log(alice, files, run_uid="r1", aliases=["best"])
    assert first.status_code == 201
    version = first.json()["version"]
    assert first.json()["created"] is True
    assert (version["index"], version["aliases"]) == (0, ["best", "latest"])
    assert version["created_by"] == "r1" and version["entry_count"] == 2
    second = log(alice, files, run_uid="r2")
    assert second.status_code == 200 and second.json()["created"] is False
    assert second.json()["version"]["id"] == version["id"]
    producers = alice.get(f"/versions/{version['id']}/runs").json()
    assert [run["uid"] for run in producers] == ["r1", "r2"]
    outputs = alice.get("/runs/alice/proj/r2/versions", params={"direction": "output"})
    assert [v["id"] for v in outputs.json()] == [version["id"]]
    changed = log(alice, {"a.txt": b"alpha 2"}, run_uid="r2")
    assert changed.status_code == 201 and changed.json()["version"]["index"] == 1


def test_another_type_for_the_same_name_is_a_conflict(alice: AppClient) -> None:
    assert log(alice, {"a": b"1"}).status_code == 201
    other = log(alice, {"a": b"2"}, type="model")
    assert other.status_code == 409
    assert "type='dataset'" in error_of(other)["message"]


def test_version_routes_edit_use_and_delete(alice: AppClient) -> None:
    start_run(alice, "r1")
    first = log(alice, {"a": b"1"}).json()["version"]
    second = log(alice, {"a": b"2"}).json()["version"]
    vid = first["id"]

    assert (
        alice.request(
            "PATCH", f"/versions/{vid}", json={"description": "d"}
        ).status_code
        == 204
    )
    patched = alice.request("PATCH", f"/versions/{vid}", json={"metadata": {"k": 1}})
    assert patched.status_code == 204
    read = alice.get(f"/versions/{vid}").json()
    assert (read["description"], read["metadata"]) == ("d", {"k": 1})

    aliases = alice.put(f"/versions/{vid}/aliases", json={"aliases": ["prod", "v7"]})
    assert aliases.status_code == 204
    assert alice.get(f"/versions/{vid}").json()["aliases"] == ["prod"]
    prod = alice.get("/artifacts/alice/proj/data", params={"alias": "prod"}).json()
    assert prod["id"] == vid
    by_number = alice.get("/artifacts/alice/proj/data", params={"alias": "v1"}).json()
    assert by_number["id"] == second["id"]
    assert alice.get("/artifacts/alice/proj/data").json()["id"] == second["id"]
    listed = alice.get("/artifacts/alice/proj/data/versions").json()
    assert [v["index"] for v in listed] == [0, 1]

    use = {"entity": ENTITY, "project": PROJECT, "run_uid": "r1"}
    assert alice.post(f"/versions/{vid}/use", json=use).status_code == 204
    inputs = alice.get(f"/versions/{vid}/runs", params={"direction": "input"}).json()
    assert [run["uid"] for run in inputs] == ["r1"]
    used = alice.get("/runs/alice/proj/r1/versions", params={"direction": "input"})
    assert [v["id"] for v in used.json()] == [vid]

    held = alice.request("DELETE", f"/versions/{vid}")
    assert held.status_code == 409 and "delete_aliases" in error_of(held)["message"]
    gone = alice.request(
        "DELETE", f"/versions/{vid}", params={"delete_aliases": "true"}
    )
    assert gone.status_code == 204
    assert alice.get(f"/versions/{vid}").status_code == 404


def test_a_missing_alias_names_the_known_ones(alice: AppClient) -> None:
    log(alice, {"a": b"1"})
    answer = alice.get("/artifacts/alice/proj/data", params={"alias": "nope"})
    assert answer.status_code == 404
    assert "['latest']" in error_of(answer)["message"]


def test_collections_of_a_project(alice: AppClient) -> None:
    log(alice, {"a": b"1"})
    log(alice, {"a": b"1"}, name="weights", type="model")
    everything = alice.get("/projects/alice/proj/collections").json()
    assert everything == [
        {"name": "data", "type": "dataset"},
        {"name": "weights", "type": "model"},
    ]
    models = alice.get("/projects/alice/proj/collections", params={"type": "model"})
    assert models.json() == [{"name": "weights", "type": "model"}]


# -- blobs and the checks before a version is recorded ----------------------------


def test_missing_blobs_are_listed(alice: AppClient) -> None:
    present, absent = md5_key(b"here"), md5_key(b"absent")
    alice.put(f"/blobs/{present}", content=b"here")
    answer = alice.post("/blobs/missing", json={"keys": [present, absent]})
    assert answer.json() == {"missing": [absent]}


def test_an_upload_must_match_its_key(alice: AppClient) -> None:
    key = md5_key(b"the real bytes")
    wrong = alice.put(f"/blobs/{key}", content=b"other bytes")
    assert wrong.status_code == 422
    assert "upload the file again" in error_of(wrong)["message"]
    assert alice.post("/blobs/missing", json={"keys": [key]}).json()["missing"] == [key]
    assert alice.put(f"/blobs/{key}", content=b"the real bytes").status_code == 201
    assert alice.put(f"/blobs/{key}", content=b"the real bytes").status_code == 200


def test_a_manifest_must_match_its_key(alice: AppClient) -> None:
    manifest = manifest_of({"a": b"1"})
    other = manifest_of({"a": b"2"})
    wrong = alice.put(f"/blobs/{manifest.digest()}", content=other.to_json())
    assert wrong.status_code == 422
    garbage = alice.put(f"/blobs/{manifest.digest()}", content=b"[1, 2")
    assert garbage.status_code == 422 and "not JSON" in error_of(garbage)["message"]
    escaping = Manifest([ManifestEntry(path="../x", digest=md5_key(b"1"))])
    raw = escaping.to_json()
    bad_path = alice.put(f"/blobs/{escaping.digest()}", content=raw)
    assert bad_path.status_code == 422


def test_a_version_with_missing_blobs_is_refused_and_not_recorded(
    alice: AppClient,
) -> None:
    files = {"a.txt": b"uploaded", "b.txt": b"never uploaded"}
    manifest = manifest_of(files)
    no_manifest = alice.post("/versions", json=new_version(manifest))
    assert no_manifest.status_code == 409
    assert error_of(no_manifest)["missing"] == [manifest.digest()]

    alice.put(f"/blobs/{md5_key(files['a.txt'])}", content=files["a.txt"])
    alice.put(f"/blobs/{manifest.digest()}", content=manifest.to_json())
    refused = alice.post("/versions", json=new_version(manifest))
    assert refused.status_code == 409
    error = error_of(refused)
    assert error["type"] == "ConflictError"
    assert error["missing"] == [md5_key(files["b.txt"])]
    assert "PUT /api/v1/blobs" in error["message"]
    assert alice.get("/artifacts/alice/proj/data").status_code == 404
    assert alice.get("/projects/alice/proj/collections").json() == []

    alice.put(f"/blobs/{md5_key(files['b.txt'])}", content=files["b.txt"])
    assert alice.post("/versions", json=new_version(manifest)).status_code == 201


def test_references_need_no_blobs(alice: AppClient) -> None:
    manifest = manifest_of({}, references=3)
    alice.put(f"/blobs/{manifest.digest()}", content=manifest.to_json())
    answer = alice.post("/versions", json=new_version(manifest))
    assert answer.status_code == 201
    assert answer.json()["version"]["has_references"] is True


def test_version_fields_must_agree_with_the_manifest(alice: AppClient) -> None:
    files = {"a": b"1"}
    manifest = manifest_of(files)
    upload(alice, files, manifest)
    for field, value in (("size", 99), ("entry_count", 7), ("has_references", True)):
        answer = alice.post("/versions", json=new_version(manifest, **{field: value}))
        assert answer.status_code == 422, field
        assert field in error_of(answer)["message"]
    other = manifest_of({"a": b"2"}).digest()
    answer = alice.post("/versions", json=new_version(manifest, digest=other))
    assert answer.status_code == 422


def test_blob_downloads_need_a_version_that_lists_them(
    server: Server, alice: AppClient
) -> None:
    files = {"a.txt": b"first"}
    vid = log(alice, files).json()["version"]["id"]
    other = {"b.txt": b"second"}
    other_vid = log(alice, other, name="other").json()["version"]["id"]
    key = md5_key(files["a.txt"])

    download = alice.get(f"/blobs/{key}", params={"version": vid})
    assert download.status_code == 200 and download.content == b"first"
    manifest_key = manifest_of(files).digest()
    raw = alice.get(f"/blobs/{manifest_key}", params={"version": vid}).content
    assert Manifest.from_json(raw).digest() == manifest_key

    forbidden = alice.get(f"/blobs/{key}", params={"version": other_vid})
    assert forbidden.status_code == 403
    assert error_of(forbidden)["type"] == "AuthError"
    assert alice.get(f"/blobs/{key}").status_code == 422
    bob = server.user("bob")
    assert bob.get(f"/blobs/{key}", params={"version": vid}).status_code == 404


# -- malformed and oversized requests: always 4xx with a reason --------------------


def test_malformed_json_is_a_validation_error(alice: AppClient) -> None:
    headers = {"content-type": "application/json"}
    answer = alice.post("/runs", content=b'{"entity": ', headers=headers)
    assert answer.status_code == 422
    assert "not valid JSON" in error_of(answer)["message"]


BAD_RUNS = [
    {"entity": ENTITY, "project": PROJECT, "uid": "r1", "colour": "red"},
    {"entity": ENTITY, "project": PROJECT},
    {"entity": "a b", "project": PROJECT, "uid": "r1"},
    {"entity": ENTITY, "project": "p" * 129, "uid": "r1"},
    {"entity": ENTITY, "project": PROJECT, "uid": "u" * 65},
    {"entity": ENTITY, "project": PROJECT, "uid": "r1", "name": "n\x00"},
    {"entity": ENTITY, "project": PROJECT, "uid": "r1", "name": "n" * 129},
    {"entity": ENTITY, "project": PROJECT, "uid": "r1", "config": [1]},
    {"entity": ENTITY, "project": PROJECT, "uid": 5},
    [],
    "text",
]


@pytest.mark.parametrize("body", BAD_RUNS)
def test_bad_run_bodies_are_refused_with_a_reason(alice: AppClient, body: Any) -> None:
    answer = alice.post("/runs", json=body)
    assert answer.status_code == 422, answer.text
    assert error_of(answer)["message"].startswith("invalid request: ")


def test_unknown_fields_are_named(alice: AppClient) -> None:
    body = {"entity": ENTITY, "project": PROJECT, "uid": "r1", "colour": "red"}
    message = error_of(alice.post("/runs", json=body))["message"]
    assert "colour" in message and "Extra inputs" in message


@pytest.mark.parametrize(
    "change",
    [
        {"size": -1},
        {"size": 2**63},
        {"entry_count": 2**40},
        {"type": "wandb-history"},
        {"name": "../etc"},
        {"aliases": ["a:b"]},
        {"aliases": ["x"] * 101},
        {"digest": "md5:abc"},
        {"manifest_key": "sha256:" + "g" * 64},
        {"metadata": {"deep": json.loads("[" * 70 + "]" * 70)}},
        {"description": "nul\x00"},
        {"run_uid": ""},
        {"has_references": "maybe"},
    ],
)
def test_bad_versions_are_refused_with_a_reason(
    alice: AppClient, change: dict[str, Any]
) -> None:
    body = new_version(manifest_of({"a": b"1"}), **change)
    answer = alice.post("/versions", json=body)
    assert answer.status_code == 422, answer.text
    assert error_of(answer)["type"] == "ValidationError"


def test_non_finite_numbers_are_refused(alice: AppClient) -> None:
    raw = b'{"entity": "alice", "project": "proj", "uid": "r1", "config": {"x": NaN}}'
    answer = alice.post(
        "/runs", content=raw, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert "NaN" in error_of(answer)["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/versions/0"), ("GET", "/versions/99999999999"), ("GET", "/versions/x"),
     ("GET", "/runs/alice/proj/r1/versions?direction=sideways"),
     ("GET", "/artifacts/alice/proj/data?alias=a:b"), ("GET", "/blobs/md5:12"),
     ("PUT", "/blobs/sha1:" + "0" * 40)],
)  # fmt: skip
def test_bad_paths_and_queries_are_refused(
    alice: AppClient, method: str, path: str
) -> None:
    answer = alice.request(method, path)
    assert answer.status_code == 422, answer.text
    assert error_of(answer)["type"] == "ValidationError"


def test_unknown_routes_and_methods_answer_in_docket_form(alice: AppClient) -> None:
    unknown = alice.get("/nothing-here")
    assert unknown.status_code == 404 and "openapi.json" in error_of(unknown)["message"]
    wrong_method = alice.request("DELETE", "/whoami")
    assert wrong_method.status_code == 405
    assert error_of(wrong_method)["type"] == "ValidationError"


def test_oversized_json_bodies_are_refused(alice: AppClient) -> None:
    big = {
        "entity": ENTITY,
        "project": PROJECT,
        "uid": "r1",
        "config": {"x": "y" * 70 * KIB},
    }
    answer = alice.post("/runs", json=big)
    assert answer.status_code == 413
    assert "65,536 bytes" in error_of(answer)["message"]

    async def chunks() -> Any:  # no Content-Length: counted while it arrives
        yield b'{"entity": "alice", "project": "proj", "uid": "r1", "config": {"x": "'
        for _ in range(80):
            yield b"y" * KIB
        yield b'"}}'

    streamed = alice.post(
        "/runs", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert alice.get("/runs/alice/proj/r1").status_code == 404


def test_oversized_blobs_are_refused(alice: AppClient) -> None:
    data = b"z" * (300 * KIB)
    answer = alice.put(f"/blobs/{md5_key(data)}", content=data)
    assert answer.status_code == 413
    assert alice.post("/blobs/missing", json={"keys": [md5_key(data)]}).json()[
        "missing"
    ] == [md5_key(data)]


def test_manifests_are_limited_in_entries(alice: AppClient) -> None:
    files = {f"f{n}": str(n).encode() for n in range(51)}
    manifest = manifest_of(files)
    answer = alice.put(f"/blobs/{manifest.digest()}", content=manifest.to_json())
    assert answer.status_code == 422
    assert "at most 50" in error_of(answer)["message"]


def test_missing_asks_are_limited(server: Server, alice: AppClient) -> None:
    limit = server.context.settings.max_missing_keys
    keys = [md5_key(str(n).encode()) for n in range(limit + 1)]
    answer = alice.post("/blobs/missing", json={"keys": keys})
    assert answer.status_code == 422
    assert f"at most {limit:,}" in error_of(answer)["message"]


# -- logs and unexpected failures --------------------------------------------------


def test_one_log_line_per_request(
    alice: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="docket.server"):
        alice.get("/whoami")
        alice.get("/runs/alice/proj/none")
    lines = [r.getMessage() for r in caplog.records if r.name == "docket.server"]
    assert len(lines) == 2
    assert lines[0].startswith("GET /api/v1/whoami 200 ")
    assert lines[0].endswith("ms user=alice")
    assert lines[1].startswith("GET /api/v1/runs/alice/proj/none 404 ")


def test_an_unexpected_error_is_a_generic_500_with_a_logged_traceback(
    server: Server,
    alice: AppClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(server.context.metadata, "get_run", broken)
    with caplog.at_level(logging.INFO, logger="docket.server"):
        answer = alice.get("/runs/alice/proj/r1")
    assert answer.status_code == 500
    assert error_of(answer)["type"] == "ServerError"
    assert "secret" not in answer.text
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1 and failures[0].exc_info is not None


# -- blobs in an S3-compatible bucket ----------------------------------------------


@pytest.mark.services
def test_blobs_in_an_s3_bucket(
    tmp_path: Path,
    s3_server: Any,
    unique_service_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3

    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).create_bucket(
        Bucket=unique_service_name
    )
    settings = ServerSettings(
        database_url=f"sqlite:///{tmp_path / 'server.sqlite'}",
        blobs_uri=f"s3://{unique_service_name}/docket/blobs",
        spool_dir=tmp_path / "spool",
    )
    running = Server(open_context(settings))
    try:
        alice = running.user(ENTITY)
        files = {"a.txt": b"in a bucket", "b.bin": bytes(range(256)) * 4096}
        manifest = manifest_of(files)
        wrong = alice.put(f"/blobs/{md5_key(b'x')}", content=b"y")
        assert wrong.status_code == 422
        version = log(alice, files)
        assert version.status_code == 201, version.text
        vid = version.json()["version"]["id"]
        for data in files.values():
            answer = alice.get(f"/blobs/{md5_key(data)}", params={"version": vid})
            assert answer.content == data
        objects = boto3.client(
            "s3", endpoint_url=s3_server.endpoint_url
        ).list_objects_v2(Bucket=unique_service_name)
        names = sorted(item["Key"] for item in objects["Contents"])
        digest = manifest.digest().split(":")[1]
        assert f"docket/blobs/manifests/{digest[:2]}/{digest[2:]}" in names
        assert len(names) == 3
        assert not list((tmp_path / "spool").iterdir())
    finally:
        running.close()


@pytest.mark.services
def test_s3_blobs_missing_lists_shared_folders_instead_of_probing_each_key(
    s3_server: Any, unique_service_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from docket.server.blobs_s3 import S3BlobStore

    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).create_bucket(
        Bucket=unique_service_name
    )
    blobs = S3BlobStore(f"s3://{unique_service_name}/blobs")
    # Keys chosen in two folders (md5/aa/ and md5/bb/): three stored, three not.
    stored = [f"md5:aa{n:030x}" for n in range(3)]
    absent = [f"md5:aa{n:030x}" for n in range(3, 5)] + [f"md5:bb{0:030x}"]
    for key in stored:
        blobs.put_bytes(key, key.encode())

    before = s3_server.request_count()
    assert blobs.missing(stored + absent) == set(absent)
    # md5/aa/ holds five asked keys: one listing page instead of five HEADs;
    # md5/bb/ holds one: a single HEAD.
    assert s3_server.request_count() - before == 2
