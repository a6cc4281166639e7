"""The dataset generators by name, and ``generate``, which streams one of them."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator

import pyarrow as pa

from snyk_export.demo_data.adoption import (
    integration_adoption_chunks,
    project_adoption_chunks,
)
from snyk_export.demo_data.batches import rebatch
from snyk_export.demo_data.issues import issue_chunks
from snyk_export.demo_data.pr_checks import pr_check_chunks
from snyk_export.demo_data.tenant import DemoTenant
from snyk_export.demo_data.usage import usage_chunks
from snyk_export.demo_data.world import DemoSizes, World, build_world

_MIN_PROJECTS = 4


_GENERATORS: dict[str, Callable[[World, DemoSizes, int], Iterator[pa.RecordBatch]]] = {
    "issues": issue_chunks,
    "usage": usage_chunks,
    "pr_checks": pr_check_chunks,
    "pr_checks_project_adoption": project_adoption_chunks,
    "pr_checks_integration_adoption": integration_adoption_chunks,
}


def _check_sizes(sizes: DemoSizes) -> None:
    if min(sizes.issues, sizes.usage, sizes.pr_checks) < 0:
        raise ValueError("demo sizes cannot be negative")
    if sizes.projects < _MIN_PROJECTS:
        raise ValueError(f"a demo world needs at least {_MIN_PROJECTS} projects")
    if sizes.integrations < 1:
        raise ValueError("a demo world needs at least one integration")


def generate(
    dataset: str,
    tenant: DemoTenant,
    sizes: DemoSizes,
    *,
    seed: int = 7,
    now: datetime.datetime,
    batch_rows: int = 65_536,
) -> Iterator[pa.RecordBatch]:
    """Stream the rows of ``dataset`` for ``tenant`` as batches of ``batch_rows``.

    The batches have ``arrow_schema(dataset)``. The same seed, ``now`` and sizes
    always give the same rows, whatever ``batch_rows``. Issues, usage and PR
    checks have exactly the requested number of rows; the adoption datasets
    hold one settings history (1 to 5 periods) per PR-checked project (SCM
    imported Open Source and Code projects) or per integration. A dataset with
    no rows yields no batches. Timestamps lie in the four years before ``now``
    (a naive ``now`` means UTC).
    """
    generator = _GENERATORS.get(dataset)
    if generator is None:
        raise ValueError(f"unknown dataset {dataset!r}")
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    _check_sizes(sizes)

    world = build_world(tenant, sizes, seed, now)
    return rebatch(generator(world, sizes, seed), batch_rows)
