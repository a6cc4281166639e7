"""Export throughput and memory of the API path against the raw engines.

One run, one machine, same data:

1. generate N rows per dataset into a fresh data directory;
2. raw engine: DuckDB ``COPY (SELECT ...) TO 'f.csv'`` of the same selection
   the export makes (storage order, no sort), with DuckDB's default settings;
3. API path: ``snyk-export serve`` in a child process, then POST, poll and
   download every part (in parallel) to local files, timed from the POST to
   the last byte, while the server's resident memory is sampled.

Then the same for PostgreSQL (unless ``--skip-postgres``), in a private schema
of ``--postgres-url`` dropped afterwards, with ``--postgres-rows`` rows from
the same generator:

4. raw engine: ``psql -c "\\copy (SQL) TO 'f'"``, where SQL is exactly the
   query the export runs (``postgres_query.compile_export``, parameters
   inlined as SQL literals by psycopg), in COPY text format. That query renders
   each CSV record as one text value, so the file holds the export's records,
   escaped as COPY text escapes them, one per line, without headers;
5. API path: ``snyk-export serve`` in production configuration (the
   Procrastinate queue with an embedded worker, state and analytics in the
   schema, result files in the data directory), timed as in 3.

Prints one line per case with the ratios job or API time / raw time (1.0 or
less means the API is at least as fast as the engine alone), and the server's
peak RSS for exports of different sizes (flat memory means about equal
figures). For PostgreSQL it also checks that the API's parts, headers
dropped, are the raw records unescaped.

    python bench/export_bench.py [--rows 1000000] [--datasets issues,usage]
        [--postgres-rows 200000] [--postgres-url URL] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import httpx
import psutil
import psycopg

from snyk_export.backends.base import Backend, Group, Org
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.backends.postgres_query import compile_export
from snyk_export.catalog import datasets
from snyk_export.config import load_settings, redacted_url
from snyk_export.definition import CreateOptions, parse_create_request
from snyk_export.demo_data import DemoSizes, build_tenant, generate
from snyk_export.jobs import Export, Status
from snyk_export.server import open_backend
from snyk_export.tenancy import create_token

VERSION = "2024-10-15"
CURL = shutil.which("curl")
PSQL = shutil.which("psql")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
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
# The escapes COPY's text format writes for the characters it must escape.
_COPY_ESCAPES = {
    b"\\\\": b"\\",
    b"\\n": b"\n",
    b"\\r": b"\r",
    b"\\t": b"\t",
    b"\\b": b"\b",
    b"\\f": b"\f",
    b"\\v": b"\v",
}
_COPY_ESCAPE = re.compile(rb"\\[\\nrtbfv]")


@dataclass
class Case:
    """One export to measure: dataset, columns and a filter both paths apply."""

    label: str
    dataset: str
    columns: list[str] | None
    filters: dict[str, Any]
    where: str

    def attributes(self) -> dict[str, Any]:
        """The attributes of the create request for this export."""
        attributes: dict[str, Any] = {
            "dataset": self.dataset,
            "formats": ["csv"],
            "filters": self.filters,
        }
        if self.columns:
            attributes["columns"] = self.columns
        return attributes


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


def seed(backend: Backend, rows: int) -> tuple[str, str]:
    """Load the demo tenant and ``rows`` issues and usage rows; a group token."""
    tenant = build_tenant(7)
    backend.create_group(Group(tenant.group_id, tenant.group_name, tenant.group_slug))
    for org in tenant.orgs:
        backend.create_org(Org(org.id, org.name, org.slug, tenant.group_id))
    sizes = DemoSizes(issues=rows, usage=rows, pr_checks=1000, projects=2000)
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    engine = type(backend).__name__.removesuffix("Backend")
    for name in ("issues", "usage"):
        started = time.perf_counter()
        loaded = backend.load_batches(name, generate(name, tenant, sizes, now=now))
        print(
            f"generated {loaded:,} {name} rows into {engine} in "
            f"{time.perf_counter() - started:.1f}s"
        )
    _, token = create_token(backend, "bench", [f"group_viewer:{tenant.group_id}"])
    return tenant.group_id, token


def prepare(data_dir: Path, rows: int) -> tuple[str, str]:
    backend = open_backend(load_settings({"data_dir": data_dir}, environ={}))
    try:
        return seed(backend, rows)
    finally:
        backend.close()


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
    """Peak resident memory of a process, sampled every 20 ms until it exits."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        with contextlib.suppress(psutil.Error):
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

    export_id: str
    total_seconds: float
    job_seconds: float
    rows: int
    size: int


