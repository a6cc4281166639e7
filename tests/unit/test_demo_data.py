"""Tests of the demo data generator: schema, determinism, vocabularies and keys."""

from __future__ import annotations

import datetime
import itertools
import json
import re
import uuid
from collections import defaultdict
from typing import Any

import pyarrow as pa
import pytest

from snyk_export.catalog import datasets
from snyk_export.demo_data import (
    DemoSizes,
    DemoTenant,
    arrow_schema,
    build_tenant,
    generate,
)

NOW = datetime.datetime(2025, 6, 1, 12, 30, 15, 123456)
SIZES = DemoSizes(
    issues=6_000, usage=3_000, pr_checks=2_000, projects=60, integrations=6
)
DATASETS = tuple(datasets())
ADOPTION_OWNERS = {
    "pr_checks_project_adoption": "PROJECT_PUBLIC_ID",
    "pr_checks_integration_adoption": "ORG_SOURCE_PUBLIC_ID",
}
NATURAL_KEYS = {
    "issues": ("PROJECT_PUBLIC_ID", "PROBLEM_ID", "ASSET_FINDING_ID"),
    "usage": ("ID",),
    "pr_checks": ("PUBLIC_ID",),
    "pr_checks_project_adoption": ("PR_CHECKS_PROJECT_ADOPTION_ID",),
    "pr_checks_integration_adoption": ("PR_CHECKS_INTEGRATION_ADOPTION_ID",),
}
ARROW_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "array": pa.list_(pa.string()),
    "json": pa.string(),
}


def _generate(
    dataset: str, tenant: DemoTenant, sizes: DemoSizes = SIZES, **options: Any
) -> pa.Table:
    batches = list(
        generate(dataset, tenant, sizes, now=options.pop("now", NOW), **options)
    )
    return pa.Table.from_batches(batches, schema=arrow_schema(dataset))


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    return build_tenant()


@pytest.fixture(scope="module")
def tables(tenant: DemoTenant) -> dict[str, pa.Table]:
    return {name: _generate(name, tenant) for name in DATASETS}


@pytest.fixture(scope="module")
def issues(tables: dict[str, pa.Table]) -> list[dict[str, Any]]:
    return _rows(tables["issues"])


@pytest.mark.parametrize("dataset", DATASETS)
def test_arrow_schema_follows_the_catalog(dataset: str) -> None:
    columns = datasets()[dataset].columns
    schema = arrow_schema(dataset)

    assert schema.names == [c.name for c in columns]
    assert [f.type for f in schema] == [ARROW_TYPES[c.type] for c in columns]


def test_arrow_schema_rejects_an_unknown_dataset() -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        arrow_schema("vulnerabilities")


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_batch_has_the_catalog_schema(tenant: DemoTenant, dataset: str) -> None:
    batches = list(generate(dataset, tenant, SIZES, now=NOW, batch_rows=700))

    assert batches
    assert all(batch.schema.equals(arrow_schema(dataset)) for batch in batches)
    assert all(batch.num_rows == 700 for batch in batches[:-1])
    assert 0 < batches[-1].num_rows <= 700


@pytest.mark.parametrize("dataset", DATASETS)
def test_same_seed_and_now_give_identical_rows_whatever_the_batch_size(
    tenant: DemoTenant, tables: dict[str, pa.Table], dataset: str
) -> None:
    again = _generate(dataset, tenant, batch_rows=997)

    assert again.equals(tables[dataset])


@pytest.mark.parametrize("dataset", DATASETS)
def test_another_seed_gives_other_rows(
    tenant: DemoTenant, tables: dict[str, pa.Table], dataset: str
) -> None:
    other = _generate(dataset, tenant, seed=8)

    key = NATURAL_KEYS[dataset][-1]
    assert set(other.column(key).to_pylist()) != set(
        tables[dataset].column(key).to_pylist()
    )


def test_requested_row_counts_are_exact(tables: dict[str, pa.Table]) -> None:
    assert tables["issues"].num_rows == SIZES.issues
    assert tables["usage"].num_rows == SIZES.usage
    assert tables["pr_checks"].num_rows == SIZES.pr_checks


