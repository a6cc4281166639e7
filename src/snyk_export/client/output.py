"""Writing downloaded parts: merged into one file or kept apart, as CSV, JSON
Lines or Parquet.

CSV output is the parts' bytes as served, so a merged file is exactly the
export (one header, the records of every part in results order, §10.2). The
conversions parse the CSV with the column types of the catalog when the
dataset is known, so that arrays become lists and timestamps instants; columns
the catalog does not know stay strings.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from snyk_export.catalog import Column, Dataset
from snyk_export.client.errors import DownloadFailed

OutputFormat = Literal["csv", "jsonl", "parquet"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("csv", "jsonl", "parquet")

_ARROW_TYPES: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("ms"),
    "date": pa.date32(),
}


@dataclass(frozen=True)
class OutputOptions:
    """Where and how the fetched export is written."""

    path: Path
    format: OutputFormat = "csv"
    split: bool = False
    """Keep the parts apart, as files in the directory ``path``."""


def read_header(part: Path) -> list[str]:
    """The column names in a part's first line."""
    with part.open("rb") as handle:
        line = handle.readline().decode("utf-8").rstrip("\n")
    return [name.strip('"') for name in line.split(",")] if line else []


def write_output(
    parts: Sequence[Path],
    options: OutputOptions,
    dataset: Dataset | None,
    columns: Sequence[str],
) -> list[Path]:
    """Write the parts as ``options`` asks; the files written, in order.

    ``columns`` are the names the header of an export without parts would have.
    """
    headers = [read_header(part) for part in parts]
    if any(header != headers[0] for header in headers):
        raise DownloadFailed("the parts of the export have different headers")
    names = headers[0] if headers else list(columns)
    convert = _Converter(dataset, names)
    if options.split:
        options.path.mkdir(parents=True, exist_ok=True)
        targets = [
            options.path / f"part-{index:05d}.{options.format}"
            for index in range(len(parts))
        ]
        for part, target in zip(parts, targets, strict=True):
            _write_atomically(target, convert, [part], options)
        return targets
    options.path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(options.path, convert, parts, options)
    return [options.path]


def _write_atomically(
    target: Path, convert: _Converter, parts: Sequence[Path], options: OutputOptions
) -> None:
    partial = target.with_name(f".{target.name}.partial")
    try:
        convert.write(partial, parts, options)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


class _Converter:
    """Turns CSV parts of one export into one output file."""

    def __init__(self, dataset: Dataset | None, names: Sequence[str]) -> None:
        self.names = list(names)
        self.columns: dict[str, Column | None] = {
            name: dataset.find_column(name) if dataset else None for name in names
        }

    def kind(self, name: str) -> str:
        column = self.columns[name]
        return column.type if column else "string"

    def write(
        self, target: Path, parts: Sequence[Path], options: OutputOptions
    ) -> None:
        if options.format == "csv":
            self._write_csv(target, parts)
        elif options.format == "jsonl":
            with target.open("w", encoding="utf-8", newline="\n") as handle:
                for batch in self.batches(parts):
                    self._write_jsonl(handle, batch)
        else:
            self._write_parquet(target, parts)

    def _write_csv(self, target: Path, parts: Sequence[Path]) -> None:
        with target.open("wb") as out:
            if not parts and self.names:
                out.write((",".join(f'"{n}"' for n in self.names) + "\n").encode())
            for position, part in enumerate(parts):
                with part.open("rb") as handle:
                    if position:
                        handle.readline()
                    shutil.copyfileobj(handle, out, 1024 * 1024)

    def _write_parquet(self, target: Path, parts: Sequence[Path]) -> None:
        with pq.ParquetWriter(target, self.schema()) as writer:
            for batch in self.batches(parts):
                writer.write_batch(batch)

    def schema(self) -> pa.Schema:
        return pa.schema([(name, self.arrow_type(name)) for name in self.names])

    def arrow_type(self, name: str) -> pa.DataType:
        kind = self.kind(name)
        if kind == "timestamp":
            return pa.timestamp("ms", tz="UTC")
        if kind == "array":
            return pa.list_(pa.string())
        return _ARROW_TYPES.get(kind, pa.string())

    def batches(self, parts: Sequence[Path]) -> Iterator[pa.RecordBatch]:
        """The records of every part, typed as the catalog says."""
        schema = self.schema()
        for part in parts:
            for batch in pacsv.open_csv(
                part,
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=self._convert_options(),
            ):
                yield pa.RecordBatch.from_arrays(
                    [self._typed(name, batch.column(name)) for name in self.names],
                    schema=schema,
                )

    def _convert_options(self) -> pacsv.ConvertOptions:
        # §11.3: NULL is an empty unquoted field; a quoted empty field is "".
        return pacsv.ConvertOptions(
            column_types={
                name: _ARROW_TYPES.get(self.kind(name), pa.string())
                for name in self.names
            },
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["true"],
            false_values=["false"],
        )

    def _typed(self, name: str, values: pa.Array) -> pa.Array:
        kind = self.kind(name)
        if kind == "timestamp":
            return values.cast(pa.timestamp("ms", tz="UTC"))
        if kind == "array":
            lists = [None if v is None else json.loads(v) for v in values.to_pylist()]
            return pa.array(lists, type=pa.list_(pa.string()))
        return values

    def _write_jsonl(self, handle: IO[str], batch: pa.RecordBatch) -> None:
        objects = [name for name in self.names if self.kind(name) == "json"]
        for row in batch.to_pylist():
            for name in objects:
                if row[name] is not None:
                    row[name] = json.loads(row[name])
            handle.write(json.dumps(row, ensure_ascii=False, default=_jsonable))
            handle.write("\n")


def _jsonable(value: Any) -> str:
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        return moment.replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
