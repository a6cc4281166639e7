"""PR-check settings periods: the settings history of each checked project."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snyk_export.demo_data.arrays import BoolArray, IntArray, offsets
from snyk_export.demo_data.draws import between, draw
from snyk_export.demo_data.projects import Projects
from snyk_export.demo_data.vocabulary import CODE


def histories(
    rng: np.random.Generator,
    counts: IntArray,
    start_ms: IntArray,
    end_ms: IntArray,
    closed: BoolArray,
) -> tuple[IntArray, IntArray, IntArray]:
    """Consecutive settings periods: owner, EFFECTIVE_AT and ENDS_AT (-1 if current).

    Owner k gets counts[k] periods; the first starts at start_ms[k] and, when
    closed[k] (a deletion), the last starts at end_ms[k]. Starts strictly
    increase and each period ends where the next one starts.
    """
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    position = np.arange(len(owner)) - np.repeat(offsets(list(counts)), counts)
    changes = between(rng, start_ms[owner] + 1, end_ms[owner] - 10)
    effective = np.where(position == 0, start_ms[owner], changes)
    # Sorting within each owner keeps the owners' blocks and their positions.
    effective = effective[np.lexsort((effective, owner))] + position

    last = position == counts[owner] - 1
    effective = np.where(
        last & closed[owner] & (position > 0), end_ms[owner], effective
    )
    followed = np.append(owner[1:] == owner[:-1], False)
    ends = np.where(followed, np.append(effective[1:], -1), -1)
    return owner, effective, ends


@dataclass(frozen=True)
class Periods:
    """Settings periods of the PR-checked projects, by project, then in time order."""

    project: IntArray
    effective_ms: IntArray
    ends_ms: IntArray  # -1 for the current period
    monitored: BoolArray
    deleted: BoolArray
    test_pull_requests: IntArray  # 1 true, 0 false, -1 inherited (NULL)
    policy: IntArray  # index into POLICIES, -1 inherited
    threshold: IntArray  # index into THRESHOLDS, -1 inherited
    fail_only_fixable: IntArray  # 1, 0 or -1 as test_pull_requests


def build_periods(rng: np.random.Generator, projects: Projects) -> Periods:
    checked = np.flatnonzero((projects.integration >= 0) & (projects.product <= CODE))
    deleted = projects.deleted[checked]
    counts = rng.integers(1, 6, len(checked))
    counts = np.where(deleted, np.maximum(counts, 2), counts)
    owner, effective, ends = histories(
        rng, counts, projects.created_ms[checked], projects.end_ms[checked], deleted
    )

    project = checked[owner]
    current = ends < 0
    size = len(owner)
    return Periods(
        project=project,
        effective_ms=effective,
        ends_ms=ends,
        monitored=~(current & ~projects.monitored[project]),
        deleted=current & projects.deleted[project],
        test_pull_requests=np.array([-1, 1, 0])[draw(rng, (0.3, 0.55, 0.15), size)],
        policy=np.array([-1, 0, 1])[draw(rng, (0.35, 0.45, 0.2), size)],
        threshold=draw(rng, (0.4, 0.15, 0.2, 0.2, 0.05), size) - 1,
        fail_only_fixable=np.array([-1, 1, 0])[draw(rng, (0.4, 0.3, 0.3), size)],
    )
