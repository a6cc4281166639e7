"""The pr_checks dataset: pull request checks, grouped by pull request run."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from snyk_export.demo_data.arrays import (
    FloatArray,
    IntArray,
    commit_shas,
    instants,
    join,
    only,
    strings,
    text,
    uuids,
    where,
)
from snyk_export.demo_data.batches import fill, record_batch
from snyk_export.demo_data.draws import CHUNK_ROWS, between, draw, random_stream
from snyk_export.demo_data.projects import Projects
from snyk_export.demo_data.vocabulary import POLICIES, THRESHOLDS, table
from snyk_export.demo_data.window import HOUR_MS
from snyk_export.demo_data.world import DemoSizes, World

_CHECK_SHARES = (0.58, 0.27, 0.05, 0.10)  # success, failure, error, skipped
_CHECK_STATES = strings(["success", "failure", "error", "skipped"])
_GROUP_STATES = strings(["success", "failure", "error"])
_CHECK_GROUP_RANK = np.array([0, 1, 2, 0])
_ERROR = 2
_CHECK_DESCRIPTIONS = strings(
    [
        "No new issues found",
        "",
        "The check could not be completed",
        "Skipped: no supported manifest files changed",
    ]
)
# ERROR_MESSAGE | ERROR_STATUS | ERROR_CLASSIFICATION, for SNYK-PR-CHECK-0001 on
_PR_ERRORS = table(
    """
