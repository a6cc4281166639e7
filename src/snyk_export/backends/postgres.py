"""The production backend: tenancy, credentials, jobs and analytics in PostgreSQL.

Several server processes on several machines can share one database: every
state change is one statement or one transaction, job transitions are a
compare-and-set on the status, and the export creation limit is checked and
applied under a transaction-scoped advisory lock per (credential, scope).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
from psycopg.types.json import Json, Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from snyk_export.backends import postgres_schema
from snyk_export.backends.base import Credential, RoleBinding
from snyk_export.backends.conditions import quote_identifier
from snyk_export.backends.postgres_merge import (
    INCOMING,
    compared_columns,
    insert_sql,
    load_stamp,
    same_key,
    stored_rows_sql,
    update_sql,
)
from snyk_export.backends.postgres_query import compile_export
from snyk_export.backends.postgres_schema import SQL_TYPES
from snyk_export.backends.rows import (
    EXPORT_COLUMNS,
    aware,
    export_values,
    naive,
)
from snyk_export.backends.sql_store import SqlStore
from snyk_export.catalog import Dataset, datasets
from snyk_export.config import redacted_url
from snyk_export.errors import ConfigurationError, Unavailable
from snyk_export.jobs import Export

logger = logging.getLogger(__name__)

Connection = psycopg.Connection[tuple[Any, ...]]


def _configure(connection: Connection) -> None:
    # Shortest round-trip float text is what the number rendering builds on.
    connection.execute("SET extra_float_digits = 1")
    connection.execute("SET TIME ZONE 'UTC'")


RUNNER_LOCK = "snyk-export/job-runner"
POOL_TIMEOUT_SECONDS = 3.0
LOAD_LOCK = "snyk-export/load/"


class PostgresBackend(SqlStore):
    """The whole service state in one PostgreSQL database, shared by replicas."""

    PARAMETER = "%s"

    def _decode_json(self, value: Any) -> Any:
        return value  # psycopg decodes JSON columns already

    def __init__(self, url: str, *, max_connections: int = 10) -> None:
        try:
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise ConfigurationError(
                f"cannot connect to PostgreSQL at {redacted_url(url)}: {exc}"
            ) from exc
        self._url = url
        self._runner_lock: Connection | None = None
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={"autocommit": True, "connect_timeout": 5},
            configure=_configure,
            name="snyk-export",
            open=True,
            # A request waits this long for a connection before its 503, so an
            # outage answers quickly instead of holding threads.
            timeout=POOL_TIMEOUT_SECONDS,
        )

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A pooled connection; an unreachable database becomes a 503."""
        try:
            with self._pool.connection() as connection:
                yield connection
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise Unavailable(
                "the database is unreachable or busy; retry shortly",
                headers={"retry-after": "5"},
            ) from exc

    def _fetchall(self, sql: str, params: list[Any] | None = None) -> list[Any]:
        with self._connection() as connection:
            return connection.execute(sql.encode(), params).fetchall()

    def _execute(self, sql: str, params: list[Any] | None = None) -> int:
        with self._connection() as connection:
            return connection.execute(sql.encode(), params).rowcount

    def migrate(self) -> None:
        """Create or upgrade the schema; safe to run on every start of every replica."""
        with self._connection() as connection:
            postgres_schema.migrate(connection)

    def claim_job_runner(self) -> None:
        """Be, and stay, the one process that runs export jobs on this database.

        The thread runner takes over every job left STARTED when it starts,
        which is only right if no other process is running jobs. A session-level
        advisory lock, held on a dedicated connection until :meth:`close`, makes
        a second ``serve`` on the same database refuse to start instead. The
        lock dies with its connection (a database restart, a network cut), so
        the runner calls this again periodically to take it back.
        """
        if self._runner_lock is not None:
            try:
                self._runner_lock.execute("SELECT 1")
                return
            except psycopg.Error:
                self._runner_lock.close()
                self._runner_lock = None
        try:
            connection = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise Unavailable("the database is unreachable") from exc
        locked = connection.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s || current_schema(), 0))",
            [RUNNER_LOCK],
        ).fetchone()
        if not locked or not locked[0]:
            connection.close()
            raise ConfigurationError(
                "another snyk-export server already runs export jobs on this "
                "database in threads; with job_queue=threads run one serve "
                "process per database, or job_queue=procrastinate for replicas"
            )
        self._runner_lock = connection

    def close(self) -> None:
        if self._runner_lock is not None:
            self._runner_lock.close()
            self._runner_lock = None
        self._pool.close()

    # Credentials.

    def create_credential(self, credential: Credential, token_hash: str) -> None:
        with self._connection() as connection, connection.transaction():
            connection.execute(
                "INSERT INTO credentials VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    credential.id,
                    credential.name,
                    token_hash,
                    naive(credential.created),
                    naive(credential.expires_at),
                    naive(credential.revoked_at),
                ],
            )
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO role_bindings VALUES (%s, %s, %s, %s)",
                    [
                        [credential.id, b.scope, b.scope_id, b.role]
                        for b in credential.bindings
                    ],
                )

    def _credentials(self, where: str, params: list[Any]) -> list[Credential]:
        rows = self._fetchall(
            "SELECT c.id, c.name, c.created, c.expires_at, c.revoked_at, "
            "coalesce(array_agg(ARRAY[b.scope, b.scope_id, b.role] "
            "ORDER BY b.scope, b.scope_id, b.role) "
            "FILTER (WHERE b.credential_id IS NOT NULL), '{}') "
            "FROM credentials AS c "
            "LEFT JOIN role_bindings AS b ON b.credential_id = c.id "
            f"WHERE {where} GROUP BY c.id ORDER BY c.created, c.id",
            params,
        )
        return [
            Credential(
                credential_id,
                name,
                created.replace(tzinfo=dt.UTC),
                aware(expires_at),
                aware(revoked_at),
                tuple(RoleBinding(*b) for b in bindings),
            )
            for credential_id, name, created, expires_at, revoked_at, bindings in rows
        ]

    def find_credential(self, token_hash: str) -> Credential | None:
        found = self._credentials("c.token_hash = %s", [token_hash])
        return found[0] if found else None

    def list_credentials(self) -> list[Credential]:
        return self._credentials("TRUE", [])

    def revoke_credential(self, credential_id: str, now: dt.datetime) -> bool:
        updated = self._execute(
            "UPDATE credentials SET revoked_at = %s "
            "WHERE id = %s AND revoked_at IS NULL",
            [naive(now), credential_id],
        )
        return updated > 0

    # Exports.

    def insert_export(self, export: Export) -> None:
        with self._connection() as connection:
            _insert_export(connection, export)

    def create_export_within_limit(
        self, export: Export, limit: int | None, window_seconds: int
    ) -> float | None:
        """Insert ``export`` unless its credential and scope are over the limit.

        Returns None when inserted, otherwise the seconds until the oldest counted
        export leaves the window. The check and the insert hold an advisory lock
        on (credential, scope) until commit, so replicas never over-admit.
        """
        d = export.definition
        with self._connection() as connection, connection.transaction():
            if limit is not None:
                connection.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    [
                        f"export-limit\x1f{export.credential_id}\x1f{d.scope}:{d.scope_id}"
                    ],
                )
                since = naive(export.created - dt.timedelta(seconds=window_seconds))
                rows = connection.execute(
                    "SELECT created FROM exports WHERE credential_id = %s "
                    "AND scope = %s AND scope_id = %s AND created > %s "
                    "ORDER BY created",
                    [export.credential_id, d.scope, d.scope_id, since],
                ).fetchall()
                if len(rows) >= limit:
                    oldest = rows[len(rows) - limit][0].replace(tzinfo=dt.UTC)
                    leaves = oldest + dt.timedelta(seconds=window_seconds)
                    return float((leaves - export.created).total_seconds())
            _insert_export(connection, export)
        return None

    def replace_export(self, export: Export, expected: Export) -> bool:
        """Write ``export`` if the stored one is still at ``expected``'s run."""
        values = export_values(export, Jsonb)
        updated = self._execute(
            "UPDATE exports SET status = %s, attempts = %s, started = %s, "
            "finished = %s, snapshot_at = %s, parts = %s, failure = %s "
            "WHERE id = %s AND status = %s AND attempts = %s",
            [
                *values[2:3],
                *values[5:],
                export.id,
                expected.status.value,
                expected.attempts,
            ],
        )
        return updated > 0

    def exports_without_job(self, older_than_seconds: float) -> list[str]:
        """Unfinished exports that no Procrastinate job waits for or runs."""
        rows = self._fetchall(
            "SELECT e.id FROM exports AS e WHERE e.status IN ('PENDING', 'STARTED') "
            "AND e.created < (now() AT TIME ZONE 'UTC') - make_interval(secs => %s) "
            "AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs AS j "
            "WHERE j.lock = e.id AND j.status IN ('todo', 'doing')) ORDER BY e.created",
            [older_than_seconds],
        )
        return [export_id for (export_id,) in rows]

    def signing_key(self) -> str:
        """The hex key of download links, created once and shared by replicas."""
        self._execute(
            "INSERT INTO signing_keys (id, key) VALUES (1, %s) ON CONFLICT DO NOTHING",
            [secrets.token_hex(32)],
        )
        (key,) = self._fetchall("SELECT key FROM signing_keys WHERE id = 1")[0]
        return str(key)

    # Request counters shared by replicas.

    def count_request(
        self, key: str, window_seconds: int
    ) -> tuple[int, int, int, float]:
        """Count a request of ``key`` in the current window of the database clock.

        Returns the window's number, the requests counted in it (this one
        included) and in the one before, and the seconds already gone of it.
        """
        rows = self._fetchall(
            "WITH now AS (SELECT extract(epoch FROM clock_timestamp()) AS t), "
            "hit AS (INSERT INTO request_counts AS c (key, bucket, hits) "
            "SELECT %s, floor(t / %s)::bigint, 1 FROM now "
            "ON CONFLICT (key, bucket) DO UPDATE SET hits = c.hits + 1 "
            "RETURNING c.bucket, c.hits) "
            "SELECT hit.bucket, hit.hits, coalesce((SELECT p.hits FROM request_counts "
            "AS p WHERE p.key = %s AND p.bucket = hit.bucket - 1), 0), "
            "(SELECT t FROM now) - hit.bucket * %s FROM hit, now",
            [key, window_seconds, key, window_seconds],
        )
        bucket, hits, previous, elapsed = rows[0]
        return int(bucket), int(hits), int(previous), float(elapsed)

    def uncount_request(self, key: str, bucket: int) -> None:
        """Take back a request counted by :meth:`count_request` but refused."""
        self._execute(
            "UPDATE request_counts SET hits = hits - 1 WHERE key = %s AND bucket = %s",
            [key, bucket],
        )

    def forget_requests_before(self, bucket: int) -> None:
        self._execute("DELETE FROM request_counts WHERE bucket < %s", [bucket])

    # Analytics.

    def load_batches(self, dataset: str, batches: Iterator[pa.RecordBatch]) -> int:
        """Append Arrow batches to a dataset's table in one transaction (COPY)."""
        catalog = datasets()[dataset]
        loaded = 0
        with self._connection() as connection, connection.transaction():
            for batch in batches:
                names, rows = _copy_rows(catalog, batch)
                columns = ", ".join(quote_identifier(name) for name in names)
                statement = (
                    f"COPY {quote_identifier(catalog.name)} ({columns}) "
                    "FROM STDIN (FORMAT binary)"
                )
                with connection.cursor().copy(statement.encode()) as copy:
                    copy.set_types([SQL_TYPES[catalog.column(n).type] for n in names])
                    for row in rows:
                        copy.write_row(row)
                loaded += batch.num_rows
        return loaded

    @contextlib.contextmanager
    def upsert(
        self, dataset: str, *, nullable_keys: Collection[str] = ()
    ) -> Iterator[PostgresUpsert]:
        """One transaction that merges rows into ``dataset``'s table.

        ``nullable_keys`` are the key columns that may be NULL, where NULL
        matches NULL. The transaction holds an advisory lock on the dataset, so
        concurrent loads of one dataset apply one after the other, and no other
        load changes what this one reads of the table before it commits.
        Exports read a REPEATABLE READ snapshot, so they see all of a load or
        none of it.
        """
        catalog = datasets()[dataset]
        with self._connection() as connection, connection.transaction():
            connection.execute(
                "SELECT pg_advisory_xact_lock("
                "hashtextextended(%s || current_schema(), 0))",
                [LOAD_LOCK + catalog.name],
            )
            # Compiling the wide comparison of a merge costs seconds and runs
            # once per row; the plain executor is faster at it.
            connection.execute("SET LOCAL jit = off")
            yield PostgresUpsert(connection, catalog, frozenset(nullable_keys))

    def stream_export(self, export: Export, batch_rows: int) -> Iterator[pa.Array]:
        """Rendered CSV records of ``export``, from one consistent snapshot.

        The records come through a server-side cursor inside a REPEATABLE READ
        READ ONLY transaction, ``batch_rows`` at a time, so memory stays flat
        and every batch reads the same snapshot.
        """
        sql, params = compile_export(export)
        with self._connection() as connection, connection.transaction():
            connection.execute(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
            )
            with connection.cursor(name=f"export_{export.id}") as cursor:
                cursor.execute(sql.encode(), params)
                while records := cursor.fetchmany(batch_rows):
                    yield pa.array([record for (record,) in records], pa.string())


