"""Loading files into a dataset: an upsert by natural key, all or nothing per file.

DuckDB-specific. DuckDB's reader streams the file through the checked
relation of ``staging`` in each step, inside one transaction per file, so
Python never holds rows, memory stays within DuckDB's limit, and a rejected
file leaves the table as it was:

1. hashes: the natural key and the values of every record, checked (bad type,
   empty key column, malformed UUID, a value outside a closed vocabulary),
   into a narrow temporary table; a repeated key stops the load;
2. changes: keys whose stored values hash differently;
3. update: those rows, from the file;
4. insert: rows whose key is not stored, straight from the file.

Unchanged rows keep everything, UPDATED_AT included. A changed or new row
takes the file's UPDATED_AT, or the load time when the file has none.
Columns the file does not carry keep their stored values.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from snyk_export.backends.conditions import quote_identifier
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.catalog import Dataset, datasets
from snyk_export.errors import LoadRejected
from snyk_export.ingest.sources import Source, detect_format, open_source
from snyk_export.ingest.staging import (
    NULLABLE_KEY_COLUMNS,
    PROBLEM,
    checked_sql,
    staging_sql,
)

logger = logging.getLogger(__name__)

UPDATED_AT = "UPDATED_AT"
# Rows of the file held at once by one UPDATE: DuckDB's UPDATE ... FROM keeps
# the incoming side of its join in memory, and wide issues rows are ~1.5 kB.
UPDATE_CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class LoadReport:
    """What loading one file did to its dataset's table."""

    dataset: str
    file: str
    rows: int
    inserted: int
    updated: int

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated

    def summary(self) -> str:
        return (
            f"{self.file}: {self.rows:,} rows into {self.dataset}: "
            f"{self.inserted:,} inserted, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged"
        )


def load_file(
    backend: DuckDBBackend,
    dataset: str,
    path: Path,
    *,
    fmt: str | None = None,
    now: dt.datetime | None = None,
) -> LoadReport:
    """Upsert the rows of one CSV, Parquet or JSON Lines file into ``dataset``."""
    catalog = datasets().get(dataset)
    if catalog is None:
        raise LoadRejected(
            f"unknown dataset {dataset!r}; one of {', '.join(datasets())}"
        )
    file_format = detect_format(path, fmt)

    with backend.transaction() as cursor:
        source = open_source(cursor, catalog, path, file_format)
        report = upsert(cursor, catalog, source, now or dt.datetime.now(dt.UTC))
    logger.info(
        "Loaded %s", report.summary(), extra={"action": "load_finished", **vars(report)}
    )
    return report


def upsert(
    cursor: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    source: Source,
    now: dt.datetime,
) -> LoadReport:
    """Check and upsert ``source`` inside the caller's transaction."""
    relation, params = source.relation_sql()
    checked = f"({checked_sql(dataset, source, relation)})"
    stamp = params | {"now": _naive_ms(now)}
    suffix = uuid.uuid4().hex
    incoming, changed = f"__incoming_{suffix}", f"__changed_{suffix}"
    table = quote_identifier(dataset.name)
    try:
        rows = _hash_incoming(cursor, dataset, source, checked, incoming, params)
        _reject_repeated_keys(cursor, dataset, source, incoming, params)
        updated = 0
        if _compared(dataset, source) and _count(cursor, table):
            count = _find_changes(cursor, dataset, source, incoming, changed)
            updated = _update_changes(
                cursor, dataset, source, checked, changed, count, stamp
            )
        inserted = _changed(cursor, insert_sql(dataset, checked, source.columns), stamp)
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error as exc:
        raise _rejection(source, exc) from exc

    cursor.execute(f"DROP TABLE IF EXISTS {incoming}")
    cursor.execute(f"DROP TABLE IF EXISTS {changed}")
    return LoadReport(dataset.name, source.path.name, rows, inserted, updated)


