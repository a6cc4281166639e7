"""Export throughput and memory of the API path against raw DuckDB COPY.

One run, one machine, same data:

1. generate N rows per dataset into a fresh data directory;
2. raw engine: DuckDB ``COPY (SELECT ...) TO 'f.csv'`` of the same selection
   the export makes (storage order, no sort), with DuckDB's default settings;
3. API path: ``snyk-export serve`` in a child process, then POST, poll and
   download every part (in parallel) to local files, timed from the POST to
   the last byte, while the server's resident memory is sampled.

Prints one line per case with the ratio API time / raw COPY time (1.0 or less
means the API is at least as fast as the engine alone), and the server's peak
RSS for exports of different sizes (flat memory means about equal figures).

    python bench/export_bench.py [--rows 1000000] [--datasets issues,usage]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psutil

from snyk_export.catalog import datasets
from snyk_export.config import load_settings
from snyk_export.demo_data import DemoSizes, build_tenant, generate
from snyk_export.server import open_backend
from snyk_export.tenancy import create_token

VERSION = "2024-10-15"
CURL = shutil.which("curl")
EVER = {"from": "2000-01-01T00:00:00Z"}
FIFTEEN = [
    "ISSUE_SEVERITY",
    "SCORE",
    "PROBLEM_TITLE",
    "CVE",
    "CWE",
    "PROJECT_NAME",
    "PROJECT_URL",
    "EXPLOIT_MATURITY",
    "FIRST_INTRODUCED",
    "PRODUCT_NAME",
    "ISSUE_URL",
    "ISSUE_STATUS",
    "ISSUE_TYPE",
    "PROBLEM_ID",
    "UPDATED_AT",
]


@dataclass
class Case:
    """One export to measure: dataset, columns and a filter both paths apply."""

    label: str
    dataset: str
    columns: list[str] | None
    filters: dict[str, Any]
    where: str


def cases(selected: list[str]) -> list[Case]:
    visible_issues = (
        "ISSUE_DELETED_AT IS NULL AND PROJECT_DELETED_AT IS NULL AND "
        "GROUP_DELETED_AT IS NULL AND PROJECT_IS_MONITORED IS NOT FALSE"
    )
    result = []
    if "issues" in selected:
        result += [
            Case(
                "issues, all 87 columns",
                "issues",
                None,
                {"updated": EVER},
                f"UPDATED_AT >= '2000-01-01' AND {visible_issues}",
            ),
            Case(
                "issues, 15 columns, Open only",
                "issues",
                FIFTEEN,
                {"updated": EVER, "issue_status": ["Open"]},
                f"UPDATED_AT >= '2000-01-01' AND ISSUE_STATUS = 'Open' AND "
                f"{visible_issues}",
            ),
        ]
    if "usage" in selected:
        result.append(
            Case(
                "usage, all 31 columns",
                "usage",
                None,
                {"updated": EVER},
                "UPDATED_AT >= '2000-01-01' AND ORG_DELETED_AT IS NULL "
                "AND GROUP_DELETED_AT IS NULL",
            )
        )
    return result


def prepare(data_dir: Path, rows: int) -> tuple[str, str]:
    settings = load_settings({"data_dir": data_dir}, environ={})
    backend = open_backend(settings)
    tenant = build_tenant(7)
    from snyk_export.backends.base import Group, Org

    backend.create_group(Group(tenant.group_id, tenant.group_name, tenant.group_slug))
    for org in tenant.orgs:
        backend.create_org(Org(org.id, org.name, org.slug, tenant.group_id))
    sizes = DemoSizes(issues=rows, usage=rows, pr_checks=1000, projects=2000)
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    for name in ("issues", "usage"):
        started = time.perf_counter()
        loaded = backend.load_batches(name, generate(name, tenant, sizes, now=now))
        print(
            f"generated {loaded:,} {name} rows in {time.perf_counter() - started:.1f}s"
        )
    _, token = create_token(backend, "bench", [f"group_viewer:{tenant.group_id}"])
    backend.close()
    return tenant.group_id, token


def raw_copy(database: Path, case: Case, group_id: str, out: Path) -> float:
    dataset = datasets()[case.dataset]
    columns = case.columns or [c.name for c in dataset.columns]
    select = ", ".join(f'"{c}"' for c in columns)
    con = duckdb.connect(str(database), read_only=True)
    started = time.perf_counter()
    con.execute(
        f"COPY (SELECT {select} FROM {dataset.name} WHERE GROUP_PUBLIC_ID = ? AND "
        f"{case.where}) TO '{out}' (HEADER)",
        [group_id],
    )
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


class RssSampler:
    """Peak resident memory of a process, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop.clear()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def download(url: str, target: Path) -> int:
    """Fetch one part with curl when installed (as most users would), else httpx."""
    if CURL:
        subprocess.run([CURL, "-sSf", "-o", str(target), url], check=True)
    else:
        with (
            httpx.stream("GET", url, timeout=120) as response,
            open(target, "wb") as out,
        ):
            response.raise_for_status()
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)
    return target.stat().st_size


