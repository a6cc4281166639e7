"""Where a load writes: the embedded DuckDB file, or PostgreSQL.

On both engines DuckDB's readers read and check the file (``sources``,
``staging``); a load transaction says where that reading happens and how the
checked rows are merged into the dataset's table, all of them or none.

- DuckDB: the file is read inside the database's own transaction and merged by
  SQL over the checked relation, so Python never holds rows:
  changes (keys whose stored values hash differently), update (those rows,
  a bounded number at a time), insert (rows whose key is not stored).
- PostgreSQL: a scratch in-memory DuckDB reads the file, and the checked rows
  stream in Arrow batches into the backend's transaction
  (:meth:`PostgresBackend.upsert`), which copies and merges them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb
import psycopg

from snyk_export.backends.base import Backend
from snyk_export.backends.conditions import quote_identifier
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.backends.postgres import PostgresBackend, PostgresUpsert
from snyk_export.catalog import Dataset
from snyk_export.errors import ConfigurationError
from snyk_export.ingest.sources import Source
from snyk_export.ingest.staging import (
    NULLABLE_KEY_COLUMNS,
    UPDATED_AT,
    compared_columns,
    hashes_sql,
)

# Rows of the file held at once by one UPDATE: DuckDB's UPDATE ... FROM keeps
# the incoming side of its join in memory, and wide issues rows are ~1.5 kB.
UPDATE_CHUNK_ROWS = 20_000
# Rows per Arrow batch streamed from the reader to PostgreSQL.
BATCH_ROWS = 10_000

_COPY_CONTEXT = re.compile(r"COPY \S+, line (\d+)(?:, column (\S+?))?(?::|$)", re.M)


@dataclass(frozen=True)
class Staged:
    """A checked file ready to merge, as the load transaction's reader sees it.

    ``checked`` is the SQL of its typed and checked rows (with ``params``);
    ``hashes`` names the temporary table of their key and value hashes.
    """

    dataset: Dataset
    source: Source
    checked: str
    params: dict[str, Any]
    hashes: str


class LoadTransaction(Protocol):
    """One load into one dataset's table: stored whole at the end, or not at all."""

    @property
    def reader(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection on which files are read and checked."""
        ...

    def stored_rows(
        self, column: str, value: str, names: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The stored rows whose ``column`` is ``value``; JSON values as text."""
        ...

    def merge(self, staged: Staged, now: dt.datetime) -> tuple[int, int]:
        """Upsert the checked rows; how many were inserted and updated."""
        ...


@contextlib.contextmanager
def begin_load(backend: Backend, dataset: Dataset) -> Iterator[LoadTransaction]:
    """A load transaction on ``backend``: committed when the block ends, else undone."""
    if isinstance(backend, DuckDBBackend):
        with backend.transaction() as cursor:
            yield DuckDBLoad(cursor, dataset)
    elif isinstance(backend, PostgresBackend):
        upsert = backend.upsert(dataset.name, nullable_keys=NULLABLE_KEY_COLUMNS)
        with _scratch_reader() as reader, upsert as transaction:
            yield PostgresLoad(reader, transaction)
    else:
        raise ConfigurationError(
            f"cannot load into a {type(backend).__name__}; "
            "use DuckDB or PostgreSQL as the database"
        )


@dataclass(frozen=True)
class DuckDBLoad:
    """A load into the embedded database, read and merged by its own engine."""

    reader: duckdb.DuckDBPyConnection
    dataset: Dataset

    def stored_rows(
        self, column: str, value: str, names: Sequence[str]
    ) -> list[dict[str, Any]]:
        selected = ", ".join(quote_identifier(name) for name in names)
        rows = self.reader.execute(
            f"SELECT {selected} FROM {quote_identifier(self.dataset.name)} "
            f"WHERE {quote_identifier(column)} = ?",
            [value],
        ).fetchall()
        return [dict(zip(names, row, strict=True)) for row in rows]

    def merge(self, staged: Staged, now: dt.datetime) -> tuple[int, int]:
        cursor, dataset, source = self.reader, staged.dataset, staged.source
        params = staged.params | {"now": _naive_ms(now)}
        updated = 0
        if compared_columns(dataset, source.columns) and _count(
            cursor, quote_identifier(dataset.name)
        ):
            changed = f"__changed_{uuid.uuid4().hex}"
            count = _find_changes(cursor, staged, changed)
            updated = _update_changes(cursor, staged, changed, count, params)
            cursor.execute(f"DROP TABLE IF EXISTS {changed}")
        rows = insert_sql(dataset, staged.checked, source.columns)
        return _changed(cursor, rows, params), updated


def _find_changes(
    cursor: duckdb.DuckDBPyConnection, staged: Staged, changed: str
) -> int:
    """Key hashes of stored rows whose values differ from the file's; how many."""
    table = quote_identifier(staged.dataset.name)
    stored = hashes_sql(staged.dataset, staged.source.columns, "t")
    cursor.execute(
        f"CREATE TEMP TABLE {changed} AS SELECT i.key_hash FROM {staged.hashes} AS i "
        f"JOIN (SELECT {stored} FROM {table} AS t) AS t "
        "ON i.key_hash = t.key_hash WHERE i.value_hash <> t.value_hash"
    )
    return _count(cursor, changed)


def _update_changes(
    cursor: duckdb.DuckDBPyConnection,
    staged: Staged,
    changed: str,
    count: int,
    params: dict[str, Any],
) -> int:
    """UPDATE the changed rows from the file, a bounded number at a time."""
    dataset, columns = staged.dataset, staged.source.columns
    parts = max(1, math.ceil(count / UPDATE_CHUNK_ROWS))
    keys = ", ".join(f"s.{quote_identifier(k)}" for k in dataset.order_by)
    updated = 0
    for part in range(parts if count else 0):
        rows = (
            f"(SELECT s.* FROM {staged.checked} AS s WHERE hash({keys}) IN "
            f"(SELECT key_hash FROM {changed} WHERE key_hash % {parts} = {part}))"
        )
        updated += _changed(cursor, update_sql(dataset, rows, columns), params)
    return updated


def _changed(
    cursor: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]
) -> int:
    found = cursor.execute(sql, params).fetchone()
    return int(found[0]) if found else 0


