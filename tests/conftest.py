"""Every test runs against a fresh embedded store in its own temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import docket

pytest_plugins = ["tests.conftest_services", "tests.places.local"]


@pytest.fixture(autouse=True)
def docket_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private DOCKET_HOME, cache and working directory for each test."""
    home = tmp_path / "docket-home"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("DOCKET_HOME", str(home))
    monkeypatch.setenv("DOCKET_ENTITY", "tester")
    monkeypatch.delenv("DOCKET_CACHE_DIR", raising=False)
    monkeypatch.delenv("DOCKET_ARTIFACT_DIR", raising=False)
    monkeypatch.delenv("DOCKET_PROJECT", raising=False)
    monkeypatch.delenv("DOCKET_BASE_URL", raising=False)
    monkeypatch.setenv("DOCKET_PROGRESS", "0")
    monkeypatch.chdir(work)
    yield home
    docket.finish()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A small dataset folder: three files at the top, one in a subfolder."""
    root = tmp_path / "mount" / "datasets" / "mnist"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha\n")
    (root / "b.txt").write_bytes(b"bravo\n")
    (root / "c.bin").write_bytes(bytes(range(256)))
    (root / "sub" / "d.txt").write_bytes(b"delta\n")
    return root
