"""Findings: what a scanner reports, in the vocabulary of the issues dataset.

The readers of scan results (``snyk_json``, ``sarif``) produce findings; the
scan lifecycle (``scans``) turns them into issues rows. Values follow §12.3:
severities and fixabilities are capitalised exactly as Snyk exports them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from typing import Literal

Severity = Literal["Critical", "High", "Medium", "Low"]
Product = Literal["Snyk Open Source", "Snyk Code", "Snyk Container", "Snyk IaC"]

# A fixed namespace, so one finding gets the same ASSET_FINDING_ID (and one
# project the same PROJECT_PUBLIC_ID) in every import of every scan.
NAMESPACE = uuid.UUID("5b1c9c1e-6f0e-4f5b-9a55-3c8e3e0f5d21")

_CVE = re.compile(r"CVE-\d{4}-\d{4,}", re.IGNORECASE)
_CWE = re.compile(r"CWE[-/:_ ]?0*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class CodeRegion:
    """Where in a file a code finding lies; lines and columns count from 1."""

    start_line: int
    start_column: int
    end_line: int
    end_column: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "start": {"line": self.start_line, "column": self.start_column},
                "end": {"line": self.end_line, "column": self.end_column},
            },
            separators=(",", ":"),
        )

    def display(self) -> str:
        return (
            f"{self.start_line}:{self.start_column}-{self.end_line}:{self.end_column}"
        )


@dataclass(frozen=True)
class Finding:
    """One issue a scan found in a project."""

    problem_id: str
    title: str
    severity: Severity
    product: Product
    issue_type: str = "Vulnerability"
    sub_type: str = "package_vulnerability"
    cve: tuple[str, ...] = ()
    cwe: tuple[str, ...] = ()
    package: str | None = None
    fixed_in: tuple[str, ...] = ()
    fixability: str = "No Fix Supported"
    vulnerable_ranges: tuple[str, ...] = ()
    cvss_score: float | None = None
    cvss_vector: str | None = None
    score: float | None = None
    exploit_maturity: str | None = None
    vuln_db_url: str | None = None
    direct_dependency: bool | None = None
    publication_date: dt.date | None = None
    file_path: str | None = None
    region: CodeRegion | None = None
    finding_id: str | None = None
    ignored: bool = False

    @property
    def key(self) -> tuple[str, str | None]:
        """The part of the natural key a finding decides (the project is the scan's)."""
        return self.problem_id, self.finding_id


def severity_from_score(score: float) -> Severity:
    """CVSS bands, as Snyk and GitHub read ``security-severity``."""
    if score >= 9.0:
        return "Critical"
    if score >= 7.0:
        return "High"
    if score >= 4.0:
        return "Medium"
    return "Low"


def severity_from_name(name: str) -> Severity | None:
    """A severity written in any case (``high``, ``HIGH``), or None if unknown."""
    wanted = name.strip().capitalize()
    for severity in ("Critical", "High", "Medium", "Low"):
        if wanted == severity:
            return severity
    return None


def find_cves(*texts: str) -> tuple[str, ...]:
    """Every CVE id in ``texts``, uppercase, first occurrence first."""
    found = (match.upper() for text in texts for match in _CVE.findall(text))
    return tuple(dict.fromkeys(found))


def find_cwes(*texts: str) -> tuple[str, ...]:
    """Every CWE id in ``texts`` as ``CWE-<n>`` (``external/cwe/cwe-089`` too)."""
    found = (f"CWE-{number}" for text in texts for number in _CWE.findall(text))
    return tuple(dict.fromkeys(found))


def stable_id(*parts: str) -> str:
    """A lowercase UUID that depends only on ``parts``."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))