def _count(cursor: duckdb.DuckDBPyConnection, table: str) -> int:
    found = cursor.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(found[0]) if found else 0


def _naive_ms(moment: dt.datetime) -> dt.datetime:
    utc = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def _key_match(dataset: Dataset) -> str:
    return " AND ".join(
        f"t.{quote_identifier(k)} IS NOT DISTINCT FROM s.{quote_identifier(k)}"
        if k in NULLABLE_KEY_COLUMNS
        else f"t.{quote_identifier(k)} = s.{quote_identifier(k)}"
        for k in dataset.order_by
    )


def _stamp(columns: tuple[str, ...]) -> str:
    return "coalesce(s.UPDATED_AT, $now)" if UPDATED_AT in columns else "$now"


def update_sql(dataset: Dataset, rows: str, columns: tuple[str, ...]) -> str:
    """UPDATE of the stored rows matching ``rows`` by key, with their values."""
    compared = compared_columns(dataset, columns)
    sets = [f"{quote_identifier(c)} = s.{quote_identifier(c)}" for c in compared]
    return (
        f"UPDATE {quote_identifier(dataset.name)} AS t "
        f"SET {', '.join(sets)}, UPDATED_AT = {_stamp(columns)} "
        f"FROM {rows} AS s WHERE {_key_match(dataset)}"
    )


def insert_sql(dataset: Dataset, rows: str, columns: tuple[str, ...]) -> str:
    """INSERT of the rows of ``rows`` whose key is not stored yet."""
    table = quote_identifier(dataset.name)
    inserted = [c for c in columns if c != UPDATED_AT]
    names = ", ".join(quote_identifier(c) for c in [*inserted, UPDATED_AT])
    values = ", ".join(
        [*(f"s.{quote_identifier(c)}" for c in inserted), _stamp(columns)]
    )
    return (
        f"INSERT INTO {table} ({names}) SELECT {values} FROM {rows} AS s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {_key_match(dataset)})"
    )


@dataclass(frozen=True)
class PostgresLoad:
    """A load into PostgreSQL: read by a scratch DuckDB, merged by the backend."""

    reader: duckdb.DuckDBPyConnection
    upsert: PostgresUpsert

    def stored_rows(
        self, column: str, value: str, names: Sequence[str]
    ) -> list[dict[str, Any]]:
        return self.upsert.stored_rows(column, value, names)

    def merge(self, staged: Staged, now: dt.datetime) -> tuple[int, int]:
        source = staged.source
        names = ", ".join(quote_identifier(name) for name in source.columns)
        # The checked relation streams in record order, so the n-th row copied
        # is record n, the "line" of PostgreSQL's error context.
        rows = self.reader.sql(
            f"SELECT {names} FROM {staged.checked}", params=staged.params
        )
        try:
            return self.upsert.apply(rows.to_arrow_reader(BATCH_ROWS), now)
        except psycopg.DataError as exc:
            raise _postgres_rejection(source, exc) from exc
        except OverflowError as exc:
            # Python's datetime, which the COPY goes through, ends at year 9999.
            raise source.rejected(None, None, f"a value out of range: {exc}") from exc


def _postgres_rejection(source: Source, exc: psycopg.DataError) -> Exception:
    """PostgreSQL's refusal of a value DuckDB took (a NUL character, say)."""
    reason = exc.diag.message_primary or str(exc).splitlines()[0]
    if isinstance(exc, psycopg.errors.CharacterNotInRepertoire) and "0x00" in reason:
        reason = "a NUL character, which PostgreSQL text cannot hold"
    found = _COPY_CONTEXT.search(exc.diag.context or "")
    if found is None:
        return source.rejected(None, None, reason)
    line, column = found.groups()
    return source.rejected(source.locate(int(line)), column, reason)


@contextlib.contextmanager
def _scratch_reader() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB to read files with, spilling to a directory of its own."""
    with tempfile.TemporaryDirectory(prefix="snyk-export-load-") as spill:
        reader = duckdb.connect()
        try:
            reader.execute("SET temp_directory = ?", [spill])
            yield reader
        finally:
            reader.close()
