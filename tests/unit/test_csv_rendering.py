"""CSV rendering (§11) and export queries (§6.6, §6.7) on in-memory DuckDB."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snyk_export.backends.duckdb_query import (
    MACROS,
    compile_export,
    header_line,
    render_record,
    table_ddl,
)
from snyk_export.catalog import Scope, datasets
from snyk_export.definition import ExportDefinition
from snyk_export.filters import parse_filters
from snyk_export.jobs import Export, Status

GROUP = "a1cbf11b-aa99-4434-b4e7-1bb47fc86db1"
OTHER_GROUP = "b2cbf11b-aa99-4434-b4e7-1bb47fc86db2"
ORG_A = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
ORG_B = "9b2d6b1c-1d2e-4f3a-8b4c-5d6e7f8a9b0c"
CREATED = dt.datetime(2026, 2, 12, 20, 9, 42, 693000, tzinfo=dt.UTC)
SNAPSHOT = dt.datetime(2026, 2, 12, 20, 9, 42, 700500, tzinfo=dt.UTC)
MID = dt.datetime(2026, 1, 15, 12, 0, 0)
SINCE_2026 = {"updated": {"from": "2026-01-01T00:00:00Z"}}


@pytest.fixture(scope="module")
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    for dataset in datasets().values():
        connection.execute(table_ddl(dataset))
    for macro in MACROS:
        connection.execute(macro)
    yield connection
    connection.close()


@pytest.fixture
def con(db: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    cursor = db.cursor()
    cursor.execute("BEGIN")
    yield cursor
    cursor.execute("ROLLBACK")
    cursor.close()


_keys = itertools.count()


def insert(
    con: duckdb.DuckDBPyConnection, dataset: str = "issues", /, **values: Any
) -> None:
    """Insert one row; unnamed identity columns get defaults that pass filters."""
    key = next(_keys)
    defaults: dict[str, dict[str, Any]] = {
        "issues": {
            "GROUP_PUBLIC_ID": GROUP,
            "ORG_PUBLIC_ID": ORG_A,
            "PROJECT_PUBLIC_ID": f"00000000-0000-4000-8000-{key:012d}",
            "PROBLEM_ID": f"row-{key}",
            "UPDATED_AT": MID,
            "FIRST_INTRODUCED": MID,
        },
        "usage": {
            "GROUP_PUBLIC_ID": GROUP,
            "ORG_PUBLIC_ID": ORG_A,
            "ID": f"row-{key}",
            "UPDATED_AT": MID,
        },
        "pr_checks": {
            "GROUP_PUBLIC_ID": GROUP,
            "ORG_PUBLIC_ID": ORG_A,
            "PUBLIC_ID": f"row-{key}",
            "UPDATED_AT": MID,
        },
    }
    row = {**defaults[dataset], **values}
    names = ", ".join(f'"{name}"' for name in row)
    marks = ", ".join("?" for _ in row)
    con.execute(
        f'INSERT INTO "{dataset}" ({names}) VALUES ({marks})', list(row.values())
    )


def render(
    con: duckdb.DuckDBPyConnection, columns: tuple[str, ...], **values: Any
) -> str:
    """The CSV record of one freshly inserted issues row."""
    insert(con, PROBLEM_ID="rendered", **values)
    sql = f"SELECT {render_record(datasets()['issues'], columns)} FROM issues "
    rows = con.execute(sql + "WHERE PROBLEM_ID = 'rendered'").fetchall()
    assert len(rows) == 1
    record: str = rows[0][0]
    return record


def field(con: duckdb.DuckDBPyConnection, column: str, value: Any) -> str:
    record = render(con, (column,), **{column: value})
    assert record.endswith("\n")
    return record[:-1]


def export(
    filters: dict[str, Any] | None = None,
    *,
    dataset: str = "issues",
    scope: Scope = "group",
    scope_id: str = GROUP,
    columns: tuple[str, ...] | None = None,
    include_deleted: bool = False,
    include_deactivated: bool = False,
    snapshot_at: dt.datetime | None = SNAPSHOT,
) -> Export:
    catalog = datasets()[dataset]
    key = catalog.order_by[0] if dataset != "issues" else "PROBLEM_ID"
    definition = ExportDefinition(
        scope=scope,
        scope_id=scope_id,
        dataset=dataset,
        columns=columns or (key,),
        filters=parse_filters(filters, catalog, scope),
        include_deleted=include_deleted,
        include_deactivated=include_deactivated,
    )
    return Export(
        id="94f572f3-f17d-4d8d-ac55-44a8a034a6a9",
        definition=definition,
        status=Status.STARTED if snapshot_at else Status.PENDING,
        created=CREATED,
        credential_id="cred",
        snapshot_at=snapshot_at,
    )


def records(con: duckdb.DuckDBPyConnection, job: Export) -> list[str]:
    sql, params = compile_export(job)
    return [row[0] for row in con.execute(sql, params).fetchall()]


def matched(con: duckdb.DuckDBPyConnection, job: Export) -> set[str]:
    """The keys of the rows ``job`` exports (first column, quotes removed)."""
    return {record[1:-2] for record in records(con, job)}


# §11.2 and §11.5


def test_reference_line_of_section_11_5(con: duckdb.DuckDBPyConnection) -> None:
    columns = (
        "SCORE",
        "CVE",
        "CWE",
        "FIRST_INTRODUCED",
        "ISSUE_SEVERITY",
        "ISSUE_STATUS",
        "LAST_IGNORED",
    )

    record = render(
        con,
        columns,
        SCORE=110.0,
        CVE=["CVE-2025-65945"],
        CWE=["CWE-347"],
        FIRST_INTRODUCED=dt.datetime(2025, 12, 5, 21, 14, 1, 949000),
        ISSUE_SEVERITY="High",
        ISSUE_STATUS="Open",
        LAST_IGNORED=None,
    )

    assert header_line(columns) == (
        b'"SCORE","CVE","CWE","FIRST_INTRODUCED","ISSUE_SEVERITY",'
        b'"ISSUE_STATUS","LAST_IGNORED"\n'
    )
    assert record.encode() == (
        b'110,"[""CVE-2025-65945""]","[""CWE-347""]",'
        b'"2025-12-05 21:14:01.949","High","Open",\n'
    )


def test_header_line_has_no_bom_and_ends_in_lf() -> None:
    line = header_line(("SCORE",))

    assert line == b'"SCORE"\n'
    assert not line.startswith(b"\xef\xbb\xbf")


def test_every_type_renders_null_as_an_empty_unquoted_field(
    con: duckdb.DuckDBPyConnection,
) -> None:
    catalog = datasets()["issues"]
    columns = tuple(column.name for column in catalog.columns)
    nulls = dict.fromkeys(columns)

    insert(con, **{**nulls, "PROBLEM_ID": None, "UPDATED_AT": None})
    sql = f"SELECT {render_record(catalog, columns)} FROM issues"
    (record,) = con.execute(sql + " WHERE PROBLEM_ID IS NULL").fetchone() or ("",)

    assert {column.type for column in catalog.columns} == {
        "string",
        "number",
        "array",
        "boolean",
        "timestamp",
        "date",
        "json",
    }
    assert record == "," * (len(columns) - 1) + "\n"


def test_integer_null_is_empty(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, "usage", ID="int-null", INTERACTION_EXIT_CODE=None)
    catalog = datasets()["usage"]
    sql = f"SELECT {render_record(catalog, ('INTERACTION_EXIT_CODE', 'ID'))} FROM usage"

    (record,) = con.execute(sql + " WHERE ID = 'int-null'").fetchone() or ("",)

    assert record == ',"int-null"\n'


# Strings


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("High", '"High"'),
        ("", '""'),
        ('a "quoted" word', '"a ""quoted"" word"'),
        ('"', '""""'),
        ("line1\nline2", '"line1\nline2"'),
        ("line1\r\nline2\r", '"line1\r\nline2\r"'),
        ("a,b", '"a,b"'),
        ("  padded  ", '"  padded  "'),
        ("@angular/core@12.0.0", '"@angular/core@12.0.0"'),
        ("-1", '"-1"'),
        ("=SUM(A1)", '"=SUM(A1)"'),
        ("NULL", '"NULL"'),
        ("Zoë ✓ 𝄞", '"Zoë ✓ 𝄞"'),
        ("tab\there", '"tab\there"'),
    ],
)
def test_strings_are_always_quoted_and_verbatim(
    con: duckdb.DuckDBPyConnection, value: str, rendered: str
) -> None:
    assert field(con, "PROBLEM_TITLE", value) == rendered


