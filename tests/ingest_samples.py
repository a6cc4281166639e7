"""Realistic inputs for the ingest tests, written by the tests themselves.

Dataset files in the three load formats, written from a backend's table (CSV
by the export's own renderer, so it is byte for byte what an export holds),
the JSON ``snyk test --json`` prints, and SARIF 2.1.0 logs shaped like those
of Snyk Code, Semgrep, CodeQL, Trivy and Grype.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from snyk_export.backends import postgres_query
from snyk_export.backends.base import Backend
from snyk_export.backends.conditions import quote_identifier
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.backends.duckdb_query import header_line, render_record
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.catalog import datasets

ENGINES = ["duckdb", "postgres"]


@contextlib.contextmanager
def engine_backend(
    request: pytest.FixtureRequest, directory: Path
) -> Iterator[DuckDBBackend | PostgresBackend]:
    """A migrated, empty backend of the engine ``request.param`` names.

    PostgreSQL gets a fresh schema of its own (the ``postgres_url`` fixture).
    """
    backend: DuckDBBackend | PostgresBackend
    if request.param == "postgres":
        backend = PostgresBackend(
            request.getfixturevalue("postgres_url"), max_connections=2
        )
    else:
        backend = DuckDBBackend(directory / "db.duckdb")
    backend.migrate()
    try:
        yield backend
    finally:
        backend.close()


def export_csv(
    backend: Backend, dataset: str, columns: list[str] | None = None
) -> bytes:
    """The dataset's rows in the export's CSV dialect, sorted by record."""
    catalog = datasets()[dataset]
    names = tuple(columns or (c.name for c in catalog.columns))
    table = quote_identifier(dataset)
    if isinstance(backend, PostgresBackend):
        # Arrays are rendered from their JSON text, as the export query does.
        inner = ", ".join(
            f"to_json({quote_identifier(c.name)})::text AS {quote_identifier(c.name)}"
            if c.type == "array"
            else quote_identifier(c.name)
            for c in catalog.columns
        )
        record = postgres_query.render_record(catalog, names)
        rows = backend._fetchall(
            f"SELECT r FROM (SELECT {record} AS r FROM (SELECT {inner} FROM {table}) "
            'AS s) AS records ORDER BY r COLLATE "C"'
        )
    else:
        assert isinstance(backend, DuckDBBackend)
        rows = backend._fetchall(
            f"SELECT {render_record(catalog, names)} AS r FROM {table} ORDER BY r"
        )
    return header_line(names) + "".join(row[0] for row in rows).encode("utf-8")


def write_dataset(backend: DuckDBBackend, dataset: str, path: Path) -> Path:
    """The dataset's table written to ``path`` in the format of its suffix."""
    if path.suffix == ".csv":
        path.write_bytes(export_csv(backend, dataset))
        return path
    options = "FORMAT parquet" if path.suffix == ".parquet" else "FORMAT json"
    backend._fetchall(
        f"COPY (SELECT * FROM {quote_identifier(dataset)}) TO '{path}' ({options})"
    )
    return path


@dataclass(frozen=True)
class Vulnerability:
    """One Open Source vulnerability of a sample scan."""

    id: str
    title: str
    severity: str
    package: str
    version: str
    cves: tuple[str, ...] = ()
    cwes: tuple[str, ...] = ()
    fixed_in: tuple[str, ...] = ()
    upgradable: bool = False
    paths: tuple[tuple[str, ...], ...] = (("app@1.0.0",),)
    cvss: float = 5.3
    exploit: str = "Not Defined"
    licence: bool = False


