"""The WHERE clause of an export, the same logic for every SQL engine.

Scope, date ranges, the ``project_tags`` / ``empty_project_tags`` table of the
contract (§6.6), and the deletion and monitoring flags (§6.7) are decided
here once; an engine supplies only what its SQL spells differently: the
parameter marker, how a list filter matches, and how an empty array is told.
User values only ever travel as parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from snyk_export.catalog import Dataset, FilterSpec
from snyk_export.filters import parse_instant
from snyk_export.jobs import Export

# Bounds are compared at millisecond precision: a stored instant anywhere in
# the millisecond of ``to`` still matches.
REST_OF_MS = dt.timedelta(microseconds=999)
TAG_FILTERS = ("project_tags", "empty_project_tags")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Dialect:
    """What one engine spells its own way in an export's conditions."""

    parameter: str
    timestamp_parameter: str
    value_condition: Callable[[FilterSpec, list[str]], tuple[str, list[Any]]]
    is_empty_array: Callable[[str], str]


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _date_condition(
    spec: FilterSpec,
    raw: dict[str, str | None],
    snapshot: dt.datetime,
    dialect: Dialect,
) -> tuple[str, list[Any]]:
    ref = quote_identifier(spec.column)
    end = parse_instant(raw["to"]) if raw["to"] else snapshot
    end = end.replace(microsecond=end.microsecond // 1000 * 1000)
    conditions = [f"{ref} <= {dialect.timestamp_parameter}"]
    params: list[Any] = [_naive(end) + REST_OF_MS]
    if raw["from"]:
        conditions.append(f"{ref} >= {dialect.timestamp_parameter}")
        params.append(_naive(parse_instant(raw["from"])))
    return " AND ".join(conditions), params


def _tags_conditions(
    dataset: Dataset, filters: dict[str, Any], dialect: Dialect
) -> tuple[list[str], list[Any]]:
    tags_spec = dataset.find_filter("project_tags")
    mode = filters.get("empty_project_tags")
    tags = filters.get("project_tags")
    if tags_spec is None or (mode is None and tags is None):
        return [], []
    empty = dialect.is_empty_array(quote_identifier(tags_spec.column))
    if tags is None:
        if mode == "exclude":
            return [f"NOT {empty}"], []
        return ([empty] if mode == "only" else []), []
    if mode == "only":
        return ["FALSE"], []
    match, params = dialect.value_condition(tags_spec, tags)
    if mode == "include":
        return [f"({match} OR {empty})"], params
    return [match], params


def export_conditions(
    export: Export, dataset: Dataset, dialect: Dialect
) -> tuple[list[str], list[Any]]:
    """The conditions, to be AND-ed, and their parameters, in order."""
    definition = export.definition
    snapshot = export.snapshot_at or export.created
    scope_column = quote_identifier(dataset.scope_columns[definition.scope])
    conditions = [f"{scope_column} = {dialect.parameter}"]
    params: list[Any] = [definition.scope_id]

    for name, value in definition.filters.items():
        spec = dataset.find_filter(name)
        if spec is None or name in TAG_FILTERS:
            continue
        if spec.kind == "date_range":
            condition, extra = _date_condition(spec, value, snapshot, dialect)
        else:
            condition, extra = dialect.value_condition(spec, value)
        conditions.append(condition)
        params.extend(extra)
    tag_conditions, tag_params = _tags_conditions(dataset, definition.filters, dialect)
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
    return conditions, params
