"""Shared fixtures: real servers on random local ports, with real data."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from liveserver import LiveServer, Production, in_ci, start_live_server
from s3fixtures import s3_bucket, s3_server  # noqa: F401 - fixtures for every test
from s3server import S3Server

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Leave out the production case of tests marked ``embedded_only``."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        layout = callspec.params.get("server_factory") if callspec else None
        if layout == "production" and item.get_closest_marker("embedded_only"):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def production_state(
    request: pytest.FixtureRequest, stack: contextlib.ExitStack
) -> Production:
    """A PostgreSQL schema and an S3 bucket of their own, until ``stack`` closes;
    the AWS settings of the process point at the test S3 server meanwhile."""
    server_url = request.getfixturevalue("postgres_server")
    s3: S3Server = request.getfixturevalue("s3_server")
    patch = stack.enter_context(pytest.MonkeyPatch.context())
    for name, value in s3.environment().items():
        patch.setenv(name, value)
    return Production(
        database_url=stack.enter_context(fresh_schema(server_url)),
        storage_url=f"s3://{s3.create_bucket()}/exports",
    )


@pytest.fixture(scope="session", params=["embedded", "production"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per configuration for the whole session, limits relaxed.

    ``embedded`` is the one-process default (DuckDB, worker threads, files);
    ``production`` is a replica on PostgreSQL with a Procrastinate worker and
    results in S3 (moto's server, see s3server).
    """
    with contextlib.ExitStack() as stack:
        production = None
        if request.param == "production":
            production = production_state(request, stack)
        server = start_live_server(
            tmp_path_factory.mktemp(f"live-{request.param}"),
            production=production,
            export_post_limit="none",
            request_limit="none",
            max_rows_per_file=1000,
        )
        yield server
        server.stop()


@pytest.fixture(params=["embedded", "production"])
def server_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Start servers with particular settings, in each layout; stopped after.

    A test that only makes sense in one layout says so with
    ``@pytest.mark.embedded_only("why")``; its production case is deselected.
    """
    started: list[LiveServer] = []
    with contextlib.ExitStack() as stack:

        def start(**overrides: Any) -> LiveServer:
            production = None
            if request.param == "production":
                production = production_state(request, stack)
            directory = tmp_path / f"server{len(started)}"
            server = start_live_server(directory, production=production, **overrides)
            started.append(server)
            return server

        yield start
        for server in started:
            server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The test PostgreSQL server's URL; skips when it is down, fails in CI."""
    url = os.environ.get("SNYK_EXPORT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is unreachable at {url}: {exc}".strip()
        if in_ci():
            pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)")
        pytest.skip(f"{reason}; set SNYK_EXPORT_TEST_POSTGRES_URL to use another")
    return url


@contextlib.contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
    """A URL whose connections see only a new schema, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"'.encode())
    separator = "&" if "?" in server_url else "?"
    options = quote(f"-csearch_path={schema}", safe="")
    try:
        yield f"{server_url}{separator}options={options}"
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE'.encode())


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections see only a fresh schema, dropped after the test."""
    with fresh_schema(postgres_server) as url:
        yield url
