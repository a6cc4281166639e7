"""Create-request parsing against §6.2 to §6.7 of the contract."""

from __future__ import annotations

import json
from typing import Any

import pytest

from snyk_export.catalog import Scope, datasets
from snyk_export.definition import (
    CreateOptions,
    ExportDefinition,
    decode_body,
    parse_create_request,
    parse_flag,
)
from snyk_export.errors import ApiError, BadRequest, UnprocessableRequest

GROUP_ID = "a1cbf11b-aa99-4434-b4e7-1bb47fc86db1"
UPDATED = {"updated": {"from": "2026-01-01T00:00:00Z"}}
ATTRIBUTES = "/data/attributes"


def body(**attributes: Any) -> dict[str, Any]:
    """A valid issues request, with ``attributes`` replacing the defaults."""
    base: dict[str, Any] = {
        "dataset": "issues",
        "formats": ["csv"],
        "filters": UPDATED,
    }
    base.update(attributes)
    return {"data": {"type": "resource", "attributes": base}}


def parse(
    document: dict[str, Any],
    *,
    scope: Scope = "group",
    query: dict[str, str] | None = None,
    allow_missing_date_filter: bool = False,
) -> ExportDefinition:
    return parse_create_request(
        document,
        scope,
        GROUP_ID,
        query or {},
        CreateOptions(allow_missing_date_filter=allow_missing_date_filter),
    )


def rejection(document: dict[str, Any], **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(document, **kwargs)
    return caught.value


def assert_bad_request(error: ApiError, pointer: str) -> None:
    assert isinstance(error, BadRequest)
    assert (error.status, error.code) == (400, "SNYK-OPENAPI-0001")
    assert error.pointer == pointer


def assert_unprocessable(error: ApiError, pointer: str) -> None:
    assert isinstance(error, UnprocessableRequest)
    assert (error.status, error.code) == (400, "SNYK-0003")
    assert error.pointer == pointer


# decode_body (§6.2)


def test_decode_body_reads_a_json_object() -> None:
    assert decode_body(b'{"data": {"a": 1}}') == {"data": {"a": 1}}


def test_decode_body_tolerates_a_byte_order_mark() -> None:
    assert decode_body(b'\xef\xbb\xbf{"data": null}') == {"data": None}


def test_decode_body_reads_non_ascii_utf8() -> None:
    assert decode_body('{"name": "Zoë"}'.encode()) == {"name": "Zoë"}


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"\xef\xbb\xbf",
        b"{",
        b"{'data': 1}",
        b'{"data": 1,}',
        b"null",
        b"[]",
        b"[{}]",
        b'"data"',
        b"42",
        b"true",
        b'{"a": "\xff"}',
        b"\xff\xfe{\x00}\x00",
        '{"a": "é"}'.encode("latin-1"),
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b'{"a": 1} {"b": 2}',
    ],
)
def test_decode_body_rejects_what_is_not_a_json_object(raw: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_body(raw)

    assert caught.value.pointer == ""
    assert caught.value.code == "SNYK-OPENAPI-0001"


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"data":' + b"[" * 100_000,
    ],
)
def test_decode_body_answers_400_to_deep_nesting(raw: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_body(raw)

    assert caught.value.pointer == ""


def test_decode_body_answers_400_to_an_enormous_integer() -> None:
    with pytest.raises(BadRequest):
        decode_body(b'{"a": ' + b"1" * 10_000 + b"}")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "\\ud800"}',
        b'{"a": ["x\\uDFFFy"]}',
        b'{"\\udc00": 1}',
        b'{"a": "\\ude00\\ud83d"}',
    ],
)
def test_decode_body_refuses_unpaired_surrogates(raw: bytes) -> None:
    # Such a string can be neither stored nor echoed in an error as UTF-8.
    with pytest.raises(BadRequest) as caught:
        decode_body(raw)

    assert caught.value.pointer == ""
    assert caught.value.code == "SNYK-OPENAPI-0001"


def test_decode_body_reads_paired_surrogate_escapes_and_escaped_backslashes() -> None:
    assert decode_body(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}
    assert decode_body(b'{"a": "\\\\ud800"}') == {"a": "\\ud800"}


# Envelope (§6.3)


