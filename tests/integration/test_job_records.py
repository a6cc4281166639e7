"""Job records behave alike on both engines: writes are a compare-and-set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobrecords import NOW, pending
from snyk_export.backends.base import Backend
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.jobs import Part, Status


@pytest.fixture(params=["duckdb", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    db: Backend
    if request.param == "duckdb":
        db = DuckDBBackend(tmp_path / "db.duckdb")
    else:
        db = PostgresBackend(request.getfixturevalue("postgres_url"), max_connections=2)
    db.migrate()
    yield db
    db.close()


def test_replace_is_a_compare_and_set_on_status_and_attempt(backend: Backend) -> None:
    export = pending("g1")
    backend.insert_export(export)
    started = export.start(NOW)
    assert backend.replace_export(started, export)
    assert not backend.replace_export(started, export)
    restarted = started.restart(NOW)
    assert backend.replace_export(restarted, started)
    stale = started.finish(NOW, (Part("data_0_0_0.csv", 10, 1, "ab"),))
    assert not backend.replace_export(stale, started), "a replaced run cannot finish"
    finished = restarted.finish(NOW, (Part("data_0_0_0.csv", 10, 1, "ab"),))
    assert backend.replace_export(finished, restarted)
    stored = backend.get_export(export.id)
    assert stored == finished
    assert stored is not None
    assert stored.row_count == 1
    assert backend.list_exports(Status.FINISHED) == [finished]
    assert backend.list_exports(Status.PENDING) == []

    backend.delete_export(export.id)
    assert backend.get_export(export.id) is None
