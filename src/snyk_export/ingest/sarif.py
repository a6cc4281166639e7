"""Findings from SARIF 2.1.0 logs: Snyk Code, Semgrep, CodeQL, Trivy, Grype.

The product of a run is chosen from its tool (``tool.driver.name``): code
analysers are Snyk Code, image scanners Snyk Container (Trivy's
misconfiguration rules Snyk IaC). Severity comes from ``security-severity``
(a CVSS score, as GitHub reads it) where the rule or result carries one, else
from the result's ``level``. A result is identified by its rule and its first
fingerprint, or its location when it has none, so the same finding in a later
scan is the same issue.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snyk_export.errors import LoadRejected
from snyk_export.ingest.findings import (
    CodeRegion,
    Finding,
    Product,
    Severity,
    find_cves,
    find_cwes,
    severity_from_score,
    stable_id,
)

CODE_TOOLS = ("snykcode", "snyk code", "semgrep", "codeql", "eslint", "bandit")
CONTAINER_TOOLS = ("trivy", "grype")
IAC_TOOLS = ("snyk iac", "checkov", "tfsec", "kics")
LEVEL_SEVERITY: dict[str, Severity] = {
    "error": "High",
    "warning": "Medium",
    "note": "Low",
    "none": "Low",
}
# Trivy writes "Package: x\nInstalled Version: y\n...Fixed Version: z"; Grype
# writes "... in deb package: x, version y was found at: /path".
_TRIVY_PACKAGE = re.compile(r"Package: (\S+)\s+Installed Version: (\S+)")
_TRIVY_FIXED = re.compile(r"Fixed Version: ([^\s,]+(?:, [^\s,]+)*)")
_GRYPE_PACKAGE = re.compile(r"package: (\S+), version (\S+)")


@dataclass(frozen=True)
class SarifScan:
    """The findings of a SARIF log, and the products its runs stand for."""

    products: tuple[Product, ...]
    findings: list[Finding]


def read_sarif(path: Path) -> SarifScan:
    """Every result of every run in the SARIF log at ``path``.

    A run without results still names its product, so that a scan that found
    nothing resolves what the one before it found.
    """
    log = _load(path)
    findings: dict[tuple[str, str | None], Finding] = {}
    products: list[Product] = []
    for run in log["runs"]:
        tool = _tool_name(path, run)
        rules = _rules(run)
        products.append(product_of(tool, []))
        for result in run.get("results") or ():
            if not isinstance(result, dict):
                raise LoadRejected(f"{path.name}: a SARIF result is not an object")
            finding = _finding(tool, rules, result)
            findings.setdefault(finding.key, finding)
            products.append(finding.product)
    return SarifScan(tuple(dict.fromkeys(products)), list(findings.values()))


def _load(path: Path) -> dict[str, Any]:
    try:
        log = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise LoadRejected(f"{path}: no such file") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LoadRejected(f"{path.name}: not a SARIF file (not JSON)") from exc
    if not isinstance(log, dict) or not str(log.get("version", "")).startswith("2.1"):
        raise LoadRejected(f"{path.name}: not a SARIF 2.1.0 log (no version 2.1.0)")
    if not isinstance(log.get("runs"), list):
        raise LoadRejected(f"{path.name}: not a SARIF 2.1.0 log (no runs)")
    return log


def _tool_name(path: Path, run: Any) -> str:
    name = (
        run.get("tool", {}).get("driver", {}).get("name")
        if isinstance(run, dict)
        else None
    )
    if not isinstance(name, str) or not name:
        raise LoadRejected(f"{path.name}: a SARIF run without tool.driver.name")
    return name


def _rules(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tool = run["tool"]
    components = [tool["driver"], *(tool.get("extensions") or ())]
    return {
        str(rule["id"]): rule
        for component in components
        for rule in component.get("rules") or ()
        if "id" in rule
    }


def product_of(tool: str, tags: list[str]) -> Product:
    """The Snyk product that stands for ``tool`` (and, for Trivy, the rule)."""
    name = tool.lower()
    if any(known in name for known in IAC_TOOLS) or "misconfiguration" in tags:
        return "Snyk IaC"
    if any(known in name for known in CONTAINER_TOOLS):
        return "Snyk Container"
    if "open source" in name:
        return "Snyk Open Source"
    return "Snyk Code"


def _finding(tool: str, rules: dict[str, Any], result: dict[str, Any]) -> Finding:
    rule_id = str(result.get("ruleId") or result.get("rule", {}).get("id") or "unknown")
    rule = rules.get(rule_id, {})
    properties = {**(rule.get("properties") or {}), **(result.get("properties") or {})}
    tags = [str(tag) for tag in properties.get("tags") or ()]
    product = product_of(tool, tags)
    message = str((result.get("message") or {}).get("text") or "")
    uri, region = _location(result)
    package, fixed_in = _package(message)
    identity = _fingerprint(result) or f"{uri}:{region.display() if region else ''}"
    code_like = product in ("Snyk Code", "Snyk IaC")
    return Finding(
        problem_id=rule_id,
        title=_title(rule, rule_id),
        severity=_severity(rule, result, properties),
        product=product,
        issue_type="Configuration" if product == "Snyk IaC" else "Vulnerability",
        sub_type={"Snyk Code": "code", "Snyk IaC": "config"}.get(
            product, "package_vulnerability"
        ),
        cve=find_cves(rule_id, *tags, *map(str, properties.get("cve") or ())),
        cwe=find_cwes(*tags, *map(str, properties.get("cwe") or ())),
        package=package,
        fixed_in=fixed_in,
        fixability=(
            "Not Applicable"
            if code_like
            else "Fixable"
            if fixed_in
            else "No Fix Supported"
        ),
        score=_float(properties.get("priorityScore")),
        file_path=uri,
        region=region if code_like else None,
        finding_id=stable_id(tool.lower(), rule_id, str(uri), package or identity),
        ignored=bool(result.get("suppressions")),
    )


def _title(rule: dict[str, Any], rule_id: str) -> str:
    for key in ("shortDescription", "fullDescription"):
        text = (rule.get(key) or {}).get("text")
        if text:
            return str(text).removeprefix("Semgrep Finding: ")
    return str(rule.get("name") or rule_id)


def _severity(
    rule: dict[str, Any], result: dict[str, Any], properties: dict[str, Any]
) -> Severity:
    score = _float(properties.get("security-severity"))
    if score is not None:
        return severity_from_score(score)
    level = result.get("level") or (rule.get("defaultConfiguration") or {}).get("level")
    return LEVEL_SEVERITY.get(str(level or "warning"), "Medium")


def _location(result: dict[str, Any]) -> tuple[str | None, CodeRegion | None]:
    locations = result.get("locations") or ()
    if not locations:
        return None, None
    physical = locations[0].get("physicalLocation") or {}
    uri = (physical.get("artifactLocation") or {}).get("uri")
    raw = physical.get("region") or {}
    if not isinstance(raw.get("startLine"), int):
        return uri, None
    start_line, start_column = raw["startLine"], int(raw.get("startColumn", 1))
    region = CodeRegion(
        start_line,
        start_column,
        int(raw.get("endLine", start_line)),
        int(raw.get("endColumn", start_column)),
    )
    return (uri.removeprefix("file://") if uri else None), region


def _package(message: str) -> tuple[str | None, tuple[str, ...]]:
    trivy = _TRIVY_PACKAGE.search(message)
    if trivy:
        fixed = _TRIVY_FIXED.search(message)
        versions = tuple(v.strip() for v in fixed.group(1).split(",")) if fixed else ()
        return f"{trivy.group(1)}@{trivy.group(2)}", versions
    grype = _GRYPE_PACKAGE.search(message)
    if grype:
        return f"{grype.group(1)}@{grype.group(2)}", ()
    return None, ()


def _fingerprint(result: dict[str, Any]) -> str | None:
    for key in ("fingerprints", "partialFingerprints"):
        prints = result.get(key) or {}
        if prints:
            return str(prints[sorted(prints)[0]])
    return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
