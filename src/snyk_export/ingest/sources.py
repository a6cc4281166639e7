"""Files to load, read by DuckDB's own readers: CSV, Parquet and JSON Lines.

A source turns one file into a relation of raw values, one column per catalog
column the file carries plus ``__record`` (the 1-based record number), and
knows how to point a reader at a record ("line 12", "row 12"). CSV follows
the export's own dialect (§11), so a file exported from Snyk or from this
server reads back as it was written. Every error names the file.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from snyk_export.backends.conditions import quote_identifier
from snyk_export.catalog import Dataset
from snyk_export.errors import LoadRejected

Format = Literal["csv", "parquet", "jsonl"]
SourceKind = Format | Literal["arrow"]

SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}

# The header is one line of quoted names, so this much of the file holds it.
_HEADER_BYTES = 1 << 20

_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CONVERTING = re.compile(r'converting column "([^"]+)"')


@dataclass(frozen=True)
class Source:
    """One file, the catalog columns it carries and how DuckDB reads it."""

    path: Path
    format: SourceKind
    columns: tuple[str, ...]
    raw_types: dict[str, str]
    relation: str | None = None

    def relation_sql(self) -> tuple[str, dict[str, Any]]:
        """A SELECT of ``__record`` and the raw columns, with named parameters."""
        names = ", ".join(quote_identifier(name) for name in self.columns)
        if self.relation is not None:
            return (
                f"SELECT row_number() OVER () AS __record, {names} "
                f"FROM {quote_identifier(self.relation)}",
                {},
            )
        # A streaming window: row_number() OVER () follows the reader's order,
        # which DuckDB keeps because preserve_insertion_order is on. It also
        # keeps memory flat: unnumbered, the parallel reader feeds an ordered
        # INSERT that buffers out of a 256 MB limit on a million wide rows.
        if self.format == "parquet":
            return (
                f"SELECT row_number() OVER () AS __record, {names} "
                "FROM read_parquet($path)",
                {"path": str(self.path)},
            )
        reader = _csv_reader() if self.format == "csv" else _jsonl_reader()
        typed = dict.fromkeys(self.columns, "VARCHAR")
        return (
            f"SELECT row_number() OVER () AS __record, {names} FROM {reader}",
            {"path": str(self.path), "columns": typed},
        )

    def locate(self, record: int) -> str:
        """Where record number ``record`` is, in the words a reader expects."""
        if self.format in ("parquet", "arrow"):
            return f"row {record}"
        if self.format == "jsonl":
            return f"line {_jsonl_line(self.path, record)}"
        return f"line {_csv_line(self.path, record)}"

    def rejected(self, where: str | None, column: str | None, reason: str) -> Exception:
        """The error for a bad value of this file; nothing of it will be stored."""
        place = [self.path.name]
        if where:
            place.append(where)
        if column:
            place.append(f"column {column}")
        return LoadRejected(f"{', '.join(place)}: {reason}")

    def reader_error(self, exc: duckdb.Error) -> Exception:
        """DuckDB's reader error about this file, as a clean message."""
        text = str(exc)
        if self.format == "csv":
            return self._csv_error(text)
        bad_line = _first_bad_json_line(self.path) if self.format == "jsonl" else None
        if bad_line is not None:
            return self.rejected(f"line {bad_line[0]}", None, bad_line[1])
        return self.rejected(None, None, text.splitlines()[0])

    def _csv_error(self, text: str) -> Exception:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        line = _CSV_LINE.search(text)
        column = _CONVERTING.search(text)
        reason = next(
            (
                item
                for item in lines[1:]
                if not item.startswith(("Original Line", "CSV Error"))
            ),
            lines[0] if lines else "unreadable",
        )
        if "unicode" in reason.lower():
            reason = "invalid UTF-8 (the file must be UTF-8 encoded)"
        elif "unterminated quote" in reason.lower():
            reason = "a quoted field is not closed (broken quoting or cut-off file)"
        elif "Expected Number of Columns" in reason:
            reason = reason.replace("Expected Number of Columns", "expected columns")
        return self.rejected(
            f"line {line.group(1)}" if line else None,
            column.group(1) if column else None,
            reason.rstrip("."),
        )


