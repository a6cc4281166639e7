"""Loading files into a dataset: an upsert by natural key, all or nothing per file.

DuckDB's reader streams the file through the checked relation of ``staging``,
inside one load transaction per file (``targets``), so memory stays within
DuckDB's limit and a rejected file leaves the table as it was:

1. hashes: the natural key and the values of every record, checked (bad type,
   empty key column, malformed UUID, a value outside a closed vocabulary),
   into a narrow temporary table; a repeated key stops the load;
2. merge: the engine's upsert of the checked rows by natural key.

Unchanged rows keep everything, UPDATED_AT included. A changed or new row
takes the file's UPDATED_AT, or the load time when the file has none.
Columns the file does not carry keep their stored values.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from snyk_export.backends.base import Backend
from snyk_export.backends.conditions import quote_identifier
from snyk_export.catalog import Dataset, datasets
from snyk_export.errors import LoadRejected
from snyk_export.ingest.sources import Source, detect_format, open_source
from snyk_export.ingest.staging import PROBLEM, checked_sql, hashes_sql, staging_sql
from snyk_export.ingest.targets import LoadTransaction, Staged, begin_load

logger = logging.getLogger(__name__)


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
    backend: Backend,
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

    with begin_load(backend, catalog) as load:
        source = open_source(load.reader, catalog, path, file_format)
        report = upsert(load, catalog, source, now or dt.datetime.now(dt.UTC))
    logger.info(
        "Loaded %s", report.summary(), extra={"action": "load_finished", **vars(report)}
    )
    return report


def upsert(
    load: LoadTransaction, dataset: Dataset, source: Source, now: dt.datetime
) -> LoadReport:
    """Check and upsert ``source`` inside the caller's load transaction."""
    relation, params = source.relation_sql()
    checked = f"({checked_sql(dataset, source, relation)})"
    staged = Staged(dataset, source, checked, params, f"__incoming_{uuid.uuid4().hex}")
    cursor = load.reader
    try:
        rows = _hash_incoming(cursor, staged)
        _reject_repeated_keys(cursor, staged)
        inserted, updated = load.merge(staged, now)
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error as exc:
        raise _rejection(source, exc) from exc

    cursor.execute(f"DROP TABLE IF EXISTS {staged.hashes}")
    return LoadReport(dataset.name, source.path.name, rows, inserted, updated)


def _hash_incoming(cursor: duckdb.DuckDBPyConnection, staged: Staged) -> int:
    """Hash every checked record into ``staged.hashes``; the number of records."""
    hashes = hashes_sql(staged.dataset, staged.source.columns, "s")
    cursor.execute(
        f"CREATE TEMP TABLE {staged.hashes} AS "
        f"SELECT {hashes} FROM {staged.checked} AS s",
        staged.params,
    )
    found = cursor.execute(f"SELECT count(*) FROM {staged.hashes}").fetchone()
    return int(found[0]) if found else 0


def _reject_repeated_keys(cursor: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    """Stop the load at the second record of a key the file repeats."""
    repeated = cursor.execute(
        f"SELECT key_hash FROM {staged.hashes} GROUP BY key_hash HAVING count(*) > 1"
    ).fetchall()
    if not repeated:
        return
    dataset, source = staged.dataset, staged.source
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
        staged.params | {"hashes": [row[0] for row in repeated]},
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