def api_export(
    client: httpx.Client, group_id: str, case: Case, out_dir: Path
) -> Timing:
    started = time.perf_counter()
    created = client.post(
        f"/groups/{group_id}/export",
        params={"version": VERSION},
        json={"data": {"type": "export", "attributes": case.attributes()}},
    )
    created.raise_for_status()
    export_id = created.json()["data"]["id"]
    status_path = f"/groups/{group_id}/jobs/export/{export_id}"
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
    return Timing(export_id, elapsed, job, attributes["row_count"], sum(sizes))


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


@contextlib.contextmanager
def running_server(
    data_dir: Path, token: str, settings: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], httpx.Client]]:
    """``snyk-export serve`` in a child process, limits off, and a client of it."""
    port = free_port()
    env = {
        **os.environ,
        "SNYK_EXPORT_EXPORT_POST_LIMIT": "none",
        "SNYK_EXPORT_REQUEST_LIMIT": "none",
        **{f"SNYK_EXPORT_{name.upper()}": value for name, value in settings.items()},
    }
    command = [sys.executable, "-m", "snyk_export", "--log-level", "WARNING"]
    server = subprocess.Popen(
        [*command, "serve", "--data-dir", str(data_dir), "--port", str(port)], env=env
    )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/rest",
        timeout=60,
        headers={"Authorization": f"token {token}"},
    )
    try:
        wait_up(client, server)
        yield server, client
    finally:
        client.close()
        server.terminate()
        server.wait(20)


def wait_up(client: httpx.Client, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            client.get("/openapi")
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.1)


def run_duckdb(args: argparse.Namespace, work: Path, selected: list[Case]) -> Any:
    """The DuckDB cases: raw COPY, then the API; returns the figures for JSON."""
    data_dir = work / "data"
    group_id, token = prepare(data_dir, args.rows)
    database = data_dir / "snyk-export.duckdb"
    raw_times = {
        c.label: raw_copy(database, c, group_id, work / "raw.csv") for c in selected
    }
    cutoff = recent_cutoff(database)
    order = {"preserve_order": "false" if args.unordered else "true"}

    with running_server(data_dir, token, order) as (server, client):
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
    return {"raw_copy_seconds": raw_times, "small_export_ms": latency * 1000}


@contextlib.contextmanager
def private_schema(server_url: str) -> Iterator[str]:
    """A URL whose connections see only a new schema, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"'.encode())
    separator = "&" if "?" in server_url else "?"
    options = quote(f"-csearch_path={schema}", safe="")
    try:
        yield f"{server_url}{separator}options={options}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE'.encode())


def postgres_export(case: Case, group_id: str) -> Export:
    """The export of ``case`` as the server parses it, started now."""
    document = {"data": {"type": "export", "attributes": case.attributes()}}
    definition = parse_create_request(document, "group", group_id, {}, CreateOptions())
    now = dt.datetime.now(dt.UTC)
    return Export("bench", definition, Status.PENDING, now, "bench").start(now)


def inlined_query(url: str, export: Export) -> str:
    """The export's query with its parameters as SQL literals, for psql only."""
    sql, params = compile_export(export)
    with psycopg.connect(url) as connection:
        return psycopg.ClientCursor(connection).mogrify(sql, params)


def raw_psql(url: str, query: str, out: Path) -> tuple[float, int]:
    """``\\copy (query) TO out`` by psql: seconds and psql's peak RSS.

    The session settings are those of the server's connections, which the
    rendering of numbers and timestamps depends on.
    """
    assert PSQL is not None  # checked before the PostgreSQL cases
    command = [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]
    command += ["-c", "SET extra_float_digits = 1", "-c", "SET TIME ZONE 'UTC'"]
    command += ["-c", f"\\copy ({query}) TO '{out}'"]
    started = time.perf_counter()
    process = subprocess.Popen(command)
    with RssSampler(process.pid) as rss:
        if process.wait() != 0:
            raise RuntimeError(f"psql exited with {process.returncode}")
    return time.perf_counter() - started, rss.peak


def copy_text_records(path: Path) -> tuple[str, int]:
    """SHA-256 of the records in a COPY text file, unescaped, and their count."""
    digest = hashlib.sha256()
    lines = 0
    with path.open("rb") as source:
        for line in source:
            record = line.removesuffix(b"\n")
            digest.update(_COPY_ESCAPE.sub(lambda m: _COPY_ESCAPES[m[0]], record))
            lines += 1
    return digest.hexdigest(), lines


