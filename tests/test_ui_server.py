"""The UI mounted in the tracking server, in Chromium: sign-in with an API key,
and nothing of another user's entities shown.

The server application is ``docket.server.create_app`` on a PostgreSQL stand-in
database, with the UI mounted at ``/`` the way ``docket server`` is to mount it
(as ``docket server`` does), served by uvicorn on a real port.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from docket.manifest import Manifest, ManifestEntry
from docket.server import ServerSettings, create_app
from docket.server.context import ServerContext, open_context
from docket.store import NewVersion, Store
from tests.standins import HOST, PostgresStandIn, free_port
from tests.ui_fixtures import launch_chromium

pytestmark = pytest.mark.services


@dataclass(frozen=True)
class Site:
    url: str
    alice: str
    bob: str


def _log(
    context: ServerContext, entity: str, name: str, files: dict[str, bytes]
) -> None:
    store = Store(context.metadata, context.blobs)
    entries = []
    for path, data in files.items():
        key = "md5:" + hashlib.md5(data).hexdigest()
        store.blobs.put_bytes(key, data)
        entries.append(ManifestEntry(path, key, len(data)))
    manifest = Manifest(entries)
    context.metadata.create_run(
        entity, "lab", f"run-{name}", name="make", job_type="prep"
    )
    context.metadata.log_version(
        NewVersion(
            entity=entity,
            project="lab",
            name=name,
            type="dataset",
            digest=manifest.digest(),
            manifest_key=store.save_manifest(manifest),
            size=manifest.size,
            entry_count=len(manifest),
            has_references=False,
            run_uid=f"run-{name}",
        )
    )


@pytest.fixture(scope="module")
def site(
    postgres_server: PostgresStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    settings = ServerSettings(
        database_url=postgres_server.create_database(),
        blobs_uri=str(tmp_path_factory.mktemp("ui-server-blobs")),
    )
    context = open_context(settings)
    alice = context.identity.create_user("alice")
    bob = context.identity.create_user("bob")
    _log(context, "alice", "letters", {"a.txt": b"alpha\n", "docs/b.txt": b"bravo\n"})
    _log(context, "bob", "secrets", {"s.txt": b"not for alice\n"})
    app = create_app(context=context)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Site(f"http://{HOST}:{port}", alice, bob)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        context.metadata.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def test_sign_in_and_see_only_your_entities(
    browser: Any, site: Site, tmp_path: Path
) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(site.url + "/projects/alice/lab")
        page.wait_for_url("**/login?next=/projects/alice/lab")
        page.fill("input[name=key]", "dk_0000000000000000_wrong")
        page.click("button[type=submit]")
        assert "revoked or unknown" in page.locator(".error-message").inner_text()

        page.goto(site.url + "/projects/alice/lab")
        page.fill("input[name=key]", site.alice)
        page.click("button[type=submit]")
        page.wait_for_url("**/projects/alice/lab")
        assert page.locator("form.who span").inner_text() == "alice"
        cookie = next(c for c in context.cookies() if c["name"] == "docket_ui_key")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

        page.goto(site.url + "/")
        assert [r.strip() for r in page.locator("tbody tr").all_inner_texts()] == [
            "alice\tlab\t1"
        ]
        page.goto(site.url + "/artifacts/alice/lab/letters/v0")
        names = page.locator("table.files td.name a").all_inner_texts()
        assert [n.strip() for n in names] == ["docs/", "a.txt"]
        page.screenshot(path=tmp_path / "server-file-browser.png", full_page=True)
        with page.expect_download() as download:
            page.locator("a[download]").first.click()
        assert Path(download.value.path()).read_bytes() == b"alpha\n"

        # Bob's artifact and run answer exactly like missing ones.
        answer = page.goto(site.url + "/artifacts/bob/lab/secrets/v0")
        assert answer.status == 404
        assert "does not exist" in page.locator(".error-message").inner_text()
        assert page.goto(site.url + "/runs/bob/lab/run-secrets").status == 404

        page.goto(site.url + "/")
        page.click("form.who button")
        page.wait_for_url("**/login")
        assert not [c for c in context.cookies() if c["name"] == "docket_ui_key"]
    finally:
        context.close()


def test_api_stays_json_beside_the_ui(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        assert client.get("/api/v1/health").json() == {"status": "ok"}
        missing = client.get("/api/v1/no-such-route")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "NotFoundError"
        whoami = client.get(
            "/api/v1/whoami", headers={"Authorization": f"Bearer {site.bob}"}
        )
        assert whoami.json()["user"] == "bob"
        page = client.get("/", headers={"Authorization": f"Bearer {site.bob}"})
        assert page.status_code == 200 and "bob" in page.text
        assert "alice" not in page.text


def test_sign_in_form_from_another_site_is_refused(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        answer = client.post(
            "/login",
            content=f"key={site.alice}",
            headers={
                "Origin": "https://evil.example",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert answer.status_code == 403
        assert "set-cookie" not in answer.headers
