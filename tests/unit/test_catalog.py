"""The server's catalog agrees with the contract's datasets.json, so drift is caught."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from snyk_export.catalog import datasets, find_dataset

SPEC = Path(__file__).parents[3] / "shared" / "spec" / "datasets.json"


def spec() -> dict[str, Any]:
    return dict(json.loads(SPEC.read_text("utf-8"))["datasets"])


def test_the_same_five_datasets_in_the_same_order() -> None:
    assert (
        list(datasets())
        == list(spec())
        == [
            "issues",
            "usage",
            "pr_checks",
            "pr_checks_project_adoption",
            "pr_checks_integration_adoption",
        ]
    )


@pytest.mark.parametrize("name", list(spec()))
def test_columns_agree_in_name_order_and_type(name: str) -> None:
    ours = datasets()[name]
    theirs = spec()[name]
    assert [(c.name, c.type) for c in ours.columns] == [
        (c["name"], c["type"]) for c in theirs["columns"]
    ]
    assert len(ours.columns) == theirs["column_count"]
    for column, raw in zip(ours.columns, theirs["columns"], strict=True):
        assert column.values == tuple(raw.get("values", ()))
        assert column.values_closed == raw.get("values_closed", False)


@pytest.mark.parametrize("name", list(spec()))
def test_filters_and_flags_agree(name: str) -> None:
    ours = datasets()[name]
    theirs = spec()[name]
    assert [
        (f.name, f.kind, f.column, f.case_sensitive, f.match) for f in ours.filters
    ] == [
        (f["name"], f["kind"], f["column"], f["case_sensitive"], f["match"])
        for f in theirs["filters"]
    ]
    for ours_filter, raw in zip(ours.filters, theirs["filters"], strict=True):
        assert ours_filter.scopes == tuple(raw.get("scopes", ("org", "group")))
        assert ours_filter.allowed_values == tuple(raw.get("allowed_values", ()))
    assert ours.required_date_filter == tuple(theirs["required_date_filter"]["any_of"])
    assert ours.deletion_columns == tuple(theirs["include_deleted_columns"])
    assert ours.monitoring_columns == tuple(theirs["include_deactivated_columns"])
    assert ours.scope_columns == theirs["scope_columns"]


def test_issues_has_exploit_maturity_cvss_v4_right_after_exploit_maturity() -> None:
    names = [c.name for c in datasets()["issues"].columns]
    assert len(names) == 87
    assert names[names.index("EXPLOIT_MATURITY") + 1] == "EXPLOIT_MATURITY_CVSS_V4"


def test_datasets_and_columns_are_found_loosely() -> None:
    assert find_dataset(" PR_Checks ") is datasets()["pr_checks"]
    assert find_dataset("vulns") is None
    issues = datasets()["issues"]
    found = issues.find_column("  score ")
    assert found is not None
    assert found.name == "SCORE"
    assert issues.find_column("ISSUE_SEVERITY_RANK") is None
    assert issues.find_column("AUTOFIXABLE") is None