LODASH = Vulnerability(
    "SNYK-JS-LODASH-1040724",
    "Command Injection",
    "high",
    "lodash",
    "4.17.15",
    cves=("CVE-2021-23337",),
    cwes=("CWE-78",),
    fixed_in=("4.17.21",),
    upgradable=True,
    paths=(
        ("app@1.0.0", "lodash@4.17.15"),
        ("app@1.0.0", "async@2.6.3", "lodash@4.17.15"),
    ),
    cvss=7.2,
    exploit="Proof of Concept",
)
MINIMIST = Vulnerability(
    "SNYK-JS-MINIMIST-559764",
    "Prototype Pollution",
    "medium",
    "minimist",
    "1.2.0",
    cves=("CVE-2020-7598",),
    cwes=("CWE-1321",),
    fixed_in=("1.2.2", "0.2.1"),
    paths=(("app@1.0.0", "mkdirp@0.5.1", "minimist@1.2.0"),),
)
JSONWEBTOKEN = Vulnerability(
    "SNYK-JS-JSONWEBTOKEN-3180022",
    "Improper Authentication",
    "low",
    "jsonwebtoken",
    "8.5.1",
    cves=("CVE-2022-23541",),
    cwes=("CWE-287",),
    fixed_in=("9.0.0",),
    upgradable=True,
    paths=(("app@1.0.0", "jsonwebtoken@8.5.1"),),
)
EXPRESS = Vulnerability(
    "SNYK-JS-EXPRESS-6474509",
    "Open Redirect",
    "critical",
    "express",
    "4.17.1",
    cves=("CVE-2024-29041",),
    cwes=("CWE-601",),
    fixed_in=("4.19.2",),
    upgradable=True,
    paths=(("app@1.0.0", "express@4.17.1"),),
    cvss=9.1,
    exploit="Mature",
)
GPL = Vulnerability(
    "snyk:lic:npm:readline-sync:GPL-3.0",
    "GPL-3.0 license",
    "medium",
    "readline-sync",
    "1.4.10",
    licence=True,
)


def _vulnerability_entries(vuln: Vulnerability) -> list[dict[str, Any]]:
    return [
        {
            "id": vuln.id,
            "title": vuln.title,
            "severity": vuln.severity,
            "cvssScore": vuln.cvss,
            "CVSSv3": f"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/{vuln.id[-3:]}",
            "identifiers": {"CVE": list(vuln.cves), "CWE": list(vuln.cwes)},
            "packageName": vuln.package,
            "version": vuln.version,
            "moduleName": vuln.package,
            "from": list(path),
            "upgradePath": [False, *path[1:]] if vuln.upgradable else [],
            "isUpgradable": vuln.upgradable,
            "isPatchable": False,
            "fixedIn": list(vuln.fixed_in),
            "semver": {
                "vulnerable": [f"<{vuln.fixed_in[0]}"] if vuln.fixed_in else ["*"]
            },
            "publicationTime": "2021-02-15T11:50:49Z",
            "exploit": vuln.exploit,
            "language": "js",
            "type": "license" if vuln.licence else "vuln",
            **({"license": vuln.id.rsplit(":", 1)[-1]} if vuln.licence else {}),
        }
        for path in vuln.paths
    ]


def snyk_test_json(
    vulns: list[Vulnerability], ignored: tuple[Vulnerability, ...] = (), **fields: Any
) -> dict[str, Any]:
    """A document as ``snyk test --json`` prints it for an npm project."""
    entries = [entry for vuln in vulns for entry in _vulnerability_entries(vuln)]
    return {
        "vulnerabilities": entries,
        "ok": not entries,
        "dependencyCount": 412,
        "org": "acme",
        "policy": "# Snyk (https://snyk.io) policy file\nversion: v1.25.0\n",
        "isPrivate": True,
        "licensesPolicy": {"severities": {}, "orgLicenseRules": {}},
        "packageManager": "npm",
        "ignoreSettings": {"adminOnly": False, "reasonRequired": False},
        "summary": f"{len(vulns)} vulnerable dependency paths",
        "filesystemPolicy": False,
        "filtered": {
            "ignore": [e for v in ignored for e in _vulnerability_entries(v)],
            "patch": [],
        },
        "uniqueCount": len(vulns),
        "projectName": "web-shop",
        "displayTargetFile": "package-lock.json",
        "path": "/home/ci/web-shop",
        **fields,
    }