# Integers


@pytest.mark.parametrize(
    ("value", "rendered"),
    [(0, "0"), (1, "1"), (-1, "-1"), (2**63 - 1, "9223372036854775807")],
)
def test_integers_are_bare(
    con: duckdb.DuckDBPyConnection, value: int, rendered: str
) -> None:
    insert(con, "usage", ID="int", INTERACTION_EXIT_CODE=value)
    catalog = datasets()["usage"]
    sql = f"SELECT {render_record(catalog, ('INTERACTION_EXIT_CODE',))} FROM usage"

    (record,) = con.execute(sql + " WHERE ID = 'int'").fetchone() or ("",)

    assert record == rendered + "\n"


# Numbers


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (110.0, "110"),
        (0.0, "0"),
        (-0.0, "0"),
        (7.5, "7.5"),
        (-2.5, "-2.5"),
        (0.00043, "0.00043"),
        (0.1, "0.1"),
        (1 / 3, "0.3333333333333333"),
        (1e-07, "0.0000001"),
        (-1e-07, "-0.0000001"),
        (1.5e-10, "0.00000000015"),
        (-1.5e-10, "-0.00000000015"),
        (1.23456789e-13, "0.000000000000123456789"),
        (1e-05, "0.00001"),
        (123456789012345.6, "123456789012345.6"),
        (1e15 + 0.5, "1000000000000000.5"),
        (2.0**53, "9007199254740992"),
        (1e16, "10000000000000000"),
        (1e20, "100000000000000000000"),
        (-1e20, "-100000000000000000000"),
        (1e23, "100000000000000000000000"),
        (1e38, "1" + "0" * 38),
        (1.5e300, "15" + "0" * 299),
        (float("nan"), ""),
        (float("inf"), ""),
        (float("-inf"), ""),
        (None, ""),
    ],
)
def test_numbers_are_bare_plain_decimals(
    con: duckdb.DuckDBPyConnection, value: float | None, rendered: str
) -> None:
    assert field(con, "SCORE", value) == rendered


