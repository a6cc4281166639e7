"""The server under load: many clients polling and starting exports at once.

The load is ``bench/load_test.py``'s own (:func:`run_load`: its clients, tallies
and report), run against a server started here, in this process, with the
request and export creation limits off: once in the embedded configuration
(DuckDB, worker threads, files) and once in production's (PostgreSQL,
Procrastinate with an embedded worker, S3; skipped without PostgreSQL). By
default each run is short, 8 clients for 6 seconds;
``SNYK_EXPORT_LONG_TESTS=1`` runs 50 clients for 60 seconds.

Nothing is timed: the machine is shared and noisy. What must hold is that no
request fails (no 5xx, no 4xx, no dropped connection), every export started
under load reaches FINISHED (exports queue, they do not fail), and memory grows
by a bounded amount. ``pytest -s`` prints the latency and request rate.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil
import pytest

from liveserver import LiveServer

LONG = os.environ.get("SNYK_EXPORT_LONG_TESTS") == "1"
CLIENTS, SECONDS = (50, 60.0) if LONG else (8, 6.0)
MAX_RSS_GROWTH_BYTES = 300 * 2**20


def _bench_module(name: str) -> ModuleType:
    """A module of ``bench/``, which is a directory of scripts, not a package."""
    path = Path(__file__).parents[2] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


load_test = _bench_module("load_test")


@pytest.fixture
def server(server_factory: Any) -> LiveServer:
    """A server of its own, limits off, in each layout (see server_factory)."""
    server: LiveServer = server_factory(export_post_limit="none", request_limit="none")
    return server


def test_under_load_no_request_fails_and_every_export_finishes(
    server: LiveServer,
) -> None:
    target = load_test.Target(
        server.api, server.tokens["group"], server.tenant.group_id
    )
    process = psutil.Process()
    rss_before = process.memory_info().rss

    result = load_test.run_load(
        target, clients=CLIENTS, seconds=SECONDS, server_pid=os.getpid()
    )

    rss_after = process.memory_info().rss
    print(f"\n{result.report()}")
    print(f"RSS of this process {rss_before / 2**20:.0f} -> {rss_after / 2**20:.0f} MB")
    assert result.server_errors == 0, result.outcomes
    assert result.transport_errors == 0, result.outcomes
    assert result.failures == Counter(), result.outcomes  # no 429 with limits off
    assert result.started, "no export was started under load"
    assert result.states == Counter({"FINISHED": len(result.started)})
    assert rss_after < rss_before + MAX_RSS_GROWTH_BYTES
