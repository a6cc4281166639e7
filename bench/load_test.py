"""A bounded load test: many clients polling and starting exports at once.

Starts ``snyk-export serve`` on a demo data directory on 127.0.0.1, then runs
CLIENTS threads for SECONDS: each mostly polls the status of a finished export
and now and then starts a small export. Reports the status endpoint's latency
(p50, p99), the error rate, how many started exports finished, and the
server's peak RSS. Traffic stays on the loopback interface and stops by itself.

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


def client_loop(
    api: str,
    token: str,
    group: str,
    export_id: str,
    until: float,
    load: Load,
    seed: int,
) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"token {token}"}
    with httpx.Client(base_url=api, headers=headers, timeout=30) as client:
        while time.monotonic() < until:
            if rng.random() < 0.05:
                response = client.post(
                    f"/groups/{group}/export",
                    params={"version": VERSION},
                    json=SMALL_EXPORT,
                )
                load.record(f"POST {response.status_code}")
                if response.status_code == 202:
                    with load.lock:
                        load.started.append(response.json()["data"]["id"])
                continue
            started = time.perf_counter()
            response = client.get(
                f"/groups/{group}/jobs/export/{export_id}", params={"version": VERSION}
            )
            load.record(
                f"GET {response.status_code}", (time.perf_counter() - started) * 1000
            )


def all_finished(api: str, token: str, group: str, ids: list[str]) -> Counter[str]:
    headers = {"Authorization": f"token {token}"}
    states: Counter[str] = Counter()
    deadline = time.monotonic() + 120
    with httpx.Client(base_url=api, headers=headers, timeout=30) as client:
        for export_id in ids:
            while True:
                status = client.get(
                    f"/groups/{group}/jobs/export/{export_id}",
                    params={"version": VERSION},
                ).json()["data"]["attributes"]["status"]
                if status in ("FINISHED", "ERRORED") or time.monotonic() > deadline:
                    states[status] += 1
                    break
                time.sleep(0.1)
    return states


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
    api, token, group = info["base_url"], info["tokens"]["group"], info["group_id"]
    try:
        wait_up(api)
        first = httpx.post(
            f"{api}/groups/{group}/export",
            params={"version": VERSION},
            json=SMALL_EXPORT,
            headers={"Authorization": f"token {token}"},
        )
        export_id = first.json()["data"]["id"]
        all_finished(api, token, group, [export_id])

        load = Load()
        process = psutil.Process(server.pid)
        peak = process.memory_info().rss
        until = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=client_loop, args=(api, token, group, export_id, until, load, n)
            )
            for n in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.05)
        states = all_finished(api, token, group, load.started)

        timings = sorted(load.status_ms)
        errors = sum(
            n
            for outcome, n in load.outcomes.items()
            if not outcome.endswith((" 200", " 202"))
        )
        total = sum(load.outcomes.values())
        print(
            f"{args.clients} clients for {args.seconds:.0f}s: {total} requests "
            f"({total / args.seconds:.0f}/s), errors {errors} ({errors / total:.2%})"
        )
        print(
            f"status latency p50 {statistics.median(timings):.1f} ms, "
            f"p99 {timings[int(len(timings) * 0.99)]:.1f} ms"
        )
        print(
            f"exports started under load: {len(load.started)}, "
            f"afterwards {dict(states)}"
        )
        print(f"server peak RSS {peak / 2**20:.0f} MB; outcomes {dict(load.outcomes)}")
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