def plain_decimal(value: float) -> str:
    """The contract's rendering of a finite double, computed independently."""
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@settings(max_examples=300, deadline=None, database=None)
@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_round_trip_without_exponent(
    db: duckdb.DuckDBPyConnection, value: float
) -> None:
    (rendered,) = db.execute("SELECT csv_number(?::DOUBLE)", [value]).fetchone() or (
        "",
    )

    assert "e" not in rendered.lower()
    assert float(rendered) == value
    assert rendered == plain_decimal(value)


# Booleans, timestamps, dates


@pytest.mark.parametrize(
    ("value", "rendered"), [(True, '"true"'), (False, '"false"'), (None, "")]
)
def test_booleans_are_quoted_lowercase(
    con: duckdb.DuckDBPyConnection, value: bool | None, rendered: str
) -> None:
    assert field(con, "PROJECT_IS_MONITORED", value) == rendered


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (dt.datetime(2025, 12, 5, 21, 14, 1, 949000), '"2025-12-05 21:14:01.949"'),
        (dt.datetime(2025, 12, 5, 21, 14, 1), '"2025-12-05 21:14:01.000"'),
        (dt.datetime(2025, 1, 2, 3, 4, 5, 6000), '"2025-01-02 03:04:05.006"'),
        # Truncated, never rounded: consistent with the ms filter precision.
        (dt.datetime(2025, 12, 5, 21, 14, 1, 949999), '"2025-12-05 21:14:01.949"'),
        (dt.datetime(2025, 12, 31, 23, 59, 59, 999999), '"2025-12-31 23:59:59.999"'),
        (dt.datetime(2025, 1, 1, 0, 0, 0, 500), '"2025-01-01 00:00:00.000"'),
        (None, ""),
    ],
)
def test_timestamps_have_exactly_three_fractional_digits(
    con: duckdb.DuckDBPyConnection, value: dt.datetime | None, rendered: str
) -> None:
    assert field(con, "LAST_IGNORED", value) == rendered