@pytest.mark.parametrize(
    ("document", "pointer"),
    [
        ({}, "/data"),
        ({"data": None}, "/data"),
        ({"data": []}, "/data"),
        ({"data": "x"}, "/data"),
        ({"data": {"attributes": {}}}, "/data/type"),
        ({"data": {"type": None, "attributes": {}}}, "/data/type"),
        ({"data": {"type": 1, "attributes": {}}}, "/data/type"),
        ({"data": {"type": "resource"}}, ATTRIBUTES),
        ({"data": {"type": "resource", "attributes": None}}, ATTRIBUTES),
        ({"data": {"type": "resource", "attributes": []}}, ATTRIBUTES),
        ({"data": {"type": "resource", "attributes": "x"}}, ATTRIBUTES),
    ],
)
def test_envelope_members_are_required(document: dict[str, Any], pointer: str) -> None:
    assert_bad_request(rejection(document), pointer)


@pytest.mark.parametrize(
    "kind", ["resource", "export", "a", "x1", "big_export", "a1_b2_c3"]
)
def test_any_type_matching_the_pattern_is_accepted(kind: str) -> None:
    document = body()
    document["data"]["type"] = kind

    assert parse(document).dataset == "issues"


@pytest.mark.parametrize(
    "kind",
    [
        "",
        "Export",
        "EXPORT",
        "1export",
        "_export",
        "export_",
        "big__export",
        "big-export",
        "export\n",
        "ex port",
        "exporté",
        "a_1",
    ],
)
def test_type_not_matching_the_pattern_is_400(kind: str) -> None:
    document = body()
    document["data"]["type"] = kind

    assert_bad_request(rejection(document), "/data/type")


def test_unknown_members_are_ignored_at_every_level() -> None:
    document = body(
        destination={"type": "snyk", "file_name": "x.csv"},
        something_else=[1, 2],
        filters={**UPDATED, "general": {"a": 1}, "projects": {"environment": None}},
    )
    document["meta"] = {"x": 1}
    document["jsonapi"] = {"version": "1.0"}
    document["data"]["id"] = "whatever"
    document["data"]["relationships"] = {}

    definition = parse(document, scope="org")

    assert definition.filters == {
        "updated": {"from": "2026-01-01T00:00:00.000Z", "to": None}
    }


# dataset (§6.5)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("issues", "issues"),
        ("ISSUES", "issues"),
        ("Usage", "usage"),
        ("pr_checks", "pr_checks"),
        ("PR_Checks_Project_Adoption", "pr_checks_project_adoption"),
        ("pr_checks_integration_adoption", "pr_checks_integration_adoption"),
    ],
)
def test_dataset_is_matched_case_insensitively(raw: str, name: str) -> None:
    assert parse(body(dataset=raw)).dataset == name


@pytest.mark.parametrize("raw", ["issue", "vulnerabilities", "", "pr-checks"])
def test_unknown_dataset_is_snyk_0003(raw: str) -> None:
    assert_unprocessable(rejection(body(dataset=raw)), f"{ATTRIBUTES}/dataset")


@pytest.mark.parametrize("raw", [None, 1, ["issues"], {"name": "issues"}, True])
def test_missing_or_mistyped_dataset_is_400(raw: object) -> None:
    assert_bad_request(rejection(body(dataset=raw)), f"{ATTRIBUTES}/dataset")


def test_dataset_member_absent_is_400() -> None:
    document = body()
    del document["data"]["attributes"]["dataset"]

    assert_bad_request(rejection(document), f"{ATTRIBUTES}/dataset")


# formats (§6.5)


@pytest.mark.parametrize(
    "formats", [["csv"], ["CSV"], ["Csv"], ["csv", "csv"], ["csv", "CSV", "cSv"]]
)
def test_formats_of_csv_collapse_to_one(formats: list[str]) -> None:
    assert parse(body(formats=formats)).formats == ("csv",)


@pytest.mark.parametrize(
    "formats",
    [None, [], {}, "csv", ["json"], ["csv", "json"], ["csv", None], [["csv"]], [1]],
)
def test_formats_missing_empty_or_not_csv_is_400(formats: object) -> None:
    assert_bad_request(rejection(body(formats=formats)), f"{ATTRIBUTES}/formats")


def test_formats_member_absent_is_400() -> None:
    document = body()
    del document["data"]["attributes"]["formats"]

    assert_bad_request(rejection(document), f"{ATTRIBUTES}/formats")


# columns (§6.5)


def canonical(dataset: str) -> tuple[str, ...]:
    return tuple(column.name for column in datasets()[dataset].columns)


@pytest.mark.parametrize("columns", [None, [], {}])
def test_absent_columns_mean_all_in_canonical_order(columns: object) -> None:
    definition = parse(body(columns=columns))

    assert definition.columns == canonical("issues")
    assert len(definition.columns) == 87


