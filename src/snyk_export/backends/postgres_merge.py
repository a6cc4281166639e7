"""The SQL that merges loaded rows into a dataset's table in PostgreSQL.

The rows of a load wait in a temporary table (``INCOMING``, alias ``s``); one
UPDATE rewrites the stored rows (alias ``t``) whose values differ, one INSERT
adds the rows whose key is not stored. Rows whose values are unchanged keep
everything, ``UPDATED_AT`` included; changed and new rows take their own
``UPDATED_AT``, or the load time (the one parameter) when they have none.
Columns the rows do not carry keep their stored values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from snyk_export.backends.conditions import quote_identifier
from snyk_export.catalog import Dataset

# The temporary table of the rows being loaded; dropped at commit at the latest.
INCOMING = "snyk_export_incoming"
UPDATED_AT = "UPDATED_AT"


def compared_columns(dataset: Dataset, names: tuple[str, ...]) -> list[str]:
    """The columns whose values tell a changed row: all but the key and UPDATED_AT."""
    return [n for n in names if n != UPDATED_AT and n not in dataset.order_by]


def same_key(dataset: Dataset, nullable_keys: frozenset[str]) -> str:
    """The condition that a stored row ``t`` and an incoming row ``s`` share a key."""
    # Only equalities drive a hash join; IS NOT DISTINCT FROM on a nullable
    # key column then filters the few pairs the other key columns match.
    return " AND ".join(
        f"t.{quote_identifier(k)} IS NOT DISTINCT FROM s.{quote_identifier(k)}"
        if k in nullable_keys
        else f"t.{quote_identifier(k)} = s.{quote_identifier(k)}"
        for k in dataset.order_by
    )


def _values(dataset: Dataset, names: list[str], alias: str) -> str:
    # json has no equality operator; both engines store its canonical text.
    return ", ".join(
        f"{alias}.{quote_identifier(n)}::text"
        if dataset.column(n).type == "json"
        else f"{alias}.{quote_identifier(n)}"
        for n in names
    )


def _stamp(names: tuple[str, ...]) -> str:
    if UPDATED_AT in names:
        return f"coalesce(s.{quote_identifier(UPDATED_AT)}, %s::timestamp)"
    return "%s::timestamp"


def update_sql(dataset: Dataset, names: tuple[str, ...], match: str) -> str:
    """UPDATE of the stored rows whose values differ from their incoming row's."""
    compared = compared_columns(dataset, names)
    sets = [f"{quote_identifier(n)} = s.{quote_identifier(n)}" for n in compared]
    sets.append(f"{quote_identifier(UPDATED_AT)} = {_stamp(names)}")
    return (
        f"UPDATE {quote_identifier(dataset.name)} AS t SET {', '.join(sets)} "
        f"FROM {INCOMING} AS s WHERE {match} "
        f"AND ROW({_values(dataset, compared, 't')}) "
        f"IS DISTINCT FROM ROW({_values(dataset, compared, 's')})"
    )


def insert_sql(dataset: Dataset, names: tuple[str, ...], match: str) -> str:
    """INSERT of the incoming rows whose key is not stored yet."""
    table = quote_identifier(dataset.name)
    inserted = [n for n in names if n != UPDATED_AT]
    columns = ", ".join(quote_identifier(n) for n in [*inserted, UPDATED_AT])
    values = ", ".join([*(f"s.{quote_identifier(n)}" for n in inserted), _stamp(names)])
    return (
        f"INSERT INTO {table} ({columns}) SELECT {values} FROM {INCOMING} AS s "
        f"WHERE NOT EXISTS (SELECT FROM {table} AS t WHERE {match})"
    )


def stored_rows_sql(dataset: Dataset, column: str, names: Sequence[str]) -> str:
    """SELECT of the stored rows whose ``column`` is the parameter; JSON as text."""
    selected = ", ".join(
        f"{quote_identifier(name)}::text AS {quote_identifier(name)}"
        if dataset.column(name).type == "json"
        else quote_identifier(name)
        for name in names
    )
    return (
        f"SELECT {selected} FROM {quote_identifier(dataset.name)} "
        f"WHERE {quote_identifier(column)} = %s"
    )


def load_stamp(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC without a zone, cut to the millisecond, as stored."""
    utc = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
