"""The PostgreSQL backend on a real server, each test in a schema of its own.

The same Backend behaviour as the DuckDB tests, plus what only a shared
database has to get right: migrations and the creation limit under
concurrency, and snapshot isolation while streaming. The records themselves
are compared with the embedded engine's in ``test_postgres_rendering``.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from jobrecords import NOW, definition, pending, records_of
from snyk_export.backends.base import Credential, Group, Org, RoleBinding
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.backends.postgres_schema import MIGRATIONS
from snyk_export.catalog import datasets
from snyk_export.demo_data import DemoSizes, build_tenant, generate
from snyk_export.errors import ConfigurationError, Throttled
from snyk_export.executor import ExportExecutor
from snyk_export.jobs import Export, Status
from snyk_export.parts import PartLimits
from snyk_export.ratelimit import SharedWindowLimiter
from snyk_export.signing import SigningKeys
from snyk_export.storage.local import LocalStorage

SIZES = DemoSizes(issues=600, usage=200, pr_checks=150, projects=40, integrations=4)


@pytest.fixture
def backend(postgres_url: str) -> Iterator[PostgresBackend]:
    db = PostgresBackend(postgres_url, max_connections=4)
    db.migrate()
    yield db
    db.close()


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        cursor = connection.execute(sql.encode())
        return cursor.fetchall() if cursor.description else []


# Migrations


def test_migrating_twice_applies_each_step_once(postgres_url: str) -> None:
    for _ in range(2):
        db = PostgresBackend(postgres_url, max_connections=1)
        db.migrate()
        db.close()

    versions = query(postgres_url, "SELECT version FROM schema_version ORDER BY 1")
    assert versions == [(m.version,) for m in MIGRATIONS]


def test_replicas_migrating_at_once_agree_on_one_schema(postgres_url: str) -> None:
    barrier = threading.Barrier(4)

    def start_replica() -> None:
        db = PostgresBackend(postgres_url, max_connections=1)
        barrier.wait()
        try:
            db.migrate()
        finally:
            db.close()

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(start_replica) for _ in range(4)]:
            future.result()

    versions = query(postgres_url, "SELECT version FROM schema_version ORDER BY 1")
    assert versions == [(m.version,) for m in MIGRATIONS]
    tables = {row[0] for row in query(postgres_url, "SELECT tablename FROM pg_tables")}
    assert set(datasets()) | {"exports", "credentials", "orgs"} <= tables


def test_a_catalog_column_missing_from_the_table_is_added(postgres_url: str) -> None:
    db = PostgresBackend(postgres_url, max_connections=1)
    db.migrate()
    query(postgres_url, 'ALTER TABLE usage DROP COLUMN "INTERACTION_EXIT_CODE"')

    db.migrate()
    db.close()

    columns = query(
        postgres_url,
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'usage' "
        "AND table_schema = current_schema() "
        "AND column_name = 'INTERACTION_EXIT_CODE'",
    )
    assert columns == [("bigint",)]


def test_an_unreachable_database_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"postgres:\*\*\*@127\.0\.0\.1:1/"):
        PostgresBackend("postgresql://postgres:secret@127.0.0.1:1/test")


# Tenancy, credentials and jobs


def test_state_survives_reopening(postgres_url: str) -> None:
    first = PostgresBackend(postgres_url, max_connections=2)
    first.migrate()
    first.create_group(Group("g1", "Group", "group"))
    first.create_org(Org("o1", "Org", "org", "g1"))
    first.create_org(Org("o2", "Alone", "alone", None))
    credential = Credential(
        "k1",
        "ci",
        NOW,
        NOW + dt.timedelta(days=1),
        None,
        (
            RoleBinding("group", "g1", "group_viewer"),
            RoleBinding("org", "o1", "org_admin"),
        ),
    )
    first.create_credential(credential, "hash-1")
    first.create_credential(Credential("k2", "bare", NOW, None, None, ()), "hash-2")
    first.insert_export(pending("g1"))
    first.close()

    second = PostgresBackend(postgres_url, max_connections=2)
    second.migrate()
    assert second.get_org("o1") == Org("o1", "Org", "org", "g1")
    assert second.get_group("g1") == Group("g1", "Group", "group")
    assert second.get_group("nope") is None
    assert [o.id for o in second.list_orgs()] == ["o2", "o1"]
    assert [o.id for o in second.list_orgs("g1")] == ["o1"]
    assert second.find_credential("hash-1") == credential
    assert second.find_credential("hash-2") == Credential(
        "k2", "bare", NOW, None, None, ()
    )
    assert [c.id for c in second.list_credentials()] == ["k1", "k2"]
    assert [e.status for e in second.list_exports()] == [Status.PENDING]
    second.close()


def test_revoking_works_once(backend: PostgresBackend) -> None:
    backend.create_credential(Credential("k1", "ci", NOW, None, None, ()), "h")

    assert backend.revoke_credential("k1", NOW)
    assert not backend.revoke_credential("k1", NOW)
    assert not backend.revoke_credential("missing", NOW)
    revoked = backend.find_credential("h")
    assert revoked is not None
    assert revoked.revoked_at == NOW
    assert not revoked.usable(NOW)


def test_a_second_job_runner_on_one_database_is_refused(
    backend: PostgresBackend, postgres_url: str
) -> None:
    other = PostgresBackend(postgres_url, max_connections=1)
    backend.claim_job_runner()
    with pytest.raises(ConfigurationError, match="one serve process per database"):
        other.claim_job_runner()
    backend.close()
    other.claim_job_runner()
    other.close()


def test_only_one_of_two_replicas_claims_a_job(
    backend: PostgresBackend, postgres_url: str
) -> None:
    other = PostgresBackend(postgres_url, max_connections=1)
    export = pending("g1")
    backend.insert_export(export)

    claims = [db.replace_export(export.start(NOW), export) for db in (backend, other)]
    other.close()

    assert claims == [True, False]


def test_creation_limit_counts_per_credential_and_scope(
    backend: PostgresBackend,
) -> None:
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


def test_creation_limit_never_over_admits_across_replicas(
    backend: PostgresBackend, postgres_url: str
) -> None:
    replica = PostgresBackend(postgres_url, max_connections=4)
    barrier = threading.Barrier(16)

    def attempt(index: int) -> float | None:
        db = (backend, replica)[index % 2]
        barrier.wait()
        created = NOW + dt.timedelta(milliseconds=index)
        return db.create_export_within_limit(pending("g1", created), 5, 3600)

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    replica.close()

    assert outcomes.count(None) == 5
    assert len(backend.list_exports()) == 5
    assert all(wait is None or wait > 3500 for wait in outcomes)


# Analytics


def test_loaded_rows_stream_as_rendered_records(backend: PostgresBackend) -> None:
    tenant = build_tenant(7)
    loaded = backend.load_batches("issues", generate("issues", tenant, SIZES, now=NOW))
    assert loaded == backend.count_rows("issues") == SIZES.issues

    export = pending(tenant.group_id).start(NOW)
    records = records_of(backend, export, 64)

    visible = backend._fetchall(
        'SELECT count(*) FROM issues WHERE "ISSUE_DELETED_AT" IS NULL AND '
        '"PROJECT_DELETED_AT" IS NULL AND "GROUP_DELETED_AT" IS NULL AND '
        '"PROJECT_IS_MONITORED" IS NOT FALSE'
    )[0][0]
    assert 0 < len(records) == visible
    assert all(r.startswith('"') and r.endswith('"\n') for r in records)


def test_records_come_in_natural_key_order(backend: PostgresBackend) -> None:
    tenant = build_tenant(7)
    backend.load_batches("issues", generate("issues", tenant, SIZES, now=NOW))
    key = ("PROJECT_PUBLIC_ID", "PROBLEM_ID", "ASSET_FINDING_ID")
    export = Export(
        str(uuid.uuid4()),
        definition(tenant.group_id, columns=key),
        Status.PENDING,
        NOW,
        "c1",
    ).start(NOW)

    records = records_of(backend, export)

    assert len(records) > 100
    assert records == sorted(records, key=lambda r: r.encode())


def test_an_export_reads_one_snapshot_while_rows_arrive(
    backend: PostgresBackend,
) -> None:
    tenant = build_tenant(7)
    backend.load_batches("issues", generate("issues", tenant, SIZES, now=NOW))
    export = pending(tenant.group_id).start(NOW)
    stream = iter(backend.stream_export(export, 10))
    first = next(stream)

    backend.load_batches("issues", generate("issues", tenant, SIZES, now=NOW))
    rest = [r.as_py() for batch in stream for r in batch]

    assert len(first) + len(rest) == len(records_of(backend, export)) // 2


def test_jobs_run_to_finished_parts_on_postgres(
    backend: PostgresBackend, tmp_path: Path
) -> None:
    tenant = build_tenant(7)
    backend.load_batches("issues", generate("issues", tenant, SIZES, now=NOW))
    storage = LocalStorage(tmp_path, SigningKeys(b"k" * 32), "http://test")
    executor = ExportExecutor(
        backend,
        storage,
        limits=PartLimits(100, 1 << 20),
        empty_export_file=False,
        max_attempts=2,
    )
    export = pending(tenant.group_id)
    backend.insert_export(export)

    executor.run(export.id)

    done = backend.get_export(export.id)
    assert done is not None
    assert done.status is Status.FINISHED
    assert done.row_count == len(records_of(backend, done)) > 100
    assert len(done.parts) == -(-done.row_count // 100)


def test_the_shared_request_limit_counts_across_limiters_and_refusals_are_free(
    backend: PostgresBackend, postgres_url: str
) -> None:
    other = PostgresBackend(postgres_url, max_connections=2)
    first = SharedWindowLimiter(backend, 3, 3600)
    second = SharedWindowLimiter(other, 3, 3600)

    for limiter in (first, second, first):
        limiter.hit("credential-a")
    for limiter in (second, first):
        with pytest.raises(Throttled) as refused:
            limiter.hit("credential-a")
        assert 1 <= int(refused.value.headers["retry-after"]) <= 3600
    second.hit("credential-b")  # another key has its own count

    counts = backend._fetchall(
        "SELECT key, sum(hits) FROM request_counts GROUP BY key ORDER BY key"
    )
    other.close()
    assert counts == [("credential-a", 3), ("credential-b", 1)]


def test_replicas_share_one_download_link_key(
    backend: PostgresBackend, postgres_url: str
) -> None:
    other = PostgresBackend(postgres_url, max_connections=1)
    keys = {backend.signing_key(), other.signing_key(), backend.signing_key()}
    other.close()
    assert len(keys) == 1
    assert len(bytes.fromhex(keys.pop())) == 32


def test_migrations_install_the_queue_schema_once(
    backend: PostgresBackend, postgres_url: str
) -> None:
    backend.migrate()
    PostgresBackend(postgres_url, max_connections=1).migrate()
    versions = backend._fetchall("SELECT procrastinate_version FROM queue_schema")
    (jobs,) = backend._fetchall("SELECT to_regclass('procrastinate_jobs')")[0]
    assert len(versions) == 1
    assert jobs == "procrastinate_jobs"