def test_columns_member_absent_means_all() -> None:
    assert parse(body()).columns == canonical("issues")


def test_canonical_issue_order_places_cvss_v4_after_exploit_maturity() -> None:
    columns = canonical("issues")

    index = columns.index("EXPLOIT_MATURITY")
    assert columns[index + 1] == "EXPLOIT_MATURITY_CVSS_V4"


def test_columns_are_trimmed_uppercased_deduplicated_and_unknown_dropped() -> None:
    columns = [
        " issue_severity ",
        "CVE",
        "ISSUE_SEVERITY_RANK",
        "cve",
        "AUTOFIXABLE",
        "\tScore\n",
        "Issue_Severity",
        "exploit_maturity_cvss_v4",
    ]

    definition = parse(body(columns=columns))

    assert definition.columns == (
        "ISSUE_SEVERITY",
        "CVE",
        "SCORE",
        "EXPLOIT_MATURITY_CVSS_V4",
    )


def test_columns_keep_the_request_order() -> None:
    columns = ["UPDATED_AT", "PROBLEM_ID", "SCORE"]

    assert parse(body(columns=columns)).columns == tuple(columns)


def test_columns_are_checked_against_the_requested_dataset() -> None:
    document = body(dataset="usage", columns=["CVE", "ID"])

    assert parse(document).columns == ("ID",)


@pytest.mark.parametrize(
    "columns", [["ISSUE_SEVERITY_RANK"], ["AUTOFIXABLE", "nope"], [""], ["  "]]
)
def test_no_valid_column_is_snyk_0003(columns: list[str]) -> None:
    assert_unprocessable(rejection(body(columns=columns)), f"{ATTRIBUTES}/columns")


@pytest.mark.parametrize(
    ("columns", "index"),
    [([1], 0), (["CVE", None], 1), (["CVE", "SCORE", ["CWE"]], 2), ([{"a": 1}], 0)],
)
def test_a_non_string_column_is_400_pointing_to_it(
    columns: list[object], index: int
) -> None:
    error = rejection(body(columns=columns))

    assert_bad_request(error, f"{ATTRIBUTES}/columns/{index}")


@pytest.mark.parametrize("columns", ["CVE", 1, {"CVE": True}, True])
def test_columns_of_the_wrong_type_is_400(columns: object) -> None:
    assert_bad_request(rejection(body(columns=columns)), f"{ATTRIBUTES}/columns")


# url_expiration_seconds (§6.5)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (None, 3600),
        ({}, 3600),
        ([], 3600),
        (0, 3600),
        (0.0, 3600),
        (1, 1),
        (60, 60),
        (3599, 3599),
        (3600, 3600),
        (3600.0, 3600),
        (60.0, 60),
    ],
)
def test_url_expiration_seconds_accepted(raw: object, seconds: int) -> None:
    definition = parse(body(url_expiration_seconds=raw))

    assert definition.url_expiration_seconds == seconds
    assert type(definition.url_expiration_seconds) is int


def test_url_expiration_seconds_absent_is_the_default() -> None:
    assert parse(body()).url_expiration_seconds == 3600


@pytest.mark.parametrize(
    "raw",
    [
        3600.5,
        0.5,
        -1,
        -1.0,
        -3600,
        3601,
        3601.0,
        10**20,
        1e300,
        "60",
        "3600",
        True,
        False,
        [60],
        {"seconds": 60},
    ],
)
def test_url_expiration_seconds_rejected(raw: object) -> None:
    error = rejection(body(url_expiration_seconds=raw))

    assert_bad_request(error, f"{ATTRIBUTES}/url_expiration_seconds")


def test_url_expiration_seconds_decoded_from_json_text() -> None:
    raw = (
        b'{"data":{"type":"export","attributes":{"dataset":"issues",'
        b'"formats":["csv"],"url_expiration_seconds":3.6e3,'
        b'"filters":{"updated":{"from":"2026-01-01T00:00:00Z"}}}}}'
    )

    assert parse(decode_body(raw)).url_expiration_seconds == 3600


# Required date filter (§6.6 item 9)


def test_issues_without_a_date_filter_is_snyk_0003_naming_both() -> None:
    error = rejection(body(filters={"cve": ["CVE-2024-1"]}))

    assert_unprocessable(error, "/data/attributes/filters")
    assert error.detail == (
        "at least one date filter (introduced or updated) is required "
        "for dataset 'issues'"
    )


