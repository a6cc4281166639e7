"""The embedded backend: tenancy, credentials, jobs and analytics in one DuckDB file."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from snyk_export.backends.base import Credential, RoleBinding
from snyk_export.backends.duckdb_query import MACROS, compile_export, table_ddl
from snyk_export.backends.rows import (
    EXPORT_COLUMNS,
    aware,
    export_values,
    naive,
)
from snyk_export.backends.sql_store import SqlStore
from snyk_export.catalog import datasets
from snyk_export.errors import ConfigurationError, Unavailable
from snyk_export.jobs import Export

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

METADATA_DDL = [
    """CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS groups (
        id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, slug VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS orgs (
        id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, slug VARCHAR NOT NULL,
        group_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS credentials (
        id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL,
        token_hash VARCHAR NOT NULL UNIQUE,
        created TIMESTAMP NOT NULL, expires_at TIMESTAMP, revoked_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS role_bindings (
        credential_id VARCHAR NOT NULL, scope VARCHAR NOT NULL,
        scope_id VARCHAR NOT NULL, role VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS exports (
        id VARCHAR PRIMARY KEY, scope VARCHAR NOT NULL, scope_id VARCHAR NOT NULL,
        dataset VARCHAR NOT NULL, definition JSON NOT NULL, status VARCHAR NOT NULL,
        created TIMESTAMP NOT NULL, credential_id VARCHAR NOT NULL,
        attempts INTEGER NOT NULL, started TIMESTAMP, finished TIMESTAMP,
        snapshot_at TIMESTAMP, parts JSON NOT NULL, failure VARCHAR)""",
]


class DuckDBBackend(SqlStore):
    """The whole service state in one DuckDB database file."""

    def _decode_json(self, value: Any) -> Any:
        return json.loads(value)

    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str = "256MB",
        threads: int | None = None,
        preserve_order: bool = True,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            raise ConfigurationError(
                f"cannot open {path}: {exc}. Is a server already running on this "
                "data directory? Stop it, or run this command through that server."
            ) from exc
        self._db.execute(f"SET memory_limit = '{_safe_setting(memory_limit)}'")
        self._db.execute(
            f"SET temp_directory = '{_safe_setting(str(path.parent / 'tmp'))}'"
        )
        self._db.execute(f"SET preserve_insertion_order = {bool(preserve_order)}")
        if threads:
            self._db.execute(f"SET threads = {int(threads)}")
        self._write_lock = threading.Lock()

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of this thread's own; memory exhaustion becomes a 503."""
        cursor = self._db.cursor()
        try:
            yield cursor
        except duckdb.OutOfMemoryException as exc:
            raise Unavailable(
                "the database is short of memory; retry shortly",
                headers={"retry-after": "5"},
            ) from exc
        finally:
            cursor.close()

    def _fetchall(
        self, sql: str, params: list[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        with self._cursor() as cursor:
            return cursor.execute(sql, params or []).fetchall()

    def _execute(self, sql: str, params: list[Any] | None = None) -> None:
        with self._cursor() as cursor:
            cursor.execute(sql, params or [])

    def migrate(self) -> None:
        """Create or upgrade the schema; safe to run on every start."""
        with self._cursor() as cursor:
            for statement in METADATA_DDL:
                cursor.execute(statement)
            for dataset in datasets().values():
                cursor.execute(table_ddl(dataset))
            for macro in MACROS:
                cursor.execute(macro)
            if not cursor.execute("SELECT 1 FROM schema_version").fetchall():
                cursor.execute(
                    "INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION]
                )

    def claim_job_runner(self) -> None:
        """Nothing to claim: DuckDB's file lock already keeps other processes out."""

    def close(self) -> None:
        self._db.close()

    # Credentials.

    def create_credential(self, credential: Credential, token_hash: str) -> None:
        with self._write_lock, self._cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                "INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?)",
                [
                    credential.id,
                    credential.name,
                    token_hash,
                    naive(credential.created),
                    naive(credential.expires_at),
                    naive(credential.revoked_at),
                ],
            )
            for binding in credential.bindings:
                cursor.execute(
                    "INSERT INTO role_bindings VALUES (?, ?, ?, ?)",
                    [credential.id, binding.scope, binding.scope_id, binding.role],
                )
            cursor.execute("COMMIT")

    def _credentials(self, where: str, params: list[Any]) -> list[Credential]:
        rows = self._fetchall(
            "SELECT id, name, created, expires_at, revoked_at FROM credentials "
            f"WHERE {where} ORDER BY created, id",
            params,
        )
        result = []
        for credential_id, name, created, expires_at, revoked_at in rows:
            bindings = self._fetchall(
                "SELECT scope, scope_id, role FROM role_bindings "
                "WHERE credential_id = ? "
                "ORDER BY scope, scope_id, role",
                [credential_id],
            )
            result.append(
                Credential(
                    credential_id,
                    name,
                    created.replace(tzinfo=dt.UTC),
                    aware(expires_at),
                    aware(revoked_at),
                    tuple(RoleBinding(*b) for b in bindings),
                )
            )
        return result

    def find_credential(self, token_hash: str) -> Credential | None:
        found = self._credentials("token_hash = ?", [token_hash])
        return found[0] if found else None

    def list_credentials(self) -> list[Credential]:
        return self._credentials("TRUE", [])

    def revoke_credential(self, credential_id: str, now: dt.datetime) -> bool:
        with self._cursor() as cursor:
            rows = cursor.execute(
                "UPDATE credentials SET revoked_at = ? "
                "WHERE id = ? AND revoked_at IS NULL "
                "RETURNING id",
                [naive(now), credential_id],
            ).fetchall()
        return bool(rows)

    # Exports.

    def insert_export(self, export: Export) -> None:
        with self._cursor() as cursor:
            self._insert_export(cursor, export)

    def _insert_export(self, cursor: duckdb.DuckDBPyConnection, export: Export) -> None:
        d = export.definition
        cursor.execute(
            f"INSERT INTO exports (scope, scope_id, dataset, {EXPORT_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [d.scope, d.scope_id, d.dataset, *export_values(export, json.dumps)],
        )

    def create_export_within_limit(
        self, export: Export, limit: int | None, window_seconds: int
    ) -> float | None:
        """Insert ``export`` unless its credential and scope are over the limit.

        Returns None when inserted, otherwise the seconds until the oldest counted
        export leaves the window.
        """
        d = export.definition
        with self._write_lock, self._cursor() as cursor:
            if limit is not None:
                since = naive(export.created - dt.timedelta(seconds=window_seconds))
                rows = cursor.execute(
                    "SELECT created FROM exports WHERE credential_id = ? AND scope = ? "
                    "AND scope_id = ? AND created > ? ORDER BY created",
                    [export.credential_id, d.scope, d.scope_id, since],
                ).fetchall()
                if len(rows) >= limit:
                    oldest = rows[len(rows) - limit][0].replace(tzinfo=dt.UTC)
                    leaves = oldest + dt.timedelta(seconds=window_seconds)
                    return float((leaves - export.created).total_seconds())
            self._insert_export(cursor, export)
        return None

    def replace_export(self, export: Export, expected: Export) -> bool:
        """Write ``export`` if the stored one is still at ``expected``'s run."""
        values = export_values(export, json.dumps)
        with self._write_lock, self._cursor() as cursor:
            rows = cursor.execute(
                "UPDATE exports SET status = ?, attempts = ?, started = ?, "
                "finished = ?, "
                "snapshot_at = ?, parts = ?, failure = ? "
                "WHERE id = ? AND status = ? AND attempts = ? RETURNING id",
                [
                    values[2],
                    values[5],
                    values[6],
                    values[7],
                    values[8],
                    values[9],
                    values[10],
                    export.id,
                    expected.status.value,
                    expected.attempts,
                ],
            ).fetchall()
        return bool(rows)

    # Analytics.

    def load_batches(self, dataset: str, batches: Iterator[pa.RecordBatch]) -> int:
        """Append Arrow batches to a dataset's table in one transaction."""
        table_name = datasets()[dataset].name
        loaded = 0
        with self._cursor() as cursor:
            cursor.execute("BEGIN")
            for batch in batches:
                cursor.register("incoming_batch", batch)
                cursor.execute(
                    f'INSERT INTO "{table_name}" BY NAME SELECT * FROM incoming_batch'
                )
                cursor.unregister("incoming_batch")
                loaded += batch.num_rows
            cursor.execute("COMMIT")
        return loaded

    def stream_export(self, export: Export, batch_rows: int) -> Iterator[pa.Array]:
        """Rendered CSV records of ``export``, from one consistent snapshot."""
        sql, params = compile_export(export)
        with self._cursor() as cursor:
            reader = cursor.sql(sql, params=params).to_arrow_reader(batch_rows)
            for batch in reader:
                yield batch.column(0)

    # Ingest. The loaders build DuckDB SQL of their own, so this hands out the
    # engine's cursor and is not part of the engine-neutral Backend protocol.

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor in one transaction: committed when the block ends, else undone."""
        with self._cursor() as cursor:
            cursor.execute("BEGIN")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")


def _safe_setting(value: str) -> str:
    if "'" in value:
        raise ConfigurationError(f"unusable DuckDB setting value: {value!r}")
    return value
