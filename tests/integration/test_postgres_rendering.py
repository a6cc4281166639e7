"""Records rendered by PostgreSQL, byte for byte as by the embedded engine.

The same Arrow batches go into a DuckDB file and a fresh PostgreSQL schema;
every export must then give the same records from both.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pytest

from jobrecords import EVER, NOW, definition, records_of
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.catalog import datasets
from snyk_export.demo_data import DemoSizes, build_tenant, generate
from snyk_export.jobs import Export, Status

SIZES = DemoSizes(issues=600, usage=200, pr_checks=150, projects=40, integrations=4)


@pytest.fixture
def backend(postgres_url: str) -> Iterator[PostgresBackend]:
    db = PostgresBackend(postgres_url, max_connections=2)
    db.migrate()
    yield db
    db.close()


@pytest.fixture
def both(
    backend: PostgresBackend, tmp_path: Path
) -> Iterator[tuple[DuckDBBackend, PostgresBackend, Any]]:
    """Both engines holding the same demo data of every dataset."""
    duck = DuckDBBackend(tmp_path / "db.duckdb")
    duck.migrate()
    tenant = build_tenant(11)
    for name in datasets():
        for db in (duck, backend):
            db.load_batches(name, generate(name, tenant, SIZES, seed=11, now=NOW))
    yield duck, backend, tenant
    duck.close()


def exported(
    scope_id: str, dataset: str, filters: dict[str, Any], **flags: Any
) -> Export:
    columns = tuple(c.name for c in datasets()[dataset].columns)
    job = Export(
        str(uuid.uuid4()),
        definition(
            scope_id, dataset=dataset, columns=columns, filters=filters, **flags
        ),
        Status.PENDING,
        NOW,
        "c1",
    )
    return job.start(NOW)


@pytest.mark.parametrize("dataset", list(datasets()))
@pytest.mark.parametrize(
    "flags", [{}, {"include_deleted": True, "include_deactivated": True}]
)
def test_every_dataset_renders_the_same_records_on_both_engines(
    both: tuple[DuckDBBackend, PostgresBackend, Any],
    dataset: str,
    flags: dict[str, bool],
) -> None:
    duck, postgres, tenant = both
    export = exported(tenant.group_id, dataset, EVER, **flags)

    in_duckdb, in_postgres = records_of(duck, export), records_of(postgres, export)

    # DuckDB streams in storage order and PostgreSQL in natural-key order, so
    # the records are compared as sorted lists: the same multiset, byte for byte.
    assert len(in_duckdb) > 10
    assert sorted(in_postgres) == sorted(in_duckdb)


ISSUE_FILTERS = [
    {"environment": ["BACKEND", "Frontend"]},
    {"lifecycle": ["production"], "issue_status": ["Open", "Resolved"]},
    {"project_tags": [" team : platform ", "scanType:CSS"]},
    {"empty_project_tags": "only"},
    {"empty_project_tags": "exclude", "product_name": ["Snyk Code"]},
    {"empty_project_tags": "include", "project_tags": ["team:platform"]},
    {"introduced": {"from": "2026-01-01T00:00:00.000Z", "to": None}},
    {"cve": ["CVE-2025-5633", "CVE-2020-40908", "CVE-2099-0000"]},
]


@pytest.mark.parametrize("filters", ISSUE_FILTERS, ids=lambda f: ",".join(f))
def test_issue_filters_select_the_same_records_on_both_engines(
    both: tuple[DuckDBBackend, PostgresBackend, Any], filters: dict[str, Any]
) -> None:
    duck, postgres, tenant = both
    export = exported(tenant.group_id, "issues", {**EVER, **filters})

    in_duckdb, in_postgres = records_of(duck, export), records_of(postgres, export)

    assert 0 < len(in_postgres) < postgres.count_rows("issues")
    assert sorted(in_postgres) == sorted(in_duckdb)


def test_org_scope_and_orgs_filter_select_the_same_records_on_both_engines(
    both: tuple[DuckDBBackend, PostgresBackend, Any],
) -> None:
    duck, postgres, tenant = both
    first, second = tenant.orgs[0].id, tenant.orgs[1].id
    jobs = [
        exported(tenant.group_id, "usage", {**EVER, "orgs": [first.upper(), second]}),
        Export(
            str(uuid.uuid4()),
            definition(first, scope="org", dataset="pr_checks", columns=("PUBLIC_ID",)),
            Status.PENDING,
            NOW,
            "c1",
        ).start(NOW),
    ]

    for job in jobs:
        in_duckdb, in_postgres = records_of(duck, job), records_of(postgres, job)
        assert 0 < len(in_postgres) < postgres.count_rows(job.definition.dataset)
        assert sorted(in_postgres) == sorted(in_duckdb)


def test_filters_that_match_nothing_in_one_engine_match_nothing_in_the_other(
    both: tuple[DuckDBBackend, PostgresBackend, Any],
) -> None:
    duck, postgres, tenant = both
    job = exported(tenant.group_id, "issues", {**EVER, "issue_status": ["open"]})

    assert records_of(duck, job) == records_of(postgres, job) == []


# Edge values, loaded into both engines through the same Arrow batch

EDGE_NUMBERS = [
    110.0, 0.0, -0.0, 7.5, 0.00043, 0.1, 1 / 3, 1e-07, -1.5e-10, 1.23456789e-13,
    123456789012345.6, 1e15 + 0.5, 2.0**53, 1e16, 1e20, -1e23, 1.5e300, 5e-324,
    1.7976931348623157e308, float("nan"), float("inf"), float("-inf"), None,
]  # fmt: skip
EDGE_STRINGS = [
    "", '"', 'a "quoted" word', "line1\r\nline2\r", "a,b", "  padded  ",
    "=SUM(A1)", "Zoë ✓ 𝄞", "tab\there", "back\\slash", "\\u001f", None,
]  # fmt: skip
EDGE_ARRAYS = [
    [], ["a", "b"], ["Zoë", "✓"], ['say "hi"'], ["a, b"], ["\x01\x0b\x1f\x7f"],
    ["\b\f\n\r\t"], ["back\\slash", "\\u001f"], ["/", "\u2028"], [None, "x"], None,
]  # fmt: skip
EDGE_JSON = [
    '{"a": 1}', '{ "b" : [1, 2], "a": {"c": "é"} }', "{}", '{"a":1,"a":2}',
    '{"e":"\\u00e9\\/\\u001f","n":1E2,"m":-0.0,"big":100000000000000000000000}',
    '{"s": "  spaced  \\"quoted\\" "}', None,
]  # fmt: skip
EDGE_TIMES = [
    dt.datetime(2025, 12, 5, 21, 14, 1, 949999),
    dt.datetime(2025, 1, 1),
    dt.datetime(1970, 1, 1, 0, 0, 0, 500),
    None,
]


def edge_batch(group_id: str, count: int) -> pa.RecordBatch:
    def cycle(values: list[Any]) -> list[Any]:
        return [values[i % len(values)] for i in range(count)]

    columns = {
        "GROUP_PUBLIC_ID": [group_id] * count,
        "PROBLEM_ID": [f"edge-{i:03d}" for i in range(count)],
        "UPDATED_AT": [dt.datetime(2026, 1, 1)] * count,
        "SCORE": cycle(EDGE_NUMBERS),
        "PROBLEM_TITLE": cycle(EDGE_STRINGS),
        "CVE": cycle(EDGE_ARRAYS),
        "CODE_REGION": cycle(EDGE_JSON),
        "LAST_IGNORED": cycle(EDGE_TIMES),
        "VULNERABILITY_PUBLICATION_DATE": cycle([dt.date(1999, 1, 2), None]),
        "PROJECT_IS_PRIVATE_TARGET": cycle([True, False, None]),
    }
    issues = datasets()["issues"]
    types = {"number": pa.float64(), "array": pa.list_(pa.string())}
    arrays = {
        name: pa.array(values, types.get(issues.column(name).type))
        for name, values in columns.items()
    }
    return pa.RecordBatch.from_pydict(arrays)


def test_edge_values_render_byte_for_byte_as_in_the_embedded_engine(
    backend: PostgresBackend, tmp_path: Path
) -> None:
    duck = DuckDBBackend(tmp_path / "db.duckdb")
    duck.migrate()
    batch = edge_batch("g-edge", len(EDGE_NUMBERS) * len(EDGE_ARRAYS))
    for db in (duck, backend):
        db.load_batches("issues", iter([batch]))
    columns = (
        "PROBLEM_ID",
        "SCORE",
        "PROBLEM_TITLE",
        "CVE",
        "CODE_REGION",
        "LAST_IGNORED",
        "VULNERABILITY_PUBLICATION_DATE",
        "PROJECT_IS_PRIVATE_TARGET",
        "ISSUE_STATUS",
    )
    export = Export(
        str(uuid.uuid4()),
        definition("g-edge", columns=columns),
        Status.PENDING,
        NOW,
        "c1",
    ).start(NOW)

    in_duckdb, in_postgres = records_of(duck, export), records_of(backend, export)
    duck.close()

    assert len(in_postgres) == batch.num_rows
    assert in_postgres == in_duckdb  # PROBLEM_ID order is storage order here
    assert '"2025-12-05 21:14:01.949"' in in_postgres[0]


def random_doubles(count: int) -> list[float]:
    """Finite doubles of every magnitude, short decimals and powers of ten."""
    generator = np.random.default_rng(20261203)
    bits = generator.integers(0, 2**64, size=count, dtype=np.uint64)
    spread = [float(v) for v in bits.view(np.float64) if np.isfinite(v)]
    short = [
        round(float(v), int(d))
        for v, d in zip(
            generator.uniform(-1000, 1000, count),
            generator.integers(0, 6, count),
            strict=True,
        )
    ]
    powers = [float(f"{m}e{e}") for m in (1, 3, 5) for e in range(-30, 31)]
    return spread + short + powers


def test_numbers_render_as_in_the_embedded_engine(
    backend: PostgresBackend, tmp_path: Path
) -> None:
    scores = random_doubles(2000)
    batch = pa.RecordBatch.from_pydict(
        {
            "GROUP_PUBLIC_ID": ["g-num"] * len(scores),
            "PROBLEM_ID": [f"n-{i:05d}" for i in range(len(scores))],
            "UPDATED_AT": [dt.datetime(2026, 1, 1)] * len(scores),
            "SCORE": pa.array(scores, pa.float64()),
        }
    )
    duck = DuckDBBackend(tmp_path / "db.duckdb")
    duck.migrate()
    for db in (duck, backend):
        db.load_batches("issues", iter([batch]))
    export = Export(
        str(uuid.uuid4()),
        definition("g-num", columns=("PROBLEM_ID", "SCORE")),
        Status.PENDING,
        NOW,
        "c1",
    ).start(NOW)

    in_duckdb, in_postgres = records_of(duck, export), records_of(backend, export)
    duck.close()

    assert len(in_postgres) == len(scores)
    assert in_postgres == in_duckdb


def test_json_written_by_other_means_is_still_rendered_compact(
    backend: PostgresBackend, postgres_url: str
) -> None:
    spaced = '{ "a" : [1, 2],\n "b": {"c": " keep  these "} }'
    with psycopg.connect(postgres_url) as connection:
        connection.execute(
            'INSERT INTO issues ("GROUP_PUBLIC_ID", "PROBLEM_ID", "UPDATED_AT", '
            '"CODE_REGION") VALUES (%s, %s, %s, %s)',
            ["g-json", "spaced", dt.datetime(2026, 1, 1), spaced],
        )
    export = Export(
        str(uuid.uuid4()),
        definition("g-json", columns=("CODE_REGION",)),
        Status.PENDING,
        NOW,
        "c1",
    ).start(NOW)

    assert records_of(backend, export) == [
        '"{""a"":[1,2],""b"":{""c"":"" keep  these ""}}"\n'
    ]


def test_spreadsheet_safe_cells_are_the_same_on_both_engines(
    backend: PostgresBackend, tmp_path: Path
) -> None:
    duck = DuckDBBackend(tmp_path / "db.duckdb")
    duck.migrate()
    titles = ["=SUM(A1)", "+1", "-x", "@cmd", "\tTab", "\rCR", "plain", "", None]
    batch = pa.RecordBatch.from_pydict(
        {
            "GROUP_PUBLIC_ID": ["g-safe"] * len(titles),
            "PROBLEM_ID": [f"safe-{i}" for i in range(len(titles))],
            "UPDATED_AT": [dt.datetime(2026, 1, 1)] * len(titles),
            "PROBLEM_TITLE": titles,
            "SCORE": [-1.0] * len(titles),
        }
    )
    for db in (duck, backend):
        db.load_batches("issues", iter([batch]))
    job = definition(
        "g-safe", columns=("PROBLEM_TITLE", "SCORE"), spreadsheet_safe=True
    )
    export = Export(str(uuid.uuid4()), job, Status.PENDING, NOW, "c1").start(NOW)

    in_duckdb, in_postgres = records_of(duck, export), records_of(backend, export)
    duck.close()

    assert sorted(in_postgres) == sorted(in_duckdb)
    assert sorted(in_duckdb) == sorted(
        [
            '"\'=SUM(A1)",-1\n',
            '"\'+1",-1\n',
            '"\'-x",-1\n',
            '"\'@cmd",-1\n',
            '"\'\tTab",-1\n',
            '"\'\rCR",-1\n',
            '"plain",-1\n',
            '"",-1\n',
            ",-1\n",
        ]
    )