@pytest.mark.parametrize(
    ("value", "rendered"),
    [(dt.date(2025, 11, 20), '"2025-11-20"'), (dt.date(1999, 1, 2), '"1999-01-02"')],
)
def test_dates_are_quoted(
    con: duckdb.DuckDBPyConnection, value: dt.date, rendered: str
) -> None:
    assert field(con, "VULNERABILITY_PUBLICATION_DATE", value) == rendered


# Arrays and JSON


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (["CVE-2025-65945"], '"[""CVE-2025-65945""]"'),
        ([], '"[]"'),
        (["a", "b"], '"[""a"",""b""]"'),
        (["Zoë", "✓"], '"[""Zoë"",""✓""]"'),
        (["@angular/core"], '"[""@angular/core""]"'),
        (['say "hi"'], '"[""say \\""hi\\""""]"'),
        (["a, b"], '"[""a, b""]"'),
        (None, ""),
    ],
)
def test_arrays_are_compact_json_inside_quotes(
    con: duckdb.DuckDBPyConnection, value: list[str] | None, rendered: str
) -> None:
    assert field(con, "CVE", value) == rendered


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ('{"a": 1}', '"{""a"":1}"'),
        ('{ "a" : [1, 2], "b": {"c": "é"} }', '"{""a"":[1,2],""b"":{""c"":""é""}}"'),
        ("{}", '"{}"'),
        (None, ""),
    ],
)
def test_json_is_compact_inside_quotes(
    con: duckdb.DuckDBPyConnection, value: str | None, rendered: str
) -> None:
    assert field(con, "CODE_REGION", value) == rendered


def test_fields_follow_the_requested_column_order(
    con: duckdb.DuckDBPyConnection,
) -> None:
    record = render(
        con, ("ISSUE_STATUS", "SCORE", "ISSUE_SEVERITY"), SCORE=1.0, ISSUE_STATUS="Open"
    )

    assert record == '"Open",1,\n'


# compile_export: parameters only


