"""The export client and ``snyk-export fetch``, against real servers on random ports."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from exporting import EVER, body, export, joined
from liveserver import LiveServer, start_live_server
from snyk_export.catalog import datasets
from snyk_export.cli import main
from snyk_export.client import (
    AccessDenied,
    Client,
    ExitCode,
    ExportErrored,
    ExportRequest,
    OutputOptions,
    RetryPolicy,
)

FAST = RetryPolicy(
    poll_initial_seconds=0.05,
    poll_max_seconds=0.2,
    retry_initial_seconds=0.05,
    retry_max_seconds=0.2,
)
SINCE_EVER = {"updated": EVER}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that hints no poll delay and splits exports into small parts."""
    live = start_live_server(
        tmp_path_factory.mktemp("client"),
        export_post_limit="none",
        request_limit="none",
        poll_hint_seconds=0,
        max_rows_per_file=700,
    )
    yield live
    live.stop()


def client_for(live: LiveServer, token: str = "group", **options: Any) -> Client:
    options.setdefault("retry", FAST)
    options.setdefault("timeout_seconds", 30)
    return Client(live.tokens.get(token, token), api_url=live.api, **options)


def oracle(live: LiveServer, scope: str, request: ExportRequest) -> list[bytes]:
    """The parts of the same export, fetched by the plain HTTP test driver."""
    payload = body(
        request.dataset, list(request.columns) or None, dict(request.filters)
    )
    path_scope = "orgs" if scope == "org" else "groups"
    token = "org" if scope == "org" else "group"
    return export(live.client(token), path_scope, request.scope_id, payload).parts


def group_request(live: LiveServer, dataset: str, **fields: Any) -> ExportRequest:
    fields.setdefault("filters", SINCE_EVER)
    return ExportRequest("group", live.tenant.group_id, dataset, **fields)