@pytest.mark.parametrize(
    "filters",
    [
        {"introduced": {"from": "2026-01-01T00:00:00Z"}},
        {"updated": {"to": "2026-01-01T00:00:00Z"}},
        {"INTRODUCED": {"from": None, "to": "2026-01-01T00:00:00Z"}},
    ],
)
def test_issues_accept_either_date_filter(filters: dict[str, Any]) -> None:
    assert parse(body(filters=filters)).dataset == "issues"


@pytest.mark.parametrize(
    "filters",
    [
        None,
        {},
        [],
        {"updated": None},
        {"updated": {}},
        {"updated": {"from": None, "to": None}},
        {"introduced": {"from": None}},
        {"Updated": []},
    ],
)
def test_issues_with_absent_ranges_need_a_date_filter(filters: object) -> None:
    assert_unprocessable(rejection(body(filters=filters)), "/data/attributes/filters")


@pytest.mark.parametrize(
    "dataset", ["usage", "pr_checks", "pr_checks_project_adoption"]
)
def test_introduced_does_not_satisfy_other_datasets(dataset: str) -> None:
    filters = {"introduced": {"from": "2026-01-01T00:00:00Z"}}

    error = rejection(body(dataset=dataset, filters=filters))

    assert_unprocessable(error, "/data/attributes/filters")
    assert "updated" in error.detail
    assert "introduced" not in error.detail
    assert dataset in error.detail


@pytest.mark.parametrize("dataset", list(datasets()))
def test_updated_satisfies_every_dataset(dataset: str) -> None:
    definition = parse(body(dataset=dataset, filters=UPDATED))

    assert set(definition.filters) == {"updated"}


def test_missing_date_filter_allowed_by_the_operator_switch() -> None:
    definition = parse(body(filters=None), allow_missing_date_filter=True)

    assert definition.filters == {}


# include_deleted, include_deactivated (§6.7)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (None, False),
        ("", False),
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("1", True),
        ("false", False),
        ("FALSE", False),
        ("False", False),
        ("0", False),
    ],
)
def test_flag_values(raw: str | None, value: bool) -> None:
    assert parse_flag("include_deleted", raw) is value


@pytest.mark.parametrize("raw", ["yes", "no", "2", "-1", "on", "t", "truee", "01"])
def test_flag_other_values_are_400_naming_the_parameter(raw: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_flag("include_deactivated", raw)

    assert caught.value.parameter == "include_deactivated"
    assert caught.value.pointer is None
    assert caught.value.code == "SNYK-OPENAPI-0001"


def test_flags_are_read_from_the_query_and_stored() -> None:
    query = {"include_deleted": "TRUE", "include_deactivated": "0", "other": "x"}

    definition = parse(body(), query=query)

    assert definition.include_deleted is True
    assert definition.include_deactivated is False


def test_flags_default_to_false() -> None:
    definition = parse(body())

    assert definition.include_deleted is False
    assert definition.include_deactivated is False


def test_a_bad_flag_in_the_query_is_400() -> None:
    with pytest.raises(BadRequest) as caught:
        parse(body(), query={"include_deleted": "maybe"})

    assert caught.value.parameter == "include_deleted"


# The definition as a whole


def test_reference_exchange_of_appendix_a() -> None:
    org = "1a2b3c4d-0000-4000-8000-00000000000A"
    document = {
        "data": {
            "type": "resource",
            "attributes": {
                "dataset": "issues",
                "formats": ["csv"],
                "columns": ["ISSUE_SEVERITY", "CVE", "ISSUE_SEVERITY_RANK"],
                "filters": {
                    "introduced": {"from": "2026-01-01T00:00:00Z"},
                    "orgs": [org],
                    "projects": {"environment": None},
                },
                "destination": {"type": "snyk"},
            },
        }
    }

    definition = parse(document, scope="group")

    assert definition.columns == ("ISSUE_SEVERITY", "CVE")
    assert definition.filters == {
        "introduced": {"from": "2026-01-01T00:00:00.000Z", "to": None},
        "orgs": [org.lower()],
    }
    assert definition.scope == "group"
    assert definition.scope_id == GROUP_ID


def test_definition_survives_a_json_round_trip() -> None:
    document = body(
        columns=["cve", "score"],
        filters={
            **UPDATED,
            "environment": "Backend",
            "empty_project_tags": "ONLY",
        },
        url_expiration_seconds=120,
    )
    definition = parse(document, query={"include_deleted": "1"})

    raw = json.loads(json.dumps(definition.to_json()))

    assert ExportDefinition.from_json(raw) == definition
