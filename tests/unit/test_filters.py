"""Filter parsing against §6.4 and §6.6 of the contract."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from snyk_export.catalog import Dataset, Scope, datasets
from snyk_export.errors import ApiError, BadRequest, UnprocessableRequest
from snyk_export.filters import (
    FILTERS_POINTER,
    format_instant,
    normalize_tag,
    parse_date_time,
    parse_filters,
    parse_instant,
    require_date_filter,
)

ORG_A = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
ORG_B = "9b2d6b1c-1d2e-4f3a-8b4c-5d6e7f8a9b0c"


def issues() -> Dataset:
    return datasets()["issues"]


def parse(raw: object, dataset: str = "issues", scope: Scope = "group") -> Any:
    return parse_filters(raw, datasets()[dataset], scope)


def rejection(raw: object, dataset: str = "issues", scope: Scope = "group") -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(raw, dataset, scope)
    return caught.value


def assert_bad_request(error: ApiError, pointer: str) -> None:
    assert isinstance(error, BadRequest)
    assert (error.status, error.code) == (400, "SNYK-OPENAPI-0001")
    assert error.pointer == pointer


def at(*parts: str | int) -> str:
    return FILTERS_POINTER + "".join(f"/{part}" for part in parts)


# The filters object


@pytest.mark.parametrize("raw", [None, {}, []])
def test_absent_filters_are_empty(raw: object) -> None:
    assert parse(raw) == {}


@pytest.mark.parametrize("raw", ["updated", 1, True, ["updated"]])
def test_filters_of_the_wrong_type_is_400(raw: object) -> None:
    assert_bad_request(rejection(raw), FILTERS_POINTER)


def test_filter_names_are_case_insensitive() -> None:
    parsed = parse(
        {
            "UPDATED": {"from": "2026-01-01T00:00:00Z"},
            "Product_Name": ["Snyk Code"],
            "ORGS": [ORG_A],
        }
    )

    assert parsed == {
        "updated": {"from": "2026-01-01T00:00:00.000Z", "to": None},
        "product_name": ["Snyk Code"],
        "orgs": [ORG_A],
    }


@pytest.mark.parametrize(
    ("raw", "pointer"),
    [
        ({"cve": ["a"], "CVE": ["b"]}, at("CVE")),
        ({"Updated": None, "updated": {"from": "2026-01-01T00:00:00Z"}}, at("updated")),
        ({"unknown": 1, "UNKNOWN": 2}, at("UNKNOWN")),
        ({"a/b": 1, "A/B": 2}, at("A~1B")),
        ({"x~y": 1, "X~Y": 2}, at("X~0Y")),
    ],
)
def test_names_equal_after_normalisation_are_400(
    raw: dict[str, Any], pointer: str
) -> None:
    assert_bad_request(rejection(raw), pointer)


def test_unknown_filters_and_nested_objects_are_ignored() -> None:
    raw = {
        "updated": {"from": "2026-01-01T00:00:00Z"},
        "severity": ["High"],
        "general": {"x": 1},
        "projects": {"environment": ["backend"]},
    }

    assert set(parse(raw)) == {"updated"}


@pytest.mark.parametrize(
    "name",
    ["introduced", "cve", "environment", "project_tags", "empty_project_tags"],
)
def test_filters_that_do_not_apply_to_the_dataset_are_ignored(name: str) -> None:
    # Even a value of the wrong type is not judged for an inapplicable filter.
    raw = {"updated": {"from": "2026-01-01T00:00:00Z"}, name: 12345}

    assert set(parse(raw, dataset="usage")) == {"updated"}


def test_orgs_is_ignored_on_an_org_endpoint() -> None:
    raw = {"orgs": ["not-a-uuid"], "cve": ["CVE-1"]}

    assert parse(raw, scope="org") == {"cve": ["CVE-1"]}


@pytest.mark.parametrize("value", [None, [], {}])
def test_absent_filter_values_are_dropped(value: object) -> None:
    raw = {"cve": value, "orgs": value, "empty_project_tags": value, "updated": value}

    assert parse(raw) == {}


# string_list


def test_string_list_keeps_values_verbatim() -> None:
    raw = {"issue_status": ["Open", "open", " Resolved "], "environment": ["BACKEND"]}

    assert parse(raw) == {
        "issue_status": ["Open", "open", " Resolved "],
        "environment": ["BACKEND"],
    }


def test_a_bare_string_is_a_one_element_list() -> None:
    assert parse({"product_name": "Snyk Code", "cve": "CVE-2024-1"}) == {
        "product_name": ["Snyk Code"],
        "cve": ["CVE-2024-1"],
    }


def test_string_list_duplicates_collapse_keeping_the_first() -> None:
    assert parse({"project_type": ["npm", "pip", "npm"]}) == {
        "project_type": ["npm", "pip"]
    }


@pytest.mark.parametrize(
    ("value", "index"),
    [([1], 0), (["npm", None], 1), (["npm", "pip", ["x"]], 2), ([True], 0)],
)
def test_a_non_string_element_is_400_pointing_to_it(
    value: list[object], index: int
) -> None:
    error = rejection({"project_type": value})

    assert_bad_request(error, at("project_type", index))


@pytest.mark.parametrize("value", [1, True, {"a": "b"}, 2.5])
def test_a_string_list_of_the_wrong_type_is_400(value: object) -> None:
    assert_bad_request(rejection({"Project_Type": value}), at("Project_Type"))


@pytest.mark.parametrize(
    ("name", "value", "index"),
    [
        ("product_name", ["Snyk Code", "a\x00b"], 1),
        ("project_tags", "key:\x00", None),
        ("environment", ["\x00"], 0),
    ],
)
def test_a_string_value_with_a_nul_is_400_pointing_to_it(
    name: str, value: object, index: int | None
) -> None:
    # PostgreSQL cannot store NUL, so no engine may be asked to match it.
    error = rejection({name: value})

    assert_bad_request(error, at(name) if index is None else at(name, index))


# uuid_list


def test_orgs_are_lowercased() -> None:
    parsed = parse({"orgs": [ORG_A.upper(), ORG_B]})

    assert parsed == {"orgs": [ORG_A, ORG_B]}


def test_orgs_duplicates_collapse_case_insensitively() -> None:
    assert parse({"orgs": [ORG_A, ORG_A.upper()]}) == {"orgs": [ORG_A]}


def test_orgs_bare_string_is_a_list() -> None:
    assert parse({"orgs": ORG_A}) == {"orgs": [ORG_A]}


@pytest.mark.parametrize(
    ("value", "pointer"),
    [
        (["nope"], at("orgs", 0)),
        ([ORG_A, "nope"], at("orgs", 1)),
        ([ORG_A, ORG_A, "nope"], at("orgs", 2)),
        ([ORG_A, ORG_A.upper(), ORG_B, ORG_B + "0"], at("orgs", 3)),
        ([ORG_A[:-1]], at("orgs", 0)),
        ([ORG_A.replace("-", "")], at("orgs", 0)),
        (["{" + ORG_A + "}"], at("orgs", 0)),
        ([""], at("orgs", 0)),
        ([ORG_A, 7], at("orgs", 1)),
        ("nope", at("orgs")),
    ],
)
def test_a_malformed_org_is_400_pointing_to_it(value: object, pointer: str) -> None:
    assert_bad_request(rejection({"orgs": value}), pointer)


# enum


@pytest.mark.parametrize(
    ("value", "mode"),
    [("include", "include"), ("EXCLUDE", "exclude"), ("Only", "only")],
)
def test_empty_project_tags_is_case_insensitive(value: str, mode: str) -> None:
    assert parse({"empty_project_tags": value}) == {"empty_project_tags": mode}


@pytest.mark.parametrize("value", ["all", "", "includes", 1, True, ["include"]])
def test_empty_project_tags_other_values_are_400(value: object) -> None:
    error = rejection({"empty_project_tags": value})

    assert_bad_request(error, at("empty_project_tags"))


# Date ranges


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z"),
        ("2026-01-01t00:00:00z", "2026-01-01T00:00:00.000Z"),
        ("2026-01-01T02:00:00+02:00", "2026-01-01T00:00:00.000Z"),
        ("2025-12-31T19:30:00-04:30", "2026-01-01T00:00:00.000Z"),
        ("2026-01-01T00:00:00-00:00", "2026-01-01T00:00:00.000Z"),
        ("2026-01-01T00:00:00", "2026-01-01T00:00:00.000Z"),
        ("2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00.500Z"),
        ("2026-01-01T00:00:00.123Z", "2026-01-01T00:00:00.123Z"),
        ("2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:00.123Z"),
        ("2026-01-01T00:00:00.9999Z", "2026-01-01T00:00:00.999Z"),
        ("2026-01-01T00:00:00.100+01:00", "2025-12-31T23:00:00.100Z"),
        ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000Z"),
    ],
)
def test_rfc3339_date_times_are_accepted(text: str, instant: str) -> None:
    parsed = parse({"updated": {"from": text}})

    assert parsed == {"updated": {"from": instant, "to": None}}


@pytest.mark.parametrize(
    "text",
    [
        "2024-11-28",
        "2024-11-28Z",
        "2024-11-28T10:00Z",
        "2024-11-28 10:00:00Z",
        "2024-11-28T10:00:00+0100",
        "2024-11-28T10:00:00+01",
        "2024-11-28T10:00:00.Z",
        "2024-11-28T10:00:00ZZ",
        "2024-11-28T10:00:00Z ",
        " 2024-11-28T10:00:00Z",
        "2024-11-28T10:00:00Z\n",
        "2024-02-30T10:00:00Z",
        "2024-11-28T24:00:00Z",
        "2024-11-28T10:60:00Z",
        "2024-11-28T10:00:61Z",
        "2024-11-28T10:00:00+24:00",
        "2024-11-28T10:00:00+01:60",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "\uff12\uff10\uff12\uff14-11-28T10:00:00Z",  # fullwidth digits
        "yesterday",
        "",
        "1732780800",
    ],
)
def test_other_strings_are_400_pointing_to_the_bound(text: str) -> None:
    error = rejection({"introduced": {"from": "2026-01-01T00:00:00Z", "to": text}})

    assert_bad_request(error, at("introduced", "to"))


@pytest.mark.parametrize("bound", [1732780800, True, ["2026-01-01T00:00:00Z"]])
def test_a_non_string_bound_is_400_pointing_to_it(bound: object) -> None:
    assert_bad_request(rejection({"updated": {"from": bound}}), at("updated", "from"))


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00Z", ["a"], 1, True])
def test_a_range_that_is_not_an_object_is_400(value: object) -> None:
    assert_bad_request(rejection({"updated": value}), at("updated"))


@pytest.mark.parametrize(
    "value",
    [{}, {"from": None}, {"to": None}, {"from": None, "to": None}, {"x": 1}],
)
def test_ranges_without_bounds_are_absent(value: dict[str, Any]) -> None:
    assert parse({"updated": value}) == {}


@pytest.mark.parametrize("empty", [{}, []])
def test_an_empty_bound_means_absent_as_elsewhere(empty: object) -> None:
    # §6.4: for an optional member, null, {} and [] mean absent, at all levels.
    parsed = parse({"updated": {"from": empty, "to": "2026-01-01T00:00:00Z"}})

    assert parsed == {"updated": {"from": None, "to": "2026-01-01T00:00:00.000Z"}}


def test_unknown_range_members_are_ignored() -> None:
    parsed = parse({"updated": {"from": "2026-01-01T00:00:00Z", "until": "x"}})

    assert parsed == {"updated": {"from": "2026-01-01T00:00:00.000Z", "to": None}}


def test_both_bounds_are_kept() -> None:
    raw = {"introduced": {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}}

    assert parse(raw) == {
        "introduced": {
            "from": "2026-01-01T00:00:00.000Z",
            "to": "2026-02-01T00:00:00.000Z",
        }
    }


def test_from_after_to_is_snyk_0003() -> None:
    raw = {"updated": {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}}

    error = rejection(raw)

    assert isinstance(error, UnprocessableRequest)
    assert (error.status, error.code) == (400, "SNYK-0003")
    assert error.pointer == at("updated")


def test_from_after_to_by_one_millisecond_is_snyk_0003() -> None:
    raw = {
        "updated": {"from": "2026-01-01T00:00:00.001Z", "to": "2026-01-01T00:00:00Z"}
    }

    assert isinstance(rejection(raw), UnprocessableRequest)


def test_bounds_are_compared_across_offsets() -> None:
    # 01:00+02:00 is 23:00Z the day before, earlier than 00:00Z.
    raw = {
        "updated": {"from": "2026-01-01T01:00:00+02:00", "to": "2026-01-01T00:00:00Z"}
    }

    assert parse(raw)["updated"]["from"] == "2025-12-31T23:00:00.000Z"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        # Equal at millisecond precision.
        ("2026-01-01T00:00:00.0009Z", "2026-01-01T00:00:00.0001Z"),
    ],
)
def test_equal_bounds_are_a_valid_range(start: str, end: str) -> None:
    parsed = parse({"updated": {"from": start, "to": end}})

    assert parsed["updated"]["from"] == parsed["updated"]["to"]


def test_parse_date_time_returns_utc_truncated_to_milliseconds() -> None:
    moment = parse_date_time("2026-01-01T05:30:00.123999+05:30", "/p")

    assert moment == dt.datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=dt.UTC)
    assert moment.utcoffset() == dt.timedelta(0)


def test_instants_round_trip() -> None:
    moment = dt.datetime(2026, 2, 12, 20, 9, 42, 693000, tzinfo=dt.UTC)

    assert format_instant(moment) == "2026-02-12T20:09:42.693Z"
    assert parse_instant(format_instant(moment)) == moment


def test_format_instant_converts_to_utc_and_truncates() -> None:
    offset = dt.timezone(dt.timedelta(hours=-5))
    moment = dt.datetime(2026, 2, 12, 15, 9, 42, 693999, tzinfo=offset)

    assert format_instant(moment) == "2026-02-12T20:09:42.693Z"


@pytest.mark.parametrize("year", [1, 9, 999, 9999])
def test_instants_of_any_year_round_trip_with_four_digit_years(year: int) -> None:
    moment = dt.datetime(year, 3, 4, 5, 6, 7, 8000, tzinfo=dt.UTC)

    text = format_instant(moment)

    assert text == f"{year:04d}-03-04T05:06:07.008Z"
    assert parse_instant(text) == moment
    assert parse_date_time(text, "/p") == moment


# Required date filter


def test_require_date_filter_accepts_either_for_issues() -> None:
    require_date_filter({"introduced": {"from": None, "to": "x"}}, issues())
    require_date_filter({"updated": {"from": "x", "to": None}}, issues())


def test_require_date_filter_detail_for_usage() -> None:
    with pytest.raises(UnprocessableRequest) as caught:
        require_date_filter(
            {"introduced": {"from": "x", "to": None}}, datasets()["usage"]
        )

    assert caught.value.pointer == FILTERS_POINTER
    assert caught.value.detail == (
        "the date filter (updated) is required for dataset 'usage'"
    )


# Project tags


@pytest.mark.parametrize(
    ("tag", "normalized"),
    [
        ("scanType:CSS", "scanType:CSS"),
        ("scanType: CSS", "scanType:CSS"),
        ("  scanType :  CSS  ", "scanType:CSS"),
        ("\tscanType\t:\nCSS\r\n", "scanType:CSS"),
        ("a:b:c", "a:b:c"),
        ("a : b : c", "a:b : c"),
        ("plain", "plain"),
        ("  plain  ", "plain"),
        (":value", ":value"),
        ("key:", "key:"),
        ("Key:Value", "Key:Value"),
        # Only the whitespace the SQL side trims: both must agree exactly.
        ("team:\u00a0core", "team:\u00a0core"),
    ],
)
def test_normalize_tag(tag: str, normalized: str) -> None:
    assert normalize_tag(tag) == normalized


def test_project_tags_are_stored_as_given() -> None:
    parsed = parse({"project_tags": ["scanType: CSS"], "empty_project_tags": "include"})

    assert parsed == {
        "project_tags": ["scanType: CSS"],
        "empty_project_tags": "include",
    }
