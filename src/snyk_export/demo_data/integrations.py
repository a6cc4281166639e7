"""SCM integrations of the tenant's orgs, which projects are imported from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snyk_export.demo_data.arrays import IntArray, uuids
from snyk_export.demo_data.draws import between, draw
from snyk_export.demo_data.tenant import DemoTenant
from snyk_export.demo_data.vocabulary import table
from snyk_export.demo_data.window import DAY_MS, Window

# SOURCE_TYPE | PROJECT_ORIGIN | host | pull request path | pull ref: refs/<x>/N<y>
SOURCES = table(
    """
github    | github          | github.com    | pull             | pull           | /head
gitlab    | gitlab          | gitlab.com    | -/merge_requests | merge-requests | /head
bitbucket | bitbucket-cloud | bitbucket.org | pull-requests    | pr             | -
"""
)
_SOURCE_SHARES = (0.65, 0.22, 0.13)


@dataclass(frozen=True)
class Integrations:
    """The SCM integrations of the world as arrays, one entry per integration."""

    ids: list[str]
    org: IntArray
    source: IntArray
    created_ms: IntArray
    deleted_ms: IntArray  # -1 while the integration exists

    def live_in(self, org: int) -> list[int]:
        return [
            k
            for k in range(len(self.ids))
            if self.org[k] == org and self.deleted_ms[k] < 0
        ]


def build_integrations(
    rng: np.random.Generator, tenant: DemoTenant, count: int, window: Window
) -> Integrations:
    ids = uuids(rng, count).to_pylist()
    org = np.arange(count, dtype=np.int64) % len(tenant.orgs)
    source = draw(rng, _SOURCE_SHARES, count)
    source[0] = 0
    created = window.start_ms + (rng.random(count) * 365 * DAY_MS).astype(np.int64)
    # The first integration of each org stays, so every org can import from SCM;
    # the last one goes whenever it can, so deleted integrations always show.
    deleted = (rng.random(count) < 0.12) | (np.arange(count) == count - 1)
    deleted &= np.arange(count) >= len(tenant.orgs)
    deleted_at = between(rng, created + 30 * DAY_MS, np.full(count, window.now_ms))
    return Integrations(ids, org, source, created, np.where(deleted, deleted_at, -1))
