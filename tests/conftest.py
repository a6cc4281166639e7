"""Shared fixtures: real servers on random local ports, with real data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from liveserver import LiveServer, in_ci, start_live_server

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the whole session, limits relaxed for test traffic."""
    server = start_live_server(
        tmp_path_factory.mktemp("live"),
        export_post_limit="none",
        request_limit="none",
        max_rows_per_file=1000,
    )
    yield server
    server.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    """Start servers with particular settings; stopped after the test."""
    started: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        directory = tmp_path / f"server{len(started)}"
        server = start_live_server(directory, **overrides)
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


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections see only a fresh schema, dropped after the test."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"'.encode())
    separator = "&" if "?" in postgres_server else "?"
    options = quote(f"-csearch_path={schema}", safe="")
    yield f"{postgres_server}{separator}options={options}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE'.encode())
