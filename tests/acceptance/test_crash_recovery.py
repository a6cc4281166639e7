"""A server killed with SIGKILL mid-export finishes the job after a restart (§7.3)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from exporting import EVER, VERSION, body, joined, wait


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "SNYK_EXPORT_MAX_ROWS_PER_FILE": "5000",
        "SNYK_EXPORT_PORT": str(port),
        "SNYK_EXPORT_EXPORT_POST_LIMIT": "none",
    }


def _wait_until_up(api: str, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited early"
        try:
            httpx.get(f"{api}/openapi", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


def test_a_job_interrupted_by_sigkill_is_run_again_and_published_once(
    tmp_path: Path,
) -> None:
    port = _free_port()
    data_dir = tmp_path / "data"
    command = [sys.executable, "-m", "snyk_export", "--log-level", "WARNING"]
    demo = subprocess.Popen(
        [
            *command,
            "demo",
            "--data-dir",
            str(data_dir),
            "--json",
            "--issues",
            "150000",
            "--usage",
            "10",
            "--pr-checks",
            "10",
        ],
        env=_environment(port),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert demo.stdout is not None
        info = json.loads(demo.stdout.readline())
        api = info["base_url"]
        _wait_until_up(api, demo)
        client = httpx.Client(
            base_url=api,
            timeout=30,
            headers={"Authorization": f"token {info['tokens']['group']}"},
        )
        group = info["group_id"]
        created = client.post(
            f"/groups/{group}/export",
            params={"version": VERSION},
            json=body("issues", None, {"updated": EVER}),
        )
        export_id = created.json()["data"]["id"]
        status_path = f"/groups/{group}/jobs/export/{export_id}"
        deadline = time.monotonic() + 30
        while (
            client.get(status_path, params={"version": VERSION}).json()["data"][
                "attributes"
            ]["status"]
            == "PENDING"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.3)
        before_kill = client.get(status_path, params={"version": VERSION}).json()
        demo.send_signal(signal.SIGKILL)
        demo.wait(10)
    finally:
        if demo.poll() is None:
            demo.kill()

    assert before_kill["data"]["attributes"]["status"] == "STARTED"
    server = subprocess.Popen(
        [*command, "serve", "--data-dir", str(data_dir)], env=_environment(port)
    )
    try:
        _wait_until_up(api, server)
        document = wait(client, status_path, timeout_seconds=120)
        attributes = document["data"]["attributes"]
        assert attributes["status"] == "FINISHED", document
        parts = [httpx.get(item["url"]).content for item in attributes["results"]]
        names = [
            item["url"].split("?")[0].rsplit("/", 1)[1]
            for item in attributes["results"]
        ]
        assert names == [f"data_{n}_0_0.csv" for n in range(len(names))]
        records = list(csv.reader(io.StringIO(joined(parts).decode(), newline="")))
        assert len(records) - 1 == attributes["row_count"] > 100_000
        runs = data_dir / "exports" / export_id
        # The killed run was the first; only the second run's directory is kept.
        assert [p.name for p in runs.iterdir()] == ["2"]
        stored = sorted(p.name for p in next(runs.iterdir()).iterdir())
        assert stored == sorted(names), "no partial file is left, nothing else kept"

        again = client.post(
            f"/groups/{group}/export",
            params={"version": VERSION},
            json=body("issues", None, {"updated": EVER}),
        )
        fresh = wait(
            client,
            f"/groups/{group}/jobs/export/{again.json()['data']['id']}",
            timeout_seconds=120,
        )
        assert fresh["data"]["attributes"]["row_count"] == attributes["row_count"]
        fresh_parts = [
            httpx.get(i["url"]).content for i in fresh["data"]["attributes"]["results"]
        ]
        assert joined(fresh_parts) == joined(parts)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)