@pytest.mark.parametrize("dataset", DATASETS)
def test_closed_vocabularies_hold_only_catalog_values(
    tables: dict[str, pa.Table], dataset: str
) -> None:
    table = tables[dataset]
    for column in datasets()[dataset].columns:
        if not column.values_closed:
            continue
        values = table.column(column.name).to_pylist()
        if column.type == "array":
            values = [item for items in values if items for item in items]
        used = {v for v in values if v is not None}
        assert used <= set(column.values), column.name


@pytest.mark.parametrize(
    "column", ["ISSUE_SEVERITY", "ISSUE_STATUS", "PRODUCT_NAME", "ISSUE_TYPE"]
)
def test_issue_vocabularies_are_all_present(
    tables: dict[str, pa.Table], column: str
) -> None:
    used = set(tables["issues"].column(column).to_pylist())

    assert used == set(datasets()["issues"].column(column).values)


@pytest.mark.parametrize("dataset", DATASETS)
def test_natural_keys_are_unique(tables: dict[str, pa.Table], dataset: str) -> None:
    table = tables[dataset]
    columns = [table.column(k).to_pylist() for k in NATURAL_KEYS[dataset]]
    keys = list(zip(*columns, strict=True))

    assert len(set(keys)) == len(keys)
    assert all(key[0] is not None for key in keys)


def test_snyk_code_rows_are_told_apart_by_asset_finding_id(
    issues: list[dict[str, Any]],
) -> None:
    code = [r for r in issues if r["PRODUCT_NAME"] == "Snyk Code"]
    others = [r for r in issues if r["PRODUCT_NAME"] != "Snyk Code"]

    assert len({r["ASSET_FINDING_ID"] for r in code}) == len(code)
    pairs = [(r["PROJECT_PUBLIC_ID"], r["PROBLEM_ID"]) for r in others]
    assert len(set(pairs)) == len(pairs)


def test_issue_status_matches_the_resolution_timestamps(
    issues: list[dict[str, Any]],
) -> None:
    for row in issues:
        assert (row["LAST_RESOLVED"] is not None) == (row["ISSUE_STATUS"] == "Resolved")
        assert (row["LAST_IGNORED"] is not None) == (row["ISSUE_STATUS"] == "Ignored")


def test_issue_timestamps_are_ordered(issues: list[dict[str, Any]]) -> None:
    for row in issues:
        assert row["FIRST_INTRODUCED"] <= row["LAST_INTRODUCED"] <= row["UPDATED_AT"]
        assert row["UPDATED_AT"] <= NOW
        for settled in (row["LAST_RESOLVED"], row["LAST_IGNORED"]):
            assert settled is None or row["LAST_INTRODUCED"] <= settled
            assert settled is None or settled <= row["UPDATED_AT"]


@pytest.mark.parametrize("dataset", DATASETS)
def test_timestamps_have_millisecond_precision_and_precede_now(
    tables: dict[str, pa.Table], dataset: str
) -> None:
    table = tables[dataset]
    for column in datasets()[dataset].columns:
        if column.type != "timestamp":
            continue
        values = [v for v in table.column(column.name).to_pylist() if v is not None]
        assert all(v.microsecond % 1000 == 0 for v in values), column.name
        assert all(v <= NOW for v in values), column.name


@pytest.mark.parametrize("dataset", DATASETS)
def test_updated_at_is_set_and_spread_over_years(
    tables: dict[str, pa.Table], dataset: str
) -> None:
    updated = tables[dataset].column("UPDATED_AT").to_pylist()

    assert None not in updated
    assert max(updated) - min(updated) > datetime.timedelta(days=365)


def test_issue_urls_extend_the_project_url(
    tenant: DemoTenant, issues: list[dict[str, Any]]
) -> None:
    for row in issues:
        project_url = (
            f"https://app.snyk.io/org/{row['ORG_SLUG']}/project/"
            f"{row['PROJECT_PUBLIC_ID']}"
        )
        assert row["PROJECT_URL"] == project_url
        assert row["ISSUE_URL"] == f"{project_url}#issue-{row['PROBLEM_ID']}"


