"""The operator CLI, run as a user runs it: as a separate process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

COMMAND = [sys.executable, "-m", "snyk_export", "--log-level", "WARNING"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_demo_prints_one_json_line_and_reuses_its_data(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "demo")
    sizes = ["--issues", "2000", "--usage", "100", "--pr-checks", "100"]
    first = run(
        "demo", "--data-dir", data_dir, "--port", "8123", "--json", "--no-serve", *sizes
    )
    info = json.loads(first.stdout)
    assert info["base_url"] == "http://127.0.0.1:8123/rest"
    assert len(info["org_ids"]) >= 3
    assert set(info["tokens"]) == {"group", "org"}
    assert info["rows"]["issues"] == 2000

    second = run(
        "demo", "--data-dir", data_dir, "--json", "--no-serve", "--issues", "5"
    )
    again = json.loads(second.stdout)
    assert again["tokens"] == info["tokens"]
    assert again["rows"] == info["rows"]


def test_demo_without_json_prints_a_walkthrough(tmp_path: Path) -> None:
    result = run(
        "demo",
        "--data-dir",
        str(tmp_path / "d"),
        "--no-serve",
        "--issues",
        "500",
        "--usage",
        "10",
        "--pr-checks",
        "10",
    )
    assert "curl -s -X POST" in result.stdout
    assert "GROUP_TOKEN=" in result.stdout


def test_groups_orgs_and_tokens_are_managed_from_the_command_line(
    tmp_path: Path,
) -> None:
    data = ["--data-dir", str(tmp_path)]
    group = run("group", "create", "--name", "Acme Corp", *data).stdout.strip()
    org = run(
        "org", "create", "--name", "Payments", "--group", group, *data
    ).stdout.strip()
    assert org in run("org", "list", "--group", group, *data).stdout
    assert "acme-corp" in run("group", "list", *data).stdout

    created = run(
        "token",
        "create",
        "--name",
        "ci",
        "--role",
        f"group_viewer:{group}",
        "--role",
        f"org_member:{org}",
        *data,
    )
    token = created.stdout.strip()
    credential_id = created.stderr.split()[1].rstrip(";")
    listing = run("token", "list", *data).stdout
    assert credential_id in listing
    assert "active" in listing
    assert token not in listing
    run("token", "revoke", credential_id, *data)
    assert "revoked" in run("token", "list", *data).stdout
    assert run("token", "revoke", credential_id, *data, check=False).returncode == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["token", "create", "--name", "x", "--role", "boss:123"], "expected ROLE:ID"),
        (
            [
                "token",
                "create",
                "--name",
                "x",
                "--role",
                "org_admin:00000000-0000-4000-8000-000000000000",
            ],
            "does not exist",
        ),
        (["org", "create", "--name", "x", "--group", "nope"], "not a UUID"),
    ],
)
def test_bad_operator_input_gets_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run(*args, "--data-dir", str(tmp_path), check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_commands_on_a_data_directory_in_use_say_so(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; db = duckdb.connect(sys.argv[1]); "
            "print('ok', flush=True); "
            "time.sleep(60)",
            str(tmp_path / "snyk-export.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ok"
        result = run("token", "list", "--data-dir", str(tmp_path), check=False)
        assert result.returncode == 2
        assert "already running" in result.stderr
    finally:
        holder.kill()
        holder.wait()
