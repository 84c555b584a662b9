"""The UI's parts without a browser: graph layout, folder index, previews,
egress rules. Pages themselves are tested in Chromium (test_ui_browser.py)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from docket.manifest import Manifest, ManifestEntry
from docket.store import VersionRecord, embedded_store
from docket.ui.egress import EgressRules, PreviewRefusedError, require_allowed
from docket.ui.fetching import Fetched
from docket.ui.graph import GraphNode, layout, render_svg
from docket.ui.pages.files import listing
from docket.ui.previews import Previewer, PreviewSettings, kind_of, sniff_image
from docket.ui.tree import FolderIndex
from tests.ui_fixtures import tiny_png


def _nodes(*keys: str) -> list[GraphNode]:
    return [GraphNode(k, "run", k, "detail", f"/{k}") for k in keys]


def test_layout_runs_left_to_right_in_layers() -> None:
    edges = [("data", "train"), ("train", "model"), ("model", "eval"), ("data", "eval")]
    placed = layout(_nodes("eval", "model", "train", "data"), edges)
    assert [placed[k].layer for k in ("data", "train", "model", "eval")] == [0, 1, 2, 3]
    assert placed["data"].x < placed["train"].x < placed["model"].x < placed["eval"].x


def test_layout_survives_cycles_and_places_every_node() -> None:
    # A run that used v0 and logged identical content again produces v0 too.
    edges = [("v0", "run"), ("run", "v0"), ("run", "v1"), ("lonely", "lonely")]
    placed = layout(_nodes("v0", "run", "v1", "lonely"), edges)
    assert set(placed) == {"v0", "run", "v1", "lonely"}
    assert placed["run"].layer > placed["v0"].layer
    rows = {(p.layer, p.row) for p in placed.values()}
    assert len(rows) == 4  # no two nodes on one spot


def test_layout_orders_a_layer_to_avoid_crossings() -> None:
    edges = [("a", "y"), ("b", "x")]
    placed = layout(_nodes("a", "b", "x", "y"), edges)
    assert (placed["a"].row < placed["b"].row) == (placed["y"].row < placed["x"].row)


def test_svg_escapes_labels_and_links_nodes() -> None:
    node = GraphNode("k<1>", "version", "<script>", "a & b", "/p?x=1&y=2", True)
    svg = str(render_svg([node], []))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'href="/p?x=1&amp;y=2"' in svg
    assert 'class="node version focus"' in svg


def _manifest(count: int) -> Manifest:
    entries = [ManifestEntry("top.txt", "md5:" + "0" * 32, 5)]
    entries += [
        ManifestEntry(f"a/b/f{i:03d}.bin", f"etag:{i}", 10, ref=f"s3://b/f{i}")
        for i in range(count)
    ]
    entries.append(
        ManifestEntry("a/pinned", "etag:p", 1, ref="s3://b/p", version_id="7")
    )
    entries.append(ManifestEntry("a/loose", "uri:s3://b/l", None, ref="s3://b/l"))
    return Manifest(entries)


def test_folder_index_counts_and_reproducibility() -> None:
    index = FolderIndex(_manifest(450))
    root = index.folder("")
    assert [f.name for f in root.subfolders()] == ["a"]
    assert [e.path for e in root.files] == ["top.txt"]
    assert (root.entry_count, root.size) == (453, 5 + 4500 + 1)
    assert index.folder("a/b/").entry_count == 450
    counts = index.reproducibility
    assert (counts.stored, counts.pinned, counts.digest_only, counts.uri_only) == (
        1,
        1,
        450,
        1,
    )


def test_listing_pages_folders_then_files() -> None:
    folder = FolderIndex(_manifest(450)).folder("a/b")
    pages = [listing(folder, n, rows=200) for n in (1, 2, 3, 9)]
    assert [len(p.files) for p in pages] == [200, 200, 50, 50]
    assert pages[-1].page == 3  # past the end shows the last page
    assert (pages[1].first, pages[1].last, pages[1].total) == (201, 400, 450)
    top = listing(FolderIndex(_manifest(3)).folder(""), 1)
    assert [f.name for f in top.folders] == ["a"] and len(top.files) == 1


def test_preview_kinds_and_image_signatures() -> None:
    assert kind_of("x/photo.JPG") == "image"
    assert kind_of("t.tsv") == "csv"
    assert kind_of("model.bin") is None
    assert sniff_image(tiny_png(2, 2, (1, 2, 3))) == "image/png"
    assert sniff_image(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert sniff_image(b"<svg onload=alert(1)>") is None


def test_previews_render_heads() -> None:
    previewer = Previewer(PreviewSettings(rows=2, text_bytes=64))
    table = previewer._render("csv", Fetched(b"a,b\n1,2\n3,4\n5,6\n", True, "md5"))
    assert table.header == ("a", "b") and table.rows == (("1", "2"), ("3", "4"))
    assert table.truncated
    cut = previewer._render("csv", Fetched(b"a\tb\n1\t2\n3\t", False, "version"))
    assert cut.rows == (("1", "2"),)  # the half line at the cut is dropped
    pretty = previewer._render("json", Fetched(b'{"k":[1,2]}', True, "md5"))
    assert pretty.text is not None and '"k": [' in pretty.text
    binary = previewer._render("text", Fetched(b"\0\1\2", True, "md5"))
    assert binary.state == "binary"
    fake = previewer._render("image", Fetched(b"<html>", True, "md5"))
    assert fake.state == "unavailable" and fake.image_type is None


def _reference(uri: str, endpoint: str | None = None) -> ManifestEntry:
    return ManifestEntry("x", "etag:e", 1, ref=uri, etag="e", endpoint=endpoint)


def test_egress_refuses_local_files_and_private_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = EgressRules()
    with pytest.raises(PreviewRefusedError, match="--allow-local-previews"):
        require_allowed(_reference("file:///etc/passwd"), closed)
    for host in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "[::1]", "localhost"):
        with pytest.raises(PreviewRefusedError, match="loopback or private"):
            require_allowed(_reference(f"http://{host}/x"), closed)
    require_allowed(_reference("https://93.184.215.14/x"), closed)  # public
    opened = EgressRules(allow_files=True, allow_private=True)
    require_allowed(_reference("file:///data/x"), opened)
    require_allowed(_reference("http://127.0.0.1:9000/x"), opened)


def test_egress_sends_s3_requests_only_to_the_configured_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    opened = EgressRules(allow_private=True)
    require_allowed(_reference("s3://b/k", "http://127.0.0.1:9000"), opened)
    with pytest.raises(PreviewRefusedError, match="not this server's"):
        require_allowed(_reference("s3://b/k", "http://169.254.169.254"), opened)
    with pytest.raises(PreviewRefusedError, match="loopback or private"):
        require_allowed(_reference("s3://b/k"), EgressRules())
    for name in ("AWS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    require_allowed(_reference("s3://b/k"), EgressRules())  # AWS itself


def test_stored_previews_are_checked_against_their_md5(tmp_path: Path) -> None:
    store = embedded_store(tmp_path / "home")
    version = VersionRecord(
        1,
        "e",
        "p",
        "n",
        "dataset",
        0,
        "sha256:x",
        "sha256:x",
        6,
        2,
        False,
        (),
        datetime.now(timezone.utc),
    )
    good, bad = b"hello\n", b"a,b\n1,2\n"
    for data in (good, bad):
        store.blobs.put_bytes("md5:" + hashlib.md5(data).hexdigest(), data)
    damaged = store.blobs.path("md5:" + hashlib.md5(bad).hexdigest())
    damaged.chmod(0o644)
    damaged.write_bytes(b"x,y\n")
    previewer = Previewer(PreviewSettings())
    fine = ManifestEntry("h.txt", "md5:" + hashlib.md5(good).hexdigest(), 6)
    shown = previewer.preview(store, version, fine)
    assert shown is not None and (shown.state, shown.text) == ("ok", "hello\n")
    assert shown.check == "md5"
    broken = ManifestEntry("t.csv", "md5:" + hashlib.md5(bad).hexdigest(), 8)
    refused = previewer.preview(store, version, broken)
    assert refused is not None and refused.state == "changed"
    assert refused.header == () and "damaged" in refused.message
