"""Production mode as operators run it: separate processes on one PostgreSQL.

Two ``snyk-export serve`` replicas and two ``snyk-export worker`` processes
share a PostgreSQL schema and an S3 bucket (moto's server stands in for the
object store, see s3server). Fifty exports across orgs and the group are
started through both replicas; one worker is killed with SIGKILL while it is
running exports. Every export must finish exactly once with the right rows,
and the limits must count across both replicas.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporting import EVER, VERSION, body, joined, start, wait
from liveserver import seed_data, seed_tokens
from s3fixtures import S3Bucket
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.demo_data import DemoSizes
from snyk_export.executor import ExportExecutor
from snyk_export.jobs import Status
from snyk_export.parts import PartLimits
from snyk_export.signing import SigningKeys
from snyk_export.storage.local import LocalStorage

SIZES = DemoSizes(issues=12000, usage=1500, pr_checks=800, projects=120, integrations=8)
ROWS_PER_FILE = 700


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """One snyk-export process, its log kept in a file."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen.poll() is None, f"{self.name} exited:\n{self.output()}"
            try:
                if httpx.get(self.origin + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} never became healthy:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def deployment(postgres_url: str, s3_bucket: S3Bucket, tmp_path: Path) -> Iterator[Any]:
    """Start processes of one deployment; all are stopped after the test."""
    processes: list[Process] = []
    environment = {
        **os.environ,
        **s3_bucket.server.environment(),
        "SNYK_EXPORT_DATABASE_URL": postgres_url,
        "SNYK_EXPORT_STORAGE_URL": s3_bucket.url("exports"),
        "SNYK_EXPORT_HEARTBEAT_SECONDS": "0.5",
        "SNYK_EXPORT_STALLED_WORKER_SECONDS": "3",
        "SNYK_EXPORT_SWEEP_INTERVAL_SECONDS": "1",
        "SNYK_EXPORT_MAX_ROWS_PER_FILE": str(ROWS_PER_FILE),
        "SNYK_EXPORT_POLL_HINT_SECONDS": "1",
    }

    def launch(command: str, name: str, **settings: str) -> Process:
        port = _free_port()
        log = tmp_path / f"{name}.log"
        flags = ["--port", str(port)] if command == "serve" else []
        env = {
            **environment,
            **{f"SNYK_EXPORT_{k.upper()}": v for k, v in settings.items()},
        }
        if command == "worker":
            env["SNYK_EXPORT_WORKER_PORT"] = str(port)
        popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "snyk_export.cli",
                command,
                "--data-dir",
                str(tmp_path / "data"),
                *flags,
            ],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        process = Process(name, popen, port, log)
        processes.append(process)
        return process

    yield launch
    for process in processes:
        if process.popen.poll() is None:
            process.popen.terminate()
    for process in processes:
        try:
            process.popen.wait(20)
        except subprocess.TimeoutExpired:
            process.popen.kill()


def _seed(url: str) -> tuple[PostgresBackend, Any, dict[str, str]]:
    backend = PostgresBackend(url, max_connections=4)
    backend.migrate()
    tenant = seed_data(backend, SIZES)
    tokens, _org, _group = seed_tokens(backend, tenant)
    return backend, tenant, tokens


def _reference(
    backend: PostgresBackend, export_id: str, root: Path
) -> tuple[bytes, int]:
    """The same export run again by one executor in this process, into files."""
    export = backend.get_export(export_id)
    assert export is not None
    copy_id = export_id + "-reference"
    backend.insert_export(
        type(export)(
            copy_id,
            export.definition,
            Status.PENDING,
            dt.datetime.now(dt.UTC),  # too new for the workers' requeueing
            export.credential_id,
        )
    )
    storage = LocalStorage(root, SigningKeys(b"r" * 32), "http://unused")
    ExportExecutor(
        backend,
        storage,
        limits=PartLimits(ROWS_PER_FILE, 1 << 30),
        empty_export_file=False,
        max_attempts=1,
    ).run(copy_id)
    done = backend.get_export(copy_id)
    assert done is not None
    assert done.status is Status.FINISHED
    parts = [(root / copy_id / "1" / p.name).read_bytes() for p in done.parts]
    backend.delete_export(copy_id)
    return joined(parts), done.row_count