def records(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"), newline="")))


@pytest.mark.parametrize("dataset", list(datasets()))
def test_every_dataset_is_fetched_into_one_merged_csv(
    server: LiveServer, tmp_path: Path, dataset: str
) -> None:
    request = group_request(server, dataset)
    with client_for(server) as client:
        result = client.export(request, OutputOptions(tmp_path / "out.csv"))

    expected = oracle(server, "group", request)
    assert (tmp_path / "out.csv").read_bytes() == joined(expected)
    assert result.files == (tmp_path / "out.csv",)
    assert len(result.parts) == len(expected)
    assert result.row_count == sum(part.row_count for part in result.parts) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_org_scope_exports_only_the_orgs_rows(
    server: LiveServer, tmp_path: Path
) -> None:
    org = server.tenant.orgs[0].id
    request = ExportRequest(
        "org", org, "issues", ("ORG_PUBLIC_ID", "PROBLEM_ID"), SINCE_EVER
    )
    with client_for(server, "org") as client:
        result = client.export(request, OutputOptions(tmp_path / "org.csv"))

    rows = records(tmp_path / "org.csv")
    assert len(rows) == result.row_count > 0
    assert {row["ORG_PUBLIC_ID"] for row in rows} == {org}
    assert (tmp_path / "org.csv").read_bytes() == joined(oracle(server, "org", request))


def test_filters_from_the_command_line_narrow_the_export(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = server.tenant.orgs[1].id
    out = tmp_path / "filtered.csv"
    code = fetch_cli(
        server,
        "--group", server.tenant.group_id, "--dataset", "issues",
        "--columns", "ORG_PUBLIC_ID,PRODUCT_NAME", "--columns", "ISSUE_STATUS",
        "--introduced-from", "2000-01-01", "--orgs", org,
        "--product-name", "Snyk Open Source", "--product-name", "Snyk Code",
        "--issue-status", "Open", "--out", str(out),
    )  # fmt: skip

    assert code == ExitCode.OK, capsys.readouterr().err
    rows = records(out)
    assert rows
    assert list(rows[0]) == ["ORG_PUBLIC_ID", "PRODUCT_NAME", "ISSUE_STATUS"]
    assert {row["ORG_PUBLIC_ID"] for row in rows} == {org}
    assert {row["PRODUCT_NAME"] for row in rows} == {"Snyk Open Source", "Snyk Code"}
    assert {row["ISSUE_STATUS"] for row in rows} == {"Open"}
    (count,) = server.query(
        "SELECT count(*) FROM issues WHERE ORG_PUBLIC_ID = ? AND ISSUE_STATUS = 'Open'"
        " AND PRODUCT_NAME IN ('Snyk Open Source', 'Snyk Code')"
        " AND ISSUE_DELETED_AT IS NULL AND PROJECT_DELETED_AT IS NULL"
        " AND GROUP_DELETED_AT IS NULL AND PROJECT_IS_MONITORED IS NOT false",
        [org],
    )[0]
    assert len(rows) == count


def test_split_output_keeps_every_part_as_served(
    server: LiveServer, tmp_path: Path
) -> None:
    request = group_request(server, "issues", columns=("PROBLEM_ID", "CVE"))
    with client_for(server) as client:
        result = client.export(request, OutputOptions(tmp_path / "parts", split=True))

    expected = oracle(server, "group", request)
    assert len(expected) > 1
    assert [path.read_bytes() for path in result.files] == expected
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == [
        f"part-{n:05d}.csv" for n in range(len(expected))
    ]


TYPED_COLUMNS = (
    "PROBLEM_ID",
    "CVE",
    "SCORE",
    "FIRST_INTRODUCED",
    "FIXED_IN_AVAILABLE",
    "VULNERABILITY_PUBLICATION_DATE",
)


def test_parquet_output_carries_the_catalog_types(
    server: LiveServer, tmp_path: Path
) -> None:
    request = group_request(server, "issues", columns=TYPED_COLUMNS)
    with client_for(server) as client:
        result = client.export(
            request, OutputOptions(tmp_path / "i.parquet", "parquet")
        )

    table = pq.read_table(tmp_path / "i.parquet")
    types = {field.name: str(field.type) for field in table.schema}
    assert types == {
        "PROBLEM_ID": "string",
        "CVE": "list<element: string>",
        "SCORE": "double",
        "FIRST_INTRODUCED": "timestamp[ms, tz=UTC]",
        "FIXED_IN_AVAILABLE": "bool",
        "VULNERABILITY_PUBLICATION_DATE": "date32[day]",
    }
    assert table.num_rows == result.row_count
    rows = table.to_pylist()
    csv_rows = records_of(oracle(server, "group", request))
    assert [row["PROBLEM_ID"] for row in rows] == [r["PROBLEM_ID"] for r in csv_rows]
    assert [row["CVE"] for row in rows] == [json.loads(r["CVE"]) for r in csv_rows]


def test_split_jsonl_output_has_one_object_per_row(
    server: LiveServer, tmp_path: Path
) -> None:
    request = group_request(server, "issues", columns=TYPED_COLUMNS)
    options = OutputOptions(tmp_path / "jsonl", "jsonl", split=True)
    with client_for(server) as client:
        result = client.export(request, options)

    assert len(result.files) == len(result.parts) > 1
    for path, part in zip(result.files, result.parts, strict=True):
        lines = path.read_text("utf-8").splitlines()
        assert len(lines) == part.row_count
    first = json.loads(result.files[0].read_text("utf-8").splitlines()[0])
    assert isinstance(first["CVE"], list)
    assert first["FIRST_INTRODUCED"].endswith("Z")
    assert isinstance(first["FIXED_IN_AVAILABLE"], bool | None)


def records_of(parts: list[bytes]) -> list[dict[str, str]]:
    text = joined(parts).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


class SlowFirstDownloads(httpx.BaseTransport):
    """Holds the first download of each part until its link has expired."""

    def __init__(self, delay_seconds: float) -> None:
        self.inner = httpx.HTTPTransport()
        self.delay_seconds = delay_seconds
        self.held: set[str] = set()
        self.statuses: list[int] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        download = request.url.path.startswith("/dl/")
        with self._lock:
            first = download and request.url.path not in self.held
            self.held.add(request.url.path)
        if first:
            time.sleep(self.delay_seconds)
        response = self.inner.handle_request(request)
        if download:
            self.statuses.append(response.status_code)
        return response

    def close(self) -> None:
        self.inner.close()


def test_links_that_expire_mid_download_are_renewed(
    server: LiveServer, tmp_path: Path
) -> None:
    transport = SlowFirstDownloads(delay_seconds=2.1)
    request = group_request(
        server, "usage", url_expiration_seconds=1, columns=("ORG_PUBLIC_ID",)
    )
    with client_for(server, transport=transport) as client:
        result = client.export(request, OutputOptions(tmp_path / "usage.csv"))

    assert 403 in transport.statuses
    assert transport.statuses[-1] == 200
    assert result.link_renewals >= 1
    assert (tmp_path / "usage.csv").read_bytes() == joined(
        oracle(server, "group", request)
    )


def test_a_job_that_ends_errored_exits_with_its_code(
    server_factory: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = server_factory(poll_hint_seconds=0, job_max_attempts=1)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the data source is gone")

    monkeypatch.setattr(live.backend, "stream_export", broken)
    with client_for(live) as client, pytest.raises(ExportErrored):
        client.export(group_request(live, "usage"), OutputOptions(tmp_path / "x.csv"))

    code = fetch_cli(
        live, "--group", live.tenant.group_id, "--dataset", "usage",
        "--updated-from", "2000-01-01T00:00:00Z", "--out", str(tmp_path / "y.csv"),
        "--json", "--since-last", str(tmp_path / "state.json"),
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == int(ExitCode.ERRORED) == 4
    assert not (tmp_path / "state.json").exists()
    summary = json.loads(captured.out)
    assert summary["status"] == "FAILED"
    assert summary["exit_code"] == 4
    assert summary["error"]["type"] == "ExportErrored"
    assert summary["error"]["request_id"]
    assert "ERRORED" in captured.err
    assert "snyk-request-id" in captured.err
    assert not (tmp_path / "y.csv").exists()


class Flaky(httpx.BaseTransport):
    """Answers the first API requests with 429 and 503, and one download with 502."""

    def __init__(self, failures: list[int]) -> None:
        self.inner = httpx.HTTPTransport()
        self.failures = failures
        self.download_failed = False
        self.seen: list[tuple[str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/dl/") and not self.download_failed:
            self.download_failed = True
            return self._error(502, {})
        if not request.url.path.startswith("/dl/") and self.failures:
            status = self.failures.pop(0)
            self.seen.append((request.method, status))
            return self._error(status, {"retry-after": "1"} if status == 429 else {})
        return self.inner.handle_request(request)

    def _error(self, status: int, headers: dict[str, str]) -> httpx.Response:
        document = {"errors": [{"status": str(status), "detail": "try later"}]}
        return httpx.Response(status, headers=headers, json=document)

    def close(self) -> None:
        self.inner.close()


def test_429_and_5xx_for_a_while_are_waited_out(
    server: LiveServer, tmp_path: Path
) -> None:
    transport = Flaky([429, 503, 500, 429, 503])
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    request = group_request(server, "pr_checks")
    with client_for(server, transport=transport, sleep=sleep) as client:
        result = client.export(request, OutputOptions(tmp_path / "pr.csv"))

    assert [method for method, _ in transport.seen] == ["POST"] * 5
    assert waits.count(1.0) >= 2, waits
    assert result.retries == 6
    assert (tmp_path / "pr.csv").read_bytes() == joined(
        oracle(server, "group", request)
    )


def test_the_servers_own_request_limit_is_honoured(
    server_factory: Any, tmp_path: Path
) -> None:
    live = server_factory(
        poll_hint_seconds=0, request_limit=1, request_window_seconds=1
    )
    with client_for(live) as client:
        result = client.export(
            group_request(live, "pr_checks_integration_adoption"),
            OutputOptions(tmp_path / "a.csv"),
        )

    assert result.retries >= 1
    assert len(records(tmp_path / "a.csv")) == result.row_count > 0


@pytest.mark.parametrize(
    ("token", "status"), [("org", "404"), ("group_member", "403"), ("revoked", "401")]
)
def test_a_token_without_access_exits_with_the_auth_code(
    server: LiveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    token: str,
    status: str,
) -> None:
    code = fetch_cli(
        server, "--group", server.tenant.group_id, "--dataset", "usage",
        "--updated-from", "2000-01-01", "--out", str(tmp_path / "u.csv"),
        token=server.tokens[token],
    )  # fmt: skip

    err = capsys.readouterr().err
    assert code == int(ExitCode.AUTH) == 3
    assert f"answered {status}" in err
    assert "snyk-request-id" in err
    assert server.tokens[token] not in err
    with client_for(server, token) as client, pytest.raises(AccessDenied) as raised:
        client.export(group_request(server, "usage"), OutputOptions(tmp_path / "v"))
    assert raised.value.status == int(status)
    assert raised.value.request_id


def test_a_rejected_request_exits_with_the_server_detail(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--group", server.tenant.group_id, "--out", str(tmp_path / "b.csv")]
    code = fetch_cli(
        server, *common, "--dataset", "issues", "--introduced-from", "last tuesday"
    )
    err = capsys.readouterr().err
    assert code == int(ExitCode.BAD_REQUEST) == 2
    assert "answered 400 SNYK-OPENAPI-0001" in err
    assert "snyk-request-id" in err

    code = fetch_cli(server, *common, "--dataset", "usage", "--cve", "CVE-1")
    assert code == ExitCode.BAD_REQUEST
    assert "--cve does not apply to usage" in capsys.readouterr().err


def test_the_deadline_ends_the_fetch_with_the_timeout_code(
    live: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code = fetch_cli(
        live, "--group", live.tenant.group_id, "--dataset", "usage",
        "--updated-from", "2000-01-01", "--out", str(tmp_path / "t.csv"),
        "--timeout", "3",
    )  # fmt: skip

    assert code == int(ExitCode.TIMED_OUT) == 5
    assert "deadline" in capsys.readouterr().err
    assert time.monotonic() - started < 3


def test_since_last_asks_only_for_rows_updated_since_the_last_success(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    args = [
        "--group", server.tenant.group_id, "--dataset", "usage",
        "--since-last", str(state), "--json",
    ]  # fmt: skip
    first = fetch_cli(server, *args, "--out", str(tmp_path / "1.csv"))
    first_summary = json.loads(capsys.readouterr().out)
    recorded = json.loads(state.read_text())
    second = fetch_cli(server, *args, "--out", str(tmp_path / "2.csv"))
    second_summary = json.loads(capsys.readouterr().out)

    assert first == second == ExitCode.OK
    everything = oracle(server, "group", group_request(server, "usage"))
    assert first_summary["row_count"] == len(records_of(everything)) > 0
    assert first_summary["filters"]["updated"] == {"from": "1970-01-01T00:00:00Z"}
    assert recorded["updated_to"] == first_summary["updated_to"]
    assert recorded["export_id"] == first_summary["export_id"]
    assert second_summary["filters"]["updated"] == {"from": recorded["updated_to"]}
    # The demo data stops a month before today: nothing changed since.
    assert second_summary["row_count"] == 0
    header = (tmp_path / "2.csv").read_text().splitlines()
    assert header == [",".join(f'"{c.name}"' for c in datasets()["usage"].columns)]
    assert json.loads(state.read_text())["export_id"] == second_summary["export_id"]


def test_the_json_summary_is_data_and_nothing_else_is_printed(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p.csv"
    code = fetch_cli(
        server, "--group", server.tenant.group_id, "--dataset",
        "pr_checks_project_adoption", "--updated-from", "2000-01-01", "--out",
        str(out), "--json",
    )  # fmt: skip

    captured = capsys.readouterr()
    assert code == ExitCode.OK
    assert captured.err == ""
    summary = json.loads(captured.out)
    assert summary["status"] == "FINISHED"
    assert summary["files"] == [str(out)]
    assert summary["bytes"] == sum(p["file_size"] for p in summary["parts"])
    assert summary["row_count"] == len(records(out))
    assert summary["scope"] == "group"
    assert summary["dataset"] == "pr_checks_project_adoption"
    assert server.tokens["group"] not in captured.out


def test_the_progress_display_is_drawn_on_a_terminal(
    server: LiveServer, tmp_path: Path
) -> None:
    out = tmp_path / "tty.csv"
    command = [
        sys.executable, "-m", "snyk_export", "fetch",
        "--group", server.tenant.group_id, "--dataset", "issues",
        "--introduced-from", "2000-01-01", "--out", str(out),
    ]  # fmt: skip
    environment = {
        **os.environ,
        "SNYK_TOKEN": server.tokens["group"],
        "SNYK_API": server.api,
    }
    code, screen = run_in_pty(command, environment)

    assert code == 0, screen
    assert "\r\x1b[K" in screen
    assert "PENDING" in screen or "STARTED" in screen or "FINISHED" in screen
    assert re.search(r"parts (\d+)/\1", screen), screen
    assert "(100%)" in screen
    assert f"written to {out}" in screen
    assert server.tokens["group"] not in screen


def run_in_pty(command: list[str], environment: dict[str, str]) -> tuple[int, str]:
    """Run ``command`` with a pseudo-terminal as stdout and stderr."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        command, stdin=secondary, stdout=secondary, stderr=secondary, env=environment
    )
    os.close(secondary)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.close(primary)
    return process.wait(30), screen.decode("utf-8", "replace")


def fetch_cli(live: LiveServer, *args: str, token: str | None = None) -> int:
    """``snyk-export fetch`` in this process, against ``live``, with a token."""
    previous = os.environ.get("SNYK_TOKEN")
    os.environ["SNYK_TOKEN"] = token or live.tokens["group"]
    try:
        return main(["fetch", "--api-url", live.api, *args])
    finally:
        if previous is None:
            del os.environ["SNYK_TOKEN"]
        else:
            os.environ["SNYK_TOKEN"] = previous
