"""Compilation of an export into one parameterised DuckDB query.

The query renders each row into one finished CSV record (fields quoted and
escaped by type, joined by commas, ending in LF), so the engine does all
per-value work and the runner only moves buffers. User values only ever
travel as parameters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from snyk_export.catalog import Column, Dataset, FilterSpec, datasets
from snyk_export.filters import TAG_WHITESPACE, normalize_tag, parse_instant
from snyk_export.jobs import Export

TRIM_CHARS = TAG_WHITESPACE
# The last microsecond of a millisecond: bounds are inclusive at ms precision.
REST_OF_MS = dt.timedelta(microseconds=999)

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


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quoted(text_sql: str, column_sql: str) -> str:
    return (
        f"CASE WHEN {column_sql} IS NULL THEN '' "
        f"ELSE concat('\"', replace({text_sql}, '\"', '\"\"'), '\"') END"
    )


def render_field(column: Column) -> str:
    """SQL that renders ``column`` as one CSV field in the contract's dialect."""
    ref = quote_identifier(column.name)
    if column.type == "string":
        return _quoted(ref, ref)
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


def render_record(dataset: Dataset, columns: tuple[str, ...]) -> str:
    """SQL for one whole CSV record of the chosen columns, LF included."""
    fields = ", ',', ".join(render_field(dataset.column(name)) for name in columns)
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


def _tags_conditions(
    dataset: Dataset, filters: dict[str, Any]
) -> tuple[list[str], list[Any]]:
    tags_spec = dataset.find_filter("project_tags")
    mode = filters.get("empty_project_tags")
    tags = filters.get("project_tags")
    if tags_spec is None or (mode is None and tags is None):
        return [], []
    ref = quote_identifier(tags_spec.column)
    empty = f"({ref} IS NULL OR len({ref}) = 0)"
    if tags is None:
        return (
            [f"NOT {empty}"] if mode == "exclude" else [empty] if mode == "only" else []
        ), []
    match, params = _value_condition(tags_spec, tags)
    if mode == "include":
        return [f"({match} OR {empty})"], params
    if mode == "only":
        return ["FALSE"], []
    return [match], params


def _date_condition(
    spec: FilterSpec, raw: dict[str, str | None], snapshot: dt.datetime
) -> tuple[str, list[Any]]:
    ref = quote_identifier(spec.column)
    end = parse_instant(raw["to"]) if raw["to"] else snapshot
    end = end.replace(microsecond=end.microsecond // 1000 * 1000)
    conditions = [f"{ref} <= ?"]
    params: list[Any] = [_naive(end) + REST_OF_MS]
    if raw["from"]:
        conditions.append(f"{ref} >= ?")
        params.append(_naive(parse_instant(raw["from"])))
    return " AND ".join(conditions), params


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def compile_export(export: Export) -> tuple[str, list[Any]]:
    """The query and parameters that produce the records of ``export``."""
    definition = export.definition
    dataset = datasets()[definition.dataset]
    snapshot = export.snapshot_at or export.created
    scope_column = quote_identifier(dataset.scope_columns[definition.scope])
    conditions = [f"{scope_column} = ?"]
    params: list[Any] = [definition.scope_id]

    for name, value in definition.filters.items():
        spec = dataset.find_filter(name)
        if spec is None or name in ("project_tags", "empty_project_tags"):
            continue
        if spec.kind == "date_range":
            condition, extra = _date_condition(spec, value, snapshot)
        else:
            condition, extra = _value_condition(spec, value)
        conditions.append(condition)
        params.extend(extra)
    tag_conditions, tag_params = _tags_conditions(dataset, definition.filters)
    conditions.extend(tag_conditions)
    params.extend(tag_params)

    if not definition.include_deleted:
        conditions.extend(
            f"{quote_identifier(c)} IS NULL" for c in dataset.deletion_columns
        )
    if not definition.include_deactivated:
        conditions.extend(
            f"{quote_identifier(c)} IS NOT FALSE" for c in dataset.monitoring_columns
        )

    # No ORDER BY: rows come in storage order, which DuckDB keeps while
    # streaming (preserve_insertion_order), so the same stored data gives the
    # same files. A global sort of wide rows needs memory in proportion to the
    # export and fails under a bounded memory limit.
    sql = (
        f"SELECT {render_record(dataset, definition.columns)} AS record "
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