@dataclass(frozen=True)
class CodeIssue:
    """One result of a sample SARIF log."""

    rule: str
    title: str
    level: str
    uri: str
    line: int
    column: int = 5
    cwe: str = "CWE-89"
    fingerprint: str = ""
    security_severity: str | None = None
    message: str = "Unsanitized input flows into a sensitive sink."
    tags: tuple[str, ...] = field(default=())


SQLI = CodeIssue(
    "javascript/Sqli",
    "SQL Injection",
    "error",
    "src/db/users.js",
    42,
    fingerprint="a1f0",
)
XSS = CodeIssue(
    "javascript/DOMXSS",
    "Cross-site Scripting (XSS)",
    "error",
    "src/views/profile.js",
    17,
    cwe="CWE-79",
    fingerprint="b2e1",
)
XSS_AGAIN = replace(XSS, line=88, fingerprint="b2e2")
SECRET = CodeIssue(
    "javascript/HardcodedSecret",
    "Hardcoded Secret",
    "note",
    "src/config.js",
    3,
    cwe="CWE-547",
    fingerprint="c3d2",
)


def _region(issue: CodeIssue) -> dict[str, int]:
    return {
        "startLine": issue.line,
        "startColumn": issue.column,
        "endLine": issue.line + 2,
        "endColumn": issue.column + 30,
    }


def _sarif(tool: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": tool}, "results": results}],
    }


def _location(uri: str, region: dict[str, int] | None = None) -> list[dict[str, Any]]:
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}
    }
    if region:
        physical["region"] = region
    return [{"physicalLocation": physical}]


def snyk_code_sarif(issues: list[CodeIssue]) -> dict[str, Any]:
    """A log as ``snyk code test --sarif`` writes it."""
    rules = {
        i.rule: {
            "id": i.rule,
            "name": i.rule.split("/")[-1],
            "shortDescription": {"text": i.title},
            "defaultConfiguration": {"level": i.level},
            "properties": {
                "tags": ["javascript", "security"],
                "cwe": [i.cwe],
                "precision": "very-high",
            },
        }
        for i in issues
    }
    results = [
        {
            "ruleId": i.rule,
            "ruleIndex": list(rules).index(i.rule),
            "level": i.level,
            "message": {"text": i.message},
            "locations": _location(i.uri, _region(i)),
            "fingerprints": {"0": i.fingerprint, "1": i.fingerprint[::-1]},
            "properties": {"priorityScore": 700 if i.level == "error" else 300},
        }
        for i in issues
    ]
    tool = {
        "name": "SnykCode",
        "semanticVersion": "1.0.0",
        "version": "1.0.0",
        "rules": list(rules.values()),
    }
    return _sarif(tool, results)


def semgrep_sarif(issues: list[CodeIssue]) -> dict[str, Any]:
    """A log as ``semgrep --sarif`` writes it."""
    rules = [
        {
            "id": i.rule,
            "name": i.rule,
            "shortDescription": {"text": f"Semgrep Finding: {i.rule}"},
            "fullDescription": {"text": i.message},
            "defaultConfiguration": {"level": i.level},
            "properties": {
                "precision": "very-high",
                "tags": [
                    f"{i.cwe}: Improper Neutralization",
                    "OWASP-A03:2021 - Injection",
                    "security",
                ],
            },
        }
        for i in issues
    ]
    results = [
        {
            "ruleId": i.rule,
            "message": {"text": i.message},
            "locations": _location(i.uri, _region(i)),
            "fingerprints": {"matchBasedId/v1": i.fingerprint * 8},
            "properties": {},
        }
        for i in issues
    ]
    return _sarif(
        {"name": "Semgrep OSS", "semanticVersion": "1.56.0", "rules": rules}, results
    )


