"""Findings: the product-specific columns of issue rows, one builder per kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from snyk_export.demo_data.arrays import (
    BoolArray,
    IntArray,
    empty_lists,
    join,
    list_of,
    numbers,
    only,
    repeat,
    strings,
    text,
    uuids,
    where,
)
from snyk_export.demo_data.draws import Traits, bucket, draw
from snyk_export.demo_data.vocabulary import (
    CONTAINER,
    ECOSYSTEM_TOKENS,
    FILE_COUNT,
    FILE_PATHS,
    FILE_START,
    FIRST_IAC_ECOSYSTEM,
    IAC_TITLE_COUNT,
    IAC_TITLE_START,
    IAC_TITLES,
    LICENSE_SEVERITY,
    LICENSES,
    ODD_TITLE_SHARE,
    ODD_TITLES,
    PACKAGE_COUNT,
    PACKAGE_START,
    PACKAGE_TOKENS,
    PACKAGES,
    PURL_TYPES,
    RANGE_CLOSE,
    RANGE_OPEN,
    RULE_COUNT,
    RULE_CWES,
    RULE_IDS,
    RULE_SEVERITY,
    RULE_START,
    RULE_TITLES,
    SEVERITIES,
    SEVERITY_SHARES,
    TITLE_CWES,
    TITLES,
    VERSION_SUFFIXES,
    VULNERABILITY_TITLES,
)
from snyk_export.demo_data.world import World

_SEVERITY_NAMES = strings(list(SEVERITIES))
_EXPLOIT_SHARES = (0.03, 0.12, 0.70, 0.15)
_EXPLOITS = strings(["Mature", "Proof of Concept", "No Known Exploit", "No Data"])
_EXPLOITS_V4 = strings(["Attacked", "POC", "Not Defined", "Not Defined"])
_NO_EXPLOIT_DATA = 3
_FIXABILITY = strings(["Fixable", "Partially Fixable", "No Fix Supported"])
_REACHABILITY = strings(["Reachable", "No path found", "Not applicable"])
_CVSS_BANDS = np.array([[9.0, 10.0], [7.0, 8.9], [4.0, 6.9], [0.1, 3.9]])
_CVSS_VECTORS = strings(
    [
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N",
        "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N",
        "CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:P/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N",
        "CVSS:4.0/AV:L/AC:H/AT:N/PR:H/UI:P/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
    ]
)


@dataclass(frozen=True)
class IssueRows:
    """Issue rows of one chunk, or the subset of them with one kind of finding."""

    world: World
    rng: np.random.Generator
    rows: IntArray
    project: IntArray
    problem: IntArray
    ecosystem: IntArray

    @property
    def count(self) -> int:
        return len(self.rows)

    def traits(self) -> Traits:
        return Traits(self.world.seed, self.ecosystem, self.problem)

    def subset(self, picked: IntArray) -> IssueRows:
        return IssueRows(
            self.world,
            self.rng,
            self.rows[picked],
            self.project[picked],
            self.problem[picked],
            self.ecosystem[picked],
        )


@dataclass(frozen=True)
class Findings:
    """Product-specific issue columns plus what the priority score needs."""

    columns: dict[str, pa.Array]
    severity: IntArray
    exploit: IntArray


def _no_exploit(count: int) -> dict[str, pa.Array]:
    """Exploit, fixability and reachability of findings that are not package vulns."""
    return {
        "EXPLOIT_MATURITY": repeat("No Data", count),
        "EXPLOIT_MATURITY_CVSS_V4": repeat("Not Defined", count),
        "COMPUTED_FIXABILITY": repeat("Not Applicable", count),
        "REACHABILITY": repeat("Not applicable", count),
        "CVE": empty_lists(count),
    }


def _package_vulnerabilities(rows: IssueRows) -> Findings:
    """Open Source and Container vulnerabilities in a dependency."""
    traits, count, eco = rows.traits(), rows.count, rows.ecosystem
    container = rows.world.projects.product[rows.project] == CONTAINER
    package = PACKAGE_START[eco] + traits.integers(1, PACKAGE_COUNT[eco])
    number = 1_000_000 + rows.problem * 9 + traits.integers(2, 9)
    problem_id = join(
        "SNYK-", ECOSYSTEM_TOKENS.take(eco), "-", PACKAGE_TOKENS.take(package), "-"
    )
    problem_id = join(problem_id, text(number))
    severity = bucket(traits.unit(3), SEVERITY_SHARES)
    exploit = bucket(traits.unit(4), _EXPLOIT_SHARES)
    title = _vulnerability_title(traits)
    published = rows.world.today - 30 - traits.integers(6, 7 * 365)
    has_cve = traits.unit(7) < np.where(container, 0.97, 0.8)
    versions, available = _package_versions(traits, eco, package)
    columns = {
        "PROBLEM_ID": problem_id,
        "PROBLEM_TITLE": TITLES.take(title),
        "CWE": list_of([TITLE_CWES.take(title)], np.ones(count, dtype=np.int64)),
        "CVE": _cves(traits, published, has_cve),
        "VULN_DB_URL": join("https://security.snyk.io/vuln/", problem_id),
        "ISSUE_SEVERITY": _SEVERITY_NAMES.take(severity),
        "EXPLOIT_MATURITY": _EXPLOITS.take(exploit),
        "EXPLOIT_MATURITY_CVSS_V4": _EXPLOITS_V4.take(exploit),
        "ISSUE_TYPE": repeat("Vulnerability", count),
        "ISSUE_SUB_TYPE": repeat("package_vulnerability", count),
        "VULNERABILITY_PUBLICATION_DATE": pa.array(
            published.astype(np.int32), type=pa.date32()
        ),
    }
    columns |= _scores(traits, severity, has_cve) | versions
    columns |= _dependency_context(rows, available, container)
    return Findings(columns, severity, exploit)


def _vulnerability_title(traits: Traits) -> IntArray:
    regular = len(VULNERABILITY_TITLES)
    odd = traits.unit(8) < ODD_TITLE_SHARE
    return np.where(
        odd, regular + traits.integers(9, len(ODD_TITLES)), traits.integers(5, regular)
    )


def _cves(traits: Traits, published_days: IntArray, has_cve: BoolArray) -> pa.Array:
    days = published_days.astype("datetime64[D]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    number = 1000 + traits.integers(15, 52_000)
    first = join("CVE-", text(year), "-", text(number))
    second = join("CVE-", text(year), "-", text(number + 1))
    counts = has_cve.astype(np.int64) + (has_cve & (traits.unit(16) < 0.1))
    return list_of([first, second], counts)


def _scores(
    traits: Traits, severity: IntArray, has_cve: BoolArray
) -> dict[str, pa.Array]:
    """CVSS, NVD and EPSS figures consistent with the severity."""
    band = _CVSS_BANDS[severity]
    cvss = np.round(band[:, 0] + traits.unit(10) * (band[:, 1] - band[:, 0]), 1)
    version4 = (traits.unit(11) < 0.25).astype(np.int64)
    has_nvd = has_cve & (traits.unit(12) < 0.9)
    nvd = np.clip(np.round(cvss + (traits.unit(13) - 0.5) * 1.6, 1), 0.1, 10.0)
    nvd_severity = 3 - np.searchsorted([4.0, 7.0, 9.0], nvd, side="right")
    epss = np.clip(np.round(10 ** (-4.5 + 4.4 * traits.unit(14) ** 2.2), 5), 1e-5, 0.97)
    percentile = np.round(1.0 / (1.0 + np.exp(-2.6 * (np.log10(epss) + 2.6))), 5)
    return {
        "SNYK_CVSS_SCORE": numbers(cvss),
        "SNYK_CVSS_VECTOR": _CVSS_VECTORS.take(severity + 4 * version4),
        "NVD_SCORE": numbers(nvd, has_nvd),
        "NVD_SEVERITY": only(_SEVERITY_NAMES.take(nvd_severity), has_nvd),
        "EPSS_SCORE": numbers(epss, has_cve),
        "EPSS_PERCENTILE": numbers(percentile, has_cve),
    }


def _package_versions(
    traits: Traits, eco: IntArray, package: IntArray
) -> tuple[dict[str, pa.Array], BoolArray]:
    """The vulnerable version, its fix and range; and whether a fix exists."""
    major = text(1 + traits.integers(20, 8))
    minor = text(traits.integers(21, 20))
    patch = traits.integers(22, 15)
    suffix = VERSION_SUFFIXES.take(eco)
    version = join(major, ".", minor, ".", text(patch), suffix)
    fixed = join(
        major, ".", minor, ".", text(patch + 1 + traits.integers(23, 3)), suffix
    )
    available = traits.unit(24) < 0.75
    vulnerable = join(RANGE_OPEN.take(eco), fixed, RANGE_CLOSE.take(eco))
    everything = np.ones(len(eco), dtype=np.int64)
    return {
        "PACKAGE_NAME_AND_VERSION": join(PACKAGES.take(package), "@", version),
        "FIXED_IN_AVAILABLE": pa.array(available),
        "FIXED_IN_VERSION": list_of([fixed], available.astype(np.int64)),
        "SEMVER_VULNERABLE_RANGE": list_of(
            [where(available, vulnerable, "*")], everything
        ),
    }, available


def _dependency_context(
    rows: IssueRows, available: BoolArray, container: BoolArray
) -> dict[str, pa.Array]:
    """Row-level facts of a vulnerable dependency in one project."""
    rng, count = rows.rng, rows.count
    partial = (rng.random(count) < 0.25) & ~container
    fixability = np.where(available, partial.astype(np.int64), 2)
    reachable_ecosystem = np.isin(rows.ecosystem, (0, 2)) & ~container
    reachability = np.where(reachable_ecosystem, draw(rng, (0.12, 0.48, 0.4), count), 2)
    return {
        "COMPUTED_FIXABILITY": _FIXABILITY.take(fixability),
        "REACHABILITY": _REACHABILITY.take(reachability),
        "EXISTS_IN_DIRECT_DEPENDENCY": pa.array((rng.random(count) < 0.3) & ~container),
    }


def _licences(rows: IssueRows) -> Findings:
    """Open Source licence issues: one per package and licence."""
    traits, count, eco = rows.traits(), rows.count, rows.ecosystem
    packages = PACKAGE_COUNT[eco]
    package = PACKAGE_START[eco] + rows.problem % packages
    licence = (rows.problem // packages) % len(LICENSES)
    name = LICENSES.take(licence)
    problem_id = join(
        "snyk:lic:", PURL_TYPES.take(eco), ":", PACKAGES.take(package), ":", name
    )
    versions, _ = _package_versions(traits, eco, package)
    severity = LICENSE_SEVERITY[licence]
    columns = _no_exploit(count) | {
        "PROBLEM_ID": problem_id,
        "PROBLEM_TITLE": join(name, " license"),
        "CWE": empty_lists(count),
        "ISSUE_SEVERITY": _SEVERITY_NAMES.take(severity),
        "ISSUE_TYPE": repeat("License", count),
        "ISSUE_SUB_TYPE": repeat("license", count),
        "PACKAGE_NAME_AND_VERSION": versions["PACKAGE_NAME_AND_VERSION"],
        "FIXED_IN_AVAILABLE": pa.array(np.zeros(count, dtype=np.bool_)),
        "FIXED_IN_VERSION": empty_lists(count),
        "EXISTS_IN_DIRECT_DEPENDENCY": pa.array(rows.rng.random(count) < 0.4),
    }
    return Findings(columns, severity, np.full(count, _NO_EXPLOIT_DATA))


def _code_findings(rows: IssueRows) -> Findings:
    """Snyk Code findings: a rule hit at a place in a source file."""
    rng, count = rows.rng, rows.count
    language = rows.world.projects.code_language[rows.project]
    rule = RULE_START[language] + (rng.random(count) * RULE_COUNT[language]).astype(
        np.int64
    )
    path = FILE_START[language] + (rng.random(count) * FILE_COUNT[language]).astype(
        np.int64
    )
    severity = RULE_SEVERITY[rule]
    columns = (
        _no_exploit(count)
        | {
            "PROBLEM_ID": RULE_IDS.take(rule),
            "PROBLEM_TITLE": RULE_TITLES.take(rule),
            "CWE": list_of([RULE_CWES.take(rule)], np.ones(count, dtype=np.int64)),
            "ISSUE_SEVERITY": _SEVERITY_NAMES.take(severity),
            "ISSUE_TYPE": repeat("Vulnerability", count),
            "ISSUE_SUB_TYPE": repeat("code", count),
            "FILE_PATH": FILE_PATHS.take(path),
            "ASSET_FINDING_ID": uuids(rng, count),
        }
        | _code_regions(rng, count)
    )
    return Findings(columns, severity, np.full(count, _NO_EXPLOIT_DATA))


def _code_regions(rng: np.random.Generator, count: int) -> dict[str, pa.Array]:
    line = text(rng.integers(1, 400, count))
    column = rng.integers(1, 40, count)
    end_line = pc.add(
        pc.cast(line, pa.int64()), pa.array(draw(rng, (6, 2, 1, 1), count))
    )
    end_line = pc.cast(end_line, pa.string())
    end_column = text(column + rng.integers(1, 60, count))
    start = join('{"start":{"line":', line, ',"column":', text(column), "}")
    end = join('"end":{"line":', end_line, ',"column":', end_column, "}}")
    return {
        "CODE_REGION": join(start, ",", end),
        "CODE_REGION_DISPLAY_VALUE": join(
            line, ":", text(column), "-", end_line, ":", end_column
        ),
    }


def _configurations(rows: IssueRows) -> Findings:
    """Snyk IaC misconfigurations of a rule family (Terraform, Kubernetes, AWS)."""
    traits, count = rows.traits(), rows.count
    family = rows.ecosystem - FIRST_IAC_ECOSYSTEM
    title = IAC_TITLE_START[family] + traits.integers(30, IAC_TITLE_COUNT[family])
    severity = bucket(traits.unit(31), (0.03, 0.3, 0.5, 0.17))
    problem_id = join(
        "SNYK-CC-", ECOSYSTEM_TOKENS.take(rows.ecosystem), "-", text(rows.problem + 1)
    )
    columns = _no_exploit(count) | {
        "PROBLEM_ID": problem_id,
        "PROBLEM_TITLE": IAC_TITLES.take(title),
        "CWE": empty_lists(count),
        "VULN_DB_URL": join("https://security.snyk.io/rules/cloud/", problem_id),
        "ISSUE_SEVERITY": _SEVERITY_NAMES.take(severity),
        "ISSUE_TYPE": repeat("Configuration", count),
        "ISSUE_SUB_TYPE": repeat("config", count),
    }
    return Findings(columns, severity, np.full(count, _NO_EXPLOIT_DATA))


# Index = finding kind: 0 Open Source vulnerability, 1 licence, 2 Container
# vulnerability, 3 Code, 4 IaC.
FINDING_BUILDERS: tuple[Callable[[IssueRows], Findings], ...] = (
    _package_vulnerabilities,
    _licences,
    _package_vulnerabilities,
    _code_findings,
    _configurations,
)
