"""The PostgreSQL schema and its versioned migrations.

Each migration runs once, in order, and records its version in
``schema_version``. All of them run in one transaction under an advisory lock,
so replicas starting together apply each step exactly once and never see half a
schema. Analytics columns added to the catalog later are added by the catalog
step at the end, which alters a table only when a column is missing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from snyk_export.backends.conditions import quote_identifier
from snyk_export.catalog import Column, Dataset, datasets

logger = logging.getLogger(__name__)

# Any constant works as long as every replica uses the same one.
MIGRATION_LOCK_KEY = 0x736E796B_6D696772
# PostgreSQL keeps the first 63 bytes of an identifier (NAMEDATALEN - 1), in
# DDL and in queries alike; a few Snyk column names are longer.
IDENTIFIER_BYTES = 63

SQL_TYPES = {
    "string": "text",
    "integer": "bigint",
    "number": "double precision",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "date": "date",
    "array": "text[]",
    # json keeps the text as loaded (key order, duplicate keys), as the
    # embedded engine does; jsonb would reorder keys.
    "json": "json",
}


@dataclass(frozen=True)
class Migration:
    """One step of the schema, applied once."""

    version: int
    summary: str
    statements: Callable[[], list[str]]


def _column_ddl(column: Column) -> str:
    return f"{quote_identifier(column.name)} {SQL_TYPES[column.type]}"


def table_ddl(dataset: Dataset) -> str:
    """CREATE TABLE for a dataset's analytics table, columns in catalog order."""
    columns = ",\n  ".join(_column_ddl(c) for c in dataset.columns)
    return f"CREATE TABLE {quote_identifier(dataset.name)} (\n  {columns}\n)"


def _initial_schema() -> list[str]:
    metadata = [
        """CREATE TABLE groups (
            id text PRIMARY KEY, name text NOT NULL, slug text NOT NULL)""",
        """CREATE TABLE orgs (
            id text PRIMARY KEY, name text NOT NULL, slug text NOT NULL,
            group_id text)""",
        """CREATE TABLE credentials (
            id text PRIMARY KEY, name text NOT NULL,
            token_hash text NOT NULL UNIQUE,
            created timestamp NOT NULL, expires_at timestamp, revoked_at timestamp)""",
        """CREATE TABLE role_bindings (
            credential_id text NOT NULL REFERENCES credentials (id),
            scope text NOT NULL, scope_id text NOT NULL, role text NOT NULL)""",
        "CREATE INDEX role_bindings_credential ON role_bindings (credential_id)",
        """CREATE TABLE exports (
            id text PRIMARY KEY, scope text NOT NULL, scope_id text NOT NULL,
            dataset text NOT NULL, definition jsonb NOT NULL, status text NOT NULL,
            created timestamp NOT NULL, credential_id text NOT NULL,
            attempts integer NOT NULL, started timestamp, finished timestamp,
            snapshot_at timestamp, parts jsonb NOT NULL, failure text)""",
        "CREATE INDEX exports_by_creator ON exports "
        "(credential_id, scope, scope_id, created)",
        "CREATE INDEX exports_by_status ON exports (status)",
    ]
    return metadata + [table_ddl(dataset) for dataset in datasets().values()]


def _request_counts() -> list[str]:
    return [
        """CREATE TABLE request_counts (
            key text NOT NULL, bucket bigint NOT NULL, hits integer NOT NULL,
            PRIMARY KEY (key, bucket))"""
    ]


def _signing_keys() -> list[str]:
    return ["CREATE TABLE signing_keys (id smallint PRIMARY KEY, key text NOT NULL)"]


MIGRATIONS = (
    Migration(1, "metadata and analytics tables", _initial_schema),
    Migration(2, "request counters shared by replicas", _request_counts),
    Migration(3, "download link key shared by replicas", _signing_keys),
)


def _applied_version(cursor: psycopg.Cursor[Any]) -> int:
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version integer PRIMARY KEY, applied timestamp NOT NULL DEFAULT "
        "(now() AT TIME ZONE 'UTC'))"
    )
    row = cursor.execute("SELECT coalesce(max(version), 0) FROM schema_version")
    found = row.fetchone()
    return int(found[0]) if found else 0


def _stored_name(name: str) -> str:
    return name.encode()[:IDENTIFIER_BYTES].decode("utf-8", "ignore")


def _missing_catalog_columns(cursor: psycopg.Cursor[Any]) -> list[str]:
    statements: list[str] = []
    for dataset in datasets().values():
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            [dataset.name],
        )
        present = {row[0] for row in cursor.fetchall()}
        statements.extend(
            f"ALTER TABLE {quote_identifier(dataset.name)} "
            f"ADD COLUMN {_column_ddl(column)}"
            for column in dataset.columns
            if _stored_name(column.name) not in present
        )
    return statements


def migrate(connection: psycopg.Connection[Any]) -> int:
    """Bring the schema up to date; returns the number of migrations applied."""
    applied = 0
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK_KEY])
        current = _applied_version(cursor)
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            for statement in migration.statements():
                cursor.execute(statement.encode())
            cursor.execute(
                "INSERT INTO schema_version (version) VALUES (%s)",
                [migration.version],
            )
            logger.info(
                "Applied migration %s: %s",
                migration.version,
                migration.summary,
                extra={"action": "migration_applied"},
            )
            applied += 1
        for statement in _missing_catalog_columns(cursor):
            cursor.execute(statement.encode())
        _migrate_queue(cursor)
    return applied


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])


def _migrate_queue(cursor: psycopg.Cursor[Any]) -> None:
    """Install or upgrade Procrastinate's tables, recording its version.

    Procrastinate ships its whole schema for new databases and one SQL file per
    change for upgrades, named after the release that brought it; the files
    between the recorded release and the installed one are applied in order.
    """
    installed = importlib.metadata.version("procrastinate")
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS queue_schema ("
        "procrastinate_version text NOT NULL, applied timestamp NOT NULL "
        "DEFAULT (now() AT TIME ZONE 'UTC'))"
    )
    row = cursor.execute(
        "SELECT procrastinate_version FROM queue_schema ORDER BY applied DESC LIMIT 1"
    ).fetchone()
    sql = importlib.resources.files("procrastinate.sql")
    if row is None:
        present = cursor.execute(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"
        ).fetchone()
        if not (present and present[0]):  # else installed by hand: keep it
            schema = sql.joinpath("schema.sql").read_text(encoding="utf-8")
            cursor.execute(schema.encode())
    elif _version(row[0]) < _version(installed):
        steps = sorted(
            entry.name
            for entry in sql.joinpath("migrations").iterdir()
            if entry.name.endswith(".sql")
            and _version(row[0]) < _version(entry.name[:8]) <= _version(installed)
        )
        for name in steps:
            text = sql.joinpath("migrations", name).read_text(encoding="utf-8")
            cursor.execute(text.encode())
    else:
        return
    cursor.execute(
        "INSERT INTO queue_schema (procrastinate_version) VALUES (%s)", [installed]
    )
    logger.info(
        "Queue schema at Procrastinate %s",
        installed,
        extra={"action": "migration_applied"},
    )
