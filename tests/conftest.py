"""Shared fixtures: real servers on random local ports, with real data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from liveserver import LiveServer, start_live_server


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="Run the long variants.")


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="long variant; run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


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
