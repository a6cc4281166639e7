"""Scans imported into a project, and the lifecycle of the issues they report.

A scan is the whole truth about one project at one moment, as in Snyk: each
import compares the findings with the project's stored issues and

- inserts a new finding as ``Open`` (``FIRST_INTRODUCED`` = ``LAST_INTRODUCED``
  = scan time), or ``Ignored`` when the scan reports it ignored;
- keeps a finding that is still there, its values refreshed;
- re-introduces a ``Resolved`` issue that comes back (``LAST_INTRODUCED`` = scan
  time, ``LAST_RESOLVED`` kept as history);
- resolves an issue the scan no longer reports (``LAST_RESOLVED`` = scan time).

Rows go through the loader's merge with the scan time as UPDATED_AT, so only
rows whose values changed get a new UPDATED_AT, and an ``updated`` export
between two scans returns exactly what the second one changed.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from snyk_export.backends.base import Backend
from snyk_export.catalog import datasets
from snyk_export.demo_data import arrow_schema
from snyk_export.ingest.findings import Finding, stable_id
from snyk_export.ingest.loader import LoadReport, upsert
from snyk_export.ingest.projects import ScanProject
from snyk_export.ingest.sources import registered_source
from snyk_export.ingest.targets import LoadTransaction, begin_load

logger = logging.getLogger(__name__)

LIFECYCLE_COLUMNS = (
    "ISSUE_STATUS",
    "FIRST_INTRODUCED",
    "LAST_INTRODUCED",
    "LAST_RESOLVED",
    "LAST_IGNORED",
)


@dataclass(frozen=True)
class Lifecycle:
    """The status and lifecycle timestamps of one issue."""

    status: str
    first_introduced: dt.datetime
    last_introduced: dt.datetime
    last_resolved: dt.datetime | None = None
    last_ignored: dt.datetime | None = None

    def seen(self, ignored: bool, at: dt.datetime) -> Lifecycle:
        """The lifecycle after a scan at ``at`` that reports the issue."""
        status = "Ignored" if ignored else "Open"
        newly_ignored = ignored and self.status != "Ignored"
        return replace(
            self,
            status=status,
            last_introduced=at if self.status == "Resolved" else self.last_introduced,
            last_ignored=at if newly_ignored else self.last_ignored,
        )

    def missed(self, at: dt.datetime) -> Lifecycle:
        """The lifecycle after a scan at ``at`` that no longer reports the issue."""
        if self.status == "Resolved":
            return self
        return replace(self, status="Resolved", last_resolved=at)

    @classmethod
    def found(cls, ignored: bool, at: dt.datetime) -> Lifecycle:
        """The lifecycle of an issue first reported at ``at``."""
        return cls(
            "Ignored" if ignored else "Open", at, at, None, at if ignored else None
        )


def finding_columns(finding: Finding) -> dict[str, Any]:
    """The issues columns a finding decides, lifecycle and project excluded."""
    region = finding.region
    return {
        "PROBLEM_ID": finding.problem_id,
        "ASSET_FINDING_ID": finding.finding_id,
        "PROBLEM_TITLE": finding.title,
        "ISSUE_SEVERITY": finding.severity,
        "PRODUCT_NAME": finding.product,
        "ISSUE_TYPE": finding.issue_type,
        "ISSUE_SUB_TYPE": finding.sub_type,
        "CVE": list(finding.cve),
        "CWE": list(finding.cwe),
        "PACKAGE_NAME_AND_VERSION": finding.package,
        "FIXED_IN_AVAILABLE": bool(finding.fixed_in),
        "FIXED_IN_VERSION": list(finding.fixed_in),
        "COMPUTED_FIXABILITY": finding.fixability,
        "SEMVER_VULNERABLE_RANGE": list(finding.vulnerable_ranges),
        "SNYK_CVSS_SCORE": finding.cvss_score,
        "SNYK_CVSS_VECTOR": finding.cvss_vector,
        "SCORE": finding.score,
        "EXPLOIT_MATURITY": finding.exploit_maturity,
        "VULN_DB_URL": finding.vuln_db_url,
        "EXISTS_IN_DIRECT_DEPENDENCY": finding.direct_dependency,
        "VULNERABILITY_PUBLICATION_DATE": finding.publication_date,
        "FILE_PATH": finding.file_path,
        "CODE_REGION": region.to_json() if region else None,
        "CODE_REGION_DISPLAY_VALUE": region.display() if region else None,
    }


FINDING_COLUMNS = tuple(finding_columns(Finding("", "", "Low", "Snyk Code")))


def _lifecycle_columns(state: Lifecycle, at: dt.datetime) -> dict[str, Any]:
    return {
        "ISSUE_STATUS": state.status,
        "FIRST_INTRODUCED": state.first_introduced,
        "LAST_INTRODUCED": state.last_introduced,
        "LAST_RESOLVED": state.last_resolved,
        "LAST_IGNORED": state.last_ignored,
        "UPDATED_AT": at,
    }


def _stored_rows(
    load: LoadTransaction, project_id: str, names: list[str]
) -> dict[tuple[str, str | None], dict[str, Any]]:
    rows = load.stored_rows("PROJECT_PUBLIC_ID", project_id, names)
    return {(row["PROBLEM_ID"], row["ASSET_FINDING_ID"]): row for row in rows}


def scan_rows(
    findings: list[Finding],
    project: ScanProject,
    stored: dict[tuple[str, str | None], dict[str, Any]],
    at: dt.datetime,
) -> list[dict[str, Any]]:
    """The issues rows after the scan: every reported finding, every missed issue."""
    rows = []
    reported = {finding.key: finding for finding in findings}
    for key, finding in reported.items():
        old = stored.get(key)
        state = (
            Lifecycle.found(finding.ignored, at)
            if old is None
            else _lifecycle(old).seen(finding.ignored, at)
        )
        url = {"ISSUE_URL": f"{project.url}#issue-{finding.problem_id}"}
        row = project.columns() | finding_columns(finding) | url
        rows.append(row | _lifecycle_columns(state, at))
    for key, old in stored.items():
        if key not in reported and old["ISSUE_STATUS"] != "Resolved":
            rows.append(old | _lifecycle_columns(_lifecycle(old).missed(at), at))
    return rows


def _lifecycle(row: dict[str, Any]) -> Lifecycle:
    # Rows loaded from a file may lack lifecycle values; the scan supplies them.
    first = row["FIRST_INTRODUCED"] or row["LAST_INTRODUCED"] or row["UPDATED_AT"]
    return Lifecycle(
        row["ISSUE_STATUS"] or "Open",
        first,
        row["LAST_INTRODUCED"] or first,
        row["LAST_RESOLVED"],
        row["LAST_IGNORED"],
    )


def import_scan(
    backend: Backend,
    findings: list[Finding],
    project: ScanProject,
    scanned_at: dt.datetime,
) -> LoadReport:
    """Apply one scan of ``project`` to the issues dataset, in one transaction.

    The stored issues are read and rewritten in the same load transaction, so
    on PostgreSQL two imports into one dataset apply one after the other.
    """
    at = scanned_at.astimezone(dt.UTC).replace(tzinfo=None)
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    names = [
        *project.columns(),
        *FINDING_COLUMNS,
        "ISSUE_URL",
        *LIFECYCLE_COLUMNS,
        "UPDATED_AT",
    ]
    schema = pa.schema([arrow_schema("issues").field(name) for name in names])
    label = f"scan of {project.name}"

    issues = datasets()["issues"]
    with begin_load(backend, issues) as load:
        stored = _stored_rows(load, project.id, names)
        rows = scan_rows(findings, project, stored, at)
        table = pa.Table.from_pylist(rows, schema=schema)
        relation = "__scan_" + stable_id(label, str(at)).replace("-", "")
        load.reader.register(relation, table)
        source = registered_source(load.reader, label, relation)
        report = upsert(load, issues, source, at)
        load.reader.unregister(relation)
    logger.info(
        "Imported %s",
        report.summary(),
        extra={"action": "scan_imported", **vars(report)},
    )
    return report
