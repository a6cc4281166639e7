"""Drafting the world's projects one by one: org, origin, target, attributes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from snyk_export.demo_data.arrays import IntArray, commit_shas, uuids
from snyk_export.demo_data.draws import draw, pick
from snyk_export.demo_data.integrations import SOURCES, Integrations
from snyk_export.demo_data.targets import Target, Targets
from snyk_export.demo_data.tenant import DemoTenant
from snyk_export.demo_data.users import Users
from snyk_export.demo_data.vocabulary import (
    CODE_LANGUAGES,
    FIRST_TYPES,
    PROJECT_TYPES,
    ProjectType,
)
from snyk_export.demo_data.window import DAY_MS, Window


@dataclass
class Project:
    """One project of the world, before it becomes columns."""

    id: str
    org: int
    type_index: int
    integration: int
    origin: str
    target: Target
    created_ms: int
    deleted_ms: int | None
    target_deleted: bool
    monitored: bool
    owner: int | None
    own_asset_id: str
    commit_id: str
    code_language: int
    tags: list[str] | None
    environments: list[str]
    lifecycles: list[str]
    criticalities: list[str]
    collections: list[str]
    test_frequency: str
    private: bool

    @property
    def kind(self) -> ProjectType:
        return PROJECT_TYPES[self.type_index]

    @property
    def target_file(self) -> str | None:
        return None if self.target.kind == "image" else self.kind.target_file

    @property
    def name(self) -> str:
        if self.target.kind == "image":
            return f"{self.target.display_name}:{self.target.ref}"
        if self.target_file is None:
            return self.target.display_name
        return f"{self.target.display_name}:{self.target_file}"


def _project_types(rng: np.random.Generator, count: int) -> IntArray:
    names = [t.name for t in PROJECT_TYPES]
    first = [names.index(name) for name in FIRST_TYPES]
    drawn = draw(rng, [t.share for t in PROJECT_TYPES], count)
    drawn[: len(first)] = first[:count]
    return drawn


def _project_origin(
    rng: np.random.Generator,
    kind: ProjectType,
    org: int,
    integrations: Integrations,
    forced_scm: bool,
) -> tuple[int, str, str]:
    """The integration index (-1 for none), PROJECT_ORIGIN and target kind."""
    live = integrations.live_in(org)
    if not kind.from_scm:
        return -1, pick(rng, ("kubernetes", "docker-hub", "cli"), (4, 3, 3)), "image"
    if live and (forced_scm or rng.random() < 0.85):
        integration = live[int(rng.integers(len(live)))]
        return integration, SOURCES[int(integrations.source[integration])][1], "repo"
    return -1, "cli", "cli"


def _project_org(
    rng: np.random.Generator, index: int, orgs: int, integrations: Integrations
) -> int:
    if index >= len(FIRST_TYPES):
        return int(draw(rng, [1.0 / (1 + 0.25 * k) for k in range(orgs)], 1)[0])
    with_scm = sorted({int(o) for o in integrations.org[integrations.deleted_ms < 0]})
    return with_scm[index % len(with_scm)]


@dataclass(frozen=True)
class Setting:
    """What projects are drafted into: the tenant, its integrations and users."""

    tenant: DemoTenant
    integrations: Integrations
    users: Users
    window: Window


def draft_projects(
    rng: np.random.Generator, setting: Setting, count: int
) -> list[Project]:
    identities = zip(
        uuids(rng, count).to_pylist(),
        uuids(rng, count).to_pylist(),
        commit_shas(rng, count).to_pylist(),
        strict=True,
    )
    types = _project_types(rng, count)
    targets = Targets(rng, setting.tenant, setting.integrations)
    projects = [
        _draft_project(rng, setting, targets, index, int(types[index]), identity)
        for index, identity in enumerate(identities)
    ]
    _retire_some(rng, projects, setting.window)
    return projects


def _draft_project(
    rng: np.random.Generator,
    setting: Setting,
    targets: Targets,
    index: int,
    type_index: int,
    identity: tuple[str, str, str],
) -> Project:
    """Project ``index`` of the world; ``identity`` is its id, asset id and commit."""
    kind, integrations = PROJECT_TYPES[type_index], setting.integrations
    org = _project_org(rng, index, len(setting.tenant.orgs), integrations)
    forced = index < len(FIRST_TYPES)
    integration, origin, target_kind = _project_origin(
        rng, kind, org, integrations, forced
    )
    target = targets.pick(org, integration, target_kind, type_index)
    lower = setting.window.start_ms
    if integration >= 0:
        lower = int(integrations.created_ms[integration])
    latest = setting.window.now_ms - 30 * DAY_MS
    return Project(
        id=identity[0],
        org=org,
        type_index=type_index,
        integration=integration,
        origin=origin,
        target=target,
        created_ms=lower + int(rng.random() * (latest - lower)),
        deleted_ms=None,
        target_deleted=False,
        monitored=True,
        owner=_project_owner(rng, org, setting.users),
        own_asset_id=identity[1],
        commit_id=identity[2],
        code_language=int(rng.integers(len(CODE_LANGUAGES))),
        test_frequency="Daily" if rng.random() < 0.8 else "Weekly",
        private=bool(rng.random() < 0.85),
        **_project_attributes(rng, setting.tenant.orgs[org].slug, origin),
    )


def _project_owner(rng: np.random.Generator, org: int, users: Users) -> int | None:
    members = np.flatnonzero(users.org == org)
    if len(members) == 0 or rng.random() < 0.2:
        return None
    return int(members[rng.integers(len(members))])


def _project_attributes(
    rng: np.random.Generator, org_slug: str, origin: str
) -> dict[str, Any]:
    """Tags, attributes and collections of one project."""
    candidates = [f"team:{org_slug}", "scanType:CSS", "env:prod", "tier:1", "pci:yes"]
    if origin == "cli":
        candidates.append("user:CLI-user")
    roll = rng.random()
    tags: list[str] | None = None if roll < 0.15 else []
    if roll >= 0.4:
        size = int(rng.integers(1, 4))
        tags = sorted(rng.choice(candidates, size=size, replace=False).tolist())
    environments = ["frontend", "backend", "internal", "external", "mobile", "saas"]
    environments += ["onprem", "hosted", "distributed"]
    return {
        "tags": tags,
        "environments": _some(rng, environments, 0.3, 2),
        "lifecycles": _some(rng, ["production", "development", "sandbox"], 0.3, 1),
        "criticalities": _some(rng, ["critical", "high", "medium", "low"], 0.35, 1),
        "collections": _some(
            rng, ["Critical services", "Customer facing", "Legacy", "PCI scope"], 0.6, 1
        ),
    }


def _some(
    rng: np.random.Generator, values: list[str], empty_share: float, most: int
) -> list[str]:
    if rng.random() < empty_share:
        return []
    size = int(rng.integers(1, most + 1))
    return [str(v) for v in rng.choice(values, size=size, replace=False)]


def _retire_some(
    rng: np.random.Generator, projects: list[Project], window: Window
) -> None:
    """Delete about 6% of the projects and deactivate about 8%, at least one each."""
    for index, project in enumerate(projects):
        if index < len(FIRST_TYPES):
            continue
        project.monitored = bool(rng.random() >= 0.08) and index != len(FIRST_TYPES)
        if rng.random() < 0.06 or index == len(projects) - 1:
            low = project.created_ms + DAY_MS
            project.deleted_ms = low + int(rng.random() * (window.now_ms - low))
            project.target_deleted = bool(rng.random() < 0.5)
