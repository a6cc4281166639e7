"""The PR-check adoption datasets: settings histories of projects and integrations."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from snyk_export.demo_data.arrays import (
    IntArray,
    coded,
    flags,
    instants,
    repeat,
    strings,
    uuids,
)
from snyk_export.demo_data.batches import fill, record_batch
from snyk_export.demo_data.draws import draw, random_stream
from snyk_export.demo_data.integrations import SOURCES
from snyk_export.demo_data.periods import histories
from snyk_export.demo_data.tenant import org_columns
from snyk_export.demo_data.vocabulary import POLICIES, THRESHOLDS
from snyk_export.demo_data.world import DemoSizes, World


def _history_columns(effective_ms: IntArray, ends_ms: IntArray) -> dict[str, pa.Array]:
    current = ends_ms < 0
    return {
        "EFFECTIVE_AT": instants(effective_ms),
        "ENDS_AT": instants(ends_ms, ~current),
        "IS_CURRENT_SETTINGS": pa.array(current),
        "SOURCE_INTEGRATION_TYPE": repeat("scm", len(effective_ms)),
        "UPDATED_AT": instants(np.where(current, effective_ms, ends_ms)),
    }


def project_adoption_chunks(
    world: World, sizes: DemoSizes, seed: int
) -> Iterator[pa.RecordBatch]:
    dataset = "pr_checks_project_adoption"
    rng = random_stream(seed, dataset)
    periods = world.periods
    count = len(periods.project)
    columns = _history_columns(periods.effective_ms, periods.ends_ms) | {
        "PR_CHECKS_PROJECT_ADOPTION_ID": uuids(rng, count),
        "IS_PROJECT_MONITORED_HISTORICAL": pa.array(periods.monitored),
        "PROJECT_DELETED_HISTORICAL": pa.array(periods.deleted),
        "TEST_PULL_REQUESTS": flags(periods.test_pull_requests),
        "PULL_REQUESTS_POLICY": coded(strings(list(POLICIES)), periods.policy),
        "PULL_REQUESTS_SEVERITY_THRESHOLD": coded(
            strings(list(THRESHOLDS)), periods.threshold
        ),
        "IS_PULL_REQUEST_FAIL_ONLY_FOR_ISSUES_WITH_FIX": flags(
            periods.fail_only_fixable
        ),
    }
    project_columns = fill(world.projects.columns, dataset, periods.project)
    yield record_batch(dataset, count, project_columns, columns)


def integration_adoption_chunks(
    world: World, sizes: DemoSizes, seed: int
) -> Iterator[pa.RecordBatch]:
    dataset = "pr_checks_integration_adoption"
    rng = random_stream(seed, dataset)
    integrations = world.integrations
    deleted = integrations.deleted_ms >= 0
    counts = rng.integers(1, 6, len(deleted))
    counts = np.where(deleted, np.maximum(counts, 2), counts)
    end = np.where(deleted, integrations.deleted_ms, world.window.now_ms)
    owner, effective, ends = histories(
        rng, counts, integrations.created_ms, end, deleted
    )
    count = len(owner)
    columns = _history_columns(effective, ends) | {
        "PR_CHECKS_INTEGRATION_ADOPTION_ID": uuids(rng, count),
        "ORG_SOURCE_PUBLIC_ID": strings(integrations.ids).take(pa.array(owner)),
        "SOURCE_TYPE": strings([s[0] for s in SOURCES]).take(
            pa.array(integrations.source[owner])
        ),
        "ORG_SOURCE_CREATED": instants(integrations.created_ms[owner]),
        "ORG_SOURCE_DELETED": instants(integrations.deleted_ms[owner], deleted[owner]),
        "ORG_SOURCE_DELETED_HISTORICAL": pa.array((ends < 0) & deleted[owner]),
    }
    columns |= _integration_settings(rng, count)
    orgs = fill(org_columns(world.tenant), dataset, integrations.org[owner])
    yield record_batch(dataset, count, orgs, columns)


def _integration_settings(rng: np.random.Generator, count: int) -> dict[str, pa.Array]:
    """The PR-check switches of an integration during each settings period."""
    prefix = "IS_PULL_REQUEST_CHECK_OPEN_SOURCE_FAIL_"
    code = rng.random(count) < 0.5
    severity = np.where(code, draw(rng, (0.3, 0.3, 0.3, 0.1), count), -1)
    return {
        "IS_PULL_REQUEST_TEST_OPEN_SOURCE_ENABLED": pa.array(rng.random(count) < 0.8),
        f"{prefix}ON_ANY_VULNS": pa.array(rng.random(count) < 0.3),
        f"{prefix}ONLY_FOR_HIGH_OR_CRITICAL_SEVERITY": pa.array(
            rng.random(count) < 0.4
        ),
        f"{prefix}ONLY_FOR_ISSUES_WITH_FIX": pa.array(rng.random(count) < 0.3),
        "IS_PULL_REQUEST_TEST_CODE_ENABLED": pa.array(code),
        "PULL_REQUEST_CHECK_CODE_SEVERITY": coded(strings(list(THRESHOLDS)), severity),
    }