def test_vulnerability_urls_name_the_problem(issues: list[dict[str, Any]]) -> None:
    vulns = [
        r for r in issues if r["PRODUCT_NAME"] in ("Snyk Open Source", "Snyk Container")
    ]
    vulns = [r for r in vulns if r["ISSUE_TYPE"] == "Vulnerability"]

    assert vulns
    for row in vulns:
        assert (
            row["VULN_DB_URL"] == f"https://security.snyk.io/vuln/{row['PROBLEM_ID']}"
        )


PROJECT_TYPES = {
    "Snyk Open Source": {
        "npm",
        "yarn",
        "pip",
        "poetry",
        "maven",
        "gradle",
        "golang",
        "nuget",
    },
    "Snyk Code": {"sast"},
    "Snyk Container": {"dockerfile", "deb", "apk"},
    "Snyk IaC": {"terraform", "k8sconfig", "cloudformation"},
}
ISSUE_TYPES = {
    "Snyk Open Source": {"Vulnerability", "License"},
    "Snyk Code": {"Vulnerability"},
    "Snyk Container": {"Vulnerability"},
    "Snyk IaC": {"Configuration"},
}


def test_products_match_project_and_issue_types(issues: list[dict[str, Any]]) -> None:
    for row in issues:
        assert row["PROJECT_TYPE"] in PROJECT_TYPES[row["PRODUCT_NAME"]]
        assert row["ISSUE_TYPE"] in ISSUE_TYPES[row["PRODUCT_NAME"]]


CODE_COLUMNS = ("FILE_PATH", "CODE_REGION", "CODE_REGION_DISPLAY_VALUE", "COMMIT_ID")


def test_code_locations_are_set_only_on_snyk_code(issues: list[dict[str, Any]]) -> None:
    for row in issues:
        code = row["PRODUCT_NAME"] == "Snyk Code"
        for column in (*CODE_COLUMNS, "ASSET_FINDING_ID"):
            assert (row[column] is not None) == code, column


def test_code_regions_are_compact_json(issues: list[dict[str, Any]]) -> None:
    regions = [r["CODE_REGION"] for r in issues if r["CODE_REGION"] is not None]

    assert regions
    for text in regions:
        region = json.loads(text)
        assert text == json.dumps(region, separators=(",", ":"))
        assert set(region) == {"start", "end"}
        assert region["start"]["line"] <= region["end"]["line"]
        assert set(region["start"]) == {"line", "column"}


def test_commit_ids_are_git_shas(issues: list[dict[str, Any]]) -> None:
    shas = {r["COMMIT_ID"] for r in issues if r["COMMIT_ID"] is not None}

    assert shas
    assert all(re.fullmatch(r"[0-9a-f]{40}", sha) for sha in shas)


def test_scores_lie_in_their_ranges(issues: list[dict[str, Any]]) -> None:
    for row in issues:
        assert 0 <= row["SCORE"] <= 1000
        assert row["SCORE"] == int(row["SCORE"])
        for column in ("EPSS_SCORE", "EPSS_PERCENTILE"):
            assert row[column] is None or 0.0 <= row[column] <= 1.0
        for column in ("NVD_SCORE", "SNYK_CVSS_SCORE"):
            score = row[column]
            assert score is None or (0.0 <= score <= 10.0 and round(score, 1) == score)
        vector = row["SNYK_CVSS_VECTOR"]
        assert vector is None or vector.startswith(("CVSS:3.1/", "CVSS:4.0/"))


