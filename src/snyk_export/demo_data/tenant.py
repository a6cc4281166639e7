"""The demo tenant: the group "Acme Corp" and its organizations."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from snyk_export.demo_data.arrays import strings, uuids
from snyk_export.demo_data.draws import random_stream


@dataclass(frozen=True)
class DemoOrg:
    """An organization of the demo tenant."""

    id: str
    name: str
    slug: str


@dataclass(frozen=True)
class DemoTenant:
    """The demo group and its organizations."""

    group_id: str
    group_name: str
    group_slug: str
    orgs: tuple[DemoOrg, ...]


_ORG_NAMES = (
    "Payments",
    "Platform",
    "Mobile",
    "Data Science",
    "Identity",
    "Storefront",
)


def build_tenant(seed: int = 7, orgs: int = 4) -> DemoTenant:
    """The demo group "Acme Corp" with ``orgs`` organizations (at least 3)."""
    if orgs < 3:
        raise ValueError("a demo tenant has at least 3 orgs")

    ids = uuids(random_stream(seed, "tenant"), orgs + 1).to_pylist()
    names = [
        _ORG_NAMES[k] if k < len(_ORG_NAMES) else f"Team {k + 1}" for k in range(orgs)
    ]
    members = tuple(
        DemoOrg(id=ids[k + 1], name=name, slug=name.lower().replace(" ", "-"))
        for k, name in enumerate(names)
    )
    return DemoTenant(
        group_id=ids[0], group_name="Acme Corp", group_slug="acme-corp", orgs=members
    )


def org_columns(tenant: DemoTenant) -> dict[str, pa.Array]:
    """Organization and group columns, one entry per org."""
    count = len(tenant.orgs)
    return {
        "ORG_PUBLIC_ID": strings([o.id for o in tenant.orgs]),
        "ORG_SLUG": strings([o.slug for o in tenant.orgs]),
        "ORG_DISPLAY_NAME": strings([o.name for o in tenant.orgs]),
        "GROUP_PUBLIC_ID": strings([tenant.group_id] * count),
        "GROUP_DISPLAY_NAME": strings([tenant.group_name] * count),
        "GROUP_SLUG": strings([tenant.group_slug] * count),
    }