def part_records(directory: Path) -> str:
    """SHA-256 of the downloaded parts in order, each without its header."""
    digest = hashlib.sha256()
    for part in sorted(directory.glob("*.csv"), key=lambda p: int(p.stem)):
        with part.open("rb") as source:
            source.readline()
            while chunk := source.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def run_postgres(args: argparse.Namespace, work: Path, selected: list[Case]) -> Any:
    """The PostgreSQL cases: psql ``\\copy`` then the production server."""
    try:
        psycopg.connect(args.postgres_url, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        print(f"\nPostgreSQL skipped: {redacted_url(args.postgres_url)}: {exc}")
        return None
    if PSQL is None:
        print("\nPostgreSQL skipped: psql is not installed")
        return None

    with private_schema(args.postgres_url) as url:
        backend = PostgresBackend(url)
        try:
            backend.migrate()
            group_id, token = seed(backend, args.postgres_rows)
            return measure_postgres(url, backend, group_id, token, work, selected)
        finally:
            backend.close()


@dataclass
class RawCopy:
    """One psql ``\\copy``: its file, seconds and psql's peak RSS."""

    path: Path
    seconds: float
    peak_rss: int


def measure_postgres(
    url: str,
    backend: PostgresBackend,
    group_id: str,
    token: str,
    work: Path,
    selected: list[Case],
) -> dict[str, float]:
    exports = {case.label: postgres_export(case, group_id) for case in selected}
    raw = {}
    for n, case in enumerate(selected):
        path = work / f"raw-{n}.copy"
        query = inlined_query(url, exports[case.label])
        raw[case.label] = RawCopy(path, *raw_psql(url, query, path))
    production = {
        "database_url": url,
        "job_queue": "procrastinate",
        "embedded_worker": "true",
    }

    with running_server(work / "pg-data", token, production) as (server, client):
        print(
            f"\nPostgreSQL {server_version(url)}, production server (Procrastinate, "
            "embedded worker, local files)"
        )
        print(
            f"{'case':34} {'rows':>10} {'raw MB':>7} {'API MB':>7} {'psql s':>7} "
            f"{'psql RSS':>8} {'job s':>7} {'API s':>7} {'job/raw':>7} "
            f"{'API/raw':>7} {'peak RSS MB':>11} {'same':>5}"
        )
        for case in selected:
            with RssSampler(server.pid) as rss:
                timing = api_export(client, group_id, case, work / "parts")
            copy = raw[case.label]
            same = same_records(backend, timing, exports[case.label], copy, work)
            print(
                f"{case.label:34} {timing.rows:>10,} "
                f"{copy.path.stat().st_size / 1e6:>7.0f} {timing.size / 1e6:>7.0f} "
                f"{copy.seconds:>7.2f} {copy.peak_rss / 2**20:>8.0f} "
                f"{timing.job_seconds:>7.2f} {timing.total_seconds:>7.2f} "
                f"{timing.job_seconds / copy.seconds:>7.2f} "
                f"{timing.total_seconds / copy.seconds:>7.2f} "
                f"{rss.peak / 2**20:>11.0f} {same:>5}"
            )
    print(
        'psql s: psql -c "\\copy (SQL) TO file" with SQL the export\'s own query, '
        "COPY text format, from the start of psql to its exit;\n"
        "same: the API's parts, headers dropped, equal the \\copy records "
        "unescaped (the SQL compiled for the stored job is the SQL psql ran);\n"
        "psql RSS and peak RSS MB: the client side only (psql, the server "
        "process); PostgreSQL's own memory is in neither"
    )
    return {label: copy.seconds for label, copy in raw.items()}


def same_records(
    backend: PostgresBackend, timing: Timing, export: Export, raw: RawCopy, work: Path
) -> str:
    """Whether the API's records are the raw ones: yes, or what differs."""
    stored = backend.get_export(timing.export_id)
    if stored is None or compile_export(stored)[0] != compile_export(export)[0]:
        return "SQL"
    digest, lines = copy_text_records(raw.path)
    if lines != timing.rows:
        return "rows"
    return "yes" if digest == part_records(work / "parts") else "bytes"


def server_version(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]).split()[0] if row else "?"


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
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="PostgreSQL server; the run uses a private schema, dropped afterwards.",
    )
    parser.add_argument(
        "--postgres-rows",
        type=int,
        default=200_000,
        help="Rows per dataset for the PostgreSQL cases (it loads at ~25k rows/s).",
    )
    parser.add_argument(
        "--skip-postgres", action="store_true", help="Run the DuckDB cases only."
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="snyk-export-bench-"))
    selected = cases(args.datasets.split(","))
    try:
        summary = run_duckdb(args, work, selected)
        if not args.skip_postgres:
            summary["postgres_raw_copy_seconds"] = run_postgres(args, work, selected)
        print(json.dumps(summary))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