HOSTILE = [
    "x'; DROP TABLE issues; --",
    "' OR '1'='1",
    '"; SELECT 1; --',
    "/* comment */",
    "-- trailing",
    "a\\'b",
    "$1",
    "why?",
    "𝄞'\"",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_filter_values_travel_only_as_parameters(
    con: duckdb.DuckDBPyConnection, value: str
) -> None:
    insert(
        con, PROBLEM_ID="hostile", PROJECT_TYPE=value, CVE=[value], PROJECT_TAGS=[value]
    )
    insert(con, PROBLEM_ID="plain", PROJECT_TYPE="npm", CVE=["CVE-1"])
    job = export(
        {
            **SINCE_2026,
            "project_type": [value],
            "cve": value,
            "project_tags": [value],
            "issue_status": [value, "Open"],
        }
    )

    sql, params = compile_export(job)

    assert value not in sql
    assert value.strip() not in sql
    assert params
    job = export({**SINCE_2026, "project_type": [value], "cve": value})
    assert matched(con, job) == {"hostile"}
    assert con.execute("SELECT count(*) FROM issues").fetchone() == (2,)


def test_scope_id_travels_as_a_parameter() -> None:
    sql, params = compile_export(export(SINCE_2026))

    assert GROUP not in sql
    assert GROUP in params


# compile_export: scope


def test_group_export_reads_every_org_of_its_group_only(
    con: duckdb.DuckDBPyConnection,
) -> None:
    insert(con, PROBLEM_ID="a", ORG_PUBLIC_ID=ORG_A)
    insert(con, PROBLEM_ID="b", ORG_PUBLIC_ID=ORG_B)
    insert(con, PROBLEM_ID="other", GROUP_PUBLIC_ID=OTHER_GROUP)

    assert matched(con, export(SINCE_2026)) == {"a", "b"}


def test_org_export_reads_its_org_only(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, PROBLEM_ID="a", ORG_PUBLIC_ID=ORG_A)
    insert(con, PROBLEM_ID="b", ORG_PUBLIC_ID=ORG_B)

    job = export(SINCE_2026, scope="org", scope_id=ORG_B)

    assert matched(con, job) == {"b"}


def test_orgs_filter_restricts_a_group_export(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, PROBLEM_ID="a", ORG_PUBLIC_ID=ORG_A)
    insert(con, PROBLEM_ID="b", ORG_PUBLIC_ID=ORG_B)
    unknown = "00000000-0000-4000-8000-000000000000"

    assert matched(con, export({**SINCE_2026, "orgs": [ORG_A.upper()]})) == {"a"}
    assert matched(con, export({**SINCE_2026, "orgs": [ORG_B, unknown]})) == {"b"}
    assert matched(con, export({**SINCE_2026, "orgs": [unknown]})) == set()


# compile_export: equals_any and array overlap


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"issue_status": ["Open"]}, {"open"}),
        ({"issue_status": ["open"]}, set()),
        ({"issue_status": ["OPEN", "Resolved"]}, {"resolved"}),
        ({"issue_status": "Open"}, {"open"}),
        ({"product_name": ["Snyk Code"]}, {"open"}),
        ({"product_name": ["snyk code"]}, set()),
        ({"project_type": ["npm", "pip"]}, {"open", "resolved"}),
        ({"project_type": ["NPM"]}, set()),
    ],
)
def test_equals_any_is_exact(
    con: duckdb.DuckDBPyConnection, filters: dict[str, Any], expected: set[str]
) -> None:
    insert(
        con,
        PROBLEM_ID="open",
        ISSUE_STATUS="Open",
        PRODUCT_NAME="Snyk Code",
        PROJECT_TYPE="npm",
    )
    insert(
        con,
        PROBLEM_ID="resolved",
        ISSUE_STATUS="Resolved",
        PRODUCT_NAME="Snyk Open Source",
        PROJECT_TYPE="pip",
    )
    insert(con, PROBLEM_ID="null", ISSUE_STATUS=None, PRODUCT_NAME=None)

    assert matched(con, export({**SINCE_2026, **filters})) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"environment": ["backend"]}, {"both"}),
        ({"environment": ["BACKEND"]}, {"both"}),
        ({"environment": ["External", "frontend"]}, {"both", "front"}),
        ({"environment": "Frontend"}, {"front"}),
        ({"environment": ["mobile"]}, set()),
        ({"lifecycle": ["PRODUCTION"]}, {"both"}),
        ({"lifecycle": ["Development"]}, {"front"}),
    ],
)
def test_environment_and_lifecycle_overlap_case_insensitively(
    con: duckdb.DuckDBPyConnection, filters: dict[str, Any], expected: set[str]
) -> None:
    insert(
        con,
        PROBLEM_ID="both",
        PROJECT_ENVIRONMENTS=["backend", "external"],
        PROJECT_LIFECYCLES=["production"],
    )
    insert(
        con,
        PROBLEM_ID="front",
        PROJECT_ENVIRONMENTS=["frontend"],
        PROJECT_LIFECYCLES=["development"],
    )
    insert(con, PROBLEM_ID="none", PROJECT_ENVIRONMENTS=[], PROJECT_LIFECYCLES=None)

    assert matched(con, export({**SINCE_2026, **filters})) == expected


@pytest.mark.parametrize(
    ("cve", "expected"),
    [
        (["CVE-1"], {"one-two"}),
        (["CVE-2", "CVE-3"], {"one-two", "three"}),
        (["CVE-9"], set()),
        (["cve-1"], set()),
    ],
)
def test_cve_overlaps_exactly(
    con: duckdb.DuckDBPyConnection, cve: list[str], expected: set[str]
) -> None:
    insert(con, PROBLEM_ID="one-two", CVE=["CVE-1", "CVE-2"])
    insert(con, PROBLEM_ID="three", CVE=["CVE-3"])
    insert(con, PROBLEM_ID="empty", CVE=[])
    insert(con, PROBLEM_ID="null", CVE=None)

    assert matched(con, export({**SINCE_2026, "cve": cve})) == expected