class PostgresUpsert:
    """Rows merged by natural key into one dataset's table, in one transaction.

    Made by :meth:`PostgresBackend.upsert`; ``postgres_merge`` has the rules.
    """

    def __init__(
        self, connection: Connection, dataset: Dataset, nullable_keys: frozenset[str]
    ) -> None:
        self._connection = connection
        self._dataset = dataset
        self._nullable_keys = nullable_keys

    def stored_rows(
        self, column: str, value: str, names: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The stored rows whose ``column`` is ``value``, JSON values as text."""
        sql = stored_rows_sql(self._dataset, column, names)
        rows = self._connection.execute(sql.encode(), [value]).fetchall()
        return [dict(zip(names, row, strict=True)) for row in rows]

    def apply(self, batches: pa.RecordBatchReader, now: dt.datetime) -> tuple[int, int]:
        """Merge the rows of ``batches``; how many were inserted and updated.

        The rows are copied into a temporary table, then one UPDATE changes the
        stored rows whose values differ and one INSERT adds the rows whose key
        is not stored. The keys of ``batches`` must not repeat.
        """
        names = tuple(batches.schema.names)
        columns = ", ".join(quote_identifier(name) for name in names)
        table = quote_identifier(self._dataset.name)
        self._connection.execute(
            f"CREATE TEMP TABLE {INCOMING} ON COMMIT DROP AS "
            f"SELECT {columns} FROM {table} WITH NO DATA".encode()
        )
        _copy_batches(self._connection, INCOMING, self._dataset, names, batches)
        # The keys' statistics are what the planner needs to choose hash joins.
        keys = ", ".join(quote_identifier(k) for k in self._dataset.order_by)
        self._connection.execute(f"ANALYZE {INCOMING} ({keys})".encode())

        stamp = load_stamp(now)
        match = same_key(self._dataset, self._nullable_keys)
        updated = 0
        if compared_columns(self._dataset, names):
            sql = update_sql(self._dataset, names, match)
            updated = self._connection.execute(sql.encode(), [stamp]).rowcount
        sql = insert_sql(self._dataset, names, match)
        inserted = self._connection.execute(sql.encode(), [stamp]).rowcount
        self._connection.execute(f"DROP TABLE {INCOMING}")
        return inserted, updated


def _copy_batches(
    connection: Connection,
    table: str,
    catalog: Dataset,
    names: tuple[str, ...],
    batches: pa.RecordBatchReader,
) -> None:
    """COPY every batch into ``table`` in one statement.

    One statement keeps PostgreSQL's error context ("line N") the position of
    the row among all the batches.
    """
    columns = ", ".join(quote_identifier(name) for name in names)
    statement = f"COPY {table} ({columns}) FROM STDIN (FORMAT binary)"
    with connection.cursor().copy(statement.encode()) as copy:
        copy.set_types([SQL_TYPES[catalog.column(name).type] for name in names])
        for batch in batches:
            for row in _copy_rows(catalog, batch)[1]:
                copy.write_row(row)


def _insert_export(connection: Connection, export: Export) -> None:
    d = export.definition
    connection.execute(
        f"INSERT INTO exports (scope, scope_id, dataset, {EXPORT_COLUMNS}) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)".encode(),
        [d.scope, d.scope_id, d.dataset, *export_values(export, Jsonb)],
    )


def _canonical_json(array: pa.Array) -> pa.Array:
    """JSON texts spelled as the embedded engine spells them.

    DuckDB re-spells JSON when it renders it (escapes decoded, numbers
    normalised); doing the same once on the way in keeps the two backends'
    files identical, and the rendering in SQL only has to minify.
    """
    with duckdb.connect() as engine:
        engine.register("incoming", pa.table({"j": array}))
        canonical = engine.sql("SELECT CAST(json(j) AS VARCHAR) FROM incoming")
        return canonical.to_arrow_table().column(0).combine_chunks()


def _copy_rows(
    catalog: Dataset, batch: pa.RecordBatch
) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    known = {column.name for column in catalog.columns}
    names = [name for name in batch.schema.names if name in known]
    columns = []
    for name in names:
        values = batch.column(name)
        if catalog.column(name).type == "json":
            texts = _canonical_json(values).to_pylist()
            columns.append([None if t is None else Json(t, _verbatim) for t in texts])
        else:
            columns.append(values.to_pylist())
    return names, zip(*columns, strict=True)


def _verbatim(text: str) -> str:
    return text