def _csv_reader() -> str:
    return (
        "read_csv($path, columns = $columns, header = true, auto_detect = false, "
        "delim = ',', quote = '\"', escape = '\"', strict_mode = true, "
        "allow_quoted_nulls = false, null_padding = false)"
    )


def _jsonl_reader() -> str:
    return "read_json($path, columns = $columns, format = 'newline_delimited')"


def registered_source(
    cursor: duckdb.DuckDBPyConnection, label: str, relation: str
) -> Source:
    """A source over a relation registered on ``cursor`` (an Arrow table)."""
    rows = cursor.execute(f"DESCRIBE {quote_identifier(relation)}").fetchall()
    raw = {str(row[0]): str(row[1]) for row in rows}
    return Source(Path(label), "arrow", tuple(raw), raw, relation)


def detect_format(path: Path, given: str | None) -> Format:
    """The format named by ``given``, else by the file's suffix."""
    if given is not None:
        if given not in ("csv", "parquet", "jsonl"):
            raise LoadRejected(f"unknown format {given!r}; use csv, parquet or jsonl")
        return given  # type: ignore[return-value]
    found = SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise LoadRejected(
            f"{path.name}: cannot tell the format from the suffix; "
            "name it .csv, .parquet or .jsonl, or pass --format"
        )
    return found


def open_source(
    cursor: duckdb.DuckDBPyConnection, dataset: Dataset, path: Path, fmt: Format
) -> Source:
    """The source for ``path``, its columns checked against ``dataset``."""
    if not path.is_file():
        raise LoadRejected(f"{path}: no such file")
    if fmt == "csv":
        names = _csv_header(path)
        raw = dict.fromkeys(names, "VARCHAR")
    elif fmt == "parquet":
        raw = _parquet_schema(cursor, path)
        names = tuple(raw)
    else:
        names = tuple(column.name for column in dataset.columns)
        raw = dict.fromkeys(names, "VARCHAR")
    _check_columns(dataset, path, names, "line 1" if fmt == "csv" else "schema")
    return Source(path, fmt, names, raw)


def _csv_header(path: Path) -> tuple[str, ...]:
    with path.open("rb") as handle:
        head = handle.read(_HEADER_BYTES)
    if not head:
        raise LoadRejected(f"{path.name}: the file is empty; expected a header line")
    if head.startswith(b"\xef\xbb\xbf"):
        raise LoadRejected(f"{path.name}, line 1: UTF-8 with a byte-order mark")
    first = head.split(b"\n", 1)[0]
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadRejected(f"{path.name}, line 1: invalid UTF-8") from exc
    return tuple(next(csv.reader([text]), []))


def _parquet_schema(cursor: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    try:
        rows = cursor.execute(
            "DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]
        ).fetchall()
    except duckdb.Error as exc:
        raise LoadRejected(f"{path.name}: not a readable Parquet file") from exc
    return {str(row[0]): str(row[1]) for row in rows}


def _check_columns(
    dataset: Dataset, path: Path, names: tuple[str, ...], where: str
) -> None:
    unknown = [name for name in names if dataset.find_column(name) is None]
    if unknown or any(dataset.column(n).name != n for n in names if n not in unknown):
        raise LoadRejected(
            f"{path.name}, {where}: {', '.join(unknown) or 'a name'} is not an "
            f"uppercase column of {dataset.name}"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise LoadRejected(f"{path.name}, {where}: {', '.join(repeated)} repeated")
    missing = [key for key in dataset.order_by if key not in names]
    if missing:
        raise LoadRejected(
            f"{path.name}, {where}: the natural key column "
            f"{', '.join(missing)} is missing"
        )


def _csv_line(path: Path, record: int) -> int:
    """The physical line record ``record`` starts on (quoted fields hold LFs)."""
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for _ in range(record - 1):
            next(reader, None)
        return reader.line_num + 1


def _jsonl_line(path: Path, record: int) -> int:
    seen = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            seen += bool(line.strip())
            if seen == record:
                return number
    return seen


def _first_bad_json_line(path: Path) -> tuple[int, str] | None:
    """The first line of a JSON Lines file that is not one UTF-8 JSON object."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                return number, "invalid UTF-8 (the file must be UTF-8 encoded)"
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                return number, "not JSON"
            if not isinstance(value, dict):
                return number, "not a JSON object"
    return None
