"""Two scans of the same projects, imported into a running server, read over HTTP.

The scans are imported through the server's own backend (the process that
holds the database), as an operator endpoint would; everything a client sees
is then read over the API: an ``updated`` export between the two scans returns
exactly the rows the second scan changed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from exporting import body, export
from ingest_samples import (
    EXPRESS,
    LODASH,
    MINIMIST,
    SQLI,
    XSS,
    XSS_AGAIN,
    snyk_code_sarif,
    snyk_test_json,
    write_json,
)
from liveserver import LiveServer
from snyk_export.ingest.projects import ScanProject, find_or_create_org
from snyk_export.ingest.sarif import read_sarif
from snyk_export.ingest.scans import import_scan
from snyk_export.ingest.snyk_json import read_snyk_json

T1 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC)
COLUMNS = [
    "PROBLEM_ID",
    "PRODUCT_NAME",
    "ISSUE_STATUS",
    "FIRST_INTRODUCED",
    "LAST_INTRODUCED",
    "LAST_RESOLVED",
    "UPDATED_AT",
    "FILE_PATH",
    "CODE_REGION_DISPLAY_VALUE",
]


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.000")


def _window(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    return {"from": start.isoformat(), "to": end.isoformat()}


class Scenario:
    """An org of the server's group whose two projects are scanned twice."""

    def __init__(self, server: LiveServer, tmp_path: Path) -> None:
        self.server = server
        self.tmp_path = tmp_path
        self.org, group = find_or_create_org(
            server.backend, "Scanned Org", server.tenant.group_id
        )
        self.open_source = ScanProject(
            self.org, group, "web-shop", "Snyk Open Source", "npm"
        )
        self.code = ScanProject(self.org, group, "web-shop", "Snyk Code", "sast")

    def scan(self, at: dt.datetime, vulns: list[Any], issues: list[Any]) -> None:
        oss = write_json(self.tmp_path / "oss.json", snyk_test_json(vulns))
        code = write_json(self.tmp_path / "code.sarif", snyk_code_sarif(issues))
        backend = self.server.backend
        import_scan(backend, read_snyk_json(oss)[0].findings, self.open_source, at)
        import_scan(backend, read_sarif(code).findings, self.code, at)

    def updated(self, window: dict[str, str]) -> list[dict[str, str]]:
        filters = {"updated": window, "orgs": [self.org.id]}
        finished = export(
            self.server.client(),
            "groups",
            self.server.tenant.group_id,
            body("issues", COLUMNS, filters),
        )
        header, records = finished.rows()
        rows = [dict(zip(header, record, strict=True)) for record in records]
        return sorted(rows, key=lambda row: (row["PROBLEM_ID"], row["FILE_PATH"]))


@pytest.fixture
def scenario(server_factory: Any, tmp_path: Path) -> Scenario:
    server = server_factory(export_post_limit="none", request_limit="none")
    return Scenario(server, tmp_path)


def test_an_updated_export_between_scans_returns_what_the_second_changed(
    scenario: Scenario,
) -> None:
    scenario.scan(T1, [LODASH, MINIMIST], [SQLI, XSS])
    first = scenario.updated(_window(T1, T1))
    assert [(r["PROBLEM_ID"], r["ISSUE_STATUS"]) for r in first] == [
        (LODASH.id, "Open"),
        (MINIMIST.id, "Open"),
        (XSS.rule, "Open"),
        (SQLI.rule, "Open"),
    ]
    assert {r["UPDATED_AT"] for r in first} == {_stamp(T1)}

    scenario.scan(T2, [LODASH, EXPRESS], [SQLI, XSS_AGAIN])
    changed = scenario.updated(_window(T2, T2 + dt.timedelta(days=1)))
    kept = scenario.updated(_window(T1, T2 - dt.timedelta(milliseconds=1)))

    t1, t2 = _stamp(T1), _stamp(T2)
    assert [
        (r["PROBLEM_ID"], r["ISSUE_STATUS"], r["LAST_INTRODUCED"], r["LAST_RESOLVED"])
        for r in changed
    ] == [
        (EXPRESS.id, "Open", t2, ""),
        (MINIMIST.id, "Resolved", t1, t2),
        (XSS.rule, "Resolved", t1, t2),
        (XSS.rule, "Open", t2, ""),
    ]
    assert {r["UPDATED_AT"] for r in changed} == {t2}
    assert [r["FILE_PATH"] for r in changed[2:]] == ["src/views/profile.js"] * 2
    assert [r["CODE_REGION_DISPLAY_VALUE"] for r in changed[2:]] == [
        "17:5-19:35",
        "88:5-90:35",
    ]
    assert [(r["PROBLEM_ID"], r["UPDATED_AT"]) for r in kept] == [
        (LODASH.id, t1),
        (SQLI.rule, t1),
    ]
    assert {r["PRODUCT_NAME"] for r in first} == {"Snyk Open Source", "Snyk Code"}


def test_an_issue_that_comes_back_is_reintroduced(scenario: Scenario) -> None:
    t3 = T2 + dt.timedelta(days=1)
    scenario.scan(T1, [LODASH, MINIMIST], [])
    scenario.scan(T2, [LODASH], [])
    scenario.scan(t3, [LODASH, MINIMIST], [])

    changed = scenario.updated(_window(t3, t3))

    assert [
        (
            r["PROBLEM_ID"],
            r["ISSUE_STATUS"],
            r["FIRST_INTRODUCED"],
            r["LAST_INTRODUCED"],
        )
        for r in changed
    ] == [(MINIMIST.id, "Open", _stamp(T1), _stamp(t3))]
    assert changed[0]["LAST_RESOLVED"] == _stamp(T2)
