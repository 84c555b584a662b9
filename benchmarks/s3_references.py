"""Benchmark s3:// reference artifacts: docket against the incumbent wandb, on moto.

Run from the project checkout with the project's interpreter:

    .venv/bin/python benchmarks/s3_references.py [--n 10000] [--json PATH]
                                                  [--skip-wandb]

One moto server (tests/standins.py) serves two buckets of N small objects under
one prefix: ``bench-plain`` (unversioned) and ``bench-versioned`` (every key
written twice). Each measurement is a child process that reports its own time,
peak RSS and the S3 requests the server logged while it ran.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _harness as h

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.standins import S3StandIn  # noqa: E402 - needs ROOT on sys.path

BENCH_DIR = ROOT / ".bench"
SCRATCH_DIR = BENCH_DIR / "tmp"
WANDB_PYTHON = BENCH_DIR / "wandb-venv" / "bin" / "python"
PLAIN, VERSIONED = "bench-plain", "bench-versioned"
PREFIX = "data"
THREADS = 16
# moto checks that a request carries an Authorization header, not what it holds;
# unsigned writes populate it about 1.5x faster than boto3's signed ones.
FAKE_AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/s3/"
    "aws4_request, SignedHeaders=host, Signature=0"
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def body(index: int, generation: int) -> bytes:
    """The bytes of object ``index`` as written the ``generation``-th time."""
    size = random.Random(f"{index}").randint(1024, 4096)
    block = hashlib.sha512(f"{index}-{generation}".encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def key(index: int) -> str:
    return f"{PREFIX}/part-{index // 1000:02d}/object-{index:05d}.bin"


# --------------------------------------------------------------------------
# Child processes (this same script, run with --child)


def requests_so_far(work_dir: Path) -> int:
    # A stand-in object that is never started reads the running server's log.
    return S3StandIn(work_dir).request_count()


def phase(work_dir: Path, action: Any) -> dict[str, Any]:
    before = requests_so_far(work_dir)
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "requests": requests_so_far(work_dir) - before,
        "peak_rss_kib": h.peak_rss_kib(),
    }


def child_add(tool: str, uri: str, work_dir: Path) -> dict[str, Any]:
    module = __import__(tool)
    artifact = module.Artifact("bench", type="dataset")
    result = phase(work_dir, lambda: artifact.add_reference(uri, max_objects=10**6))
    return result | {"entries": len(artifact.manifest.entries)}


def child_download_docket(uri: str, root: Path, work_dir: Path) -> dict[str, Any]:
    import docket

    with docket.init(job_type="bench") as run:
        artifact = docket.Artifact("bench", type="dataset")
        artifact.add_reference(uri, max_objects=10**6)
        run.log_artifact(artifact)
    first = phase(work_dir, lambda: artifact.download(root=root))
    again = phase(work_dir, lambda: artifact.download(root=root))
    return {"first": first, "again": again, "entries": len(artifact.manifest.entries)}


def child_download_wandb(uri: str, root: Path, work_dir: Path) -> dict[str, Any]:
    # wandb downloads only logged artifacts, through its server's file list; in
    # offline mode this runs what Artifact._download runs for each file, with
    # the same 32 threads, on the unlogged artifact.
    import wandb

    artifact = wandb.Artifact("bench", type="dataset")
    artifact.add_reference(uri, max_objects=10**6)
    entries = list(artifact.manifest.entries.values())
    for entry in entries:
        entry._parent_artifact = artifact

    def download_all() -> None:
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda entry: entry.download(str(root)), entries))

    first = phase(work_dir, download_all)
    again = phase(work_dir, download_all)
    return {"first": first, "again": again, "entries": len(entries)}


def child_bare_get(listing: Path, root: Path, work_dir: Path) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    versions = json.loads(listing.read_text())
    client = boto3.client("s3", config=Config(max_pool_connections=THREADS))

    def get(item: dict[str, str]) -> None:
        response = client.get_object(
            Bucket=VERSIONED, Key=item["key"], VersionId=item["version"]
        )
        target = root / item["key"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(response["Body"].read())

    def get_all() -> None:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(get, versions))

    return phase(work_dir, get_all) | {"entries": len(versions)}


def child_main(args: argparse.Namespace) -> None:
    work_dir, root = args.work_dir, args.root
    if args.child in ("docket", "wandb"):
        h.emit(child_add(args.child, args.uri, work_dir))
    elif args.child == "docket-download":
        h.emit(child_download_docket(args.uri, root, work_dir))
    elif args.child == "wandb-download":
        h.emit(child_download_wandb(args.uri, root, work_dir))
    else:
        h.emit(child_bare_get(Path(args.uri), root, work_dir))


# --------------------------------------------------------------------------
# Parent: server, data, runs


def populate(server: S3StandIn, n: int) -> None:
    import boto3
    import urllib3

    client = boto3.client("s3", endpoint_url=server.endpoint_url)
    for bucket in (PLAIN, VERSIONED):
        client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(
        Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"}
    )
    pool = urllib3.PoolManager(maxsize=THREADS)
    writes = [(PLAIN, i, 1) for i in range(n)]
    writes += [(VERSIONED, i, g) for g in (1, 2) for i in range(n)]

    def put(write: tuple[str, int, int]) -> None:
        bucket, index, generation = write
        url = f"{server.endpoint_url}/{bucket}/{key(index)}"
        data = body(index, generation)
        response = pool.request("PUT", url, body=data, headers=FAKE_AUTH)
        if response.status != 200:
            raise RuntimeError(f"PUT {url}: {response.status} {response.data!r}")

    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as workers:
        # generation 1 of a key is written before generation 2 (list order, and
        # the pool takes items in order far apart)
        list(workers.map(put, writes))
    seconds = time.perf_counter() - start
    log(f"populated {len(writes):,} PUTs in {seconds:.0f} s")


def latest_versions(server: S3StandIn, path: Path) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=server.endpoint_url)
    pages = client.get_paginator("list_object_versions").paginate(Bucket=VERSIONED)
    latest = [
        {"key": v["Key"], "version": v["VersionId"]}
        for page in pages
        for v in page.get("Versions", [])
        if v["IsLatest"]
    ]
    path.write_text(json.dumps(latest))


def child(
    python: Path | str, mode: str, uri: str, env: dict[str, str], **paths: Path
) -> dict[str, Any]:
    cmd = [str(python), str(Path(__file__).resolve()), "--child", mode, "--uri", uri]
    for name, path in paths.items():
        cmd += [f"--{name.replace('_', '-')}", str(path)]
    return h.run_child(cmd, env)


def base_env(server: S3StandIn, home: Path) -> dict[str, str]:
    prefixes = ("WANDB_", "DOCKET_", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env |= server.env() | {"DOCKET_HOME": str(home / "docket"), "DOCKET_PROGRESS": "0"}
    env |= {"WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        (home / var.lower()).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / var.lower())
    return env


def check_tree(root: Path, n: int) -> None:
    """Every downloaded file holds the bytes of the latest version."""
    for index in range(n):
        path = root / key(index).removeprefix(PREFIX + "/")
        if path.read_bytes() != body(index, 2):
            raise RuntimeError(f"{path}: not the bytes of {key(index)}")


def checked(run: dict[str, Any], n: int, what: str) -> dict[str, Any]:
    if run.get("entries") != n:
        raise RuntimeError(f"{what}: {run.get('entries')} entries, want {n}")
    return run


def measure(server: S3StandIn, n: int, with_wandb: bool) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="s3-", dir=SCRATCH_DIR))
    results: dict[str, Any] = {}
    tools = [("docket", sys.executable)] + (
        [("wandb", WANDB_PYTHON)] if with_wandb else []
    )
    try:
        for bucket in (PLAIN, VERSIONED):
            for tool, python in tools:
                env = base_env(server, work / f"{tool}-add-{bucket}")
                run = child(
                    python,
                    tool,
                    f"s3://{bucket}/{PREFIX}",
                    env,
                    work_dir=server.work_dir.parent,
                )
                seconds, count = run["seconds"], run["requests"]
                log(f"add {bucket:<16} {tool:<7} {seconds:8.2f} s {count:>7} requests")
                results[f"add {bucket} {tool}"] = checked(run, n, f"{tool} add")
        for tool, python in tools:
            env = base_env(server, work / f"{tool}-download")
            root = work / f"{tool}-root"
            run = child(
                python,
                f"{tool}-download",
                f"s3://{VERSIONED}/{PREFIX}",
                env,
                root=root,
                work_dir=server.work_dir.parent,
            )
            check_tree(root, n)
            first, again = run["first"]["seconds"], run["again"]["seconds"]
            log(f"download {tool:<7} {first:8.2f} s, again {again:8.2f} s")
            results[f"download {tool}"] = checked(run, n, f"{tool} download")
        listing = work / "versions.json"
        latest_versions(server, listing)
        root = work / "bare-root"
        env = base_env(server, work / "bare")
        run = child(
            sys.executable,
            "bare-get",
            str(listing),
            env,
            root=root,
            work_dir=server.work_dir.parent,
        )
        check_tree(root / PREFIX, n)
        log(f"bare GET        {run['seconds']:8.2f} s")
        results["bare get"] = checked(run, n, "bare GET")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


# --------------------------------------------------------------------------
# Report


def ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or not bottom else top / bottom


def get(results: dict[str, Any], name: str, *path: str) -> Any:
    value: Any = results.get(name)
    for part in path:
        value = None if value is None else value.get(part)
    return value


def comparison_rows(results: dict[str, Any]) -> list[list[str]]:
    measurements = [
        ("add, unversioned bucket", ("add bench-plain", ())),
        ("add, versioned (2 versions/key)", ("add bench-versioned", ())),
        ("download, versioned refs", ("download", ("first",))),
        ("download again, all in place", ("download", ("again",))),
    ]
    rows = []
    for label, (name, path) in measurements:
        docket = get(results, f"{name} docket", *path) or {}
        wandb = get(results, f"{name} wandb", *path) or {}
        rows.append(
            [
                label,
                h.fmt_seconds(docket.get("seconds")),
                h.fmt_seconds(wandb.get("seconds")),
                h.fmt_ratio(ratio(wandb.get("seconds"), docket.get("seconds"))),
                str(docket.get("requests", "n/a")),
                str(wandb.get("requests", "n/a")),
                h.fmt_mib(docket.get("peak_rss_kib")),
                h.fmt_mib(wandb.get("peak_rss_kib")),
            ]
        )
    bare = results.get("bare get", {})
    rows.append(
        [
            f"baseline: boto3 GET, {THREADS} threads",
            h.fmt_seconds(bare.get("seconds")),
            "",
            "",
            str(bare.get("requests", "n/a")),
            "",
            h.fmt_mib(bare.get("peak_rss_kib")),
            "",
        ]
    )
    return rows


def targets(results: dict[str, Any], n: int) -> list[list[str]]:
    budget = math.ceil(n / 1000) + 3

    def sec(name: str, tool: str, *path: str) -> float | None:
        return get(results, f"{name} {tool}", *path, "seconds")

    def row(label: str, value: float | None, goal: str, ok: bool | None) -> list[str]:
        shown = (
            "n/a" if value is None else f"{value:g}" if value >= 100 else f"{value:.2f}"
        )
        status = "n/a" if ok is None else "PASS" if ok else "MISS"
        return [label, shown, goal, status]

    plain = get(results, "add bench-plain docket", "requests")
    versioned = get(results, "add bench-versioned docket", "requests")
    add = ratio(sec("add bench-plain", "wandb"), sec("add bench-plain", "docket"))
    download = ratio(
        sec("download", "docket", "first"), get(results, "bare get", "seconds")
    )
    again = ratio(sec("download", "wandb", "again"), sec("download", "docket", "again"))
    return [
        row(
            "requests, unversioned add",
            plain,
            f"<= {budget}",
            plain is not None and plain <= budget,
        ),
        row(
            "requests, versioned add (report)",
            versioned,
            f"<= {budget}",
            versioned is not None and versioned <= budget,
        ),
        row(
            "unversioned add: wandb / docket",
            add,
            ">= 15",
            None if add is None else add >= 15,
        ),
        row(
            "download: docket / bare GET",
            download,
            "<= 1.5",
            None if download is None else download <= 1.5,
        ),
        row(
            "download again: wandb / docket",
            again,
            ">= 10",
            None if again is None else again >= 10,
        ),
    ]


def print_report(results: dict[str, Any], n: int, wandb_version: str) -> None:
    print(f"\ns3:// reference artifacts on moto, N = {n:,} objects under one prefix")
    print(f"incumbent: wandb {wandb_version} (offline, no run); one run each")
    print("peak RSS is the child's ru_maxrss (imports included; the download row")
    print("covers the add and log before it, the 'again' row everything so far)")
    print()
    header = [
        "measurement",
        "docket",
        "wandb",
        "wandb/docket",
        "docket req",
        "wandb req",
        "docket RSS",
        "wandb RSS",
    ]
    print(h.render_table(header, comparison_rows(results)))
    print()
    print(h.render_table(["target", "value", "goal", "result"], targets(results, n)))


# --------------------------------------------------------------------------
# Entry point


def wandb_version() -> str:
    probe = "import importlib.metadata as m; print(m.version('wandb'))"
    proc = subprocess.run(
        [str(WANDB_PYTHON), "-c", probe], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() or "unknown"


def ensure_boto3_for_wandb() -> None:
    """wandb needs boto3 for s3:// references; install the project's version."""
    probe = [str(WANDB_PYTHON), "-c", "import boto3"]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return
    import boto3

    log(f"wandb venv: pip install boto3=={boto3.__version__}")
    cmd = [
        str(WANDB_PYTHON),
        "-m",
        "pip",
        "install",
        "--quiet",
        f"boto3=={boto3.__version__}",
    ]
    subprocess.run(cmd, check=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="objects per bucket")
    parser.add_argument("--skip-wandb", action="store_true", help="measure docket only")
    parser.add_argument("--json", type=Path, help="also write results to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return 0
    with_wandb = not args.skip_wandb and WANDB_PYTHON.exists()
    if with_wandb:
        ensure_boto3_for_wandb()
    SCRATCH_DIR.mkdir(parents=True, exist_ok=True)
    server_dir = Path(tempfile.mkdtemp(prefix="moto-", dir=SCRATCH_DIR))
    server = S3StandIn(server_dir, start_timeout=60)
    try:
        server.start()
        os.environ.update(server.env())
        populate(server, args.n)
        results = measure(server, args.n, with_wandb)
    finally:
        server.stop()
        shutil.rmtree(server_dir, ignore_errors=True)
    version = wandb_version() if with_wandb else "not measured"
    print_report(results, args.n, version)
    if args.json:
        payload = {"n": args.n, "wandb_version": version, "results": results}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
