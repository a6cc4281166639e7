"""``snyk-export load`` and ``import`` as a user runs them, and exports loaded back."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from exporting import EVER, body, export, joined
from ingest_samples import (
    LODASH,
    MINIMIST,
    OPENSSL,
    export_csv,
    snyk_test_json,
    trivy_sarif,
    write_json,
)
from liveserver import LiveServer
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.catalog import datasets

COMMAND = [sys.executable, "-m", "snyk_export", "--log-level", "WARNING"]


def run(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=120, env=env
    )


def postgres_env(url: str, tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "SNYK_EXPORT_DATABASE_URL": url,
        "SNYK_EXPORT_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.mark.parametrize("dataset", list(datasets()))
def test_an_export_downloaded_over_http_loads_back_unchanged(
    live: LiveServer, tmp_path: Path, dataset: str
) -> None:
    finished = export(
        live.client(),
        "groups",
        live.tenant.group_id,
        body(dataset, filters={"updated": EVER}),
    )
    files = []
    for index, part in enumerate(finished.parts):
        files.append(tmp_path / f"part_{index}.csv")
        files[-1].write_bytes(part)

    result = run(
        "load", "--dataset", dataset, "--data-dir", str(tmp_path), *map(str, files)
    )

    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(files)
    backend = DuckDBBackend(tmp_path / "snyk-export.duckdb")
    reloaded = export_csv(backend, dataset).splitlines(keepends=True)
    backend.close()
    downloaded = joined(finished.parts).splitlines(keepends=True)
    assert reloaded[0] == downloaded[0]
    assert sorted(reloaded[1:]) == sorted(downloaded[1:])
    assert len(downloaded) > 1


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_a_rejected_file_stops_the_load_with_a_clear_message(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> None:
    env = None
    if engine == "postgres":
        env = postgres_env(request.getfixturevalue("postgres_url"), tmp_path)
    good = tmp_path / "good.csv"
    good.write_text(
        '"PUBLIC_ID","PR_CHECK_STATE"\n"0f8fad5b-d9cb-469f-a165-70867728950e","success"\n'
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        '"PUBLIC_ID","PR_CHECK_STATE"\n"c9bf9e57-1685-4c89-bafb-ff5af830be8a","green"\n'
    )

    result = run(
        "load",
        "--dataset",
        "pr_checks",
        "--data-dir",
        str(tmp_path),
        str(good),
        str(bad),
        env=env,
    )

    assert result.returncode == 2
    assert "good.csv: 1 rows into pr_checks: 1 inserted" in result.stdout
    assert result.stderr.strip() == (
        "snyk-export: bad.csv, line 2, column PR_CHECK_STATE: not one of "
        'success, failure, error, skipped: "green"'
    )


def test_imports_create_the_org_and_project_and_resolve_fixed_issues(
    tmp_path: Path,
) -> None:
    data = str(tmp_path / "data")
    first = write_json(tmp_path / "one.json", snyk_test_json([LODASH, MINIMIST]))
    second = write_json(tmp_path / "two.json", snyk_test_json([LODASH]))
    image = write_json(tmp_path / "image.sarif", trivy_sarif([OPENSSL]))
    where = [
        "--org",
        "Payments",
        "--group",
        "Acme",
        "--project",
        "web",
        "--data-dir",
        data,
    ]

    outputs = [
        run(
            "import",
            "snyk-json",
            str(first),
            *where,
            "--scanned-at",
            "2026-11-02T10:00:00Z",
        ),
        run(
            "import",
            "snyk-json",
            str(second),
            *where,
            "--scanned-at",
            "2026-11-03T10:00:00Z",
        ),
        run("import", "sarif", str(image), *where),
        run("org", "list", "--data-dir", data),
    ]

    assert [o.returncode for o in outputs] == [0, 0, 0, 0], outputs[-1].stderr
    assert "2 inserted, 0 updated" in outputs[0].stdout
    assert "0 inserted, 1 updated, 1 unchanged" in outputs[1].stdout
    assert "(Snyk Container)" in outputs[2].stdout
    assert "Payments" in outputs[3].stdout
    backend = DuckDBBackend(Path(data) / "snyk-export.duckdb")
    rows = backend._fetchall(
        'SELECT "PROBLEM_ID", "ISSUE_STATUS", "PRODUCT_NAME", "ORG_DISPLAY_NAME", '
        '"GROUP_DISPLAY_NAME" FROM "issues" ORDER BY 1'
    )
    backend.close()
    assert rows == [
        ("CVE-2023-5678", "Open", "Snyk Container", "Payments", "Acme"),
        (LODASH.id, "Open", "Snyk Open Source", "Payments", "Acme"),
        (MINIMIST.id, "Resolved", "Snyk Open Source", "Payments", "Acme"),
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_loading_while_the_server_runs_says_to_stop_it(tmp_path: Path) -> None:
    port = _free_port()
    data = str(tmp_path / "data")
    server = subprocess.Popen(
        [*COMMAND, "serve", "--data-dir", data, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/rest/openapi", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        scan = write_json(tmp_path / "scan.json", snyk_test_json([LODASH]))

        result = run(
            "import",
            "snyk-json",
            str(scan),
            "--org",
            "o",
            "--project",
            "p",
            "--data-dir",
            data,
        )
    finally:
        server.terminate()
        server.wait(10)

    assert result.returncode == 2
    assert "most likely by a running server on this data directory" in result.stderr
    assert "stop the server, run `snyk-export import ...` again" in result.stderr


def test_load_into_postgres_updates_only_the_changed_row(
    postgres_url: str, tmp_path: Path
) -> None:
    env = postgres_env(postgres_url, tmp_path)
    header = '"PUBLIC_ID","PR_CHECK_STATE","UPDATED_AT"\n'
    first, second = (
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "c9bf9e57-1685-4c89-bafb-ff5af830be8a",
    )
    path = tmp_path / "checks.csv"
    path.write_text(f'{header}"{first}","success",\n"{second}","failure",\n')
    # A server's job runner holding the database does not keep loads out.
    server = PostgresBackend(postgres_url, max_connections=2)
    server.migrate()
    server.claim_job_runner()
    try:
        loaded = run("load", "--dataset", "pr_checks", str(path), env=env)
        stored = dict(
            server._fetchall('SELECT "PUBLIC_ID", "UPDATED_AT" FROM "pr_checks"')
        )
        path.write_text(
            f'{header}"{first}","success",\n'
            f'"{second}","error","2026-11-05 12:00:00.000"\n'
        )
        reloaded = run("load", "--dataset", "pr_checks", str(path), env=env)
        rows = server._fetchall(
            'SELECT "PUBLIC_ID", "PR_CHECK_STATE", "UPDATED_AT" FROM "pr_checks" '
            "ORDER BY 1"
        )
    finally:
        server.close()

    assert loaded.returncode == 0, loaded.stderr
    assert "checks.csv: 2 rows into pr_checks: 2 inserted" in loaded.stdout
    assert reloaded.returncode == 0, reloaded.stderr
    assert "0 inserted, 1 updated, 1 unchanged" in reloaded.stdout
    assert rows == [
        (first, "success", stored[first]),
        (second, "error", dt.datetime(2026, 11, 5, 12, 0)),
    ]


def test_imports_into_postgres_resolve_fixed_issues(
    postgres_url: str, tmp_path: Path
) -> None:
    env = postgres_env(postgres_url, tmp_path)
    first = write_json(tmp_path / "one.json", snyk_test_json([LODASH, MINIMIST]))
    second = write_json(tmp_path / "two.json", snyk_test_json([LODASH]))
    where = ["--org", "Payments", "--group", "Acme", "--project", "web"]

    outputs = [
        run("import", "snyk-json", str(scan), *where, "--scanned-at", at, env=env)
        for scan, at in ((first, "2026-11-02T10:00:00Z"), (second, "2026-11-03T10:00Z"))
    ]

    assert [o.returncode for o in outputs] == [0, 0], outputs[-1].stderr
    assert "2 inserted, 0 updated" in outputs[0].stdout
    assert "0 inserted, 1 updated, 1 unchanged" in outputs[1].stdout
    backend = PostgresBackend(postgres_url, max_connections=2)
    rows = backend._fetchall(
        'SELECT "PROBLEM_ID", "ISSUE_STATUS", "LAST_RESOLVED" FROM "issues" ORDER BY 1'
    )
    backend.close()
    assert rows == [
        (LODASH.id, "Open", None),
        (MINIMIST.id, "Resolved", dt.datetime(2026, 11, 3, 10, 0)),
    ]
