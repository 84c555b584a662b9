"""Small helpers shared by the benchmarks: child processes, timing, page cache.

Only the standard library is used, so a benchmark script that imports this
module can also run as a child under another project's interpreter.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CHILD_TIMEOUT_S = 1800.0
RESULT_PREFIX = "bench-result: "
_READ_CHUNK = 1 << 20


class ChildError(RuntimeError):
    """A measurement child process failed or printed no result."""


def peak_rss_kib() -> int:
    """Peak resident set size of this process so far (KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def emit(result: Mapping[str, Any]) -> None:
    """Print a child's result on its own marked line of standard output."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_child(cmd: Sequence[str], env: Mapping[str, str]) -> dict[str, Any]:
    """Run one measurement process and parse the result line it printed."""
    proc = subprocess.run(
        list(cmd),
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    lines = [
        line.removeprefix(RESULT_PREFIX)
        for line in proc.stdout.splitlines()
        if line.startswith(RESULT_PREFIX)
    ]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.splitlines()[-15:])
        raise ChildError(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def time_parallel(commands: Sequence[Sequence[str]]) -> float:
    """Wall time to run all commands at once until the last one exits."""
    start = time.perf_counter()
    procs = [subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL) for cmd in commands]
    codes = [proc.wait() for proc in procs]
    elapsed = time.perf_counter() - start
    if any(codes):
        raise ChildError(f"parallel commands failed with exit codes {codes}")
    return elapsed


def iter_files(folder: Path) -> list[Path]:
    """Every regular file below folder, in a stable order."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found.extend(Path(root, name) for name in sorted(files))
    return found


def warm_page_cache(folder: Path) -> int:
    """Read every file below folder once so it sits in the page cache."""
    buffer = bytearray(_READ_CHUNK)
    total = 0
    for path in iter_files(folder):
        with open(path, "rb", buffering=0) as handle:
            while count := handle.readinto(buffer):
                total += count
    return total


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def fmt_seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def fmt_mib(kib: float | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.0f} MiB"


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text table with left-aligned first column, right-aligned others."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (
            cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)
        )
        return "  ".join([first, *rest])

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