def _compared(dataset: Dataset, source: Source) -> list[str]:
    keys = dataset.order_by
    return [c for c in source.columns if c != UPDATED_AT and c not in keys]


def _hashes(dataset: Dataset, source: Source, alias: str) -> str:
    keys = ", ".join(f"{alias}.{quote_identifier(k)}" for k in dataset.order_by)
    compared = _compared(dataset, source)
    values = ", ".join(f"{alias}.{quote_identifier(c)}" for c in compared) or "NULL"
    return f"hash({keys}) AS key_hash, hash({values}) AS value_hash"


def _hash_incoming(
    cursor: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    source: Source,
    checked: str,
    incoming: str,
    params: dict[str, Any],
) -> int:
    """Hash every checked record into ``incoming``; the number of records."""
    cursor.execute(
        f"CREATE TEMP TABLE {incoming} AS "
        f"SELECT {_hashes(dataset, source, 's')} FROM {checked} AS s",
        params,
    )
    return _count(cursor, incoming)


def _find_changes(
    cursor: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    source: Source,
    incoming: str,
    changed: str,
) -> int:
    """Key hashes of stored rows whose values differ from the file's; how many."""
    table = quote_identifier(dataset.name)
    cursor.execute(
        f"CREATE TEMP TABLE {changed} AS SELECT i.key_hash FROM {incoming} AS i "
        f"JOIN (SELECT {_hashes(dataset, source, 't')} FROM {table} AS t) AS t "
        "ON i.key_hash = t.key_hash WHERE i.value_hash <> t.value_hash"
    )
    return _count(cursor, changed)


def _update_changes(
    cursor: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    source: Source,
    checked: str,
    changed: str,
    count: int,
    params: dict[str, Any],
) -> int:
    """UPDATE the changed rows from the file, a bounded number at a time."""
    parts = max(1, math.ceil(count / UPDATE_CHUNK_ROWS))
    keys = ", ".join(f"s.{quote_identifier(k)}" for k in dataset.order_by)
    updated = 0
    for part in range(parts if count else 0):
        rows = (
            f"(SELECT s.* FROM {checked} AS s WHERE hash({keys}) IN "
            f"(SELECT key_hash FROM {changed} WHERE key_hash % {parts} = {part}))"
        )
        updated += _changed(cursor, update_sql(dataset, rows, source.columns), params)
    return updated


def _reject_repeated_keys(
    cursor: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    source: Source,
    incoming: str,
    params: dict[str, Any],
) -> None:
    """Stop the load at the second record of a key the file repeats."""
    repeated = cursor.execute(
        f"SELECT key_hash FROM {incoming} GROUP BY key_hash HAVING count(*) > 1"
    ).fetchall()
    if not repeated:
        return
    keys = dataset.order_by
    names = ", ".join(quote_identifier(k) for k in keys)
    relation, _ = source.relation_sql()
    typed = staging_sql(dataset, keys, source.raw_types, relation)
    # The hashes only point at candidates; the keys themselves decide.
    found = cursor.execute(
        f"SELECT first, second FROM (SELECT __record AS second, lag(__record) OVER "
        f"(PARTITION BY {names} ORDER BY __record) AS first FROM ({typed}) "
        f"WHERE hash({names}) IN (SELECT * FROM unnest($hashes))) "
        "WHERE first IS NOT NULL ORDER BY second LIMIT 1",
        params | {"hashes": [row[0] for row in repeated]},
    ).fetchone()
    if found is None:
        return
    first, second = int(found[0]), int(found[1])
    raise source.rejected(
        source.locate(second),
        None,
        f"the key {', '.join(keys)} repeats {source.locate(first)}",
    )


def _rejection(source: Source, exc: duckdb.Error) -> Exception:
    found = PROBLEM.search(str(exc))
    if found is None:
        return source.reader_error(exc)
    record, column, reason = found.groups()
    return source.rejected(source.locate(int(record)), column, reason)


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
    compared = [c for c in columns if c != UPDATED_AT and c not in dataset.order_by]
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
