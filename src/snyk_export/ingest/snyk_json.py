"""Findings from the JSON that ``snyk test --json`` prints.

One document describes one project (``snyk test``, ``snyk container test``);
``--all-projects`` prints a list of them. Open Source and Container documents
list ``vulnerabilities`` once per dependency path, so a vulnerability id is one
finding however many paths lead to it; issues ignored by the project's policy
are under ``filtered.ignore``. ``snyk iac test --json`` documents list
``infrastructureAsCodeIssues`` instead.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snyk_export.errors import LoadRejected
from snyk_export.ingest.findings import (
    Finding,
    Product,
    find_cves,
    find_cwes,
    severity_from_name,
    stable_id,
)

CONTAINER_MANAGERS = frozenset({"deb", "apk", "rpm", "linux", "dockerfile"})
_EXPLOITS = {
    "mature": "Mature",
    "proof of concept": "Proof of Concept",
    "no known exploit": "No Known Exploit",
    "not defined": "No Data",
}


@dataclass(frozen=True)
class SnykScan:
    """The findings of one project of a ``snyk test --json`` document."""

    target_file: str | None
    project_type: str
    product: Product
    findings: list[Finding]


def read_snyk_json(path: Path) -> list[SnykScan]:
    """Every project scan in the file at ``path``."""
    document = _load(path)
    documents = document if isinstance(document, list) else [document]
    scans = []
    for index, item in enumerate(documents):
        if not isinstance(item, dict):
            raise LoadRejected(f"{path.name}: item {index} is not a JSON object")
        if item.get("error") and not item.get("vulnerabilities"):
            raise LoadRejected(f"{path.name}: the scan failed: {item['error']}")
        if "infrastructureAsCodeIssues" in item:
            scans.append(_iac_scan(item))
        elif isinstance(item.get("vulnerabilities"), list):
            scans.append(_package_scan(item))
        else:
            raise LoadRejected(
                f"{path.name}: not the output of snyk test --json "
                "(no vulnerabilities or infrastructureAsCodeIssues)"
            )
    return scans


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise LoadRejected(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise LoadRejected(f"{path.name}: invalid UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise LoadRejected(
            f"{path.name}, line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}"
        ) from exc


def _package_scan(document: dict[str, Any]) -> SnykScan:
    manager = str(document.get("packageManager") or "unknown")
    container = "docker" in document or manager in CONTAINER_MANAGERS
    product: Product = "Snyk Container" if container else "Snyk Open Source"
    grouped: dict[str, list[dict[str, Any]]] = {}
    ignored = document.get("filtered", {}).get("ignore", []) or []
    for item in [*document["vulnerabilities"], *ignored]:
        grouped.setdefault(str(item["id"]), []).append(item)
    ignored_ids = {str(item["id"]) for item in ignored}
    findings = [
        _package_finding(paths, product, problem_id in ignored_ids)
        for problem_id, paths in grouped.items()
    ]
    target = document.get("displayTargetFile") or document.get("targetFile")
    return SnykScan(target, manager, product, findings)


def _package_finding(
    paths: list[dict[str, Any]], product: Product, ignored: bool
) -> Finding:
    first = paths[0]
    identifiers = first.get("identifiers") or {}
    fixed_in = tuple(dict.fromkeys(v for p in paths for v in p.get("fixedIn") or ()))
    upgradable = any(p.get("isUpgradable") or p.get("isPatchable") for p in paths)
    licence = first.get("type") == "license"
    fixability = (
        "Fixable"
        if upgradable
        else "Partially Fixable"
        if fixed_in
        else "No Fix Supported"
    )
    return Finding(
        problem_id=str(first["id"]),
        title=str(first.get("title") or first["id"]),
        severity=severity_from_name(str(first.get("severity", ""))) or "Low",
        product=product,
        issue_type="License" if licence else "Vulnerability",
        sub_type="license" if licence else "package_vulnerability",
        cve=find_cves(*identifiers.get("CVE", ())),
        cwe=find_cwes(*identifiers.get("CWE", ())),
        package=f"{first.get('packageName')}@{first.get('version')}",
        fixed_in=fixed_in,
        fixability="Not Applicable" if licence else fixability,
        vulnerable_ranges=tuple((first.get("semver") or {}).get("vulnerable") or ()),
        cvss_score=_number(first.get("cvssScore")),
        cvss_vector=first.get("CVSSv3"),
        exploit_maturity=_EXPLOITS.get(str(first.get("exploit", "")).lower()),
        vuln_db_url=None if licence else f"https://security.snyk.io/vuln/{first['id']}",
        direct_dependency=any(len(p.get("from") or ()) <= 2 for p in paths),
        publication_date=_date(first.get("publicationTime")),
        ignored=ignored,
    )


def _iac_scan(document: dict[str, Any]) -> SnykScan:
    target = document.get("targetFile") or document.get("displayTargetFile")
    findings = []
    for issue in document["infrastructureAsCodeIssues"]:
        resource = ".".join(str(step) for step in issue.get("path") or ())
        findings.append(
            Finding(
                problem_id=str(issue.get("publicId") or issue["id"]),
                title=str(issue.get("title") or issue["id"]),
                severity=severity_from_name(str(issue.get("severity", ""))) or "Low",
                product="Snyk IaC",
                issue_type="Configuration",
                sub_type="config",
                fixability="Not Applicable",
                file_path=target,
                finding_id=stable_id("iac", str(issue["id"]), str(target), resource),
                ignored=bool(issue.get("isIgnored")),
            )
        )
    project_type = str(document.get("projectType") or "iac")
    return SnykScan(target, project_type, "Snyk IaC", findings)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
