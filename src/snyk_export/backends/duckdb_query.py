"""Compilation of an export into one parameterised DuckDB query.

The query renders each row into one finished CSV record (fields quoted and
escaped by type, joined by commas, ending in LF), so the engine does all
per-value work and the runner only moves buffers. User values only ever
travel as parameters.
"""

from __future__ import annotations

from typing import Any

from snyk_export.backends.conditions import (
    Dialect,
    export_conditions,
    quote_identifier,
)
from snyk_export.catalog import Column, Dataset, FilterSpec, datasets
from snyk_export.filters import TAG_WHITESPACE, normalize_tag
from snyk_export.jobs import Export

TRIM_CHARS = TAG_WHITESPACE
# The last microsecond of a millisecond: bounds are inclusive at ms precision.

# The starts of a cell that spreadsheets run as a formula (the opt-in
# spreadsheet-safe extension prefixes them with a quote; §19.3).
FORMULA_START = r"^[=+\-@\t\r]"

SQL_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "array": "VARCHAR[]",
    "json": "JSON",
}

# Plain decimal for doubles: the shortest round-trip digits DuckDB prints, with
# any exponent written out and integral values without a fraction. Below 1e15
# an integral double is exactly its BIGINT, which prints the same digits.
MACROS = [
    r"""
    CREATE OR REPLACE MACRO csv_plain_decimal(s) AS
    CASE
      WHEN s LIKE '%e-%' THEN
        regexp_extract(s, '^(-?)', 1) || '0.' ||
        repeat('0', CAST(regexp_extract(s, 'e-(\d+)$', 1) AS INTEGER) - 1) ||
        replace(regexp_extract(s, '^-?([0-9.]+)e', 1), '.', '')
      WHEN s LIKE '%e%' THEN
        regexp_extract(s, '^(-?)', 1) ||
        replace(regexp_extract(s, '^-?([0-9.]+)e', 1), '.', '') ||
        repeat('0', CAST(regexp_extract(s, 'e\+?(\d+)$', 1) AS INTEGER)
                    - length(regexp_extract(s, '\.([0-9]+)e', 1)))
      ELSE regexp_replace(s, '\.0$', '')
    END
    """,
    """
    CREATE OR REPLACE MACRO csv_number(x) AS
    CASE WHEN x IS NULL OR isnan(x) OR isinf(x) THEN ''
         WHEN x = trunc(x) AND abs(x) < 1e15 THEN CAST(CAST(x AS BIGINT) AS VARCHAR)
         ELSE csv_plain_decimal(CAST(x AS VARCHAR)) END
    """,
]


def _quoted(text_sql: str, column_sql: str) -> str:
    return (
        f"CASE WHEN {column_sql} IS NULL THEN '' "
        f"ELSE concat('\"', replace({text_sql}, '\"', '\"\"'), '\"') END"
    )


def _formula_safe(ref: str) -> str:
    """A string value with a leading ``'`` where a spreadsheet would see a formula."""
    formula = f"regexp_matches({ref}, '{FORMULA_START}')"
    return f"CASE WHEN {formula} THEN concat('''', {ref}) ELSE {ref} END"


def render_field(column: Column, *, spreadsheet_safe: bool = False) -> str:
    """SQL that renders ``column`` as one CSV field in the contract's dialect."""
    ref = quote_identifier(column.name)
    if column.type == "string":
        return _quoted(_formula_safe(ref) if spreadsheet_safe else ref, ref)
    if column.type == "integer":
        return f"coalesce(CAST({ref} AS VARCHAR), '')"
    if column.type == "number":
        return f"csv_number({ref})"
    if column.type == "boolean":
        return (
            f"CASE WHEN {ref} THEN '\"true\"' "
            f"WHEN NOT {ref} THEN '\"false\"' ELSE '' END"
        )
    if column.type == "timestamp":
        return (
            f"CASE WHEN {ref} IS NULL THEN '' "
            f"ELSE concat('\"', strftime({ref}, '%Y-%m-%d %H:%M:%S.%g'), '\"') END"
        )
    if column.type == "date":
        return (
            f"CASE WHEN {ref} IS NULL THEN '' "
            f"ELSE concat('\"', strftime({ref}, '%Y-%m-%d'), '\"') END"
        )
    if column.type == "array":
        return _quoted(f"CAST(to_json({ref}) AS VARCHAR)", ref)
    return _quoted(f"CAST(json({ref}) AS VARCHAR)", ref)


