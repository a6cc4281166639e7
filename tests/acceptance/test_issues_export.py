"""The issues dataset exported end to end over HTTP, compared with the stored rows."""

from __future__ import annotations

from typing import Any

import pytest

from exporting import EVER, body, expected_csv, export, joined
from liveserver import LiveServer
from snyk_export.catalog import datasets

ISSUES = datasets()["issues"]
VISIBLE = (
    "ISSUE_DELETED_AT IS NULL AND PROJECT_DELETED_AT IS NULL "
    "AND GROUP_DELETED_AT IS NULL "
    "AND PROJECT_IS_MONITORED IS NOT FALSE"
)


def stored(
    live: LiveServer, columns: list[str], where: str, params: list[Any]
) -> list[Any]:
    select = ", ".join(f'"{c}"' for c in columns)
    return live.query(f"SELECT {select} FROM issues WHERE {where}", params)


def test_group_export_of_every_column_is_the_stored_data_byte_for_byte(
    live: LiveServer,
) -> None:
    client = live.client("group")
    result = export(
        client,
        "groups",
        live.tenant.group_id,
        body("issues", filters={"updated": EVER}),
    )

    columns = [c.name for c in ISSUES.columns]
    rows = stored(
        live, columns, f"GROUP_PUBLIC_ID = ? AND {VISIBLE}", [live.tenant.group_id]
    )
    assert joined(result.parts) == expected_csv(list(ISSUES.columns), rows)
    assert result.attributes["row_count"] == len(rows) > 1000
    assert sum(item["row_count"] for item in result.attributes["results"]) == len(rows)
    assert all(item["row_count"] <= 1000 for item in result.attributes["results"])
    assert len(result.parts) == -(-len(rows) // 1000)


def test_org_export_keeps_request_order_and_drops_unknown_columns(
    live: LiveServer,
) -> None:
    org = live.tenant.orgs[0].id
    columns = [
        "SCORE",
        "cve",
        "ISSUE_SEVERITY_RANK",
        " issue_severity ",
        "Score",
        "CWE",
    ]
    result = export(
        live.client("org"), "orgs", org, body("issues", columns, {"introduced": EVER})
    )

    header, records = result.rows()
    assert header == ["SCORE", "CVE", "ISSUE_SEVERITY", "CWE"]
    picked = [ISSUES.column(name) for name in header]
    rows = stored(
        live,
        header,
        f"ORG_PUBLIC_ID = ? AND FIRST_INTRODUCED >= ? AND {VISIBLE}",
        [org, "2000-01-01"],
    )
    assert joined(result.parts) == expected_csv(picked, rows)
    assert len(records) == len(rows)


FILTER_CASES = [
    ({"product_name": ["Snyk Code"]}, "PRODUCT_NAME = 'Snyk Code'"),
    ({"product_name": "Snyk IaC"}, "PRODUCT_NAME = 'Snyk IaC'"),
    ({"product_name": ["snyk code"]}, "FALSE"),
    ({"issue_status": ["Open", "Ignored"]}, "ISSUE_STATUS IN ('Open', 'Ignored')"),
    ({"issue_status": ["open"]}, "FALSE"),
    ({"issue_type": ["License"]}, "ISSUE_TYPE = 'License'"),
    ({"environment": ["BACKEND"]}, "list_contains(PROJECT_ENVIRONMENTS, 'backend')"),
    (
        {"lifecycle": ["Production", "sandbox"]},
        "list_has_any(PROJECT_LIFECYCLES, ['production', 'sandbox'])",
    ),
    ({"project_type": ["npm", "pip"]}, "PROJECT_TYPE IN ('npm', 'pip')"),
    ({"project_origin": ["github"]}, "PROJECT_ORIGIN = 'github'"),
    ({"reachability": ["Reachable"]}, "REACHABILITY = 'Reachable'"),
    ({"nvd_severity": ["Critical"]}, "NVD_SEVERITY = 'Critical'"),
    ({"empty_project_tags": "only"}, "(PROJECT_TAGS IS NULL OR len(PROJECT_TAGS) = 0)"),
    ({"empty_project_tags": "EXCLUDE"}, "len(PROJECT_TAGS) > 0"),
    ({"empty_project_tags": "include"}, "TRUE"),
]


@pytest.mark.parametrize(("filters", "where"), FILTER_CASES, ids=str)
def test_each_issues_filter_selects_exactly_the_matching_rows(
    live: LiveServer, filters: dict[str, Any], where: str
) -> None:
    result = export(
        live.client("group"),
        "groups",
        live.tenant.group_id,
        body(
            "issues",
            ["PROJECT_PUBLIC_ID", "PROBLEM_ID", "ASSET_FINDING_ID"],
            {"updated": EVER, **filters},
        ),
    )

    rows = stored(
        live,
        ["PROJECT_PUBLIC_ID", "PROBLEM_ID", "ASSET_FINDING_ID"],
        f"GROUP_PUBLIC_ID = ? AND {VISIBLE} AND {where}",
        [live.tenant.group_id],
    )
    _, records = result.rows()
    assert [tuple(r) for r in records] == [tuple(v or "" for v in row) for row in rows]
    assert result.attributes["row_count"] == len(rows)


def test_value_filters_match_something_in_the_demo_data(live: LiveServer) -> None:
    # Guards the parametrised cases above against passing on empty results.
    for filters, where in FILTER_CASES:
        if where in ("FALSE", "TRUE"):
            continue
        count = live.query(f"SELECT count(*) FROM issues WHERE {where} AND {VISIBLE}")[
            0
        ][0]
        assert count > 0, filters


def test_project_tags_match_after_trimming_around_the_colon(live: LiveServer) -> None:
    tag = live.query(
        "SELECT PROJECT_TAGS[1] FROM issues WHERE len(PROJECT_TAGS) > 0 LIMIT 1"
    )[0][0]
    key, _, value = tag.partition(":")
    spaced = f"  {key} :  {value} "
    result = export(
        live.client("group"),
        "groups",
        live.tenant.group_id,
        body("issues", ["PROJECT_TAGS"], {"updated": EVER, "project_tags": [spaced]}),
    )

    expected = live.query(
        "SELECT count(*) FROM issues WHERE list_contains(PROJECT_TAGS, ?) "
        f"AND {VISIBLE} "
        "AND GROUP_PUBLIC_ID = ?",
        [tag, live.tenant.group_id],
    )[0][0]
    assert result.attributes["row_count"] == expected > 0


def test_cve_filter_is_an_overlap_with_the_cve_list(live: LiveServer) -> None:
    cve = live.query("SELECT CVE[1] FROM issues WHERE len(CVE) > 0 LIMIT 1")[0][0]
    result = export(
        live.client("group"),
        "groups",
        live.tenant.group_id,
        body("issues", ["CVE"], {"updated": EVER, "cve": [cve, "CVE-0000-0000"]}),
    )

    expected = live.query(
        f"SELECT count(*) FROM issues WHERE list_contains(CVE, ?) AND {VISIBLE}", [cve]
    )[0][0]
    assert result.attributes["row_count"] == expected > 0


def test_orgs_filter_restricts_a_group_export_and_is_ignored_on_an_org(
    live: LiveServer,
) -> None:
    first, second = live.tenant.orgs[0].id, live.tenant.orgs[1].id
    client = live.client("group")
    result = export(
        client,
        "groups",
        live.tenant.group_id,
        body(
            "issues",
            ["ORG_PUBLIC_ID"],
            {"updated": EVER, "orgs": [second.upper(), live.other_org_id]},
        ),
    )
    _, records = result.rows()
    assert {r[0] for r in records} == {second}

    on_org = export(
        client,
        "orgs",
        first,
        body("issues", ["ORG_PUBLIC_ID"], {"updated": EVER, "orgs": [second]}),
    )
    _, records = on_org.rows()
    assert records
    assert {r[0] for r in records} == {first}


def test_include_flags_bring_back_deleted_and_deactivated_rows(
    live: LiveServer,
) -> None:
    group = live.tenant.group_id
    payload = body("issues", ["PROBLEM_ID"], {"updated": EVER})
    client = live.client("group")
    counts = {}
    for flags in (
        {},
        {"include_deleted": "true"},
        {"include_deactivated": "1"},
        {"include_deleted": "TRUE", "include_deactivated": "true"},
    ):
        counts[tuple(flags)] = export(
            client, "groups", group, payload, **flags
        ).attributes["row_count"]

    def count(where: str) -> int:
        return int(live.query(f"SELECT count(*) FROM issues WHERE {where}")[0][0])

    deleted = "ISSUE_DELETED_AT IS NULL AND PROJECT_DELETED_AT IS NULL"
    monitored = "PROJECT_IS_MONITORED IS NOT FALSE"
    assert counts[()] == count(f"{deleted} AND {monitored}")
    assert counts[("include_deleted",)] == count(monitored) > counts[()]
    assert counts[("include_deactivated",)] == count(deleted) > counts[()]
    assert counts[("include_deleted", "include_deactivated")] == count("TRUE")


def test_date_ranges_are_inclusive_and_reported_back(live: LiveServer) -> None:
    moment = live.query(
        "SELECT FIRST_INTRODUCED FROM issues ORDER BY FIRST_INTRODUCED "
        "LIMIT 1 OFFSET 100"
    )[0][0]
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    result = export(
        live.client("group"),
        "groups",
        live.tenant.group_id,
        body(
            "issues", ["FIRST_INTRODUCED"], {"introduced": {"from": stamp, "to": stamp}}
        ),
        include_deleted="true",
        include_deactivated="true",
    )

    exact = live.query(
        "SELECT count(*) FROM issues WHERE FIRST_INTRODUCED = ?", [moment]
    )[0][0]
    assert result.attributes["row_count"] == exact >= 1
    assert result.attributes["introduced_date_range"] == {"from": stamp, "to": stamp}
    assert "updated_date_range" not in result.attributes


def test_open_ended_range_reports_the_snapshot_as_its_end(live: LiveServer) -> None:
    result = export(
        live.client("group"),
        "groups",
        live.tenant.group_id,
        body(
            "issues",
            ["PROBLEM_ID"],
            {"updated": {"to": None, "from": None}, "introduced": EVER},
        ),
    )
    attributes = result.attributes
    assert "updated_date_range" not in attributes
    bounds = attributes["introduced_date_range"]
    assert bounds["from"] == "2000-01-01T00:00:00.000Z"
    assert attributes["created"] <= bounds["to"] <= attributes["finished"]


def test_an_export_matching_nothing_finishes_with_no_files(live: LiveServer) -> None:
    result = export(
        live.client("group"),
        "groups",
        live.tenant.group_id,
        body("issues", None, {"updated": EVER, "product_name": ["Nothing"]}),
    )
    assert result.attributes["row_count"] == 0
    assert result.attributes["results"] == []
    assert result.results["data"]["attributes"]["results"] == []


def test_empty_export_file_switch_gives_one_header_only_part(
    server_factory: Any,
) -> None:
    server = server_factory(empty_export_file=True)
    result = export(
        server.client("group"),
        "groups",
        server.tenant.group_id,
        body("issues", ["SCORE", "CVE"], {"updated": EVER, "cve": ["none"]}),
    )
    assert result.attributes["results"][0]["row_count"] == 0
    assert result.parts == [b'"SCORE","CVE"\n']
