"""Benchmark the tracking server: versions logged per second, and log latency.

Run from the project checkout with the project's interpreter (PostgreSQL 15
installed, see scripts/install-services.sh):

    .venv/bin/python benchmarks/server_throughput.py [--seconds S] [--json PATH]
                                                     [--setups 1x1,8x2]

A setup ``CxS`` runs C client processes against S ``docket server`` processes
that share one fresh PostgreSQL database (clients are spread round-robin over
the servers). Every client is a separate user logging its own artifact again
and again; each version holds 3 small stored files of new content, so every
log uploads 3 blobs and a manifest, then records the version. The measured
call is ``run.log_artifact`` alone (building and hashing the files is not);
each client does one unmeasured log first, then all clients start together
and log for S seconds.

Reported per setup: versions per second over the whole setup, and the p50 and
p99 latency of ``log_artifact`` over every call of every client.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import _harness as h

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench" / "server-throughput"
FILES_PER_VERSION = 3
FILE_BYTES = 2048
START_DELAY_S = 3.0


@dataclass(frozen=True)
class Setup:
    clients: int
    servers: int

    @property
    def label(self) -> str:
        return f"{self.clients} client{'s' * (self.clients > 1)}, " + (
            f"{self.servers} server{'s' * (self.servers > 1)}"
        )

    @classmethod
    def parse(cls, text: str) -> Setup:
        clients, _, servers = text.partition("x")
        return cls(int(clients), int(servers))


@dataclass(frozen=True)
class Result:
    setup: str
    clients: int
    servers: int
    versions: int
    seconds: float
    versions_per_second: float
    p50_ms: float
    p99_ms: float


# --------------------------------------------------------------------------
# Child: one client process


def child(args: argparse.Namespace) -> None:
    """Log versions of one artifact until the deadline; emit every latency."""
    import docket

    run = docket.init(project="bench", job_type="throughput")
    log_one(run, args.client, -1)  # warm-up: connections, collection, run
    time.sleep(max(0.0, args.start_at - time.time()))
    deadline = args.start_at + args.seconds
    latencies: list[float] = []
    iteration = 0
    while time.time() < deadline:
        latencies.append(log_one(run, args.client, iteration))
        iteration += 1
    run.finish()
    h.emit({"latencies": latencies, "ended_at": time.time()})


def log_one(run: Any, client: int, iteration: int) -> float:
    import docket

    artifact = docket.Artifact(f"client-{client}", type="dataset")
    for index in range(FILES_PER_VERSION):
        with artifact.new_file(f"part-{index}.bin", mode="wb") as handle:
            handle.write(content(client, iteration, index))
    began = time.perf_counter()
    run.log_artifact(artifact)
    return time.perf_counter() - began


def content(client: int, iteration: int, index: int) -> bytes:
    """Distinct bytes for every file of every version of every client."""
    line = f"client {client} version {iteration} file {index}\n".encode()
    return (line * (FILE_BYTES // len(line) + 1))[:FILE_BYTES]


# --------------------------------------------------------------------------
# Parent: services, setups, report


def measure(setup: Setup, seconds: float, work: Path, postgres: Any) -> Result:
    from tests.tracking_server import Accounts, TrackingServer

    database = postgres.create_database()
    servers = [
        TrackingServer(
            work,
            database_url=database,
            blobs=work / f"blobs-{setup.clients}x{setup.servers}",
            name=f"server-{setup.clients}x{setup.servers}-{i}",
        )
        for i in range(setup.servers)
    ]
    try:
        for server in servers:
            server.start()
        accounts = Accounts(database, prefix="bench")
        users = [accounts.create_user() for _ in range(setup.clients)]
        accounts.close()
        start_at = time.time() + START_DELAY_S + 0.5 * setup.clients
        procs = [
            launch_client(i, servers[i % len(servers)].url, users[i], start_at,
                          seconds, work)
            for i in range(setup.clients)
        ]  # fmt: skip
        outputs = [collect(proc) for proc in procs]
    finally:
        for server in servers:
            server.stop()
    latencies = [value for out in outputs for value in out["latencies"]]
    elapsed = max(out["ended_at"] for out in outputs) - start_at
    return Result(
        setup=setup.label,
        clients=setup.clients,
        servers=setup.servers,
        versions=len(latencies),
        seconds=round(elapsed, 3),
        versions_per_second=round(len(latencies) / elapsed, 1),
        p50_ms=round(percentile(latencies, 50) * 1000, 1),
        p99_ms=round(percentile(latencies, 99) * 1000, 1),
    )


def launch_client(
    client: int,
    url: str,
    user: tuple[str, str],
    start_at: float,
    seconds: float,
    work: Path,
) -> subprocess.Popen[str]:
    home = Path(tempfile.mkdtemp(prefix=f"client-{client}-", dir=work))
    env = {
        **os.environ,
        "DOCKET_BASE_URL": url,
        "DOCKET_API_KEY": user[1],
        "DOCKET_ENTITY": user[0],
        "DOCKET_HOME": str(home),
        "DOCKET_PROGRESS": "0",
    }
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--client", str(client),
        "--start-at", repr(start_at),
        "--seconds", repr(seconds),
    ]  # fmt: skip
    return subprocess.Popen(
        command, env=env, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def collect(proc: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = proc.communicate(timeout=h.CHILD_TIMEOUT_S)
    lines = [
        line.removeprefix(h.RESULT_PREFIX)
        for line in stdout.splitlines()
        if line.startswith(h.RESULT_PREFIX)
    ]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(stderr.splitlines()[-15:])
        raise h.ChildError(f"client exited {proc.returncode}:\n{tail}")
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def percentile(values: list[float], pct: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def report(results: list[Result]) -> str:
    """The table, with each setup's throughput relative to the first one."""
    base = results[0].versions_per_second if results else 0.0
    header = [
        "setup", "versions", "seconds", "versions/s", "vs first", "p50 ms", "p99 ms",
    ]  # fmt: skip
    rows = [
        [
            r.setup,
            str(r.versions),
            f"{r.seconds:.1f}",
            f"{r.versions_per_second:.1f}",
            h.fmt_ratio(r.versions_per_second / base if base else None),
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
        ]
        for r in results
    ]
    return h.render_table(header, rows)


def parent(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.standins import PostgresStandIn

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=BENCH_DIR))
    setups = [Setup.parse(text) for text in args.setups.split(",")]
    results = []
    try:
        with PostgresStandIn(work) as postgres:
            for setup in setups:
                print(f"measuring {setup.label} for {args.seconds:g} s ...", flush=True)
                results.append(measure(setup, args.seconds, work, postgres))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"load average: {os.getloadavg()[0]:.2f}, cpus: {os.cpu_count()}")
    print(report(results))
    if args.json:
        Path(args.json).write_text(
            json.dumps([asdict(r) for r in results], indent=2) + "\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--setups", default="1x1,8x2", help="CLIENTSxSERVERS,...")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep logs and blobs")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
