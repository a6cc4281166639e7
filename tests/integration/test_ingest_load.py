"""Loading dataset files into each engine: round trips and upsert semantics.

The files are written from a DuckDB file of demo data; every test loads them
into an empty DuckDB file and into an empty PostgreSQL schema, and compares
the rows both hold, rendered as an export renders them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ingest_samples import ENGINES, engine_backend, export_csv, write_dataset
from liveserver import seed_data
from snyk_export.backends.base import Backend
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.catalog import datasets
from snyk_export.demo_data import DemoSizes
from snyk_export.ingest.loader import load_file

SIZES = DemoSizes(issues=1200, usage=500, pr_checks=300, projects=60, integrations=6)
LOADED_AT = dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBBackend]:
    backend = DuckDBBackend(tmp_path_factory.mktemp("demo") / "db.duckdb")
    backend.migrate()
    seed_data(backend, SIZES)
    yield backend
    backend.close()


@pytest.fixture(params=ENGINES)
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with engine_backend(request, tmp_path / "empty") as backend:
        yield backend


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
@pytest.mark.parametrize("dataset", list(datasets()))
def test_a_written_dataset_loads_back_unchanged(
    demo: DuckDBBackend, empty: Backend, tmp_path: Path, dataset: str, suffix: str
) -> None:
    path = write_dataset(demo, dataset, tmp_path / f"{dataset}{suffix}")

    report = load_file(empty, dataset, path)

    assert report.inserted == demo.count_rows(dataset) > 0
    assert export_csv(empty, dataset) == export_csv(demo, dataset)


@pytest.mark.parametrize("dataset", list(datasets()))
def test_loading_the_same_file_again_changes_nothing(
    demo: DuckDBBackend, empty: Backend, tmp_path: Path, dataset: str
) -> None:
    path = write_dataset(demo, dataset, tmp_path / f"{dataset}.csv")
    load_file(empty, dataset, path)

    again = load_file(empty, dataset, path, now=LOADED_AT)

    assert (again.inserted, again.updated) == (0, 0)
    assert again.unchanged == demo.count_rows(dataset)
    assert export_csv(empty, dataset) == export_csv(demo, dataset)


def _issue_lines(backend: Backend, columns: list[str]) -> list[str]:
    return export_csv(backend, "issues", columns).decode().splitlines()


def test_only_changed_rows_get_a_new_updated_at(
    demo: DuckDBBackend, empty: Backend, tmp_path: Path
) -> None:
    load_file(empty, "issues", write_dataset(demo, "issues", tmp_path / "all.csv"))
    key = ["PROJECT_PUBLIC_ID", "PROBLEM_ID", "ASSET_FINDING_ID"]
    before = _issue_lines(empty, [*key, "ISSUE_STATUS", "UPDATED_AT"])
    header, first, second, *rest = before
    changed = first.replace('"Open"', '"Ignored"').replace('"Resolved"', '"Ignored"')
    if changed == first:
        changed = first.replace('"Ignored"', '"Open"')
    subset = tmp_path / "subset.csv"
    no_stamp = [line.rsplit(",", 1)[0] for line in (header, changed, second)]
    subset.write_text("\n".join(no_stamp) + "\n")

    report = load_file(empty, "issues", subset, now=LOADED_AT)

    after = _issue_lines(empty, [*key, "ISSUE_STATUS", "UPDATED_AT"])
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 1)
    assert changed.rsplit(",", 1)[0] + ',"2026-11-20 08:30:00.000"' in after
    assert second in after
    assert sorted(rest) == sorted(line for line in after[1:] if line in rest)
    others = _issue_lines(empty, ["PROBLEM_TITLE", "CVE", "SCORE"])
    assert others == _issue_lines(demo, ["PROBLEM_TITLE", "CVE", "SCORE"])


def test_a_changed_row_takes_the_updated_at_of_the_file(
    demo: DuckDBBackend, empty: Backend, tmp_path: Path
) -> None:
    columns = ["PUBLIC_ID", "PR_CHECK_STATE", "UPDATED_AT"]
    load_file(empty, "pr_checks", write_dataset(demo, "pr_checks", tmp_path / "a.csv"))
    header, first, *_ = export_csv(empty, "pr_checks", columns).decode().splitlines()
    public_id = first.split(",")[0]
    edited = tmp_path / "edited.csv"
    edited.write_text(
        f'{header}\n{public_id},"skipped","2026-11-19 10:00:00.123"\n'
        '"0f8fad5b-d9cb-469f-a165-70867728950e","success",\n'
    )

    report = load_file(empty, "pr_checks", edited, now=LOADED_AT)

    lines = export_csv(empty, "pr_checks", columns).decode().splitlines()
    assert (report.inserted, report.updated) == (1, 1)
    assert f'{public_id},"skipped","2026-11-19 10:00:00.123"' in lines
    new = '"0f8fad5b-d9cb-469f-a165-70867728950e","success","2026-11-20 08:30:00.000"'
    assert new in lines


def test_uppercase_uuids_are_stored_lowercase(empty: Backend, tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text(
        '"ID","ORG_PUBLIC_ID","INTERACTION_EXIT_CODE"\n'
        '"urn:snyk:interaction:1","0F8FAD5B-D9CB-469F-A165-70867728950E",0\n'
    )

    load_file(empty, "usage", path)

    lines = export_csv(empty, "usage", ["ORG_PUBLIC_ID"]).decode().splitlines()
    assert lines[1] == '"0f8fad5b-d9cb-469f-a165-70867728950e"'


def test_json_lines_timestamps_with_a_zone_are_stored_in_utc(
    empty: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "usage.jsonl"
    path.write_text(
        '{"ID": "urn:1", "INTERACTION_TIMESTAMP": "2026-01-02T03:04:05.678+02:00", '
        '"INTERACTION_CATEGORIES": ["oss", "code"], "UPDATED_AT": null}\n'
    )

    load_file(empty, "usage", path, now=LOADED_AT)

    columns = ["INTERACTION_TIMESTAMP", "INTERACTION_CATEGORIES", "UPDATED_AT"]
    lines = export_csv(empty, "usage", columns).decode().splitlines()
    assert lines[1] == (
        '"2026-01-02 01:04:05.678","[""oss"",""code""]","2026-11-20 08:30:00.000"'
    )


def test_a_file_that_changes_many_rows_updates_them_in_bounded_parts(
    demo: DuckDBBackend,
    empty: Backend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("snyk_export.ingest.targets.UPDATE_CHUNK_ROWS", 50)
    load_file(empty, "usage", write_dataset(demo, "usage", tmp_path / "usage.csv"))
    header, *lines = (
        export_csv(demo, "usage", ["ID", "USER_NAME"]).decode().splitlines()
    )
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(
        "\n".join([header, *(f'{line.split(",")[0]},"someone"' for line in lines)])
        + "\n"
    )

    report = load_file(empty, "usage", renamed, now=LOADED_AT)

    assert (report.inserted, report.updated) == (0, len(lines))
    names = export_csv(empty, "usage", ["USER_NAME", "UPDATED_AT"]).decode()
    assert set(names.splitlines()[1:]) == {'"someone","2026-11-20 08:30:00.000"'}


def test_loads_of_one_dataset_on_postgres_apply_one_after_the_other(
    postgres_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "usage.csv"
    path.write_text('"ID","USER_NAME"\n"urn:snyk:interaction:1","Ann"\n')
    backend = PostgresBackend(postgres_url, max_connections=4)
    backend.migrate()

    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            with backend.upsert("usage"):
                waiting = pool.submit(load_file, backend, "usage", path)
                time.sleep(0.5)
                blocked = not waiting.done()
            report = waiting.result(timeout=30)
    finally:
        backend.close()

    assert blocked
    assert report.inserted == 1
