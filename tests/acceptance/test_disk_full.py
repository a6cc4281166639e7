"""A full result disk fails the export that fills it, and harms nothing else.

The server's data directory is a 4 MiB tmpfs while its DuckDB database stays on
the ordinary disk (``database_url``), so only result files meet ENOSPC. An
export of every issue column (about 10 MB) cannot fit: it must end ERRORED,
after its retries, with a reason that names the lack of space, and leave no
file behind once the sweeper has run. Exports finished before it stay
downloadable byte for byte, smaller exports finish afterwards with the stored
rows, and the database is unchanged. Assertions walk the whole result tree
instead of assuming its layout.

Mounting needs root (or CAP_SYS_ADMIN); without it the test is skipped, or
fails when ``CI=true``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporting import EVER, VERSION, Finished, body, expected_csv, export, joined, wait
from liveserver import LiveServer, in_ci, start_live_server
from snyk_export.catalog import datasets
from snyk_export.demo_data import DemoSizes

MIB = 1024 * 1024
ISSUES = datasets()["issues"]
# Every issue column of 8000 issues is about 10 MB of CSV; three columns, 0.3 MB.
SIZES = DemoSizes(issues=8000, usage=200, pr_checks=100, projects=120, integrations=8)
SMALL_COLUMNS = ["PROBLEM_ID", "SCORE", "ISSUE_SEVERITY"]
VISIBLE = (
    "ISSUE_DELETED_AT IS NULL AND PROJECT_DELETED_AT IS NULL "
    "AND GROUP_DELETED_AT IS NULL AND PROJECT_IS_MONITORED IS NOT FALSE"
)
TABLES = [*datasets(), "exports", "credentials"]


def _mount_tmpfs(mount_point: Path, size: str) -> None:
    if not sys.platform.startswith("linux"):
        reason = "a tmpfs can only be mounted on Linux"
    else:
        completed = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode == 0:
            return
        reason = f"cannot mount a tmpfs (needs root): {completed.stderr.strip()}"
    if in_ci():
        pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, unmounted after the servers on it have stopped."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    _mount_tmpfs(mount_point, "4m")
    yield mount_point
    if subprocess.run(["umount", str(mount_point)], check=False).returncode:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


@pytest.fixture
def server(small_disk: Path, tmp_path: Path) -> Iterator[LiveServer]:
    # Not server_factory: its data directory cannot be chosen. Stopped before
    # small_disk is unmounted, since this fixture depends on it.
    started = start_live_server(
        small_disk,
        SIZES,
        database_url=f"duckdb:{tmp_path / 'db.duckdb'}",
        max_rows_per_file=2000,
        sweep_interval_seconds=1,
        export_post_limit="none",
        request_limit="none",
    )
    assert not started.service.settings.database_path.is_relative_to(small_disk)
    yield started
    started.stop()


def stored_rows(server: LiveServer, columns: list[str]) -> list[tuple[Any, ...]]:
    select = ", ".join(f'"{c}"' for c in columns)
    return server.query(
        f"SELECT {select} FROM issues WHERE GROUP_PUBLIC_ID = ? AND {VISIBLE}",
        [server.tenant.group_id],
    )


def assert_is_the_stored_data(server: LiveServer, result: Finished) -> None:
    rows = stored_rows(server, SMALL_COLUMNS)
    columns = [ISSUES.column(name) for name in SMALL_COLUMNS]
    assert joined(result.parts) == expected_csv(columns, rows)
    assert result.attributes["row_count"] == len(rows) > 2000


def result_files(root: Path) -> list[Path]:
    """Every file under the data directory that is not the signing key."""
    return [p for p in root.rglob("*") if p.is_file() and p.name != "signing.key"]


def table_counts(server: LiveServer) -> dict[str, int]:
    return {t: server.query(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def status_of(client: httpx.Client, group: str, export_id: str) -> dict[str, Any]:
    return wait(client, f"/groups/{group}/jobs/export/{export_id}", timeout_seconds=60)


def start_export(client: httpx.Client, group: str, payload: dict[str, Any]) -> str:
    response = client.post(
        f"/groups/{group}/export", params={"version": VERSION}, json=payload
    )
    assert response.status_code == 202, response.text
    return str(response.json()["data"]["id"])


def assert_failed_for_lack_of_space(server: LiveServer, export_id: str) -> None:
    stored = server.backend.get_export(export_id)
    assert stored is not None
    assert stored.failure is not None
    reason = stored.failure.lower()
    assert "space" in reason or "enospc" in reason, stored.failure


def test_an_export_that_fills_the_disk_errors_and_harms_nothing_else(
    server: LiveServer, small_disk: Path
) -> None:
    client = server.client("group")
    group = server.tenant.group_id
    before = table_counts(server)
    small = body("issues", SMALL_COLUMNS, {"updated": EVER})
    earlier = export(client, "groups", group, small)
    assert_is_the_stored_data(server, earlier)

    too_big = start_export(client, group, body("issues", filters={"updated": EVER}))
    alongside = start_export(client, group, small)

    big = status_of(client, group, too_big)["data"]["attributes"]
    assert big["status"] == "ERRORED", "10 MB of CSV cannot fit on a 4 MiB disk"
    assert_failed_for_lack_of_space(server, too_big)
    if status_of(client, group, alongside)["data"]["attributes"]["status"] == "ERRORED":
        assert_failed_for_lack_of_space(server, alongside)
    assert_only_finished_exports_keep_files(
        client, group, small_disk, [earlier.export_id, too_big, alongside]
    )

    later = export(client, "groups", group, small)
    assert_is_the_stored_data(server, later)
    assert later.parts == earlier.parts
    assert export_again(client, group, earlier) == earlier.parts
    assert table_counts(server) == {**before, "exports": before["exports"] + 4}


def test_the_space_of_a_failed_export_is_given_back(
    server: LiveServer, small_disk: Path
) -> None:
    client = server.client("group")
    group = server.tenant.group_id
    too_big = start_export(client, group, body("issues", filters={"updated": EVER}))
    assert status_of(client, group, too_big)["data"]["attributes"]["status"] == (
        "ERRORED"
    )
    assert_only_finished_exports_keep_files(client, group, small_disk, [too_big])

    kept = sum(path.stat().st_size for path in result_files(small_disk))
    slack = 256 * 1024  # page rounding, directories and the signing key
    assert free_bytes(small_disk) >= 4 * MIB - kept - slack


def assert_only_finished_exports_keep_files(
    client: httpx.Client, group: str, root: Path, export_ids: list[str]
) -> None:
    """Within a few sweeps: no partial file, only complete parts of FINISHED exports."""
    deadline = time.monotonic() + 15
    while True:
        statuses = {e: status_of(client, group, e)["data"] for e in export_ids}
        finished = {
            e for e, d in statuses.items() if d["attributes"]["status"] == "FINISHED"
        }
        files = result_files(root)
        leftovers = [p for p in files if not finished & set(p.parts)]
        if not leftovers:
            break
        assert time.monotonic() < deadline, f"left on disk: {leftovers}"
        time.sleep(0.2)

    listed = {
        (export_id, item["url"].split("?")[0].rsplit("/", 1)[1]): item["file_size"]
        for export_id in finished
        for item in statuses[export_id]["attributes"]["results"]
    }
    on_disk = {
        (next(iter(finished & set(path.parts))), path.name): path.stat().st_size
        for path in files
    }
    assert on_disk == listed, "files on disk differ from the results listed"


def export_again(client: httpx.Client, group: str, earlier: Finished) -> list[bytes]:
    """Download an earlier export through freshly minted links."""
    document = client.get(
        f"/groups/{group}/jobs/export/{earlier.export_id}", params={"version": VERSION}
    ).json()
    return [
        httpx.get(item["url"], timeout=30).content
        for item in document["data"]["attributes"]["results"]
    ]
