"""The world: what the datasets share, built from the seed, ``now`` and sizes."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from snyk_export.demo_data.drafts import Setting, draft_projects
from snyk_export.demo_data.draws import random_stream
from snyk_export.demo_data.integrations import Integrations, build_integrations
from snyk_export.demo_data.periods import Periods, build_periods
from snyk_export.demo_data.projects import Projects, tabulate_projects
from snyk_export.demo_data.tenant import DemoTenant
from snyk_export.demo_data.users import Users, build_users
from snyk_export.demo_data.window import DAY_MS, WINDOW_DAYS, Window, epoch_ms


@dataclass(frozen=True)
class DemoSizes:
    """How many rows and world objects to generate."""

    issues: int = 200_000
    usage: int = 50_000
    pr_checks: int = 20_000
    projects: int = 400
    integrations: int = 12


@dataclass(frozen=True)
class World:
    """Everything the datasets share, derived from the seed, ``now`` and the sizes."""

    seed: int
    tenant: DemoTenant
    window: Window
    integrations: Integrations
    users: Users
    projects: Projects
    periods: Periods

    @property
    def today(self) -> int:
        """Days since the epoch."""
        return self.window.now_ms // DAY_MS


def build_world(
    tenant: DemoTenant, sizes: DemoSizes, seed: int, now: datetime.datetime
) -> World:
    rng = random_stream(seed, "world")
    now_ms = epoch_ms(now)
    window = Window(now_ms - WINDOW_DAYS * DAY_MS, now_ms)
    integrations = build_integrations(rng, tenant, sizes.integrations, window)
    users = build_users(rng, tenant)
    setting = Setting(tenant, integrations, users, window)
    drafts = draft_projects(rng, setting, sizes.projects)
    projects = tabulate_projects(drafts, tenant, users, integrations, window)
    periods = build_periods(rng, projects)
    return World(seed, tenant, window, integrations, users, projects, periods)
