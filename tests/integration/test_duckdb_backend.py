"""The DuckDB backend and the runner on a real database file in a temp directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from jobrecords import NOW, pending
from snyk_export.backends.base import Credential, Group, Org, RoleBinding
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.demo_data import DemoSizes, build_tenant, generate
from snyk_export.executor import ExportExecutor, Sweeper
from snyk_export.jobs import Export, Status
from snyk_export.parts import PartLimits
from snyk_export.signing import SigningKeys
from snyk_export.storage.local import LocalStorage


@pytest.fixture
def backend(tmp_path: Path) -> DuckDBBackend:
    db = DuckDBBackend(tmp_path / "db.duckdb")
    db.migrate()
    return db


def test_state_survives_reopening_the_file(tmp_path: Path) -> None:
    first = DuckDBBackend(tmp_path / "db.duckdb")
    first.migrate()
    first.create_group(Group("g1", "Group", "group"))
    first.create_org(Org("o1", "Org", "org", "g1"))
    credential = Credential(
        "k1", "ci", NOW, None, None, (RoleBinding("group", "g1", "group_viewer"),)
    )
    first.create_credential(credential, "hash-1")
    first.insert_export(pending("g1"))
    first.close()

    second = DuckDBBackend(tmp_path / "db.duckdb")
    second.migrate()
    assert second.get_org("o1") == Org("o1", "Org", "org", "g1")
    assert second.find_credential("hash-1") == credential
    assert [e.status for e in second.list_exports()] == [Status.PENDING]
    second.close()


def test_creation_limit_counts_per_credential_and_scope(backend: DuckDBBackend) -> None:
    for minute in range(3):
        created = NOW + dt.timedelta(minutes=minute)
        assert (
            backend.create_export_within_limit(pending("g1", created), 3, 3600) is None
        )
    late = NOW + dt.timedelta(minutes=10)
    wait = backend.create_export_within_limit(pending("g1", late), 3, 3600)
    assert wait == pytest.approx(3000)
    assert backend.create_export_within_limit(pending("g2", late), 3, 3600) is None
    assert (
        backend.create_export_within_limit(pending("g1", late, "c2"), 3, 3600) is None
    )
    after_window = NOW + dt.timedelta(hours=1, seconds=1)
    assert (
        backend.create_export_within_limit(pending("g1", after_window), 3, 3600) is None
    )
    assert backend.create_export_within_limit(pending("g1", late), None, 3600) is None


def test_loaded_rows_stream_as_rendered_records(backend: DuckDBBackend) -> None:
    tenant = build_tenant(7)
    sizes = DemoSizes(issues=500, usage=10, pr_checks=10, projects=40, integrations=4)
    loaded = backend.load_batches("issues", generate("issues", tenant, sizes, now=NOW))
    assert loaded == backend.count_rows("issues") == 500

    export = pending(tenant.group_id).start(NOW)
    records = [r.as_py() for batch in backend.stream_export(export, 64) for r in batch]
    visible = backend._fetchall(
        "SELECT count(*) FROM issues WHERE ISSUE_DELETED_AT IS NULL AND "
        "PROJECT_DELETED_AT IS NULL AND PROJECT_IS_MONITORED IS NOT FALSE"
    )[0][0]
    assert len(records) == visible
    assert all(r.startswith('"') and r.endswith('"\n') for r in records)


def executor_for(backend: DuckDBBackend, root: Path) -> ExportExecutor:
    storage = LocalStorage(root, SigningKeys(b"k" * 32), "http://test")
    return ExportExecutor(
        backend,
        storage,
        limits=PartLimits(100, 1 << 20),
        empty_export_file=False,
        max_attempts=2,
    )


def test_jobs_left_started_are_run_again_or_errored_after_too_many_tries(
    backend: DuckDBBackend, tmp_path: Path
) -> None:
    tenant = build_tenant(7)
    sizes = DemoSizes(issues=300, usage=10, pr_checks=10, projects=40, integrations=4)
    backend.load_batches("issues", generate("issues", tenant, sizes, now=NOW))
    interrupted = pending(tenant.group_id, NOW, "a").start(NOW)
    exhausted = pending(tenant.group_id, NOW, "b").start(NOW).restart(NOW)
    for export in (interrupted, exhausted):
        backend.insert_export(export)
    stray = tmp_path / "results" / interrupted.id / "1"
    stray.mkdir(parents=True)
    (stray / ".partial-data_0_0_0.csv").write_text("half a file")

    executor = executor_for(backend, tmp_path / "results")
    executor.run(interrupted.id)
    executor.run(exhausted.id)

    done = backend.get_export(interrupted.id)
    assert done is not None
    assert done.status is Status.FINISHED
    assert done.attempts == 2
    assert not stray.exists(), "the lost run's files are discarded"
    published = tmp_path / "results" / interrupted.id / "2"
    assert sorted(p.name for p in published.iterdir()) == [p.name for p in done.parts]
    gone = backend.get_export(exhausted.id)
    assert gone is not None
    assert gone.status is Status.ERRORED
    assert gone.failure == "worker lost 2 times"


def test_a_run_taken_over_by_a_newer_attempt_never_publishes(
    backend: DuckDBBackend, tmp_path: Path
) -> None:
    """A worker taken for dead but still running loses to the run that replaced it."""
    tenant = build_tenant(7)
    sizes = DemoSizes(issues=300, usage=10, pr_checks=10, projects=40, integrations=4)
    backend.load_batches("issues", generate("issues", tenant, sizes, now=NOW))
    export = pending(tenant.group_id, NOW, "z")
    backend.insert_export(export)
    root = tmp_path / "results"
    executor = executor_for(backend, root)
    original = backend.stream_export

    def overtaken(job: Export, batch_rows: int) -> object:
        # While the first run streams, a second run takes the job over and
        # finishes it: the first run's final write must then lose.
        if job.attempts == 1:
            executor.run(job.id)
        return original(job, batch_rows)

    backend.stream_export = overtaken  # type: ignore[method-assign]
    executor.run(export.id)

    done = backend.get_export(export.id)
    assert done is not None
    assert done.status is Status.FINISHED
    assert done.attempts == 2
    assert [p.name for p in (root / export.id).iterdir()] == ["2"]
    published = sorted(p.name for p in (root / export.id / "2").iterdir())
    assert published == [part.name for part in done.parts]


def test_sweep_removes_expired_exports_and_orphaned_files(
    backend: DuckDBBackend, tmp_path: Path
) -> None:
    root = tmp_path / "results"
    storage = LocalStorage(root, SigningKeys(b"k" * 32), "http://test")
    sweeper = Sweeper(backend, storage, retention_seconds=60)
    old = (
        pending("g1", NOW - dt.timedelta(hours=1), "old")
        .start(NOW)
        .finish(NOW - dt.timedelta(minutes=2), ())
    )
    fresh = (
        pending("g1", NOW, "new")
        .start(NOW)
        .restart(NOW)
        .finish(dt.datetime.now(dt.UTC), ())
    )
    running = pending("g1", NOW, "run").start(NOW).restart(NOW)
    for export in (old, fresh, running):
        backend.insert_export(export)
        for attempt in (1, 2):
            (root / export.id / str(attempt)).mkdir(parents=True, exist_ok=True)
    (root / "orphan" / "1").mkdir(parents=True)

    assert sweeper.sweep() == 1
    assert backend.get_export(old.id) is None
    assert backend.get_export(fresh.id) is not None
    assert sorted(p.name for p in root.iterdir()) == sorted([fresh.id, running.id])
    assert [p.name for p in (root / fresh.id).iterdir()] == ["2"]
    assert [p.name for p in (root / running.id).iterdir()] == ["2"]
