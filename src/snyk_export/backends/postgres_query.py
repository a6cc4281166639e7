"""Compilation of an export into one parameterised PostgreSQL query.

The query renders each row into one finished CSV record, byte for byte as the
embedded engine does (``duckdb_query``), so both backends give the same files
for the same data. User values only ever travel as parameters.

The query has two levels: the inner one filters and turns arrays into JSON
text; the outer one renders the fields and sorts. The inner level is kept apart
(``OFFSET 0``) so that each JSON text is computed once even where its
rendering reads it twice.
"""

from __future__ import annotations

from typing import Any

from snyk_export.backends.conditions import Dialect, export_conditions, quote_identifier
from snyk_export.backends.duckdb_query import FORMULA_START, TRIM_CHARS
from snyk_export.catalog import Column, Dataset, FilterSpec, datasets
from snyk_export.filters import normalize_tag
from snyk_export.jobs import Export

# Control characters PostgreSQL escapes as \u00xx with lowercase hex digits,
# where the embedded engine writes uppercase ones. Raw control characters never
# occur in JSON text, so chr(1) can stand in for escaped backslashes meanwhile.
_LOWERCASE_HEX_ESCAPES = ("0b", "0e", "0f", "1a", "1b", "1c", "1d", "1e", "1f")

SMALLEST_NORMAL_DOUBLE = 2.2250738585072014e-308

# A JSON string literal, or whitespace between tokens: minifying keeps the
# first and drops the second.
_JSON_TOKEN = r'("(?:[^"\\]|\\.)*")|[ \t\n\r]+'


def _quoted(text_sql: str, column_sql: str) -> str:
    return (
        f"CASE WHEN {column_sql} IS NULL THEN '' "
        f"ELSE '\"' || replace({text_sql}, '\"', '\"\"') || '\"' END"
    )


def _uppercase_hex_escapes(json_sql: str) -> str:
    text = f"replace({json_sql}, '\\\\', chr(1))"
    for code in _LOWERCASE_HEX_ESCAPES:
        text = f"replace({text}, '\\u00{code}', '\\u00{code.upper()}')"
    text = f"replace({text}, chr(1), '\\\\')"
    return f"CASE WHEN strpos({json_sql}, '\\u00') = 0 THEN {json_sql} ELSE {text} END"


def _plain_decimal(ref: str) -> str:
    """The shortest round-trip digits of a double, written without exponent.

    numeric writes plain digits and reads an exponent exactly. A normal double
    whose 15 significant digits (the float8 to numeric cast) read back as the
    same double has those digits as its shortest form; any other takes the
    float8 text (extra_float_digits = 1), which is the shortest except at exact
    ties such as 1e23, the case the first branch covers. Near the largest
    double the 15 digits would round out of range, so those take the text.
    Integral values below 1e15, the common case, are exactly their bigint.
    """
    return (
        f"CASE WHEN {ref} IS NULL OR {ref} = 'NaN'::float8 "
        f"OR abs({ref}) = 'Infinity'::float8 THEN '' "
        f"WHEN {ref} = trunc({ref}) AND abs({ref}) < 1e15 THEN {ref}::bigint::text "
        f"WHEN abs({ref}) BETWEEN {SMALLEST_NORMAL_DOUBLE!r}::float8 AND 1e308 "
        f"AND {ref}::numeric::float8 = {ref} THEN {ref}::numeric::text "
        f"ELSE {ref}::text::numeric::text END"
    )


def _formula_safe(ref: str) -> str:
    """A string value with a leading ``'`` where a spreadsheet would see a formula."""
    return f"CASE WHEN {ref} ~ '{FORMULA_START}' THEN '''' || {ref} ELSE {ref} END"


def render_field(column: Column, *, spreadsheet_safe: bool = False) -> str:
    """SQL that renders ``column`` of the inner query as one CSV field."""
    ref = quote_identifier(column.name)
    if column.type == "string":
        return _quoted(_formula_safe(ref) if spreadsheet_safe else ref, ref)
    if column.type == "integer":
        return f"coalesce({ref}::text, '')"
    if column.type == "number":
        return _plain_decimal(ref)
    if column.type == "boolean":
        return (
            f"CASE WHEN {ref} THEN '\"true\"' "
            f"WHEN NOT {ref} THEN '\"false\"' ELSE '' END"
        )
    if column.type == "timestamp":
        # to_char truncates to the millisecond, as the embedded engine does.
        return (
            f"CASE WHEN {ref} IS NULL THEN '' "
            f"ELSE '\"' || to_char({ref}, 'YYYY-MM-DD HH24:MI:SS.MS') || '\"' END"
        )
    if column.type == "date":
        return (
            f"CASE WHEN {ref} IS NULL THEN '' "
            f"ELSE '\"' || to_char({ref}, 'YYYY-MM-DD') || '\"' END"
        )
    if column.type == "array":
        return _quoted(_uppercase_hex_escapes(ref), ref)
    return _quoted(f"regexp_replace({ref}::text, '{_JSON_TOKEN}', '\\1', 'g')", ref)