def test_replicas_and_workers_finish_every_export_once_despite_a_killed_worker(
    deployment: Any, postgres_url: str, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    backend, tenant, tokens = _seed(postgres_url)
    apis = [
        deployment("serve", f"api{n}", export_post_limit="none", request_limit="none")
        for n in (1, 2)
    ]
    workers = [deployment("worker", f"worker{n}", workers="2") for n in (1, 2)]
    for process in apis + workers:
        process.wait_healthy()
    clients = [
        httpx.Client(
            base_url=api.origin + "/rest",
            headers={"Authorization": f"token {tokens['group']}"},
            timeout=30,
        )
        for api in apis
    ]

    scopes = [("orgs", org.id) for org in tenant.orgs] + [("groups", tenant.group_id)]
    started: list[tuple[str, str, str]] = []
    for n in range(50):
        scope, scope_id = scopes[n % len(scopes)]
        payload = body("issues", filters={"updated": EVER})
        export_id = start(clients[n % 2], f"/{scope}/{scope_id}/export", payload)
        started.append((scope, scope_id, export_id))

    # Kill a worker while both are running exports.
    deadline = time.monotonic() + 30
    while (
        backend._fetchall(
            "SELECT count(DISTINCT worker_id) FROM procrastinate_jobs "
            "WHERE status = 'doing'"
        )[0][0]
        < 2
    ):
        assert time.monotonic() < deadline, "the workers never both ran a job"
        time.sleep(0.02)
    workers[0].popen.send_signal(signal.SIGKILL)
    workers[0].popen.wait(10)

    finished = []
    for n, (scope, scope_id, export_id) in enumerate(started):
        status = wait(
            clients[n % 2], f"/{scope}/{scope_id}/jobs/export/{export_id}", 120
        )
        assert status["data"]["attributes"]["status"] == "FINISHED", status
        finished.append(status)

    exports = {e.id: e for e in backend.list_exports()}
    assert max(exports[e].attempts for _s, _i, e in started) >= 2, (
        "the killed worker's exports ran again elsewhere"
    )
    references: dict[str, tuple[bytes, int]] = {}
    for (_scope, scope_id, export_id), status in zip(started, finished, strict=True):
        parts = []
        for item in status["data"]["attributes"]["results"]:
            download = httpx.get(item["url"], timeout=30)
            assert download.status_code == 200
            assert len(download.content) == item["file_size"]
            parts.append(download.content)
        if scope_id not in references:
            references[scope_id] = _reference(backend, export_id, tmp_path / "ref")
        content, row_count = references[scope_id]
        assert joined(parts) == content, export_id
        assert status["data"]["attributes"]["row_count"] == row_count > 0

    # Exactly once: one attempt's objects per export, all of them listed.
    time.sleep(2)  # a sweep removes what the killed worker left behind
    client = s3_bucket.server.client()
    keys = {
        obj["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=s3_bucket.name, Prefix="exports/"
        )
        for obj in page.get("Contents", [])
    }
    expected_keys = {
        f"exports/{e.id}/{e.attempts}/{p.name}"
        for e in (exports[i] for _s, _j, i in started)
        for p in e.parts
    }
    assert keys == expected_keys
    assert not backend._fetchall(
        "SELECT id FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    )
    # The surviving worker reports what it did, and that it is ready.
    assert httpx.get(workers[1].origin + "/readyz").status_code == 200
    scraped = httpx.get(workers[1].origin + "/metrics").text
    finished_here = re.search(
        r'^snyk_export_exports_total\{dataset="issues",status="FINISHED"\} (\S+)$',
        scraped,
        re.M,
    )
    assert finished_here is not None
    assert float(finished_here.group(1)) >= 1
    assert re.search(r'^snyk_export_exports\{status="FINISHED"\} 50\.0$', scraped, re.M)

    # SIGTERM stops every process cleanly; uvicorn re-raises it once shut down.
    for process in apis + workers[1:]:
        process.popen.terminate()
    for process in apis:
        assert process.popen.wait(30) in (0, -signal.SIGTERM), process.output()
    assert workers[1].popen.wait(30) == 0, workers[1].output()
    for c in clients:
        c.close()
    backend.close()


def test_limits_count_across_replicas(deployment: Any, postgres_url: str) -> None:
    backend, tenant, tokens = _seed(postgres_url)
    apis = [
        deployment(
            "serve",
            f"api{n}",
            request_limit="6",
            request_window_seconds="600",
            export_post_limit="2",
        )
        for n in (1, 2)
    ]
    for api in apis:
        api.wait_healthy()

    def get(n: int, token: str) -> httpx.Response:
        return httpx.get(
            apis[n % 2].origin + "/rest/self",
            params={"version": VERSION},
            headers={"Authorization": f"token {tokens[token]}"},
        )

    assert [get(n, "org").status_code for n in range(6)] == [200] * 6
    refused = [get(n, "org") for n in range(2)]
    assert [r.status_code for r in refused] == [429, 429]
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert get(0, "group").status_code == 200, "other tokens are not affected"

    def post(n: int) -> httpx.Response:
        return httpx.post(
            apis[n % 2].origin + f"/rest/groups/{tenant.group_id}/export",
            params={"version": VERSION},
            json=body("issues", filters={"updated": EVER}),
            headers={"Authorization": f"token {tokens['group_admin']}"},
        )

    assert [post(n).status_code for n in range(3)] == [202, 202, 429]
    backend.close()
