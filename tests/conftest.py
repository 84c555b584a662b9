"""Every test runs against a fresh store in its own temporary folder.

With ``--store=remote`` the store is a real tracking server and the test's own
user on it (tests/conftest_store.py); DOCKET_HOME still holds the cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import docket

if TYPE_CHECKING:
    from tests.conftest_store import StoreUser

pytest_plugins = [
    "tests.conftest_services",
    "tests.conftest_store",
    "tests.places.local",
    "tests.places.s3",
    "tests.places.gcs",
    "tests.places.azure",
    "tests.places.http",
]


@pytest.fixture(autouse=True)
def docket_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_user: StoreUser
) -> Iterator[Path]:
    """A private DOCKET_HOME, cache and working directory for each test."""
    home = tmp_path / "docket-home"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("DOCKET_HOME", str(home))
    monkeypatch.setenv("DOCKET_ENTITY", store_user.entity)
    monkeypatch.delenv("DOCKET_CACHE_DIR", raising=False)
    monkeypatch.delenv("DOCKET_ARTIFACT_DIR", raising=False)
    monkeypatch.delenv("DOCKET_PROJECT", raising=False)
    for name, value in (
        ("DOCKET_BASE_URL", store_user.base_url),
        ("DOCKET_API_KEY", store_user.api_key),
    ):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
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