def test_epss_scores_are_mostly_small(issues: list[dict[str, Any]]) -> None:
    scores = sorted(r["EPSS_SCORE"] for r in issues if r["EPSS_SCORE"] is not None)

    assert scores[len(scores) // 2] < 0.01


def test_cves_belong_to_vulnerabilities_only(issues: list[dict[str, Any]]) -> None:
    with_cves = [r for r in issues if r["CVE"]]

    assert with_cves
    for row in with_cves:
        assert row["ISSUE_TYPE"] == "Vulnerability"
        assert all(re.fullmatch(r"CVE-\d{4}-\d{4,}", cve) for cve in row["CVE"])
    assert all(r["CVE"] is not None for r in issues)


def test_project_attributes_use_lowercase_vocabularies(
    issues: list[dict[str, Any]],
) -> None:
    for column in (
        "PROJECT_ENVIRONMENTS",
        "PROJECT_LIFECYCLES",
        "PROJECT_CRITICALITIES",
    ):
        lists = [r[column] for r in issues]
        assert any(items == [] for items in lists), column
        assert all(v == v.lower() for items in lists for v in items), column


def test_project_tags_are_key_value_pairs_or_empty_or_null(
    issues: list[dict[str, Any]],
) -> None:
    tags = [r["PROJECT_TAGS"] for r in issues]

    assert None in tags
    assert [] in tags
    assert all(":" in tag for items in tags if items for tag in items)


def test_deleted_and_deactivated_rows_exist(tables: dict[str, pa.Table]) -> None:
    issues = tables["issues"]

    assert issues.column("ISSUE_DELETED_AT").null_count < issues.num_rows
    assert issues.column("PROJECT_DELETED_AT").null_count < issues.num_rows
    assert False in issues.column("PROJECT_IS_MONITORED").to_pylist()
    assert issues.column("GROUP_DELETED_AT").null_count == issues.num_rows


def test_strings_that_need_csv_quoting_occur(tenant: DemoTenant) -> None:
    issues = _generate("issues", tenant, DemoSizes(issues=40_000, projects=60))
    titles = set(issues.column("PROBLEM_TITLE").to_pylist())
    packages = set(issues.column("PACKAGE_NAME_AND_VERSION").to_pylist())

    assert any('"' in t and "," in t and "é" in t for t in titles)
    assert any("\n" in t for t in titles)
    assert any(p and p.startswith("@angular/core@") for p in packages)


@pytest.mark.parametrize("dataset", DATASETS)
def test_org_and_group_columns_match_the_tenant(
    tenant: DemoTenant, tables: dict[str, pa.Table], dataset: str
) -> None:
    orgs = {org.id: org for org in tenant.orgs}
    for row in _rows(tables[dataset]):
        org = orgs[row["ORG_PUBLIC_ID"]]
        assert row["GROUP_PUBLIC_ID"] == tenant.group_id
        assert row.get("ORG_SLUG", org.slug) == org.slug
        assert row.get("ORG_DISPLAY_NAME", org.name) == org.name
        assert row.get("GROUP_SLUG", tenant.group_slug) == tenant.group_slug
        assert row.get("GROUP_DISPLAY_NAME", tenant.group_name) == tenant.group_name
        assert row.get("GROUP_DELETED_AT") is None


@pytest.mark.parametrize("dataset", DATASETS)
def test_uuid_columns_hold_lowercase_version_4_uuids(
    tables: dict[str, pa.Table], dataset: str
) -> None:
    table = tables[dataset]
    for column in datasets()[dataset].columns:
        if column.format != "uuid":
            continue
        for value in table.column(column.name).to_pylist():
            assert value is not None, column.name
            assert str(uuid.UUID(value)) == value
            assert uuid.UUID(value).version == 4


PROJECT_FACTS = (
    "ORG_PUBLIC_ID",
    "PROJECT_TYPE",
    "PRODUCT_NAME",
    "PROJECT_ORIGIN",
    "PROJECT_TARGET_REF",
    "PROJECT_TARGET_UPSTREAM_URL",
    "PROJECT_DELETED_AT",
    "ASSET_ID",
)


def test_projects_read_the_same_in_every_dataset(tables: dict[str, pa.Table]) -> None:
    facts = {
        r["PROJECT_PUBLIC_ID"]: (
            r["PROJECT_NAME"],
            r["PROJECT_IS_MONITORED"],
            *(r[c] for c in PROJECT_FACTS),
        )
        for r in _rows(tables["issues"])
    }
    for dataset in ("pr_checks", "pr_checks_project_adoption"):
        rows = _rows(tables[dataset])
        assert {r["PROJECT_PUBLIC_ID"] for r in rows} <= set(facts)
        for row in rows:
            known = facts[row["PROJECT_PUBLIC_ID"]]
            assert known[1] == row["IS_PROJECT_MONITORED"]
            assert known[2:] == tuple(row[c] for c in PROJECT_FACTS)
            assert row["PROJECT_ORIGIN"] in ("github", "gitlab", "bitbucket-cloud")


@pytest.mark.parametrize("dataset", sorted(ADOPTION_OWNERS))
def test_adoption_rows_form_consecutive_settings_histories(
    tables: dict[str, pa.Table], dataset: str
) -> None:
    periods: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(tables[dataset]):
        periods[row[ADOPTION_OWNERS[dataset]]].append(row)

    assert periods
    for history in periods.values():
        history.sort(key=lambda r: r["EFFECTIVE_AT"])
        assert 1 <= len(history) <= 5
        for earlier, later in itertools.pairwise(history):
            assert earlier["EFFECTIVE_AT"] < later["EFFECTIVE_AT"]
            assert earlier["ENDS_AT"] == later["EFFECTIVE_AT"]
            assert earlier["IS_CURRENT_SETTINGS"] is False
        assert history[-1]["ENDS_AT"] is None
        assert history[-1]["IS_CURRENT_SETTINGS"] is True


def test_every_integration_has_a_settings_history(tables: dict[str, pa.Table]) -> None:
    owners = set(
        tables["pr_checks_integration_adoption"].column("ORG_SOURCE_PUBLIC_ID")
    )

    assert len(owners) == SIZES.integrations


def test_project_histories_belong_to_integrations(tables: dict[str, pa.Table]) -> None:
    integrations = set(
        tables["pr_checks_integration_adoption"]
        .column("ORG_SOURCE_PUBLIC_ID")
        .to_pylist()
    )
    projects = _rows(tables["pr_checks_project_adoption"])

    assert {r["ORG_SOURCE_PUBLIC_ID"] for r in projects} <= integrations
    assert {r["PRODUCT_NAME"] for r in projects} == {"Snyk Open Source", "Snyk Code"}


def test_pr_check_errors_are_set_only_on_errored_checks(
    tables: dict[str, pa.Table],
) -> None:
    error_columns = (
        "ERROR_MESSAGE",
        "ERROR_CODE",
        "ERROR_STATUS",
        "ERROR_CLASSIFICATION",
    )
    rows = _rows(tables["pr_checks"])

    assert {r["PR_CHECK_STATE"] for r in rows} == {
        "success",
        "failure",
        "error",
        "skipped",
    }
    for row in rows:
        errored = row["PR_CHECK_STATE"] == "error"
        for column in (*error_columns, "ERROR_CATALOG_URL"):
            assert (row[column] is not None) == errored, column
        if errored:
            number = re.fullmatch(r"SNYK-PR-CHECK-00(0[1-9]|1[01])", row["ERROR_CODE"])
            assert number is not None
            assert row["ERROR_CATALOG_URL"] == (
                "https://docs.snyk.io/scan-with-snyk/error-catalog#"
                + row["ERROR_CODE"].lower()
            )


def test_pr_checks_carry_shas_and_group_times(tables: dict[str, pa.Table]) -> None:
    for row in _rows(tables["pr_checks"]):
        for column in ("OLD_VERSION_SHA", "NEW_VERSION_SHA", "MERGE_BASE_VERSION_SHA"):
            assert re.fullmatch(r"[0-9a-f]{40}", row[column])
        assert row["CHECK_GROUP_CREATED_AT"] <= row["PR_CHECK_CREATED_AT"]
        assert row["PR_CHECK_CREATED_AT"] <= row["PR_CHECK_MODIFIED_AT"]
        assert row["PR_CHECK_MODIFIED_AT"] <= row["CHECK_GROUP_MODIFIED_AT"]
        assert row["PRODUCT_NAME"] in ("Snyk Open Source", "Snyk Code")


ENVIRONMENTS = {
    "snyk-cli": {"CLI"},
    "snyk-ls": {"Visual Studio Code", "Jetbrains IDE", "Eclipse", "Other"},
    "PyCharm": {"Jetbrains IDE"},
    "Visual Studio": {"Visual Studio"},
}


def test_usage_events_are_consistent(tables: dict[str, pa.Table]) -> None:
    rows = _rows(tables["usage"])

    assert {r["INTERACTION_STAGE"] for r in rows} == {
        "dev",
        "cicd",
        "prchecks",
        "unknown",
    }
    for row in rows:
        assert row["ID"].startswith("urn:snyk:interaction:")
        uuid.UUID(row["ID"].removeprefix("urn:snyk:interaction:"))
        assert (
            row["ENVIRONMENT_DISPLAY_NAME"]
            in ENVIRONMENTS[row["RUNTIME_APPLICATION_NAME"]]
        )
        assert row["INTERACTION_TYPE"] == "Scan done"
        assert row["INTERACTION_EXIT_CODE"] in (0, 1, 2)
        assert (row["INTERACTION_STATUS"] == "failure") == (
            row["INTERACTION_EXIT_CODE"] == 2
        )
        assert row["INTERACTION_TARGET_ID"].startswith("pkg:")
        assert row["INTERACTION_TIMESTAMP"] <= row["UPDATED_AT"]


KNOWN_EMPTY = {"GROUP_DELETED_AT", "ORG_DELETED_AT"}


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_column_is_populated_somewhere(
    tables: dict[str, pa.Table], dataset: str
) -> None:
    table = tables[dataset]
    empty = {
        name
        for name in table.column_names
        if table.column(name).null_count == table.num_rows
    }

    assert empty <= KNOWN_EMPTY


def test_an_aware_now_means_the_same_instant(tenant: DemoTenant) -> None:
    aware = NOW.replace(tzinfo=datetime.UTC).astimezone(
        datetime.timezone(datetime.timedelta(hours=2))
    )
    sizes = DemoSizes(issues=500, usage=10, pr_checks=10, projects=20, integrations=3)

    assert _generate("issues", tenant, sizes, now=aware).equals(
        _generate("issues", tenant, sizes)
    )


def test_a_tiny_world_still_shows_every_product_and_status(tenant: DemoTenant) -> None:
    sizes = DemoSizes(issues=40, usage=5, pr_checks=5, projects=4, integrations=1)
    issues = _generate("issues", tenant, sizes)

    assert set(issues.column("PRODUCT_NAME").to_pylist()) == set(PROJECT_TYPES)
    assert set(issues.column("ISSUE_STATUS").to_pylist()) == {
        "Open",
        "Resolved",
        "Ignored",
    }
    assert _generate("pr_checks", tenant, sizes).num_rows == 5


def test_an_empty_dataset_yields_no_batches(tenant: DemoTenant) -> None:
    sizes = DemoSizes(issues=0, projects=10)

    assert list(generate("issues", tenant, sizes, now=NOW)) == []


def test_build_tenant_is_deterministic_and_named() -> None:
    tenant = build_tenant(seed=3, orgs=5)

    assert tenant == build_tenant(seed=3, orgs=5)
    assert tenant != build_tenant(seed=4, orgs=5)
    assert len(tenant.orgs) == 5
    assert len({org.id for org in tenant.orgs}) == 5
    assert all(org.slug == org.name.lower().replace(" ", "-") for org in tenant.orgs)


def test_build_tenant_needs_three_orgs() -> None:
    with pytest.raises(ValueError, match="at least 3 orgs"):
        build_tenant(orgs=2)


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        (DemoSizes(projects=3), "at least 4 projects"),
        (DemoSizes(integrations=0), "at least one integration"),
        (DemoSizes(usage=-1), "negative"),
    ],
)
def test_generate_rejects_impossible_sizes(
    tenant: DemoTenant, sizes: DemoSizes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        generate("usage", tenant, sizes, now=NOW)


def test_generate_rejects_an_unknown_dataset(tenant: DemoTenant) -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        generate("audit_logs", tenant, SIZES, now=NOW)
