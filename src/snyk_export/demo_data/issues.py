"""The issues dataset: which project and problem each row is, and its lifecycle."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from snyk_export.demo_data.arrays import (
    IntArray,
    instants,
    join,
    list_of,
    numbers,
    offsets,
    only,
    strings,
    text,
    where,
)
from snyk_export.demo_data.batches import fill, record_batch
from snyk_export.demo_data.draws import CHUNK_ROWS, between, draw, random_stream
from snyk_export.demo_data.findings import FINDING_BUILDERS, Findings, IssueRows
from snyk_export.demo_data.projects import Projects
from snyk_export.demo_data.vocabulary import (
    ECOSYSTEM_COUNT,
    FIRST_TYPES,
    LICENSED_ECOSYSTEMS,
    LICENSES,
    OPEN_SOURCE,
    PACKAGE_COUNT,
)
from snyk_export.demo_data.world import DemoSizes, World

_STATUS_SHARES = (0.55, 0.33, 0.12)
_STATUSES = strings(["Open", "Resolved", "Ignored"])
_INTRODUCTIONS = strings(
    ["Baseline Issue", "Preventable Issue", "Non Preventable Issue", "Other New Issue"]
)
_SCORE_BASE = np.array([820.0, 640.0, 420.0, 230.0])
_SCORE_EXPLOIT_BONUS = np.array([130.0, 70.0, 0.0, 0.0])


@dataclass(frozen=True)
class _IssuePlan:
    """Which project and problem each issue row is, so keys never repeat.

    Rows cycle through weighted project slots; the n-th row of a project walks
    its ecosystem's problem space with an odd step, which visits each problem
    at most once per project because the space is a power of two larger than
    any project's row count.
    """

    slots: IntArray  # project of each slot
    ranks: IntArray  # rank of each slot among its project's slots
    weights: IntArray  # slots per project
    offsets: IntArray  # start of each project's walk
    space: IntArray  # problem-space size per ecosystem
    steps: IntArray  # walk step per ecosystem
    licences: IntArray  # problems below this number are licence issues

    def locate(self, rows: IntArray) -> tuple[IntArray, IntArray]:
        """The project and problem number of each row."""
        slot = rows % len(self.slots)
        project = self.slots[slot]
        ordinal = (rows // len(self.slots)) * self.weights[project]
        ordinal += self.ranks[slot]
        return project, ordinal


_ISSUE_WEIGHTS = np.array([[2, 12], [1, 5], [3, 14], [1, 3]])  # per product: low, high


def _plan_issues(
    rng: np.random.Generator, projects: Projects, total: int
) -> _IssuePlan:
    bounds = _ISSUE_WEIGHTS[projects.product]
    weights = rng.integers(bounds[:, 0], bounds[:, 1] + 1)
    slots = _issue_slots(rng, weights)
    laps = max(1, -(-total // len(slots)))
    space = np.full(ECOSYSTEM_COUNT, 256, dtype=np.int64)
    for ecosystem in range(ECOSYSTEM_COUNT):
        members = weights[projects.ecosystem == ecosystem]
        if members.size:
            space[ecosystem] = max(256, 1 << math.ceil(math.log2(laps * members.max())))
    licences = np.zeros(ECOSYSTEM_COUNT, dtype=np.int64)
    licensed = slice(0, LICENSED_ECOSYSTEMS)
    licences[licensed] = np.minimum(
        PACKAGE_COUNT[licensed] * len(LICENSES), space[licensed] // 8
    )
    home = space[np.maximum(projects.ecosystem, 0)]
    return _IssuePlan(
        slots=slots,
        ranks=_slot_ranks(slots, len(weights)),
        weights=weights,
        offsets=(rng.random(len(weights)) * home).astype(np.int64),
        space=space,
        steps=(space * 0.6180339887).astype(np.int64) | 1,
        licences=licences,
    )


def _issue_slots(rng: np.random.Generator, weights: IntArray) -> IntArray:
    """Project slots, shuffled, with one slot of each first project up front."""
    slots = np.repeat(np.arange(len(weights), dtype=np.int64), weights)
    first = len(FIRST_TYPES)
    rest = np.delete(slots, offsets(list(weights))[:first])
    rng.shuffle(rest)
    return np.concatenate([np.arange(first, dtype=np.int64), rest])


def _slot_ranks(slots: IntArray, projects: int) -> IntArray:
    order = np.argsort(slots, kind="stable")
    starts = offsets(list(np.bincount(slots, minlength=projects)))
    ranks = np.empty_like(slots)
    ranks[order] = np.arange(len(slots)) - starts[slots[order]]
    return ranks


def issue_chunks(world: World, sizes: DemoSizes, seed: int) -> Iterator[pa.RecordBatch]:
    plan = _plan_issues(random_stream(seed, "issues"), world.projects, sizes.issues)
    for chunk, start in enumerate(range(0, sizes.issues, CHUNK_ROWS)):
        stop = min(start + CHUNK_ROWS, sizes.issues)
        rows = np.arange(start, stop, dtype=np.int64)
        yield _issue_batch(world, plan, rows, random_stream(seed, "issues", chunk + 1))


def _issue_batch(
    world: World, plan: _IssuePlan, rows: IntArray, rng: np.random.Generator
) -> pa.RecordBatch:
    project, ordinal = plan.locate(rows)
    ecosystem = world.projects.ecosystem[project]
    home = np.maximum(ecosystem, 0)
    problem = (plan.offsets[project] + ordinal * plan.steps[home]) % plan.space[home]
    product = world.projects.product[project]
    licence = (product == OPEN_SOURCE) & (problem < plan.licences[home])
    kind = np.where(licence, 1, np.array([0, 3, 2, 4])[product])
    everything = IssueRows(world, rng, rows, project, problem, ecosystem)

    parts = []
    for index, builder in enumerate(FINDING_BUILDERS):
        picked = np.flatnonzero(kind == index)
        if len(picked):
            parts.append((picked, builder(everything.subset(picked))))
    findings = _scatter(parts, len(rows))
    return record_batch(
        "issues",
        len(rows),
        fill(world.projects.columns, "issues", project),
        _issue_lifecycle(everything, findings),
        findings.columns,
    )


def _scatter(parts: list[tuple[IntArray, Findings]], count: int) -> Findings:
    """Put the findings of each kind back at their rows; missing columns are NULL."""
    inverse = np.empty(count, dtype=np.int64)
    inverse[np.concatenate([rows for rows, _ in parts])] = np.arange(count)
    positions = pa.array(inverse)
    names = list(dict.fromkeys(name for _, f in parts for name in f.columns))
    columns = {}
    for name in names:
        type_ = next(f.columns[name].type for _, f in parts if name in f.columns)
        pieces = [f.columns.get(name, pa.nulls(len(rows), type_)) for rows, f in parts]
        columns[name] = pa.concat_arrays(pieces).take(positions)
    severity = np.concatenate([f.severity for _, f in parts])[inverse]
    exploit = np.concatenate([f.exploit for _, f in parts])[inverse]
    return Findings(columns, severity, exploit)


def _issue_lifecycle(rows: IssueRows, findings: Findings) -> dict[str, pa.Array]:
    """Status, timestamps, score, Jira links and URL: what every finding has."""
    rng, count, projects = rows.rng, rows.count, rows.world.projects
    end = projects.end_ms[rows.project]
    first = between(rng, projects.created_ms[rows.project], end)
    last = np.where(rng.random(count) < 0.3, between(rng, first, end), first)
    status = draw(rng, _STATUS_SHARES, count)
    # The very first rows take every status, so even tiny exports show all three.
    status = np.where(rows.rows < 3, rows.rows, status)
    settled = np.where(status > 0, between(rng, last, end), last)
    deleted = rng.random(count) < 0.03
    deleted_at = between(rng, settled, end)
    updated = between(rng, np.where(deleted, deleted_at, settled), end, power=2.0)

    score = _SCORE_BASE[findings.severity] + _SCORE_EXPLOIT_BONUS[findings.exploit]
    score = np.clip(np.round(score + rng.normal(0.0, 60.0, count)), 0.0, 1000.0)
    url = projects.columns["PROJECT_URL"].take(pa.array(rows.project))
    return {
        "ISSUE_STATUS": _STATUSES.take(status),
        "FIRST_INTRODUCED": instants(first),
        "LAST_INTRODUCED": instants(last),
        "LAST_RESOLVED": instants(settled, status == 1),
        "LAST_IGNORED": instants(settled, status == 2),
        "ISSUE_DELETED_AT": instants(deleted_at, deleted),
        "UPDATED_AT": instants(updated),
        "SCORE": numbers(score),
        "INTRODUCTION_CATEGORY": _INTRODUCTIONS.take(
            draw(rng, (0.55, 0.2, 0.15, 0.1), count)
        ),
        "ISSUE_URL": join(url, "#issue-", findings.columns["PROBLEM_ID"]),
    } | _jira_links(rng, count)


def _jira_links(rng: np.random.Generator, count: int) -> dict[str, pa.Array]:
    tickets = np.where(rng.random(count) < 0.06, 1 + (rng.random(count) < 0.25), 0)
    number = rng.integers(100, 9000, count)
    first = join("SEC-", text(number))
    second = join("SEC-", text(number + rng.integers(1, 50, count)))
    latest = where(tickets == 2, second, first)
    return {
        "JIRA_ISSUES": list_of([first, second], tickets.astype(np.int64)),
        "HAS_JIRA_ISSUE_ASSIGNED": pa.array(tickets > 0),
        "LATEST_JIRA_ISSUE": only(latest, tickets > 0),
    }