def _inner_column(column: Column) -> str:
    ref = quote_identifier(column.name)
    if column.type == "array":
        return f"to_json({ref})::text AS {ref}"
    return ref


def render_record(
    dataset: Dataset, columns: tuple[str, ...], *, spreadsheet_safe: bool = False
) -> str:
    """SQL for one whole CSV record of the chosen columns, LF included."""
    pieces: list[str] = []
    for name in columns:
        field = render_field(dataset.column(name), spreadsheet_safe=spreadsheet_safe)
        pieces.extend((field, "','"))
    pieces[-1] = "chr(10)"
    return _concatenated(pieces)


def _concatenated(pieces: list[str]) -> str:
    """``||`` over the pieces as a balanced tree.

    Each ``||`` copies both operands, so a left-to-right chain copies the
    growing record once per field; halving keeps the copying to a few record
    lengths (measured: a quarter off the whole export of wide rows).
    """
    if len(pieces) == 1:
        return pieces[0]
    middle = len(pieces) // 2
    return f"({_concatenated(pieces[:middle])} || {_concatenated(pieces[middle:])})"


def _tag_sql(element: str) -> str:
    trim = f"'{TRIM_CHARS}'"
    tag = f"btrim({element}, {trim})"
    return (
        f"CASE WHEN strpos({tag}, ':') > 0 THEN "
        f"btrim(split_part({tag}, ':', 1), {trim}) || ':' || "
        f"btrim(substr({tag}, strpos({tag}, ':') + 1), {trim}) "
        f"ELSE {tag} END"
    )


def _any_element(ref: str, element_sql: str) -> str:
    return f"EXISTS (SELECT FROM unnest({ref}) AS t(tag) WHERE {element_sql})"


def _value_condition(spec: FilterSpec, values: list[str]) -> tuple[str, list[Any]]:
    ref = quote_identifier(spec.column)
    if spec.normalize == "tag":
        wanted = [normalize_tag(v) for v in values]
        return _any_element(ref, f"{_tag_sql('tag')} = ANY(%s::text[])"), [wanted]
    if spec.match == "array_overlap":
        if spec.case_sensitive:
            return f"{ref} && %s::text[]", [values]
        lowered = [v.lower() for v in values]
        return _any_element(ref, "lower(tag) = ANY(%s::text[])"), [lowered]
    if spec.case_sensitive:
        return f"{ref} = ANY(%s::text[])", [values]
    return f"lower({ref}) = ANY(%s::text[])", [[v.lower() for v in values]]


DIALECT = Dialect(
    parameter="%s",
    timestamp_parameter="%s::timestamp",
    value_condition=_value_condition,
    is_empty_array=lambda ref: f"({ref} IS NULL OR cardinality({ref}) = 0)",
)


def compile_export(export: Export) -> tuple[str, list[Any]]:
    """The query and parameters that produce the records of ``export``."""
    definition = export.definition
    dataset = datasets()[definition.dataset]
    conditions, params = export_conditions(export, dataset, DIALECT)
    record = render_record(
        dataset, definition.columns, spreadsheet_safe=definition.spreadsheet_safe
    )
    selected = [
        _inner_column(dataset.column(name))
        for name in dict.fromkeys(definition.columns)
    ]
    keys = [f"sort_key_{i}" for i in range(len(dataset.order_by))]
    selected += [
        f"{quote_identifier(column)} AS {key}"
        for column, key in zip(dataset.order_by, keys, strict=True)
    ]
    # Unlike DuckDB, PostgreSQL keeps no storage order to stream in (a
    # synchronised scan may even start mid-table), so the natural key orders
    # the rows: the same data gives the same files. The sort spills to disk
    # beyond work_mem, so memory stays bounded; "C" collation keeps it cheap
    # and independent of the database's locale.
    order = ", ".join(f'{key} COLLATE "C"' for key in keys)
    sql = (
        f"SELECT {record} AS record "
        f"FROM (SELECT {', '.join(selected)} FROM {quote_identifier(dataset.name)} "
        f"WHERE {' AND '.join(conditions)} OFFSET 0) AS selected ORDER BY {order}"
    )
    return sql, params
