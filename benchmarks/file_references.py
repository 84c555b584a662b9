"""Benchmark file:// reference artifacts: docket against the incumbent wandb.

Run from the project checkout with the project's interpreter:

    .venv/bin/python benchmarks/file_references.py [--repeat N] [--only small|large]
                                                    [--json PATH]

Each measurement is a fresh child process that times only the add_reference
call and reports its own peak RSS. Data, scratch homes and the incumbent's
virtualenv live under .bench/ in the checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _harness as h

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
DATA_DIR = BENCH_DIR / "data"
SCRATCH_DIR = BENCH_DIR / "tmp"
WANDB_VENV = BENCH_DIR / "wandb-venv"
WANDB_VERSION = "0.31.0"

KIB = 1024
MIB = 1024 * KIB
URANDOM_CHUNK = 8 * MIB

SMALL_FIRST = "small folder, first add"
SMALL_READD = "small folder, re-add unchanged"
LARGE_FIRST = "1 GiB folder, first add"
BASE_SMALL = "small folder: python md5 loop"
BASE_LARGE = "1 GiB folder: 2 parallel md5sum"


# --------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class DataSpec:
    """A generated folder: how many files, of which sizes, in how many subfolders."""

    name: str
    files: int
    subfolders: int
    min_size: int
    max_size: int

    @property
    def folder(self) -> Path:
        return DATA_DIR / self.name

    @property
    def marker(self) -> Path:
        return DATA_DIR / f"{self.name}.json"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "files": self.files,
            "subfolders": self.subfolders,
            "min_size": self.min_size,
            "max_size": self.max_size,
        }


SMALL = DataSpec("small", files=10_000, subfolders=100, min_size=KIB, max_size=8 * KIB)
LARGE = DataSpec("large", files=4, subfolders=0, min_size=256 * MIB, max_size=256 * MIB)


def data_is_valid(spec: DataSpec) -> bool:
    """True when the folder was fully generated for this spec and still matches."""
    if not spec.marker.exists() or not spec.folder.is_dir():
        return False
    if json.loads(spec.marker.read_text()) != spec.as_dict():
        return False
    files = h.iter_files(spec.folder)
    sizes_ok = all(spec.min_size <= p.stat().st_size <= spec.max_size for p in files)
    return len(files) == spec.files and sizes_ok


def write_random_file(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            chunk = min(remaining, URANDOM_CHUNK)
            handle.write(os.urandom(chunk))
            remaining -= chunk


def file_layout(spec: DataSpec) -> list[tuple[Path, int]]:
    """Relative path and size of every file of a spec (sizes from a fixed seed)."""
    rng = random.Random(f"docket-bench-{spec.name}")
    layout: list[tuple[Path, int]] = []
    for index in range(spec.files):
        size = rng.randint(spec.min_size, spec.max_size)
        name = f"file-{index:05d}.bin"
        if spec.subfolders:
            rel = Path(f"dir-{index % spec.subfolders:03d}", name)
        else:
            rel = Path(name)
        layout.append((rel, size))
    return layout


def generate(spec: DataSpec) -> None:
    """Write the folder next to its final place, then move it in atomically."""
    partial = DATA_DIR / f".{spec.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    spec.marker.unlink(missing_ok=True)
    for rel, size in file_layout(spec):
        (partial / rel).parent.mkdir(parents=True, exist_ok=True)
        write_random_file(partial / rel, size)
    shutil.rmtree(spec.folder, ignore_errors=True)
    partial.rename(spec.folder)
    spec.marker.write_text(json.dumps(spec.as_dict()))


def ensure_data(spec: DataSpec) -> Path:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if data_is_valid(spec):
        log(f"data: reusing {spec.folder.relative_to(ROOT)}")
    else:
        log(f"data: generating {spec.folder.relative_to(ROOT)} ...")
        start = time.perf_counter()
        generate(spec)
        log(f"data: generated in {time.perf_counter() - start:.1f} s")
    return spec.folder


# --------------------------------------------------------------------------
# The incumbent's virtualenv


def wandb_python() -> Path:
    return WANDB_VENV / "bin" / "python"


def installed_wandb_version(python: Path) -> str | None:
    probe = "import importlib.metadata as m; print(m.version('wandb'))"
    proc = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def pip_install(python: Path, requirement: str) -> bool:
    log(f"wandb venv: pip install {requirement} ...")
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", requirement], check=False
    )
    return proc.returncode == 0


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def closest_version(target: str, available: list[str]) -> str | None:
    """Highest release below target, else the lowest above it."""
    releases = [v for v in available if re.fullmatch(r"\d+(\.\d+)*", v)]
    below = [v for v in releases if version_key(v) < version_key(target)]
    above = [v for v in releases if version_key(v) > version_key(target)]
    if below:
        return max(below, key=version_key)
    return min(above, key=version_key) if above else None


def available_wandb_versions(python: Path) -> list[str]:
    proc = subprocess.run(
        [str(python), "-m", "pip", "index", "versions", "wandb"],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Available versions:\s*(.+)", proc.stdout)
    return [v.strip() for v in match.group(1).split(",")] if match else []


def ensure_wandb_venv() -> str:
    """Create the incumbent's venv if needed; return the installed wandb version."""
    python = wandb_python()
    if not python.exists():
        log(f"wandb venv: creating {WANDB_VENV.relative_to(ROOT)}")
        subprocess.run([sys.executable, "-m", "venv", str(WANDB_VENV)], check=True)
    version = installed_wandb_version(python)
    if version is not None:
        return version
    if pip_install(python, f"wandb=={WANDB_VERSION}"):
        return installed_wandb_version(python) or "unknown"
    fallback = closest_version(WANDB_VERSION, available_wandb_versions(python))
    if fallback is None or not pip_install(python, f"wandb=={fallback}"):
        raise SystemExit(f"wandb=={WANDB_VERSION} and no close version installable")
    log(f"WARNING: wandb=={WANDB_VERSION} is not available; using {fallback}")
    return fallback