@dataclass
class Timing:
    """One API export: POST to last byte, POST to FINISHED, rows and bytes."""

    total_seconds: float
    job_seconds: float
    rows: int
    size: int


def api_export(
    client: httpx.Client, group_id: str, case: Case, out_dir: Path
) -> Timing:
    payload: dict[str, Any] = {
        "dataset": case.dataset,
        "formats": ["csv"],
        "filters": case.filters,
    }
    if case.columns:
        payload["columns"] = case.columns
    started = time.perf_counter()
    created = client.post(
        f"/groups/{group_id}/export",
        params={"version": VERSION},
        json={"data": {"type": "export", "attributes": payload}},
    )
    created.raise_for_status()
    status_path = f"/groups/{group_id}/jobs/export/{created.json()['data']['id']}"
    while True:
        attributes = client.get(status_path, params={"version": VERSION}).json()[
            "data"
        ]["attributes"]
        if attributes["status"] in ("FINISHED", "ERRORED"):
            break
        time.sleep(0.02)
    if attributes["status"] != "FINISHED":
        raise RuntimeError(f"export errored: {attributes}")
    finished_at = time.perf_counter()
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        sizes = list(
            pool.map(
                lambda item: download(item[1]["url"], out_dir / f"{item[0]}.csv"),
                enumerate(attributes["results"]),
            )
        )
    elapsed = time.perf_counter() - started
    job = finished_at - started
    return Timing(elapsed, job, attributes["row_count"], sum(sizes))


def small_export_latency(
    client: httpx.Client, group_id: str, cutoff: str, runs: int
) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        created = client.post(
            f"/groups/{group_id}/export",
            params={"version": VERSION},
            json={
                "data": {
                    "type": "export",
                    "attributes": {
                        "dataset": "issues",
                        "formats": ["csv"],
                        "columns": FIFTEEN,
                        "filters": {"updated": {"from": cutoff}},
                    },
                }
            },
        )
        status_path = f"/groups/{group_id}/jobs/export/{created.json()['data']['id']}"
        while client.get(status_path, params={"version": VERSION}).json()["data"][
            "attributes"
        ]["status"] not in ("FINISHED", "ERRORED"):
            time.sleep(0.01)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def recent_cutoff(database: Path) -> str:
    """An ``updated`` lower bound that selects about 1,000 visible issues."""
    con = duckdb.connect(str(database), read_only=True)
    moment = con.execute(
        "SELECT UPDATED_AT FROM issues ORDER BY UPDATED_AT DESC LIMIT 1 OFFSET 1100"
    ).fetchone()[0]
    con.close()
    return str(moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--datasets", default="issues,usage")
    parser.add_argument("--small-runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="Keep the data directory.")
    parser.add_argument(
        "--unordered",
        action="store_true",
        help="Serve with preserve_order off (faster, run-to-run row order may vary).",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="snyk-export-bench-"))
    data_dir = work / "data"
    group_id, token = prepare(data_dir, args.rows)
    database = data_dir / "snyk-export.duckdb"
    selected = cases(args.datasets.split(","))

    raw_times = {
        c.label: raw_copy(database, c, group_id, work / "raw.csv") for c in selected
    }
    cutoff = recent_cutoff(database)

    port = free_port()
    env = {
        **os.environ,
        "SNYK_EXPORT_EXPORT_POST_LIMIT": "none",
        "SNYK_EXPORT_REQUEST_LIMIT": "none",
        "SNYK_EXPORT_PRESERVE_ORDER": "false" if args.unordered else "true",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "snyk_export",
            "--log-level",
            "WARNING",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        env=env,
    )
    api = f"http://127.0.0.1:{port}/rest"
    try:
        client = httpx.Client(
            base_url=api, timeout=60, headers={"Authorization": f"token {token}"}
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                client.get("/openapi")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

        print(
            f"\n{'case':34} {'rows':>10} {'MB':>8} {'raw COPY s':>10} {'job s':>8} "
            f"{'API s':>8} {'API/raw':>8} {'peak RSS MB':>12}"
        )
        for case in selected:
            with RssSampler(server.pid) as rss:
                timing = api_export(client, group_id, case, work / "parts")
            raw = raw_times[case.label]
            print(
                f"{case.label:34} {timing.rows:>10,} {timing.size / 1e6:>8.0f} "
                f"{raw:>10.2f} {timing.job_seconds:>8.2f} {timing.total_seconds:>8.2f} "
                f"{timing.total_seconds / raw:>8.2f} {rss.peak / 2**20:>12.0f}"
            )

        print(f"downloads by {'curl' if CURL else 'httpx'}, 4 at a time")
        latency = small_export_latency(client, group_id, cutoff, args.small_runs)
        print(
            f"\n1,000-row export, POST to FINISHED, median of {args.small_runs}: "
            f"{latency * 1000:.0f} ms"
        )
        idle = psutil.Process(server.pid).memory_info().rss
        print(f"server RSS after the runs: {idle / 2**20:.0f} MB")
        print(
            json.dumps(
                {"raw_copy_seconds": raw_times, "small_export_ms": latency * 1000}
            )
        )
    finally:
        server.terminate()
        server.wait(20)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
