"""Scan results read into findings, and scans applied to a project's issues."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest_samples import (
    ENGINES,
    EXPRESS,
    GPL,
    LODASH,
    MINIMIST,
    OPENSSL,
    SECRET,
    SQLI,
    XSS,
    XSS_AGAIN,
    ZLIB,
    codeql_sarif,
    engine_backend,
    grype_sarif,
    semgrep_sarif,
    snyk_code_sarif,
    snyk_test_json,
    trivy_sarif,
    write_json,
)
from snyk_export.backends.base import Backend
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.ingest.findings import CodeRegion
from snyk_export.ingest.projects import ScanProject, find_or_create_org
from snyk_export.ingest.sarif import read_sarif
from snyk_export.ingest.scans import Lifecycle, import_scan
from snyk_export.ingest.snyk_json import read_snyk_json

T1 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC)
T3 = dt.datetime(2026, 11, 4, 10, 0, tzinfo=dt.UTC)


def test_snyk_json_gives_one_finding_per_vulnerability(tmp_path: Path) -> None:
    document = snyk_test_json([LODASH, MINIMIST, GPL], ignored=(EXPRESS,))
    (scan,) = read_snyk_json(write_json(tmp_path / "test.json", document))

    by_id = {finding.problem_id: finding for finding in scan.findings}
    assert (scan.product, scan.project_type, scan.target_file) == (
        "Snyk Open Source",
        "npm",
        "package-lock.json",
    )
    assert len(scan.findings) == 4
    lodash = by_id[LODASH.id]
    assert (lodash.severity, lodash.cve, lodash.cwe) == (
        "High",
        ("CVE-2021-23337",),
        ("CWE-78",),
    )
    assert (lodash.package, lodash.fixed_in, lodash.fixability) == (
        "lodash@4.17.15",
        ("4.17.21",),
        "Fixable",
    )
    assert lodash.direct_dependency is True
    assert lodash.exploit_maturity == "Proof of Concept"
    assert by_id[MINIMIST.id].fixability == "Partially Fixable"
    assert (by_id[GPL.id].issue_type, by_id[GPL.id].fixability) == (
        "License",
        "Not Applicable",
    )
    assert by_id[EXPRESS.id].ignored
    assert by_id[EXPRESS.id].severity == "Critical"


def test_all_projects_output_gives_one_scan_per_target(tmp_path: Path) -> None:
    documents = [
        snyk_test_json([LODASH]),
        snyk_test_json([], packageManager="pip", displayTargetFile="requirements.txt"),
    ]
    scans = read_snyk_json(write_json(tmp_path / "all.json", documents))
    assert [(s.target_file, s.project_type, len(s.findings)) for s in scans] == [
        ("package-lock.json", "npm", 1),
        ("requirements.txt", "pip", 0),
    ]


@pytest.mark.parametrize(
    ("writer", "product", "severities"),
    [
        (snyk_code_sarif, "Snyk Code", ["High", "High", "High", "Low"]),
        (semgrep_sarif, "Snyk Code", ["High", "High", "High", "Low"]),
        (codeql_sarif, "Snyk Code", ["High", "High", "High", "High"]),
    ],
)
def test_code_scanners_give_code_findings_with_regions(
    tmp_path: Path, writer: Any, product: str, severities: list[str]
) -> None:
    log = read_sarif(
        write_json(tmp_path / "code.sarif", writer([SQLI, XSS, XSS_AGAIN, SECRET]))
    )

    assert log.products == (product,)
    assert [f.severity for f in log.findings] == severities
    sqli = log.findings[0]
    assert (sqli.problem_id, sqli.cwe, sqli.file_path) == (
        "javascript/Sqli",
        ("CWE-89",),
        "src/db/users.js",
    )
    assert sqli.region == CodeRegion(42, 5, 44, 35)
    assert sqli.fixability == "Not Applicable"
    assert log.findings[1].problem_id == log.findings[2].problem_id
    assert len({f.finding_id for f in log.findings}) == 4


def test_snyk_code_titles_and_scores_come_from_the_log(tmp_path: Path) -> None:
    log = read_sarif(write_json(tmp_path / "s.sarif", snyk_code_sarif([SQLI])))
    assert (log.findings[0].title, log.findings[0].score) == ("SQL Injection", 700.0)


def test_image_scanners_give_container_findings_with_packages(tmp_path: Path) -> None:
    trivy = read_sarif(write_json(tmp_path / "t.sarif", trivy_sarif([OPENSSL, ZLIB])))
    grype = read_sarif(write_json(tmp_path / "g.sarif", grype_sarif([OPENSSL])))

    assert trivy.products == grype.products == ("Snyk Container",)
    openssl, zlib = trivy.findings
    assert (openssl.cve, openssl.severity, openssl.package) == (
        ("CVE-2023-5678",),
        "Medium",
        "libssl3@3.0.11-1",
    )
    assert (openssl.fixed_in, openssl.fixability) == (("3.0.13-1",), "Fixable")
    assert (zlib.severity, zlib.fixability, zlib.region) == (
        "Critical",
        "No Fix Supported",
        None,
    )
    assert grype.findings[0].package == "libssl3@3.0.11-1"
    assert grype.findings[0].cve == ("CVE-2023-5678",)


def test_lifecycle_follows_snyk() -> None:
    found = Lifecycle.found(False, T1)
    resolved = found.missed(T2)
    back = resolved.seen(False, T3)

    assert found == Lifecycle("Open", T1, T1)
    assert found.seen(False, T2) == found
    assert resolved == Lifecycle("Resolved", T1, T1, T2)
    assert resolved.missed(T3) == resolved
    assert back == Lifecycle("Open", T1, T3, T2)
    assert found.seen(True, T2) == Lifecycle("Ignored", T1, T1, None, T2)


@pytest.fixture(params=ENGINES)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with engine_backend(request, tmp_path) as db:
        yield db


def _statuses(backend: DuckDBBackend | PostgresBackend) -> dict[str, tuple[Any, ...]]:
    rows = backend._fetchall(
        'SELECT "PROBLEM_ID", "ISSUE_STATUS", "LAST_INTRODUCED", "LAST_RESOLVED", '
        '"UPDATED_AT" FROM "issues"'
    )
    return {row[0]: row[1:] for row in rows}


def test_rescans_introduce_keep_resolve_and_reintroduce(
    backend: DuckDBBackend | PostgresBackend, tmp_path: Path
) -> None:
    org, group = find_or_create_org(backend, "Payments", "Acme")
    project = ScanProject(org, group, "web-shop", "Snyk Open Source", "npm")

    def scan(at: dt.datetime, *vulns: Any) -> None:
        path = write_json(tmp_path / "scan.json", snyk_test_json(list(vulns)))
        import_scan(backend, read_snyk_json(path)[0].findings, project, at)

    scan(T1, LODASH, MINIMIST)
    scan(T2, LODASH, EXPRESS)
    scan(T3, LODASH, MINIMIST)

    t1, t2, t3 = (t.replace(tzinfo=None) for t in (T1, T2, T3))
    assert _statuses(backend) == {
        LODASH.id: ("Open", t1, None, t1),
        MINIMIST.id: ("Open", t3, t2, t3),
        EXPRESS.id: ("Resolved", t2, t3, t3),
    }
    assert group is not None
    assert org.group_id == group.id
    assert find_or_create_org(backend, "payments", None) == (org, group)