def test_different_filters_are_and_ed(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, PROBLEM_ID="both", ISSUE_STATUS="Open", CVE=["CVE-1"])
    insert(con, PROBLEM_ID="status", ISSUE_STATUS="Open", CVE=["CVE-2"])
    insert(con, PROBLEM_ID="cve", ISSUE_STATUS="Resolved", CVE=["CVE-1"])

    job = export({**SINCE_2026, "issue_status": ["Open"], "cve": ["CVE-1"]})

    assert matched(con, job) == {"both"}


def test_filters_apply_to_unselected_columns(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, PROBLEM_ID="hit", CVE=["CVE-1"], SCORE=5.0)
    insert(con, PROBLEM_ID="miss", CVE=["CVE-2"], SCORE=6.0)

    job = export({**SINCE_2026, "cve": ["CVE-1"]}, columns=("SCORE",))

    assert records(con, job) == ["5\n"]


# compile_export: project tags


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (["scanType:CSS"], {"tight", "loose"}),
        (["scanType: CSS"], {"tight", "loose"}),
        ([" scanType :CSS "], {"tight", "loose"}),
        (["scantype:css"], set()),
        (["team:\u00a0core"], {"nbsp"}),
        (["team:core"], set()),
        (["plain"], {"plain"}),
        (["plain", "scanType:CSS"], {"tight", "loose", "plain"}),
    ],
)
def test_project_tags_are_compared_after_normalisation(
    con: duckdb.DuckDBPyConnection, wanted: list[str], expected: set[str]
) -> None:
    insert(con, PROBLEM_ID="tight", PROJECT_TAGS=["scanType:CSS"])
    insert(con, PROBLEM_ID="loose", PROJECT_TAGS=["other:x", "\tscanType : CSS \n"])
    insert(con, PROBLEM_ID="nbsp", PROJECT_TAGS=["team:\u00a0core"])
    insert(con, PROBLEM_ID="plain", PROJECT_TAGS=[" plain "])
    insert(con, PROBLEM_ID="untagged", PROJECT_TAGS=None)

    assert matched(con, export({**SINCE_2026, "project_tags": wanted})) == expected


TAGGED, OTHER, EMPTY, NULL = "tagged", "other", "empty", "null"


@pytest.mark.parametrize(
    ("mode", "with_tags", "expected"),
    [
        (None, False, {TAGGED, OTHER, EMPTY, NULL}),
        (None, True, {TAGGED}),
        ("include", False, {TAGGED, OTHER, EMPTY, NULL}),
        ("include", True, {TAGGED, EMPTY, NULL}),
        ("exclude", False, {TAGGED, OTHER}),
        ("exclude", True, {TAGGED}),
        ("only", False, {EMPTY, NULL}),
        ("only", True, set()),
    ],
)
def test_empty_project_tags_table_of_section_6_6(
    con: duckdb.DuckDBPyConnection,
    mode: str | None,
    with_tags: bool,
    expected: set[str],
) -> None:
    insert(con, PROBLEM_ID=TAGGED, PROJECT_TAGS=["scanType:CSS"])
    insert(con, PROBLEM_ID=OTHER, PROJECT_TAGS=["team:core"])
    insert(con, PROBLEM_ID=EMPTY, PROJECT_TAGS=[])
    insert(con, PROBLEM_ID=NULL, PROJECT_TAGS=None)
    filters: dict[str, Any] = dict(SINCE_2026)
    if mode is not None:
        filters["empty_project_tags"] = mode.upper()
    if with_tags:
        filters["project_tags"] = ["scanType: CSS"]

    assert matched(con, export(filters)) == expected


# compile_export: include_deleted and include_deactivated


