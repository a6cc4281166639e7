"""Staging SQL: raw values of a file converted to catalog types, and checked.

DuckDB-specific. Each raw value is converted once, to NULL where it cannot
be; comparing the typed value with the raw one tells what did not convert.
A record's first problem is written ``COLUMN|reason``; the checked relation
raises it as an error carrying the record number, so a bad value stops any
statement that reads it.
"""

from __future__ import annotations

import re

from snyk_export.backends.conditions import quote_identifier
from snyk_export.backends.duckdb_query import SQL_TYPES
from snyk_export.catalog import Column, Dataset
from snyk_export.ingest.sources import Source

# Snyk Code findings can repeat a PROBLEM_ID within one project; ASSET_FINDING_ID
# tells them apart where present (spec/datasets.json, natural_key note), so it
# is part of the key but may be empty, and empty matches empty.
NULLABLE_KEY_COLUMNS = frozenset({"ASSET_FINDING_ID"})
UPDATED_AT = "UPDATED_AT"
PROBLEM_MARK = "snyk-export-load-problem"
PROBLEM = re.compile(PROBLEM_MARK + r"\|(\d+)\|([A-Z0-9_]+)\|(.*)")
UUID_PATTERN = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ARTICLES = {"integer": "an", "array": "an"}


def _converted(column: Column, raw_type: str) -> str:
    """SQL turning the raw value ``{r}`` into the stored type, NULL where it cannot."""
    textual = raw_type == "VARCHAR"
    if column.type == "string":
        value = "{r}" if textual else "CAST({r} AS VARCHAR)"
        return f"lower({value})" if column.format == "uuid" else value
    if column.type == "timestamp" and textual:
        # Exports write UTC without a zone; JSON Lines may carry one (Z, +02:00).
        return (
            "CASE WHEN suffix({r}, 'Z') OR substr({r}, -6, 1) IN ('+', '-') "
            "THEN CAST(TRY_CAST({r} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP) "
            "ELSE TRY_CAST({r} AS TIMESTAMP) END"
        )
    if column.type == "timestamp" and raw_type.startswith("TIMESTAMP WITH"):
        return "CAST({r} AT TIME ZONE 'UTC' AS TIMESTAMP)"
    if column.type == "array" and textual:
        return "TRY_CAST(TRY_CAST({r} AS JSON) AS VARCHAR[])"
    if column.type == "json":
        text = (
            "{r}"
            if raw_type in ("VARCHAR", "JSON")
            else "CAST(to_json({r}) AS VARCHAR)"
        )
        return f"CASE WHEN json_valid({text}) THEN json({text}) END"
    return f"TRY_CAST({{r}} AS {SQL_TYPES[column.type]})"


def _literal(text: str) -> str:
    return text.replace("'", "''")


def _problems(column: Column, dataset: Dataset, raw: str, value: str) -> list[str]:
    """CASE branches naming a problem of one column's value, as ``COLUMN|reason``."""
    name = column.name
    shown = f"left(CAST({raw} AS VARCHAR), 80)"
    article = _ARTICLES.get(column.type, "a")
    branches = [
        f"WHEN {raw} IS NOT NULL AND {value} IS NULL "
        f"THEN concat('{name}|not {article} {column.type}: \"', {shown}, '\"')"
    ]
    if name in dataset.order_by and name not in NULLABLE_KEY_COLUMNS:
        branches.append(
            f"WHEN {value} IS NULL THEN '{name}|empty, but it is part of the key'"
        )
    if column.format == "uuid":
        branches.append(
            f"WHEN NOT regexp_full_match({value}, '{UUID_PATTERN}') "
            f"THEN concat('{name}|not a UUID: \"', {shown}, '\"')"
        )
    if column.values_closed and column.type in ("string", "array"):
        test = "list_contains" if column.type == "string" else "list_has_all"
        allowed = ", ".join(f"'{_literal(v)}'" for v in column.values)
        listed = _literal(", ".join(column.values))
        branches.append(
            f"WHEN NOT {test}([{allowed}], {value}) "
            f"THEN concat('{name}|not one of {listed}: \"', {shown}, '\"')"
        )
    return branches


def staging_sql(
    dataset: Dataset, columns: tuple[str, ...], raw_types: dict[str, str], relation: str
) -> str:
    """SELECT of ``__record``, the typed columns and ``__problem`` over ``relation``.

    The inner SELECT converts each raw value once; the outer one keeps the
    typed value and compares it with the raw one to find what did not convert.
    """
    inner, outer, branches = ["__record"], ["__record"], []
    for index, name in enumerate(columns):
        column = dataset.column(name)
        ref, raw, value = quote_identifier(name), f"r{index}", f"v{index}"
        converted = _converted(column, raw_types[name]).replace("{r}", ref)
        inner.append(f"{ref} AS {raw}, {converted} AS {value}")
        outer.append(f"{value} AS {ref}")
        branches.extend(_problems(column, dataset, raw, value))
    problem = f"CASE {' '.join(branches)} END" if branches else "NULL"
    return (
        f"SELECT {', '.join(outer)}, {problem} AS __problem "
        f"FROM (SELECT {', '.join(inner)} FROM ({relation}))"
    )


def checked_sql(dataset: Dataset, source: Source, relation: str) -> str:
    """The typed rows of ``relation``; the first problem found raises an error.

    The check is a filter, which DuckDB never prunes, so it runs for every row
    read, whichever statement reads them.
    """
    staged = staging_sql(dataset, source.columns, source.raw_types, relation)
    return (
        f"SELECT * EXCLUDE (__problem) FROM ({staged}) WHERE CASE WHEN __problem "
        f"IS NULL THEN TRUE ELSE error(concat('{PROBLEM_MARK}|', __record, '|', "
        "__problem)) END"
    )


def compared_columns(dataset: Dataset, columns: tuple[str, ...]) -> list[str]:
    """The columns whose values tell a changed row: all but the key and UPDATED_AT."""
    keys = dataset.order_by
    return [c for c in columns if c != UPDATED_AT and c not in keys]


def hashes_sql(dataset: Dataset, columns: tuple[str, ...], alias: str) -> str:
    """``key_hash`` and ``value_hash`` of the rows of ``alias``."""
    keys = ", ".join(f"{alias}.{quote_identifier(k)}" for k in dataset.order_by)
    compared = compared_columns(dataset, columns)
    values = ", ".join(f"{alias}.{quote_identifier(c)}" for c in compared) or "NULL"
    return f"hash({keys}) AS key_hash, hash({values}) AS value_hash"
