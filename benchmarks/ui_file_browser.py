"""Benchmark the UI's file browser on a version of many entries, in Chromium.

Run from the project checkout with the project's interpreter:

    .venv/bin/python benchmarks/ui_file_browser.py [--n 100000] [--repeat 3]

Logs one version of N entries (three quarters references, a quarter stored
files, in 100 folders) into a fresh embedded store, starts ``docket ui`` on it
and times, in headless Chromium, from navigation to the first row of the file
browser being on screen: once cold (the server reads the manifest and indexes
its folders) and then warm, plus opening one folder and its next page.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ui_fixtures import (  # noqa: E402 - needs ROOT on sys.path
    ENTITY,
    UIServer,
    launch_chromium,
    log_big_version,
)


def first_row(page: Any, url: str) -> float:
    started = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")
    page.locator("table.files tbody tr").first.wait_for()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="docket-ui-bench-") as scratch:
        home = Path(scratch) / "home"
        started = time.perf_counter()
        path = log_big_version(home, args.n)
        logged = time.perf_counter() - started
        env = {"DOCKET_HOME": str(home), "DOCKET_ENTITY": ENTITY, "PATH": ""}
        with UIServer(Path(scratch), env) as ui, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            cold = first_row(page, ui.url + path)
            warm = [first_row(page, ui.url + path) for _ in range(args.repeat)]
            folder = first_row(page, f"{ui.url}{path}/tree/shard-000")
            second = first_row(page, f"{ui.url}{path}/tree/shard-000?page=2")
            browser.close()
    result = {
        "entries": args.n,
        "log_seconds": round(logged, 2),
        "first_screen_cold_s": round(cold, 3),
        "first_screen_warm_s": round(statistics.median(warm), 3),
        "folder_first_page_s": round(folder, 3),
        "folder_second_page_s": round(second, 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
