"""The export conditions of both engines: user values only ever travel as parameters.

For generated filters (hostile text, UUIDs, date ranges, tag modes) the SQL
text of the DuckDB and PostgreSQL queries is the one a plain value gives for
the same filter structure, and every value is among the parameters.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hostile import bounded, hostile_text, normal_tag
from snyk_export.backends import duckdb_query, postgres_query
from snyk_export.catalog import Dataset, datasets
from snyk_export.definition import ExportDefinition
from snyk_export.filters import parse_filters
from snyk_export.jobs import Export, Status


def compiled(definition: ExportDefinition) -> list[tuple[str, list[Any]]]:
    """The query of both engines for one export of ``definition``."""
    export = Export(
        id=str(uuid.uuid4()),
        definition=definition,
        status=Status.PENDING,
        created=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        credential_id="c",
    )
    return [duckdb_query.compile_export(export), postgres_query.compile_export(export)]


def strings_in(params: list[Any]) -> set[str]:
    """Every string among the parameters, list parameters flattened."""
    flat = [v for p in params for v in (p if isinstance(p, list) else [p])]
    return {v for v in flat if isinstance(v, str)}


def definition_of(
    dataset: Dataset, scope: Any, scope_id: str, raw: dict[str, Any]
) -> ExportDefinition:
    """A definition with ``raw`` filters normalised as a create request's are."""
    return ExportDefinition(
        scope=scope,
        scope_id=scope_id,
        dataset=dataset.name,
        columns=tuple(c.name for c in dataset.columns[:3]),
        filters=parse_filters(raw, dataset, scope),
    )


@st.composite
def filter_sets(draw: Any, dataset: Dataset) -> tuple[dict[str, Any], dict[str, Any]]:
    """Generated filters of one structure, and the same structure with plain values."""
    specs = [s for s in dataset.filters if s.kind in ("string_list", "uuid_list")]
    text = hostile_text(max_size=100_000).filter(lambda s: "\x00" not in s)
    hostile: dict[str, Any] = {}
    plain: dict[str, Any] = {}
    for spec in draw(st.lists(st.sampled_from(specs), unique=True, max_size=4)):
        uuids = spec.kind == "uuid_list"
        item = st.uuids().map(str) if uuids else text
        hostile[spec.name] = draw(st.lists(item, min_size=1, max_size=4))
        plain[spec.name] = [str(uuid.UUID(int=1))] if uuids else ["a"]
    moment = st.datetimes(timezones=st.just(dt.UTC)).map(dt.datetime.isoformat)
    start, end = sorted([draw(moment), draw(moment)])
    closed = draw(st.booleans())
    hostile["updated"] = hostile["introduced"] = {
        "from": start,
        "to": end if closed else None,
    }
    plain["updated"] = plain["introduced"] = {
        "from": "2001-01-01T00:00:00Z",
        "to": "2002-01-01T00:00:00Z" if closed else None,
    }
    mode = draw(st.sampled_from([None, "include", "exclude", "only"]))
    if mode is not None:
        hostile["empty_project_tags"] = plain["empty_project_tags"] = mode
    return hostile, plain


@bounded(150)
@given(data=st.data())
def test_the_sql_text_depends_on_the_filter_structure_only(data: st.DataObject) -> None:
    dataset = data.draw(st.sampled_from(list(datasets().values())), label="dataset")
    scope = data.draw(st.sampled_from(["org", "group"]), label="scope")
    raw, plain = data.draw(filter_sets(dataset), label="filters")
    scope_id = data.draw(hostile_text(max_size=1000), label="scope id")

    hostile = definition_of(dataset, scope, scope_id, raw)
    reference = definition_of(dataset, scope, "reference", plain)

    for (sql, params), (expected_sql, expected_params) in zip(
        compiled(hostile), compiled(reference), strict=True
    ):
        assert sql == expected_sql
        assert len(params) == len(expected_params)
        sent = strings_in(params)
        assert scope_id in sent
        for name, values in hostile.filters.items():
            if not isinstance(values, list):
                continue
            if (
                name == "project_tags"
                and hostile.filters.get("empty_project_tags") == "only"
            ):
                continue  # "only" with tags matches nothing: no parameter at all
            for value in values:
                assert {value, value.lower(), normal_tag(value)} & sent, (name, value)