Pull request check failed to start                    | 500 | UNEXPECTED
No supported manifest files were found                | 422 | UNSUPPORTED
The SCM integration token has expired                 | 401 | ACTIONABLE
The repository is too large to test                   | 413 | UNSUPPORTED
Dependencies of the manifest could not be resolved    | 422 | ACTIONABLE
The test timed out                                    | 504 | UNEXPECTED
The SCM provider rate limit was exceeded              | 429 | ACTIONABLE
The branch or commit was not found                    | 404 | ACTIONABLE
Failed to run the check                               | 500 | UNEXPECTED
Snyk Code is not enabled for the organization         | 403 | ACTIONABLE
The project type does not support pull request checks | 400 | UNSUPPORTED
"""
)
_ERROR_CODES = strings([f"SNYK-PR-CHECK-{k + 1:04d}" for k in range(len(_PR_ERRORS))])
_ERROR_URLS = strings(
    [
        f"https://docs.snyk.io/scan-with-snyk/error-catalog#snyk-pr-check-{k + 1:04d}"
        for k in range(len(_PR_ERRORS))
    ]
)
_ERROR_MESSAGES = strings([e[0] for e in _PR_ERRORS])
_ERROR_STATUSES = np.array([int(e[1]) for e in _PR_ERRORS], dtype=np.int64)
_ERROR_CLASSES = strings([e[2] for e in _PR_ERRORS])
_KEY_SPAN = 1 << 43  # above any millisecond timestamp until the year 2248
_MINUTE_MS = 60_000


def pr_check_chunks(
    world: World, sizes: DemoSizes, seed: int
) -> Iterator[pa.RecordBatch]:
    candidates = np.unique(world.periods.project)
    weights = 1.0 + random_stream(seed, "pr_checks").pareto(1.2, len(candidates))
    for chunk, start in enumerate(range(0, sizes.pr_checks, CHUNK_ROWS)):
        count = min(CHUNK_ROWS, sizes.pr_checks - start)
        rng = random_stream(seed, "pr_checks", chunk + 1)
        yield _pr_check_batch(world, candidates, weights, count, rng)


def _pr_check_batch(
    world: World,
    candidates: IntArray,
    weights: FloatArray,
    count: int,
    rng: np.random.Generator,
) -> pa.RecordBatch:
    # Checks of one group (one pull request run) are consecutive rows.
    opens = rng.random(count) < 0.7
    opens[0] = True
    heads = np.flatnonzero(opens)
    group = np.cumsum(opens) - 1
    project = candidates[draw(rng, list(weights), len(heads))][group]

    times, created_ms = _check_times(rng, world.projects, project, heads, group)
    state = draw(rng, _CHECK_SHARES, count)
    group_state = np.maximum.reduceat(_CHECK_GROUP_RANK[state], heads)
    columns = times | {
        "PUBLIC_ID": uuids(rng, count),
        "PR_CHECK_GROUP_ID": uuids(rng, len(heads)).take(pa.array(group)),
        "TEST_ID": uuids(rng, count),
        "PR_CHECK_STATE": _CHECK_STATES.take(state),
        "PR_CHECK_GROUP_STATE": _GROUP_STATES.take(group_state[group]),
        "MARKED_AS_SUCCESS": pa.array((state == 1) & (rng.random(count) < 0.08)),
        "PR_CHECK_RESULT_DESCRIPTION": _check_descriptions(rng, state),
    }
    columns |= _pull_requests(rng, world.projects, project, heads, group)
    columns |= _check_errors(rng, state) | _check_settings(world, project, created_ms)
    projects = fill(world.projects.columns, "pr_checks", project)
    return record_batch("pr_checks", count, projects, columns)


def _check_times(
    rng: np.random.Generator,
    projects: Projects,
    project: IntArray,
    heads: IntArray,
    group: IntArray,
) -> tuple[dict[str, pa.Array], IntArray]:
    """Creation and modification times of checks and groups; and each creation."""
    created = projects.created_ms[project[heads]]
    latest = np.maximum(projects.end_ms[project[heads]] - 2 * HOUR_MS, created)
    group_created = between(rng, created, latest)
    position = np.minimum(np.arange(len(project)) - heads[group], 6)
    check_created = group_created[group] + position * 5 * _MINUTE_MS
    check_created += rng.integers(0, _MINUTE_MS, len(project))
    check_modified = check_created + rng.integers(5_000, 10 * _MINUTE_MS, len(project))
    group_modified = np.maximum.reduceat(check_modified, heads)
    return {
        "PR_CHECK_CREATED_AT": instants(check_created),
        "PR_CHECK_MODIFIED_AT": instants(check_modified),
        "CHECK_GROUP_CREATED_AT": instants(group_created[group]),
        "CHECK_GROUP_MODIFIED_AT": instants(group_modified[group]),
        "UPDATED_AT": instants(group_modified[group]),
    }, check_created


def _pull_requests(
    rng: np.random.Generator,
    projects: Projects,
    project: IntArray,
    heads: IntArray,
    group: IntArray,
) -> dict[str, pa.Array]:
    """The pull request and commits each check group ran on."""
    shas = [commit_shas(rng, len(heads)).take(pa.array(group)) for _ in range(3)]
    number = text(rng.integers(1, 2500, len(heads))[group])
    positions = pa.array(project)
    repository = projects.columns["PROJECT_TARGET_UPSTREAM_URL"].take(positions)
    return {
        "PULL_REQUEST": join(repository, projects.pull_path.take(positions), number),
        "PULL_DATA_REF": join(
            projects.pull_ref.take(positions),
            number,
            projects.pull_ref_suffix.take(positions),
        ),
        "OLD_VERSION_SHA": shas[0],
        "NEW_VERSION_SHA": shas[1],
        "MERGE_BASE_VERSION_SHA": shas[2],
    }


def _check_descriptions(rng: np.random.Generator, state: IntArray) -> pa.Array:
    count = len(state)
    found = rng.integers(1, 9, count)
    failed = join("Security check failed: ", text(found), " new issues found")
    # A rare multi-line description, to exercise quoting in CSV output.
    multiline = join(
        "Security check failed:\n",
        text(found),
        " new issues, ",
        text(found - 1),
        " fixable",
    )
    failed = where(rng.random(count) < 0.004, multiline, failed)
    return where(state == 1, failed, _CHECK_DESCRIPTIONS.take(state))


def _check_errors(rng: np.random.Generator, state: IntArray) -> dict[str, pa.Array]:
    count = len(state)
    code = rng.integers(0, len(_PR_ERRORS), count)
    errored = state == _ERROR
    positions = pa.array(code)
    return {
        "ERROR_MESSAGE": only(_ERROR_MESSAGES.take(positions), errored),
        "ERROR_CODE": only(_ERROR_CODES.take(positions), errored),
        "ERROR_STATUS": pa.array(_ERROR_STATUSES[code], mask=~errored),
        "ERROR_CATALOG_URL": only(_ERROR_URLS.take(positions), errored),
        "ERROR_CLASSIFICATION": only(_ERROR_CLASSES.take(positions), errored),
    }


def _check_settings(
    world: World, project: IntArray, created_ms: IntArray
) -> dict[str, pa.Array]:
    """The settings in force when each check ran, inherited ones at their defaults."""
    periods = world.periods
    starts = periods.project * _KEY_SPAN + periods.effective_ms
    period = np.searchsorted(starts, project * _KEY_SPAN + created_ms, side="right") - 1
    policy = np.maximum(periods.policy[period], 0)
    threshold = np.maximum(periods.threshold[period], 0)
    return {
        "SETTINGS_POLICY": strings(list(POLICIES)).take(policy),
        "SETTINGS_SEVERITY_THRESHOLD": strings(list(THRESHOLDS)).take(threshold),
        "IS_SETTINGS_FAIL_ONLY_FIXABLE": pa.array(
            periods.fail_only_fixable[period] == 1
        ),
    }