def docket_importable() -> bool:
    probe = "import docket; docket.Artifact"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0


# --------------------------------------------------------------------------
# Child processes (this same script, run with --child)


def count_entries(artifact: Any) -> int | None:
    try:
        return len(artifact.manifest.entries)
    except (AttributeError, TypeError):
        return None


def child_add_reference(module_name: str, folder: Path) -> dict[str, Any]:
    module = importlib.import_module(module_name)
    rss_after_import = h.peak_rss_kib()
    artifact = module.Artifact("bench", type="dataset")
    uri = "file://" + str(folder)
    start = time.perf_counter()
    artifact.add_reference(uri)
    seconds = time.perf_counter() - start
    return {
        "tool": module_name,
        "version": getattr(module, "__version__", "unknown"),
        "seconds": seconds,
        "peak_rss_kib": h.peak_rss_kib(),
        "rss_after_import_kib": rss_after_import,
        "entries": count_entries(artifact),
    }


def child_md5_loop(folder: Path) -> dict[str, Any]:
    start = time.perf_counter()
    count = 0
    for path in h.iter_files(folder):
        with open(path, "rb") as handle:
            hashlib.md5(handle.read(), usedforsecurity=False).digest()
        count += 1
    seconds = time.perf_counter() - start
    return {
        "tool": "md5-loop",
        "seconds": seconds,
        "peak_rss_kib": h.peak_rss_kib(),
        "entries": count,
    }


def child_main(tool: str, folder: Path) -> None:
    if tool == "md5-loop":
        h.emit(child_md5_loop(folder))
    else:
        h.emit(child_add_reference(tool, folder))


# --------------------------------------------------------------------------
# Measurements (parent side)


@dataclass
class Samples:
    """Every child result of one measurement for one tool."""

    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float | None:
        values = [float(run[key]) for run in self.runs if run.get(key) is not None]
        return h.median(values) if values else None


Results = dict[str, dict[str, Samples]]


