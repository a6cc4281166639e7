"""The org and project a scan is imported into, created when missing.

Projects have no table of their own: a project is the PROJECT_* columns of its
issues rows. Its id is derived from the org, the project name and the product,
so every import of the same project finds the rows of the one before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from snyk_export.backends.base import Backend, Group, Org
from snyk_export.ids import canonical_uuid
from snyk_export.ingest.findings import stable_id
from snyk_export.tenancy import create_group, create_org

SNYK_APP = "https://app.snyk.io"


@dataclass(frozen=True)
class ScanProject:
    """The org and project a scan belongs to, and how the project is described."""

    org: Org
    group: Group | None
    name: str
    product: str
    project_type: str
    target_file: str | None = None

    @property
    def id(self) -> str:
        # Snyk keeps one project per target and product: an Open Source scan
        # and a Code scan of the same repository are two projects.
        return stable_id("project", self.org.id, self.name, self.product)

    @property
    def url(self) -> str:
        return f"{SNYK_APP}/org/{self.org.slug}/project/{self.id}"

    def columns(self) -> dict[str, Any]:
        return {
            "GROUP_PUBLIC_ID": self.group.id if self.group else None,
            "GROUP_DISPLAY_NAME": self.group.name if self.group else None,
            "GROUP_SLUG": self.group.slug if self.group else None,
            "ORG_PUBLIC_ID": self.org.id,
            "ORG_DISPLAY_NAME": self.org.name,
            "ORG_SLUG": self.org.slug,
            "PROJECT_PUBLIC_ID": self.id,
            "PROJECT_NAME": self.name,
            "PROJECT_URL": self.url,
            "PROJECT_TYPE": self.project_type,
            "PROJECT_ORIGIN": "cli",
            "PROJECT_IS_MONITORED": True,
            "PROJECT_TARGET_FILE": self.target_file,
            "PROJECT_TARGET_DISPLAY_NAME": self.name,
        }


def find_or_create_group(backend: Backend, reference: str) -> Group:
    """The group whose id, name or slug is ``reference``; created if none is."""
    canonical = canonical_uuid(reference)
    for group in backend.list_groups():
        if reference in (group.name, group.slug) or group.id == canonical:
            return group
    name = reference if canonical is None else f"group-{canonical[:8]}"
    return create_group(backend, name, canonical)


def find_or_create_org(
    backend: Backend, reference: str, group_reference: str | None
) -> tuple[Org, Group | None]:
    """The org whose id, name or slug is ``reference``, and its group.

    A missing org is created, in the group named by ``group_reference``
    (itself created when missing); an existing org keeps its own group.
    """
    canonical = canonical_uuid(reference)
    found = next(
        (
            org
            for org in backend.list_orgs()
            if org.id == canonical or reference in (org.name, org.slug)
        ),
        None,
    )
    if found is None:
        group = (
            find_or_create_group(backend, group_reference) if group_reference else None
        )
        name = reference if canonical is None else f"org-{canonical[:8]}"
        found = create_org(backend, name, group.id if group else None, canonical)
    group = backend.get_group(found.group_id) if found.group_id else None
    return found, group
