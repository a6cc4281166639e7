"""Targets: the repositories, CLI workspaces and images projects belong to."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snyk_export.demo_data.arrays import uuids
from snyk_export.demo_data.draws import pick
from snyk_export.demo_data.integrations import SOURCES, Integrations
from snyk_export.demo_data.tenant import DemoTenant
from snyk_export.demo_data.vocabulary import words


@dataclass
class Target:
    """A repository, CLI workspace or container image that projects belong to."""

    org: int
    integration: int
    kind: str  # "repo", "cli" or "image"
    display_name: str
    upstream_url: str | None
    ref: str | None
    asset_id: str
    asset_class: str
    freshness: str | None
    catalog: tuple[str, str, str, str, str] | None
    asset_tags: list[str]
    types: set[int] = field(default_factory=set)


_REPO_BASES = words(
    """api web worker gateway checkout billing auth-service mobile-app search
    notifications reporting admin-portal ledger catalog scheduler etl-jobs"""
)
_BRANCHES = ("main", "master", "develop", "release/2024.1")
_BRANCH_SHARES = (0.7, 0.15, 0.1, 0.05)


class Targets:
    """Creates targets and reuses them, so several projects share a repository."""

    def __init__(
        self, rng: np.random.Generator, tenant: DemoTenant, integrations: Integrations
    ) -> None:
        self._rng = rng
        self._tenant = tenant
        self._integrations = integrations
        self._by_org: dict[int, list[Target]] = {}

    def pick(self, org: int, integration: int, kind: str, type_index: int) -> Target:
        candidates = [
            t
            for t in self._by_org.get(org, [])
            if t.kind == kind
            and t.integration == integration
            and type_index not in t.types
        ]
        if kind != "image" and candidates and self._rng.random() < 0.6:
            target = candidates[int(self._rng.integers(len(candidates)))]
        else:
            target = self._create(org, integration, kind)
        target.types.add(type_index)
        return target

    def _create(self, org: int, integration: int, kind: str) -> Target:
        siblings = self._by_org.setdefault(org, [])
        number = len(siblings)
        base = _REPO_BASES[number % len(_REPO_BASES)]
        suffix = "" if number < len(_REPO_BASES) else f"-{number // len(_REPO_BASES)}"
        repo = f"{self._tenant.orgs[org].slug}-{base}{suffix}"
        target = self._describe(org, integration, kind, repo)
        siblings.append(target)
        return target

    def _describe(self, org: int, integration: int, kind: str, repo: str) -> Target:
        rng = self._rng
        owner = self._tenant.group_slug
        slug = self._tenant.orgs[org].slug
        display, url, ref = f"{owner}/{repo}", None, None
        if kind == "repo":
            host = SOURCES[int(self._integrations.source[integration])][2]
            url = f"https://{host}/{owner}/{repo}"
            ref = pick(rng, _BRANCHES, _BRANCH_SHARES)
        elif kind == "image":
            display = f"{slug}/{repo.removeprefix(slug + '-')}"
            ref = f"1.{rng.integers(12)}.{rng.integers(9)}"
            ref = "latest" if rng.random() < 0.3 else ref
        freshness = pick(rng, ("Active", "Inactive", "Dormant"), (7, 2, 1))
        return Target(
            org=org,
            integration=integration,
            kind=kind,
            display_name=display,
            upstream_url=url,
            ref=ref,
            asset_id=uuids(rng, 1).to_pylist()[0],
            asset_class=pick(rng, ("A", "B", "C", "D"), (0.15, 0.3, 0.35, 0.2)),
            freshness=freshness if kind == "repo" else None,
            catalog=_catalog_entry(rng, repo, slug) if rng.random() < 0.4 else None,
            asset_tags=[f"source:{kind}", f"team:{slug}"],
        )


def _catalog_entry(
    rng: np.random.Generator, repo: str, org_slug: str
) -> tuple[str, str, str, str, str]:
    """An external catalog's record: name, application, owner, category, lifecycle."""
    return (
        pick(rng, ("ServiceNow", "DataDog", "Backstage"), (1, 1, 1)),
        repo,
        f"team-{org_slug}",
        pick(rng, ("service", "library", "website"), (1, 1, 1)),
        pick(rng, ("production", "experimental", "deprecated"), (8, 3, 1)),
    )