@pytest.mark.parametrize(
    "column", ["ISSUE_DELETED_AT", "PROJECT_DELETED_AT", "GROUP_DELETED_AT"]
)
def test_deleted_rows_need_include_deleted(
    con: duckdb.DuckDBPyConnection, column: str
) -> None:
    insert(con, PROBLEM_ID="live")
    insert(con, PROBLEM_ID="deleted", **{column: MID})

    assert matched(con, export(SINCE_2026)) == {"live"}
    assert matched(con, export(SINCE_2026, include_deleted=True)) == {"live", "deleted"}


def test_deleted_orgs_are_excluded_from_usage(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, "usage", ID="live")
    insert(con, "usage", ID="gone", ORG_DELETED_AT=MID)

    assert matched(con, export(SINCE_2026, dataset="usage")) == {"live"}
    job = export(SINCE_2026, dataset="usage", include_deleted=True)
    assert matched(con, job) == {"live", "gone"}


def test_unmonitored_projects_need_include_deactivated(
    con: duckdb.DuckDBPyConnection,
) -> None:
    insert(con, PROBLEM_ID="monitored", PROJECT_IS_MONITORED=True)
    insert(con, PROBLEM_ID="unknown", PROJECT_IS_MONITORED=None)
    insert(con, PROBLEM_ID="inactive", PROJECT_IS_MONITORED=False)

    assert matched(con, export(SINCE_2026)) == {"monitored", "unknown"}
    job = export(SINCE_2026, include_deactivated=True)
    assert matched(con, job) == {"monitored", "unknown", "inactive"}


def test_pr_checks_read_is_project_monitored(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, "pr_checks", PUBLIC_ID="on", IS_PROJECT_MONITORED=True)
    insert(con, "pr_checks", PUBLIC_ID="off", IS_PROJECT_MONITORED=False)
    insert(con, "pr_checks", PUBLIC_ID="gone", PROJECT_DELETED_AT=MID)

    assert matched(con, export(SINCE_2026, dataset="pr_checks")) == {"on"}
    job = export(
        SINCE_2026, dataset="pr_checks", include_deleted=True, include_deactivated=True
    )
    assert matched(con, job) == {"on", "off", "gone"}


@pytest.mark.parametrize("dataset", list(datasets()))
def test_every_dataset_compiles_and_runs(
    con: duckdb.DuckDBPyConnection, dataset: str
) -> None:
    columns = tuple(column.name for column in datasets()[dataset].columns)

    job = export(SINCE_2026, dataset=dataset, columns=columns)

    assert records(con, job) == []


# compile_export: date ranges


