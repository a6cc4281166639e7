"""usage, pr_checks and the two adoption datasets, exported end to end over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from exporting import EVER, body, expected_csv, export, joined
from liveserver import LiveServer
from snyk_export.catalog import Dataset, datasets

OTHERS = [
    "usage",
    "pr_checks",
    "pr_checks_project_adoption",
    "pr_checks_integration_adoption",
]


def visible(
    dataset: Dataset, *, deleted: bool = False, deactivated: bool = False
) -> str:
    conditions = ["TRUE"]
    if not deleted:
        conditions += [f'"{c}" IS NULL' for c in dataset.deletion_columns]
    if not deactivated:
        conditions += [f'"{c}" IS NOT FALSE' for c in dataset.monitoring_columns]
    return " AND ".join(conditions)


def stored(
    live: LiveServer,
    dataset: Dataset,
    columns: list[str],
    where: str,
    params: list[Any],
) -> list[tuple[Any, ...]]:
    select = ", ".join(f'"{c}"' for c in columns)
    return live.query(f'SELECT {select} FROM "{dataset.name}" WHERE {where}', params)


@pytest.mark.parametrize("name", OTHERS)
def test_group_export_of_every_column_is_the_stored_data(
    live: LiveServer, name: str
) -> None:
    dataset = datasets()[name]
    result = export(
        live.client("group"),
        "groups",
        live.tenant.group_id,
        body(name, filters={"updated": EVER}),
    )

    columns = [c.name for c in dataset.columns]
    rows = stored(
        live,
        dataset,
        columns,
        f"GROUP_PUBLIC_ID = ? AND {visible(dataset)}",
        [live.tenant.group_id],
    )
    assert rows, "the demo data must have rows for every dataset"
    assert joined(result.parts) == expected_csv(list(dataset.columns), rows)
    assert result.attributes["row_count"] == len(rows)
    assert result.attributes["updated_date_range"]["from"] == "2000-01-01T00:00:00.000Z"
    assert "introduced_date_range" not in result.attributes


@pytest.mark.parametrize("name", OTHERS)
def test_org_export_of_chosen_columns_in_request_order(
    live: LiveServer, name: str
) -> None:
    dataset = datasets()[name]
    org = live.tenant.orgs[0].id
    wanted = [
        dataset.columns[-1].name,
        dataset.columns[0].name.lower(),
        "NOT_A_COLUMN",
        dataset.columns[3].name,
    ]
    result = export(
        live.client("org"), "orgs", org, body(name, wanted, {"updated": EVER})
    )

    header, _ = result.rows()
    assert header == [wanted[0], wanted[1].upper(), wanted[3]]
    rows = stored(
        live, dataset, header, f"ORG_PUBLIC_ID = ? AND {visible(dataset)}", [org]
    )
    assert joined(result.parts) == expected_csv(
        [dataset.column(c) for c in header], rows
    )
    assert len(rows) > 0


@pytest.mark.parametrize("name", OTHERS)
def test_updated_range_and_orgs_filter_select_exactly(
    live: LiveServer, name: str
) -> None:
    dataset = datasets()[name]
    group = live.tenant.group_id
    middle = stored(
        live,
        dataset,
        ["UPDATED_AT", "ORG_PUBLIC_ID"],
        f"{visible(dataset)} ORDER BY UPDATED_AT",
        [],
    )
    moment, org = middle[len(middle) // 2]
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    filters = {
        "updated": {"from": stamp},
        "orgs": [org],
        "product_name": ["x"],
        "introduced": {"to": "2000-01-01T00:00:00Z"},
    }
    result = export(
        live.client("group"), "groups", group, body(name, ["ORG_PUBLIC_ID"], filters)
    )

    expected = stored(
        live,
        dataset,
        ["ORG_PUBLIC_ID"],
        f"GROUP_PUBLIC_ID = ? AND ORG_PUBLIC_ID = ? AND UPDATED_AT >= ? AND "
        f"{visible(dataset)}",
        [group, org, moment],
    )
    assert result.attributes["row_count"] == len(expected) > 0
    assert {r[0] for r in result.rows()[1]} == {org}


@pytest.mark.parametrize("name", OTHERS)
def test_an_empty_selection_finishes_with_no_parts(live: LiveServer, name: str) -> None:
    result = export(
        live.client("group"),
        "groups",
        live.tenant.group_id,
        body(name, None, {"updated": {"to": "2001-01-01T00:00:00Z"}}),
    )
    assert result.attributes["row_count"] == 0
    assert result.attributes["results"] == []
    assert result.attributes["updated_date_range"] == {"to": "2001-01-01T00:00:00.000Z"}


@pytest.mark.parametrize("name", ["pr_checks", "pr_checks_project_adoption"])
def test_include_flags_act_where_the_dataset_has_the_columns(
    live: LiveServer, name: str
) -> None:
    dataset = datasets()[name]
    client = live.client("group")
    group = live.tenant.group_id
    counts = {}
    for flags in ({}, {"include_deleted": "true"}, {"include_deactivated": "true"}):
        counts[tuple(flags)] = export(
            client,
            "groups",
            group,
            body(name, [dataset.columns[0].name], {"updated": EVER}),
            **flags,
        ).attributes["row_count"]

    def count(**kwargs: bool) -> int:
        return len(
            stored(live, dataset, ["UPDATED_AT"], visible(dataset, **kwargs), [])
        )

    assert counts[()] == count()
    assert counts[("include_deleted",)] == count(deleted=True) > counts[()]
    assert counts[("include_deactivated",)] == count(deactivated=True) > counts[()]


def test_integration_adoption_ignores_the_include_flags(live: LiveServer) -> None:
    name = "pr_checks_integration_adoption"
    client = live.client("group")
    plain = export(
        client, "groups", live.tenant.group_id, body(name, None, {"updated": EVER})
    )
    flagged = export(
        client,
        "groups",
        live.tenant.group_id,
        body(name, None, {"updated": EVER}),
        include_deleted="true",
        include_deactivated="true",
    )
    assert joined(plain.parts) == joined(flagged.parts)
    assert plain.attributes["row_count"] > 0