def codeql_sarif(issues: list[CodeIssue]) -> dict[str, Any]:
    """A log as ``codeql database analyze --format=sarif-latest`` writes it."""
    rules = [
        {
            "id": i.rule,
            "name": i.rule,
            "shortDescription": {"text": i.title},
            "defaultConfiguration": {"enabled": True, "level": i.level},
            "properties": {
                "tags": [
                    "security",
                    f"external/cwe/{i.cwe.lower().replace('-', '-0')}",
                ],
                "security-severity": i.security_severity or "8.8",
                "precision": "high",
            },
        }
        for i in issues
    ]
    results = [
        {
            "ruleId": i.rule,
            "ruleIndex": index,
            "rule": {"id": i.rule, "index": index},
            "message": {"text": i.message},
            "locations": _location(i.uri, _region(i)),
            "partialFingerprints": {"primaryLocationLineHash": f"{i.fingerprint}:1"},
        }
        for index, i in enumerate(issues)
    ]
    return _sarif(
        {
            "name": "CodeQL",
            "organization": "GitHub",
            "semanticVersion": "2.16.1",
            "rules": rules,
        },
        results,
    )


@dataclass(frozen=True)
class ImageVulnerability:
    """One package vulnerability of a sample container scan."""

    cve: str
    title: str
    package: str
    installed: str
    fixed: str | None
    score: str


OPENSSL = ImageVulnerability(
    "CVE-2023-5678",
    "openssl: excessive time spent in DH check",
    "libssl3",
    "3.0.11-1",
    "3.0.13-1",
    "5.3",
)
ZLIB = ImageVulnerability(
    "CVE-2023-45853",
    "zlib: integer overflow in zipOpenNewFileInZip4_6",
    "zlib1g",
    "1:1.2.13",
    None,
    "9.8",
)


def trivy_sarif(
    vulns: list[ImageVulnerability], image: str = "library/web:1.4"
) -> dict[str, Any]:
    """A log as ``trivy image --format sarif`` writes it."""
    rules = [
        {
            "id": v.cve,
            "name": "OsPackageVulnerability",
            "shortDescription": {"text": v.title},
            "helpUri": f"https://avd.aquasec.com/nvd/{v.cve.lower()}",
            "properties": {
                "precision": "very-high",
                "security-severity": v.score,
                "tags": ["vulnerability", "security", "HIGH"],
            },
        }
        for v in vulns
    ]
    results = [
        {
            "ruleId": v.cve,
            "ruleIndex": index,
            "level": "error",
            "message": {
                "text": f"Package: {v.package}\nInstalled Version: {v.installed}\n"
                f"Vulnerability {v.cve}\nSeverity: HIGH\n"
                f"Fixed Version: {v.fixed or ''}\n"
                f"Link: [{v.cve}](https://avd.aquasec.com/nvd/{v.cve.lower()})"
            },
            "locations": _location(
                image, {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1}
            ),
        }
        for index, v in enumerate(vulns)
    ]
    return _sarif(
        {
            "name": "Trivy",
            "informationUri": "https://github.com/aquasecurity/trivy",
            "version": "0.48.3",
            "rules": rules,
        },
        results,
    )


def grype_sarif(vulns: list[ImageVulnerability]) -> dict[str, Any]:
    """A log as ``grype -o sarif`` writes it."""
    rules = [
        {
            "id": f"{v.cve}-{v.package}",
            "name": "DpkgMatcherExactDirectMatch",
            "shortDescription": {
                "text": f"{v.cve} medium vulnerability for {v.package} package"
            },
            "properties": {"security-severity": v.score},
        }
        for v in vulns
    ]
    results = [
        {
            "ruleId": f"{v.cve}-{v.package}",
            "level": "warning",
            "message": {
                "text": f"A medium vulnerability in deb package: {v.package}, "
                f"version {v.installed} was found at: /var/lib/dpkg/status"
            },
            "locations": _location(
                "/var/lib/dpkg/status",
                {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
            ),
        }
        for v in vulns
    ]
    return _sarif(
        {
            "name": "Grype",
            "informationUri": "https://github.com/anchore/grype",
            "version": "0.74.1",
            "rules": rules,
        },
        results,
    )


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
