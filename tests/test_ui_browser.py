"""The web UI in a real browser: Chromium, driven by Playwright, against a real
``docket ui`` process on an embedded store built with the SDK.

Every page is visited and checked for what a person sees: entries listed,
aliases, graph nodes and edges, previews of stored files and of referenced
objects in the S3 stand-in, and the badges of references that changed or
vanished since logging. Screenshots go to the test's tmp folder.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.standins import S3StandIn, unique_name
from tests.ui_fixtures import (
    ENTITY,
    PROJECT,
    Demo,
    UIServer,
    build_demo,
    launch_chromium,
    log_big_version,
)

pytestmark = [pytest.mark.services, pytest.mark.embedded_only]

BIG_ENTRIES = 100_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, s3_server: S3StandIn) -> Demo:
    root = tmp_path_factory.mktemp("ui-demo")
    buckets = (unique_name("uiversioned"), unique_name("uiplain"))
    return build_demo(root, s3_server, buckets)


@pytest.fixture(scope="module")
def ui(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    """``docket ui`` on the demo store, with loopback previews switched on:
    the S3 stand-in listens on 127.0.0.1."""
    work = tmp_path_factory.mktemp("ui-server")
    with UIServer(work, demo.env, args=("--allow-local-previews",)) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Errors the browser reported; a test that expects some clears the list."""
    return []


