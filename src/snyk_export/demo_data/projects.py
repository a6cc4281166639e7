"""The world's projects as arrays and as the export columns they fill."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from snyk_export.demo_data.arrays import BoolArray, IntArray, instants, lists, strings
from snyk_export.demo_data.drafts import Project
from snyk_export.demo_data.integrations import SOURCES, Integrations
from snyk_export.demo_data.tenant import DemoTenant, org_columns
from snyk_export.demo_data.users import Users
from snyk_export.demo_data.vocabulary import CODE, OPEN_SOURCE, PRODUCTS, optional
from snyk_export.demo_data.window import Window


def _take(columns: Mapping[str, pa.Array], index: IntArray) -> dict[str, pa.Array]:
    positions = pa.array(index)
    return {name: values.take(positions) for name, values in columns.items()}


@dataclass(frozen=True)
class Projects:
    """The projects of the world as arrays, one entry per project."""

    columns: dict[str, pa.Array]  # keyed by export column name
    org: IntArray
    product: IntArray
    ecosystem: IntArray
    integration: IntArray
    created_ms: IntArray
    end_ms: IntArray  # deletion time, or now
    deleted: BoolArray
    monitored: BoolArray
    code_language: IntArray
    pull_path: pa.Array
    pull_ref: pa.Array  # refs/... prefix of a pull request
    pull_ref_suffix: pa.Array
    purl: pa.Array


def tabulate_projects(
    projects: list[Project],
    tenant: DemoTenant,
    users: Users,
    integrations: Integrations,
    window: Window,
) -> Projects:
    org = np.array([p.org for p in projects], dtype=np.int64)
    deleted_ms = np.array(
        [-1 if p.deleted_ms is None else p.deleted_ms for p in projects],
        dtype=np.int64,
    )
    integration = np.array([p.integration for p in projects], dtype=np.int64)
    sources = [SOURCES[_source_index(p, integrations)] for p in projects]
    return Projects(
        columns=_take(org_columns(tenant), org)
        | _project_columns(projects, tenant, users, integrations, deleted_ms),
        org=org,
        product=np.array([p.kind.product for p in projects], dtype=np.int64),
        ecosystem=np.array([p.kind.ecosystem for p in projects], dtype=np.int64),
        integration=integration,
        created_ms=np.array([p.created_ms for p in projects], dtype=np.int64),
        end_ms=np.where(deleted_ms >= 0, deleted_ms, window.now_ms),
        deleted=deleted_ms >= 0,
        monitored=np.array([p.monitored for p in projects]),
        code_language=np.array([p.code_language for p in projects], dtype=np.int64),
        pull_path=strings([f"/{s[3]}/" for s in sources]),
        pull_ref=strings([f"refs/{s[4]}/" for s in sources]),
        pull_ref_suffix=strings([optional(s[5]) or "" for s in sources]),
        purl=strings([_project_purl(p) for p in projects]),
    )


def _source_index(project: Project, integrations: Integrations) -> int:
    if project.integration < 0:
        return 0
    return int(integrations.source[project.integration])


def _project_purl(project: Project) -> str:
    target = project.target
    if target.kind == "image":
        return f"pkg:docker/{target.display_name}@{target.ref}"
    purl_type = project.origin.removesuffix("-cloud")
    if target.kind == "cli":
        purl_type = "github"
    return f"pkg:{purl_type}/{target.display_name}@{target.ref or 'main'}"


def _project_columns(
    projects: list[Project],
    tenant: DemoTenant,
    users: Users,
    integrations: Integrations,
    deleted_ms: IntArray,
) -> dict[str, pa.Array]:
    """Per-project values under the export column names that carry them."""
    created_ms = np.array([p.created_ms for p in projects], dtype=np.int64)
    target_deleted = np.array([p.target_deleted for p in projects])
    urls = [
        f"https://app.snyk.io/org/{tenant.orgs[p.org].slug}/project/{p.id}"
        for p in projects
    ]
    return {
        "PROJECT_PUBLIC_ID": strings([p.id for p in projects]),
        "PROJECT_NAME": strings([p.name for p in projects]),
        "PROJECT_URL": strings(urls),
        "PROJECT_IS_MONITORED": pa.array([p.monitored for p in projects]),
        "IS_PROJECT_MONITORED": pa.array([p.monitored for p in projects]),
        "PROJECT_OWNER_USERNAME": strings(
            [None if p.owner is None else users.logins[p.owner] for p in projects]
        ),
        "PROJECT_OWNER_EMAIL": strings(
            [None if p.owner is None else users.emails[p.owner] for p in projects]
        ),
        "PROJECT_ORIGIN": strings([p.origin for p in projects]),
        "PROJECT_CRITICALITIES": lists([p.criticalities for p in projects]),
        "PROJECT_ENVIRONMENTS": lists([p.environments for p in projects]),
        "PROJECT_LIFECYCLES": lists([p.lifecycles for p in projects]),
        "PROJECT_TAGS": lists([p.tags for p in projects]),
        "PROJECT_COLLECTIONS": lists([p.collections for p in projects]),
        "PRODUCT_NAME": strings([PRODUCTS[p.kind.product] for p in projects]),
        "PROJECT_TYPE": strings([p.kind.name for p in projects]),
        "PROJECT_TYPE_DISPLAY_NAME": strings([p.kind.display_name for p in projects]),
        "PROJECT_TEST_FREQUENCY": strings([p.test_frequency for p in projects]),
        "PROJECT_TARGET_RUNTIME": strings([p.kind.runtime for p in projects]),
        "PROJECT_IS_PRIVATE_TARGET": pa.array([p.private for p in projects]),
        "PROJECT_TARGET_FILE": strings([p.target_file for p in projects]),
        "PROJECT_DELETED_AT": instants(deleted_ms, deleted_ms >= 0),
        "PROJECT_DELETED": instants(deleted_ms, deleted_ms >= 0),
        "TARGET_DELETED": instants(deleted_ms, target_deleted),
        "PROJECT_CREATED": instants(created_ms),
        "COMMIT_ID": strings(
            [p.commit_id if p.kind.product == CODE else None for p in projects]
        ),
        "ORG_SOURCE_PUBLIC_ID": strings(
            [
                None if p.integration < 0 else integrations.ids[p.integration]
                for p in projects
            ]
        ),
    } | _target_columns(projects)


def _target_columns(projects: list[Project]) -> dict[str, pa.Array]:
    targets = [p.target for p in projects]
    sources = [_target_source(p) for p in projects]
    catalogs = [t.catalog or (None,) * 5 for t in targets]
    return {
        "PROJECT_TARGET_DISPLAY_NAME": strings([t.display_name for t in targets]),
        "REPOSITORY_NAME": strings([t.display_name for t in targets]),
        "PROJECT_TARGET_REF": strings([t.ref for t in targets]),
        "PROJECT_TARGET_UPSTREAM_URL": strings([t.upstream_url for t in targets]),
        "PROJECT_TARGET_SOURCE_TYPE": strings([s[0] for s in sources]),
        "PROJECT_TARGET_SOURCE_TYPE_DISPLAY_VALUE": strings([s[1] for s in sources]),
        "ASSET_CLASS": strings([t.asset_class for t in targets]),
        "ASSET_TAGS": lists([t.asset_tags for t in targets]),
        "REPOSITORY_FRESHNESS": strings([t.freshness for t in targets]),
        "ASSET_CATALOG_NAME": strings([c[0] for c in catalogs]),
        "ASSET_APPLICATION": strings([c[1] for c in catalogs]),
        "ASSET_OWNER": strings([c[2] for c in catalogs]),
        "ASSET_CATEGORY": strings([c[3] for c in catalogs]),
        "ASSET_LIFECYCLE": strings([c[4] for c in catalogs]),
    } | _asset_columns(projects)


def _target_source(project: Project) -> tuple[str, str]:
    """PROJECT_TARGET_SOURCE_TYPE and its display value."""
    if project.target.kind == "repo":
        return project.origin, "Source Control"
    if project.target.kind == "image":
        return project.origin, "Container Registry"
    return "cli", "CLI"


def _asset_columns(projects: list[Project]) -> dict[str, pa.Array]:
    """The asset of each project and the repository it sits in, if any."""
    rows: list[tuple[str, str, str, str | None, str | None]] = []
    for p in projects:
        target = p.target
        if target.kind == "image":
            rows.append((target.asset_id, "Container Image", p.name, None, None))
        elif target.kind == "cli":
            rows.append((p.own_asset_id, "Scanned Artifact", p.name, None, None))
        elif p.kind.product == OPEN_SOURCE:
            parent = (target.asset_id, target.display_name)
            rows.append((p.own_asset_id, "Package", p.name, *parent))
        else:
            rows.append(
                (target.asset_id, "Repository", target.display_name, None, None)
            )
    return {
        "ASSET_ID": strings([r[0] for r in rows]),
        "ASSET_TYPE": strings([r[1] for r in rows]),
        "ASSET_NAME": strings([r[2] for r in rows]),
        "PARENT_ASSET_ID": strings([r[3] for r in rows]),
        "PARENT_ASSET_NAME": strings([r[4] for r in rows]),
    }
