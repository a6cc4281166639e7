"""A bounded load test: many clients polling and starting exports at once.

Starts ``snyk-export serve`` on a demo data directory on 127.0.0.1, then runs
CLIENTS threads for SECONDS: each mostly polls the status of a finished export
and now and then starts a small export. Reports the status endpoint's latency
(p50, p99), the error rate, how many started exports finished, and the
server's peak RSS. Traffic stays on the loopback interface and stops by itself.

The load itself is :func:`run_load`, which ``tests/acceptance/test_load.py``
runs against a server of its own.

    python bench/load_test.py [--clients 20] [--seconds 20] [--issues 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

VERSION = "2024-10-15"
SMALL_EXPORT = {
    "data": {
        "type": "export",
        "attributes": {
            "dataset": "issues",
            "formats": ["csv"],
            "columns": ["PROBLEM_ID", "ISSUE_SEVERITY"],
            "filters": {"updated": {"from": "2026-10-01T00:00:00Z"}},
        },
    }
}
SUCCESSES = ("GET 200", "POST 202")
TRANSPORT_ERROR = "transport error"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(api: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{api}/openapi", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


class Load:
    """The clients' shared tallies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status_ms: list[float] = []
        self.outcomes: Counter[str] = Counter()
        self.started: list[str] = []

    def record(self, outcome: str, elapsed_ms: float | None = None) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if elapsed_ms is not None:
                self.status_ms.append(elapsed_ms)


@dataclass
class Target:
    """Where the clients send their requests, and as whom."""

    api: str
    token: str
    group: str

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"token {self.token}"}
        return httpx.Client(base_url=self.api, headers=headers, timeout=30)


def client_loop(
    target: Target, export_id: str, until: float, load: Load, seed: int
) -> None:
    """Poll ``export_id`` and now and then start an export, until ``until``."""
    rng = random.Random(seed)
    with target.client() as client:
        while time.monotonic() < until:
            try:
                if rng.random() < 0.05:
                    start_export(client, target.group, load)
                else:
                    poll_status(client, target.group, export_id, load)
            except httpx.TransportError:
                load.record(TRANSPORT_ERROR)


def start_export(client: httpx.Client, group: str, load: Load) -> None:
    response = client.post(
        f"/groups/{group}/export", params={"version": VERSION}, json=SMALL_EXPORT
    )
    load.record(f"POST {response.status_code}")
    if response.status_code == 202:
        with load.lock:
            load.started.append(response.json()["data"]["id"])


def poll_status(client: httpx.Client, group: str, export_id: str, load: Load) -> None:
    started = time.perf_counter()
    response = client.get(
        f"/groups/{group}/jobs/export/{export_id}", params={"version": VERSION}
    )
    load.record(f"GET {response.status_code}", (time.perf_counter() - started) * 1000)


def all_finished(
    target: Target, ids: list[str], timeout_seconds: float = 120
) -> Counter[str]:
    """The status each export reaches: a terminal one, or its last before timeout."""
    states: Counter[str] = Counter()
    deadline = time.monotonic() + timeout_seconds
    with target.client() as client:
        for export_id in ids:
            while True:
                status = client.get(
                    f"/groups/{target.group}/jobs/export/{export_id}",
                    params={"version": VERSION},
                ).json()["data"]["attributes"]["status"]
                if status in ("FINISHED", "ERRORED") or time.monotonic() > deadline:
                    states[status] += 1
                    break
                time.sleep(0.1)
    return states


@dataclass
class LoadResult:
    """What a load run saw: every outcome, the status latencies, the exports."""

    clients: int
    seconds: float
    outcomes: Counter[str]
    status_ms: list[float]
    started: list[str]
    states: Counter[str]
    server_peak_rss: int
    failures: Counter[str] = field(init=False)

    def __post_init__(self) -> None:
        self.status_ms = sorted(self.status_ms)
        self.failures = Counter(
            {k: n for k, n in self.outcomes.items() if k not in SUCCESSES}
        )

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def server_errors(self) -> int:
        """Responses with a 5xx status."""
        return sum(n for k, n in self.outcomes.items() if k.split()[-1][0] == "5")

    @property
    def transport_errors(self) -> int:
        return self.outcomes[TRANSPORT_ERROR]

    def status_percentile_ms(self, fraction: float) -> float:
        """A percentile of the status latency (the median at 0.5)."""
        if not self.status_ms:
            return float("nan")
        if fraction == 0.5:
            return statistics.median(self.status_ms)
        index = min(int(len(self.status_ms) * fraction), len(self.status_ms) - 1)
        return self.status_ms[index]

    def report(self) -> str:
        errors = sum(self.failures.values())
        return "\n".join(
            [
                f"{self.clients} clients for {self.seconds:.1f}s: {self.requests} "
                f"requests ({self.requests_per_second:.0f}/s), errors {errors} "
                f"({errors / max(self.requests, 1):.2%})",
                f"status latency p50 {self.status_percentile_ms(0.5):.1f} ms, "
                f"p99 {self.status_percentile_ms(0.99):.1f} ms",
                f"exports started under load: {len(self.started)}, "
                f"afterwards {dict(self.states)}",
                f"server peak RSS {self.server_peak_rss / 2**20:.0f} MB; "
                f"outcomes {dict(self.outcomes)}",
            ]
        )


def run_load(
    target: Target, *, clients: int, seconds: float, server_pid: int
) -> LoadResult:
    """Run the load against a running server and wait for its exports to finish.

    ``server_pid`` is the process whose resident memory is sampled meanwhile
    (the caller's own when the server runs in it).
    """
    with target.client() as client:
        first = client.post(
            f"/groups/{target.group}/export",
            params={"version": VERSION},
            json=SMALL_EXPORT,
        )
    first.raise_for_status()
    export_id = first.json()["data"]["id"]
    all_finished(target, [export_id])

    load = Load()
    process = psutil.Process(server_pid)
    peak = process.memory_info().rss
    started = time.monotonic()
    until = started + seconds
    threads = [
        threading.Thread(target=client_loop, args=(target, export_id, until, load, n))
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, process.memory_info().rss)
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    states = all_finished(target, load.started)

    return LoadResult(
        clients, elapsed, load.outcomes, load.status_ms, load.started, states, peak
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--issues", type=int, default=200_000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="snyk-export-load-"))
    port = free_port()
    env = {
        **os.environ,
        "SNYK_EXPORT_EXPORT_POST_LIMIT": "none",
        "SNYK_EXPORT_REQUEST_LIMIT": "none",
    }
    command = [sys.executable, "-m", "snyk_export", "--log-level", "WARNING"]
    demo = subprocess.run(
        [
            *command,
            "demo",
            "--data-dir",
            str(work),
            "--port",
            str(port),
            "--json",
            "--no-serve",
            "--issues",
            str(args.issues),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(demo.stdout)
    server = subprocess.Popen(
        [*command, "serve", "--data-dir", str(work), "--port", str(port)], env=env
    )
    target = Target(info["base_url"], info["tokens"]["group"], info["group_id"])
    try:
        wait_up(target.api)
        result = run_load(
            target, clients=args.clients, seconds=args.seconds, server_pid=server.pid
        )
        print(result.report())
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
