"""The server on PostgreSQL, chosen by configuration only, driven over HTTP.

These run the jobs on the server's own threads (``job_queue=threads``), the
single-host layout on PostgreSQL; the shared ``live`` server covers the
Procrastinate queue with S3.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from exporting import EVER, body, expected_csv, export, joined
from liveserver import SMALL, LiveServer, start_live_server
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.catalog import datasets

ISSUES = datasets()["issues"]
VISIBLE = (
    '"ISSUE_DELETED_AT" IS NULL AND "PROJECT_DELETED_AT" IS NULL '
    'AND "GROUP_DELETED_AT" IS NULL AND "PROJECT_IS_MONITORED" IS NOT FALSE'
)
NATURAL_ORDER = ", ".join(f'"{c}" COLLATE "C"' for c in ISSUES.order_by)


@pytest.fixture
def live_postgres(tmp_path: Path, postgres_url: str) -> Iterator[LiveServer]:
    server = start_live_server(
        tmp_path,
        SMALL,
        database_url=postgres_url,
        job_queue="threads",
        max_rows_per_file=700,
        export_post_limit="none",
        request_limit="none",
    )
    yield server
    server.stop()


def stored(url: str, columns: list[str], where: str, params: list[Any]) -> list[Any]:
    """Rows straight from PostgreSQL, JSON as its text, in natural-key order."""
    select = ", ".join(
        f'"{c}"::text' if ISSUES.column(c).type == "json" else f'"{c}"' for c in columns
    )
    sql = f"SELECT {select} FROM issues WHERE {where} ORDER BY {NATURAL_ORDER}"
    with psycopg.connect(url) as connection:
        return connection.execute(sql.encode(), params).fetchall()


def test_a_group_export_over_http_is_the_stored_data_byte_for_byte(
    live_postgres: LiveServer, postgres_url: str
) -> None:
    assert isinstance(live_postgres.backend, PostgresBackend)
    client = live_postgres.client("group")
    group = live_postgres.tenant.group_id

    result = export(client, "groups", group, body("issues", filters={"updated": EVER}))

    columns = [c.name for c in ISSUES.columns]
    rows = stored(
        postgres_url, columns, f'"GROUP_PUBLIC_ID" = %s AND {VISIBLE}', [group]
    )
    assert joined(result.parts) == expected_csv(list(ISSUES.columns), rows)
    assert result.attributes["row_count"] == len(rows) > 1000
    assert len(result.parts) == -(-len(rows) // 700)


def test_an_org_export_with_filters_over_http_matches_the_stored_rows(
    live_postgres: LiveServer, postgres_url: str
) -> None:
    org = live_postgres.tenant.orgs[0].id
    columns = ["PROBLEM_ID", "SCORE", "PROJECT_ENVIRONMENTS", "ISSUE_STATUS"]
    filters = {"updated": EVER, "issue_status": ["Open"], "environment": ["BACKEND"]}

    result = export(
        live_postgres.client("org"), "orgs", org, body("issues", columns, filters)
    )

    rows = stored(
        postgres_url,
        columns,
        f'"ORG_PUBLIC_ID" = %s AND "ISSUE_STATUS" = \'Open\' '
        f"AND 'backend' = ANY(\"PROJECT_ENVIRONMENTS\") AND {VISIBLE}",
        [org],
    )
    chosen = [ISSUES.column(c) for c in columns]
    assert len(rows) > 0
    assert joined(result.parts) == expected_csv(chosen, rows)


def test_migrate_command_brings_a_postgres_schema_up_to_date(postgres_url: str) -> None:
    environment = {**os.environ, "SNYK_EXPORT_DATABASE_URL": postgres_url}
    for _ in range(2):
        completed = subprocess.run(
            [sys.executable, "-m", "snyk_export", "migrate"],
            capture_output=True,
            text=True,
            timeout=60,
            env=environment,
        )
        assert completed.returncode == 0, completed.stderr
        assert "is up to date" in completed.stdout

    with psycopg.connect(postgres_url) as connection:
        tables = connection.execute("SELECT tablename FROM pg_tables").fetchall()
    assert {"exports", "issues", "schema_version"} <= {t for (t,) in tables}