@pytest.fixture
def page(browser: Any, console_errors: list[str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.on(
        "console",
        lambda m: console_errors.append(m.text) if m.type == "error" else None,
    )
    yield opened
    context.close()
    assert not console_errors, f"browser console errors: {console_errors}"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


def _cells(page: Any, selector: str) -> list[str]:
    return [text.strip() for text in page.locator(selector).all_inner_texts()]


def _svg_texts(page: Any, selector: str) -> list[str]:
    # SVG elements have no innerText; their text content is what is drawn.
    return [text.strip() for text in page.locator(selector).all_text_contents()]


def test_projects_and_artifacts_by_type(page: Any, ui: UIServer, shots: Path) -> None:
    page.goto(ui.url + "/")
    assert page.title().startswith("Projects")
    row = page.locator("tr", has_text=PROJECT)
    assert row.locator("td").all_inner_texts() == [ENTITY, PROJECT, "3"]
    page.screenshot(path=shots / "projects.png")

    row.get_by_role("link", name=PROJECT).click()
    page.wait_for_url(f"**/projects/{ENTITY}/{PROJECT}")
    headings = _cells(page, "section.type h2")
    assert headings == ["dataset (2)", "model (1)"]
    datasets = page.locator("section.type", has_text="dataset")
    assert _cells(datasets, "tbody td:first-child") == ["mnist", "photos"]
    model = page.locator("section.type", has_text="model")
    assert "v0" in model.inner_text()
    page.screenshot(path=shots / "project.png", full_page=True)


def test_version_history(page: Any, ui: UIServer, demo: Demo, shots: Path) -> None:
    page.goto(f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/photos")
    versions = _cells(page, "table.history tbody td:first-child")
    assert versions == ["v1", "v0"]  # newest first
    v1 = page.locator("tr[data-version=v1]")
    v0 = page.locator("tr[data-version=v0]")
    assert _cells(v1, ".alias") == ["latest"]
    assert _cells(v0, ".alias") == ["raw"]
    # v1: cat, dog and notes pinned by version ID in the versioned bucket;
    # pic and gone known by ETag only in the plain one; labels.csv stored.
    assert _cells(v1, ".chip") == [
        "1 stored",
        "3 pinned by version ID",
        "2 ETag/digest only",
    ]
    assert _cells(v0, ".chip")[1] == "2 pinned by version ID"
    assert v1.locator("td.num").all_inner_texts()[1] == "6"
    run_link = v1.locator("a.run")
    assert run_link.inner_text() == demo.prepare_run
    page.screenshot(path=shots / "history.png", full_page=True)

    run_link.click()
    page.wait_for_url(f"**/runs/{ENTITY}/{PROJECT}/{demo.prepare_run}")
    assert "Run prepare" in page.locator("h1").inner_text()


def test_file_browser_folders_and_references(
    page: Any, ui: UIServer, shots: Path
) -> None:
    page.goto(f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/photos/latest")
    assert "photos:v1" in page.locator("h1").inner_text()
    assert page.locator("p.note a").inner_text() == "photos:v1"  # permanent link
    names = _cells(page, "table.files td.name a")
    assert names == ["drift/", "images/", "labels.csv"]

    # Folders expand in place, fetched on demand.
    page.locator("tr.folder", has_text="images/").locator("button.expand").click()
    page.wait_for_selector("tr.file >> text=cat.png")
    expanded = _cells(page, "table.files tr.file td.name a")
    assert expanded == ["cat.png", "dog.png", "notes.txt", "labels.csv"]
    cat = page.locator("tr.file", has_text="cat.png")
    assert cat.get_attribute("data-depth") == "1"
    page.locator("tr.folder", has_text="images/").locator("button.expand").click()
    assert cat.is_hidden()
    page.locator("tr.folder", has_text="images/").locator("button.expand").click()
    assert cat.is_visible()
    assert "s3://" in cat.locator("td.ref-uri").inner_text()
    page.screenshot(path=shots / "file-browser.png", full_page=True)

    # Into a folder, and to an entry with its reference metadata.
    page.goto(f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/photos/v1/tree/images")
    assert _cells(page, "table.files td.name a") == ["cat.png", "dog.png", "notes.txt"]
    page.get_by_role("link", name="cat.png").click()
    summary = page.locator("dl.summary").inner_text()
    assert "images/cat.png" in summary or "images/cat.png" in page.inner_text("h1")
    for label in ("URI", "ETag", "Version ID", "Size", "Digest"):
        assert label in summary
    assert re.search(r"Version ID\s+\S{8,}", summary)


def test_referenced_png_preview_from_s3(page: Any, ui: UIServer, shots: Path) -> None:
    page.goto(f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/photos/v1/entry/images/cat.png")
    image = page.locator("img.preview-image")
    image.wait_for()
    page.wait_for_function("document.querySelector('img.preview-image').complete")
    size = image.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert size == [16, 12], "the browser did not render the referenced PNG"
    assert "pinned object version" in page.locator("p.verified").inner_text()
    page.screenshot(path=shots / "preview-s3-png.png", full_page=True)


def test_changed_and_missing_references_get_badges(
    page: Any, ui: UIServer, shots: Path
) -> None:
    base = f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/photos/v1/entry/drift"
    page.goto(f"{base}/pic.png")
    assert page.locator(".preview .badge").inner_text() == "changed since logging"
    assert page.locator("img.preview-image").count() == 0
    page.get_by_role("link", name="Check the reference now").click()
    assert page.locator("p.check .badge").inner_text() == "changed since logging"
    page.screenshot(path=shots / "changed-reference.png", full_page=True)

    page.goto(f"{base}/gone.txt")
    assert page.locator(".preview .badge").inner_text() == "object is gone"
    assert "no longer exists" in page.locator(".preview").inner_text()


def test_stored_previews(page: Any, ui: UIServer, shots: Path) -> None:
    base = f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/mnist/v1/entry"
    page.goto(f"{base}/labels.csv")
    assert _cells(page, "table.head th") == ["file", "label"]
    assert _cells(page, "table.head tbody tr:first-child td") == ["0.png", "7"]
    assert "logged MD5" in page.locator("p.verified").inner_text()

    page.goto(f"{base}/meta.json")
    assert '"classes": 10' in page.locator("pre.text").inner_text()

    page.goto(f"{base}/README.md")
    assert "handwritten digits, v1" in page.locator("pre.text").inner_text()

    page.goto(f"{base}/scores.parquet")
    assert _cells(page, "table.head th") == ["epoch", "accuracy"]
    assert "3 rows" in page.locator("p.verified").inner_text()

    page.goto(f"{base}/sample.png")
    page.wait_for_function("document.querySelector('img.preview-image').complete")
    assert page.locator("img.preview-image").evaluate("i => i.naturalWidth") == 8

    with page.expect_download() as download:
        page.get_by_role("link", name="Download").click()
    saved = download.value.path()
    assert Path(saved).read_bytes()[:4] == b"\x89PNG"
    page.screenshot(path=shots / "stored-preview.png", full_page=True)


def test_file_reference_preview_in_docket_ui(page: Any, ui: UIServer) -> None:
    # docket ui previews file:// references by default: they are the files of
    # the user who runs it (docket server needs --allow-local-previews).
    page.goto(f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/cnn/v0/entry/train.yaml")
    assert page.locator("dd.uri").inner_text().startswith("file:///")
    assert page.locator("pre.text").inner_text().strip() == "lr: 0.01\nepochs: 3"
    assert "logged MD5" in page.locator("p.verified").inner_text()


def test_lineage_graph(page: Any, ui: UIServer, demo: Demo, shots: Path) -> None:
    page.goto(f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/photos/v1/lineage?hops=2")
    nodes = page.locator("svg.lineage a.node")
    labels = sorted(_svg_texts(nodes, "text.label"))
    # Two hops: the producer and the consumer, and everything they touched.
    assert labels == [
        "cnn:v0",
        "mnist:v0",
        "mnist:v1",
        "photos:v0",
        "photos:v1",
        "prepare",
        "train-cnn",
    ]
    focus = page.locator("svg.lineage a.node.focus text.label")
    assert focus.text_content() == "photos:v1"

    def key(label: str) -> str:
        node = page.locator("svg.lineage a.node", has_text=label).first
        return str(node.get_attribute("data-node"))

    edges = {
        (e.get_attribute("data-from"), e.get_attribute("data-to"))
        for e in page.locator("svg.lineage path.edge").all()
    }
    made = {(key("prepare"), key(v)) for v in ("mnist:v0", "mnist:v1", "photos:v0")}
    assert edges == made | {
        (key("prepare"), key("photos:v1")),
        (key("photos:v1"), key("train-cnn")),
        (key("mnist:v1"), key("train-cnn")),
        (key("train-cnn"), key("cnn:v0")),
    }
    # Left to right: producer, then its outputs, then the consumer, then its output.
    x = {
        label: page.locator("svg.lineage a.node", has_text=label)
        .locator("rect")
        .get_attribute("x")
        for label in ("prepare", "photos:v1", "train-cnn", "cnn:v0")
    }
    columns = [
        float(x[n] or 0) for n in ("prepare", "photos:v1", "train-cnn", "cnn:v0")
    ]
    assert columns == sorted(columns) and len(set(columns)) == 4
    page.screenshot(path=shots / "lineage.png", full_page=True)

    page.locator("svg.lineage a.node", has_text="train-cnn").click()
    page.wait_for_url(f"**/runs/{ENTITY}/{PROJECT}/{demo.train_run}")


def test_run_page(page: Any, ui: UIServer, demo: Demo, shots: Path) -> None:
    page.goto(f"{ui.url}/runs/{ENTITY}/{PROJECT}/{demo.train_run}")
    assert "Run train-cnn" in page.locator("h1").inner_text()
    config = page.locator("pre.config").inner_text()
    assert '"lr": 0.01' in config and '"optimizer": "adam"' in config
    tables = page.locator("table")
    inputs = _cells(tables.nth(0), "tbody td:first-child")
    outputs = _cells(tables.nth(1), "tbody td:first-child")
    assert sorted(inputs) == [
        f"{ENTITY}/{PROJECT}/mnist:v1",
        f"{ENTITY}/{PROJECT}/photos:v1",
    ]
    assert outputs == [f"{ENTITY}/{PROJECT}/cnn:v0"]
    page.screenshot(path=shots / "run.png", full_page=True)
    page.get_by_role("link", name="Lineage graph").click()
    focus = page.locator("svg.lineage a.node.focus text.label")
    assert focus.text_content() == "train-cnn"

    page.goto(f"{ui.url}/runs/{ENTITY}/{PROJECT}/{demo.prepare_run}")
    assert page.locator("p.empty").inner_text() == "This run used no artifacts."


def test_missing_objects_are_pages_not_errors(
    page: Any, ui: UIServer, console_errors: list[str]
) -> None:
    answer = page.goto(f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/nothing")
    assert answer.status == 404
    assert "does not exist" in page.locator(".error-message").inner_text()
    answer = page.goto(f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/photos/v9")
    assert answer.status == 404
    message = page.locator(".error-message").inner_text()
    assert "no version 'v9'" in message and "'raw'" in message
    answer = page.goto(
        f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/photos/v1/entry/nope.txt"
    )
    assert answer.status == 404
    answer = page.goto(f"{ui.url}/runs/{ENTITY}/{PROJECT}/no-such-run")
    assert answer.status == 404
    answer = page.goto(f"{ui.url}/projects/{ENTITY}/nothing-here")
    assert answer.status == 404
    assert all("404" in error for error in console_errors)
    console_errors.clear()


def test_narrow_window(browser: Any, ui: UIServer, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{ui.url}/artifacts/{ENTITY}/{PROJECT}/photos/v1")
        assert page.locator("table.files th.wide").first.is_hidden()
        assert page.locator("table.files td.name a").first.is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, "the page scrolls sideways in a narrow window"
        page.screenshot(path=shots / "narrow-file-browser.png", full_page=True)
    finally:
        context.close()


def test_loopback_previews_need_the_operator_switch(
    page: Any, demo: Demo, tmp_path: Path
) -> None:
    with UIServer(tmp_path, demo.env, name="docket-ui-strict") as strict:
        page.goto(
            f"{strict.url}/artifacts/{ENTITY}/{PROJECT}/photos/v1/entry/images/cat.png"
        )
        assert page.locator(".preview .badge").inner_text() == "preview not allowed"
        assert "--allow-local-previews" in page.locator(".preview").inner_text()
        assert page.locator("img.preview-image").count() == 0


def test_first_screen_of_100000_entries(
    page: Any, ui: UIServer, demo: Demo, shots: Path, record_property: Any
) -> None:
    path = log_big_version(demo.home, BIG_ENTRIES)
    timings = []
    for _ in ("cold", "warm"):
        started = time.perf_counter()
        page.goto(ui.url + path, wait_until="domcontentloaded")
        page.locator("table.files tbody tr").first.wait_for()
        timings.append(time.perf_counter() - started)
    rows = page.locator("table.files tbody tr")
    assert rows.count() == 100  # the 100 shard folders
    info = page.locator("p.rows-info").inner_text()
    assert "100,000 entries" in info
    page.get_by_role("link", name="shard-000/").click()
    assert page.locator("table.files tbody tr").count() == 200  # one page
    assert "page 1 of 5" in page.locator("nav.pager").inner_text()
    started = time.perf_counter()
    page.get_by_role("link", name="next →").click()
    page.wait_for_url("**page=2")
    timings.append(time.perf_counter() - started)
    page.screenshot(path=shots / "big-file-browser.png")
    cold, warm, next_page = timings
    record_property("first_screen_cold_s", round(cold, 3))
    record_property("first_screen_warm_s", round(warm, 3))
    print(
        f"\n100,000 entries: first screen {cold:.2f} s cold (manifest read and "
        f"indexed), {warm:.2f} s warm; next page {next_page:.2f} s"
    )
    assert cold < 10 and warm < 2