@dataclass(frozen=True)
class Context:
    repeat: int
    with_docket: bool
    wandb_python: Path
    load_at_start: float = field(default_factory=lambda: os.getloadavg()[0])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    SCRATCH_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=SCRATCH_DIR))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def clean_env() -> dict[str, str]:
    prefixes = ("WANDB_", "DOCKET_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def docket_env(home: Path) -> dict[str, str]:
    return clean_env() | {"DOCKET_HOME": str(home)}


def wandb_env(home: Path) -> dict[str, str]:
    env = clean_env() | {"WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        path = home / var.lower()
        path.mkdir(exist_ok=True)
        env[var] = str(path)
    return env


def child_cmd(python: Path | str, tool: str, folder: Path) -> list[str]:
    script = str(Path(__file__).resolve())
    return [str(python), script, "--child", tool, "--folder", str(folder)]


def record(
    results: Results, name: str, tool: str, run: dict[str, Any], expected: int
) -> None:
    entries = run.get("entries")
    if entries is not None and entries != expected:
        raise h.ChildError(f"{tool} on {name}: {entries} entries, want {expected}")
    results.setdefault(name, {}).setdefault(tool, Samples()).runs.append(run)
    rss = h.fmt_mib(run.get("peak_rss_kib"))
    log(f"  {name:<32} {tool:<7} {h.fmt_seconds(run['seconds']):>10} {rss:>9}")


def run_docket(folder: Path, home: Path) -> dict[str, Any]:
    return h.run_child(child_cmd(sys.executable, "docket", folder), docket_env(home))


def run_wandb(ctx: Context, folder: Path, home: Path) -> dict[str, Any]:
    cmd = child_cmd(ctx.wandb_python, "wandb", folder)
    return h.run_child(cmd, wandb_env(home))


def bench_small(ctx: Context, folder: Path, results: Results) -> None:
    """First add in fresh homes, then a second process re-adding in the same homes."""
    n = SMALL.files
    for index in range(ctx.repeat):
        log(f"small folder, round {index + 1}/{ctx.repeat}")
        h.warm_page_cache(folder)
        with scratch_dir("docket-") as dhome, scratch_dir("wandb-") as whome:
            if ctx.with_docket:
                record(results, SMALL_FIRST, "docket", run_docket(folder, dhome), n)
            record(results, SMALL_FIRST, "wandb", run_wandb(ctx, folder, whome), n)
            if ctx.with_docket:
                record(results, SMALL_READD, "docket", run_docket(folder, dhome), n)
            record(results, SMALL_READD, "wandb", run_wandb(ctx, folder, whome), n)
        loop = h.run_child(child_cmd(sys.executable, "md5-loop", folder), clean_env())
        record(results, BASE_SMALL, "md5", loop, n)


def md5sum_pair(folder: Path) -> dict[str, Any]:
    files = [str(p) for p in h.iter_files(folder)]
    half = len(files) // 2
    seconds = h.time_parallel([["md5sum", *files[:half]], ["md5sum", *files[half:]]])
    return {"tool": "md5sum", "seconds": seconds, "entries": len(files)}


def bench_large(ctx: Context, folder: Path, results: Results) -> None:
    n = LARGE.files
    for index in range(ctx.repeat):
        log(f"1 GiB folder, round {index + 1}/{ctx.repeat}")
        h.warm_page_cache(folder)
        with scratch_dir("docket-") as dhome, scratch_dir("wandb-") as whome:
            if ctx.with_docket:
                record(results, LARGE_FIRST, "docket", run_docket(folder, dhome), n)
            record(results, LARGE_FIRST, "wandb", run_wandb(ctx, folder, whome), n)
        record(results, BASE_LARGE, "md5sum", md5sum_pair(folder), n)


# --------------------------------------------------------------------------
# Report


@dataclass(frozen=True)
class Target:
    label: str
    value: float | None
    limit: float
    at_least: bool

    @property
    def status(self) -> str:
        if self.value is None:
            return "n/a"
        ok = self.value >= self.limit if self.at_least else self.value <= self.limit
        return "PASS" if ok else "MISS"

    @property
    def goal(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.limit:g}"


def stat(results: Results, name: str, tool: str, key: str) -> float | None:
    samples = results.get(name, {}).get(tool)
    return samples.median(key) if samples else None


def ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or not bottom else top / bottom


def targets(results: Results) -> list[Target]:
    def sec(name: str, tool: str) -> float | None:
        return stat(results, name, tool, "seconds")

    def rss(name: str, tool: str) -> float | None:
        return stat(results, name, tool, "peak_rss_kib")

    wanted: list[Target] = []
    if SMALL_FIRST in results:
        first = ratio(sec(SMALL_FIRST, "wandb"), sec(SMALL_FIRST, "docket"))
        readd = ratio(sec(SMALL_READD, "wandb"), sec(SMALL_READD, "docket"))
        wanted.append(Target("small first add: wandb / docket", first, 3, True))
        wanted.append(Target("small re-add: wandb / docket", readd, 10, True))
    if LARGE_FIRST in results:
        large = ratio(sec(LARGE_FIRST, "docket"), sec(BASE_LARGE, "md5sum"))
        memory = ratio(rss(LARGE_FIRST, "docket"), rss(LARGE_FIRST, "wandb"))
        wanted.append(Target("1 GiB: docket / 2x md5sum", large, 1.25, False))
        wanted.append(Target("1 GiB peak RSS: docket / wandb", memory, 1.0, False))
    return wanted


def comparison_table(results: Results, wandb_version: str) -> str:
    header = [
        "measurement (median)",
        "docket",
        f"wandb {wandb_version}",
        "wandb/docket",
        "docket peak RSS",
        "wandb peak RSS",
    ]
    rows: list[list[str]] = []
    for name in (SMALL_FIRST, SMALL_READD, LARGE_FIRST):
        if name not in results:
            continue
        docket_s = stat(results, name, "docket", "seconds")
        wandb_s = stat(results, name, "wandb", "seconds")
        rows.append(
            [
                name,
                h.fmt_seconds(docket_s),
                h.fmt_seconds(wandb_s),
                h.fmt_ratio(ratio(wandb_s, docket_s)),
                h.fmt_mib(stat(results, name, "docket", "peak_rss_kib")),
                h.fmt_mib(stat(results, name, "wandb", "peak_rss_kib")),
            ]
        )
    return h.render_table(header, rows)


def baseline_table(results: Results) -> str:
    header = ["baseline (median)", "time", "docket/baseline", "wandb/baseline"]
    pairs = ((BASE_SMALL, "md5", SMALL_FIRST), (BASE_LARGE, "md5sum", LARGE_FIRST))
    rows: list[list[str]] = []
    for name, tool, compared in pairs:
        base = stat(results, name, tool, "seconds")
        if base is None:
            continue
        docket_s = stat(results, compared, "docket", "seconds")
        wandb_s = stat(results, compared, "wandb", "seconds")
        rows.append(
            [
                name,
                h.fmt_seconds(base),
                h.fmt_ratio(ratio(docket_s, base)),
                h.fmt_ratio(ratio(wandb_s, base)),
            ]
        )
    return h.render_table(header, rows)


def target_table(wanted: list[Target]) -> str:
    rows = [[t.label, h.fmt_ratio(t.value), t.goal, t.status] for t in wanted]
    return h.render_table(["target", "value", "goal", "result"], rows)


def print_report(ctx: Context, results: Results, wandb_version: str) -> None:
    print(f"\nfile:// reference artifacts, median of {ctx.repeat} run(s) each")
    print(f"incumbent: wandb {wandb_version} (offline, no run)")
    if wandb_version != WANDB_VERSION:
        print(f"WARNING: wandb {WANDB_VERSION} was wanted; measured {wandb_version}")
    if not ctx.with_docket:
        print("docket: NOT importable (import docket; docket.Artifact) - skipped")
    print("re-add: a second process over the same DOCKET_HOME / WANDB_* dirs")
    load_now = os.getloadavg()[0]
    print(
        f"1-min load average: {ctx.load_at_start:.2f} at start, {load_now:.2f} at end"
        f" ({os.cpu_count()} CPUs; other work on the machine adds noise)"
    )
    print()
    print(comparison_table(results, wandb_version))
    print()
    print(baseline_table(results))
    print()
    print(target_table(targets(results)))


def write_json(path: Path, ctx: Context, results: Results, wandb_version: str) -> None:
    payload = {
        "repeat": ctx.repeat,
        "docket_measured": ctx.with_docket,
        "wandb_version": wandb_version,
        "load_average_1min": {"start": ctx.load_at_start, "end": os.getloadavg()[0]},
        "data": {"small": SMALL.as_dict(), "large": LARGE.as_dict()},
        "results": {
            name: {
                tool: {
                    "median_seconds": samples.median("seconds"),
                    "median_peak_rss_kib": samples.median("peak_rss_kib"),
                    "runs": samples.runs,
                }
                for tool, samples in by_tool.items()
            }
            for name, by_tool in results.items()
        },
        "targets": [
            {"target": t.label, "value": t.value, "goal": t.goal, "result": t.status}
            for t in targets(results)
        ],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")


# --------------------------------------------------------------------------
# Entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument("--only", choices=("small", "large"), help="run one folder")
    parser.add_argument("--json", type=Path, help="also write results to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args.child, args.folder)
        return 0
    wandb_version = ensure_wandb_venv()
    ctx = Context(args.repeat, docket_importable(), wandb_python())
    if not ctx.with_docket:
        log("docket is not importable: measuring wandb and the baselines only")
    results: Results = {}
    if args.only in (None, "small"):
        bench_small(ctx, ensure_data(SMALL), results)
    if args.only in (None, "large"):
        bench_large(ctx, ensure_data(LARGE), results)
    print_report(ctx, results, wandb_version)
    if args.json:
        write_json(args.json, ctx, results, wandb_version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