def at_ms(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_date_bounds_are_inclusive_at_millisecond_precision(
    con: duckdb.DuckDBPyConnection,
) -> None:
    rows = {
        "before": at_ms("2025-12-31 23:59:59.999999"),
        "at-from": at_ms("2026-01-01 00:00:00"),
        "inside": at_ms("2026-01-15 00:00:00"),
        "at-to": at_ms("2026-01-31 00:00:00.500"),
        "in-to-ms": at_ms("2026-01-31 00:00:00.500999"),
        "after": at_ms("2026-01-31 00:00:00.501"),
    }
    for name, moment in rows.items():
        insert(con, PROBLEM_ID=name, UPDATED_AT=moment)
    insert(con, PROBLEM_ID="null", UPDATED_AT=None)
    window = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-31T00:00:00.500Z"}

    assert matched(con, export({"updated": window})) == {
        "at-from",
        "inside",
        "at-to",
        "in-to-ms",
    }


def test_date_bounds_in_another_offset(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, PROBLEM_ID="early", UPDATED_AT=at_ms("2026-01-01 00:59:59"))
    insert(con, PROBLEM_ID="late", UPDATED_AT=at_ms("2026-01-01 01:00:00"))

    job = export({"updated": {"from": "2026-01-01T02:00:00+01:00"}})

    assert matched(con, job) == {"late"}


def test_an_open_end_is_the_snapshot_time(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, PROBLEM_ID="before", UPDATED_AT=at_ms("2026-02-12 20:09:42.699"))
    insert(con, PROBLEM_ID="same-ms", UPDATED_AT=at_ms("2026-02-12 20:09:42.700900"))
    insert(con, PROBLEM_ID="next-ms", UPDATED_AT=at_ms("2026-02-12 20:09:42.701"))
    insert(con, PROBLEM_ID="later", UPDATED_AT=at_ms("2026-03-01 00:00:00"))

    job = export({"updated": {"from": "2026-01-01T00:00:00Z"}})

    assert job.snapshot_at == SNAPSHOT
    assert matched(con, job) == {"before", "same-ms"}


def test_an_open_end_before_the_snapshot_is_the_creation_time(
    con: duckdb.DuckDBPyConnection,
) -> None:
    insert(con, PROBLEM_ID="before", UPDATED_AT=at_ms("2026-02-12 20:09:42.693"))
    insert(con, PROBLEM_ID="after", UPDATED_AT=at_ms("2026-02-12 20:09:42.694"))

    job = export({"updated": {"from": "2026-01-01T00:00:00Z"}}, snapshot_at=None)

    assert matched(con, job) == {"before"}


def test_a_missing_from_is_unbounded(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, PROBLEM_ID="ancient", UPDATED_AT=at_ms("1970-01-01 00:00:00"))
    insert(con, PROBLEM_ID="late", UPDATED_AT=at_ms("2026-02-01 00:00:00"))

    job = export({"updated": {"to": "2026-01-01T00:00:00Z"}})

    assert matched(con, job) == {"ancient"}


def test_introduced_reads_first_introduced(con: duckdb.DuckDBPyConnection) -> None:
    insert(
        con,
        PROBLEM_ID="new",
        FIRST_INTRODUCED=at_ms("2026-01-10 00:00:00"),
        UPDATED_AT=at_ms("2025-01-01 00:00:00"),
    )
    insert(
        con,
        PROBLEM_ID="old",
        FIRST_INTRODUCED=at_ms("2025-01-01 00:00:00"),
        UPDATED_AT=at_ms("2026-01-10 00:00:00"),
    )
    insert(con, PROBLEM_ID="unknown", FIRST_INTRODUCED=None)

    job = export({"introduced": {"from": "2026-01-01T00:00:00Z"}})

    assert matched(con, job) == {"new"}


def test_both_date_filters_are_and_ed(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, PROBLEM_ID="both", FIRST_INTRODUCED=at_ms("2026-01-10 00:00:00"))
    insert(con, PROBLEM_ID="one", FIRST_INTRODUCED=at_ms("2025-01-10 00:00:00"))

    job = export(
        {
            "introduced": {"from": "2026-01-01T00:00:00Z"},
            "updated": {"from": "2026-01-01T00:00:00Z"},
        }
    )

    assert matched(con, job) == {"both"}


def test_the_last_millisecond_of_time_is_a_valid_end(
    con: duckdb.DuckDBPyConnection,
) -> None:
    insert(con, PROBLEM_ID="row")

    job = export({"updated": {"to": "9999-12-31T23:59:59.999Z"}})

    assert matched(con, job) == {"row"}


# Ordering


def test_rows_come_in_storage_order_without_a_sort(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # A global sort of wide rows cannot run under a bounded memory limit, so the
    # export keeps storage order, which DuckDB preserves while streaming.
    for project, problem in [("p2", "a"), ("p1", "b"), ("p1", "a"), ("p3", "a")]:
        insert(con, PROJECT_PUBLIC_ID=project, PROBLEM_ID=f"{project}-{problem}")

    keys = [record[1:-2] for record in records(con, export(SINCE_2026))]

    assert keys == ["p2-a", "p1-b", "p1-a", "p3-a"]
    assert "ORDER BY" not in compile_export(export(SINCE_2026))[0]


def test_nan_scores_do_not_break_rendering(con: duckdb.DuckDBPyConnection) -> None:
    insert(con, PROBLEM_ID="nan", SCORE=math.nan)

    job = export(SINCE_2026, columns=("PROBLEM_ID", "SCORE"))

    assert records(con, job) == ['"nan",\n']