def render_record(
    dataset: Dataset, columns: tuple[str, ...], *, spreadsheet_safe: bool = False
) -> str:
    """SQL for one whole CSV record of the chosen columns, LF included."""
    fields = ", ',', ".join(
        render_field(dataset.column(name), spreadsheet_safe=spreadsheet_safe)
        for name in columns
    )
    return f"concat({fields}, chr(10))"


def header_line(columns: tuple[str, ...]) -> bytes:
    """The header record: every selected column name, quoted."""
    return (",".join(f'"{name}"' for name in columns) + "\n").encode("utf-8")


def _tag_sql(element: str) -> str:
    trim = f"'{TRIM_CHARS}'"
    tag = f"trim({element}, {trim})"
    return (
        f"CASE WHEN strpos({tag}, ':') > 0 THEN "
        f"concat(trim(split_part({tag}, ':', 1), {trim}), ':', "
        f"trim(substr({tag}, strpos({tag}, ':') + 1), {trim})) "
        f"ELSE {tag} END"
    )


def _value_condition(spec: FilterSpec, values: list[str]) -> tuple[str, list[Any]]:
    ref = quote_identifier(spec.column)
    if spec.normalize == "tag":
        wanted = [normalize_tag(v) for v in values]
        transform = f"list_transform({ref}, lambda t: {_tag_sql('t')})"
        return f"list_has_any({transform}, ?)", [wanted]
    if spec.match == "array_overlap":
        if spec.case_sensitive:
            return f"list_has_any({ref}, ?)", [values]
        lowered = [v.lower() for v in values]
        transform = f"list_transform({ref}, lambda t: lower(t))"
        return f"list_has_any({transform}, ?)", [lowered]
    if spec.case_sensitive:
        return f"list_contains(?, {ref})", [values]
    return f"list_contains(?, lower({ref}))", [[v.lower() for v in values]]


DIALECT = Dialect(
    parameter="?",
    timestamp_parameter="?",
    value_condition=_value_condition,
    is_empty_array=lambda ref: f"({ref} IS NULL OR len({ref}) = 0)",
)


def compile_export(export: Export) -> tuple[str, list[Any]]:
    """The query and parameters that produce the records of ``export``."""
    definition = export.definition
    dataset = datasets()[definition.dataset]
    conditions, params = export_conditions(export, dataset, DIALECT)
    record = render_record(
        dataset, definition.columns, spreadsheet_safe=definition.spreadsheet_safe
    )
    # No ORDER BY: rows come in storage order, which DuckDB keeps while
    # streaming (preserve_insertion_order), so the same stored data gives the
    # same files. A global sort of wide rows needs memory in proportion to the
    # export and fails under a bounded memory limit.
    sql = (
        f"SELECT {record} AS record "
        f"FROM {quote_identifier(dataset.name)} "
        f"WHERE {' AND '.join(conditions)}"
    )
    return sql, params


def table_ddl(dataset: Dataset) -> str:
    """CREATE TABLE for a dataset's analytics table, columns in catalog order."""
    columns = ",\n  ".join(
        f"{quote_identifier(c.name)} {SQL_TYPES[c.type]}" for c in dataset.columns
    )
    return (
        f"CREATE TABLE IF NOT EXISTS {quote_identifier(dataset.name)} (\n  {columns}\n)"
    )
