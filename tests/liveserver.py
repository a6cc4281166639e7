"""A real server on a random local port, with real data and tokens, for tests."""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from snyk_export.backends.base import Backend, Group, Org
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.catalog import datasets
from snyk_export.config import load_settings
from snyk_export.demo_data import DemoSizes, DemoTenant, build_tenant, generate
from snyk_export.server import Service, assemble, open_backend
from snyk_export.tenancy import create_group, create_org, create_token

VERSION = "2024-10-15"
AS_OF = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
SMALL = DemoSizes(issues=3000, usage=1500, pr_checks=800, projects=120, integrations=8)


@dataclass
class LiveServer:
    """A server running in this process on a random port, with its tenant."""

    origin: str
    service: Service
    tenant: DemoTenant
    tokens: dict[str, str]
    other_org_id: str
    other_group_id: str
    _server: uvicorn.Server
    _thread: threading.Thread
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def api(self) -> str:
        return self.origin + self.service.settings.base_path

    @property
    def backend(self) -> DuckDBBackend:
        return self.service.backend

    def client(self, token: str | None = "group", **kwargs: Any) -> httpx.Client:
        """A client of the API, authenticated with one of the fixture's tokens."""
        headers = {}
        if token is not None:
            headers["Authorization"] = f"token {self.tokens.get(token, token)}"
        client = httpx.Client(base_url=self.api, headers=headers, timeout=30, **kwargs)
        self.clients.append(client)
        return client

    oracle: DuckDBBackend | None = None

    @property
    def production(self) -> bool:
        return self.oracle is not None

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows straight from the stored data, for comparison, in export order.

        In production mode the analytics tables are also loaded into a DuckDB
        oracle from the same seed, so tests can keep one SQL dialect; rows of a
        dataset come in the order PostgreSQL exports them, by natural key.
        Other tables (exports, credentials) are read from the server's own
        database.
        """
        if self.oracle is None:
            return self.backend._fetchall(sql, params)
        table = _DATASET_QUERY.match(sql)
        if table is None:
            return self.service.backend._fetchall(sql.replace("?", "%s"), params)
        if not _UNORDERED.search(sql):
            keys = datasets()[table.group(1)].order_by
            sql += " ORDER BY " + ", ".join(f'"{key}"' for key in keys)
        return self.oracle._fetchall(sql, params)

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self._server.should_exit = True
        self._thread.join(10)
        self.service.close()
        if self.oracle is not None:
            self.oracle.close()


_DATASET_NAMES = "|".join(datasets())
_DATASET_QUERY = re.compile(rf'^\s*SELECT .*? FROM "?({_DATASET_NAMES})"?(\s|$)', re.S)
# Queries whose rows have no export order to follow.
_UNORDERED = re.compile(r"count\(|\bLIMIT\b|\bORDER BY\b|\bGROUP BY\b|DISTINCT", re.I)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def seed_data(backend: Backend, sizes: DemoSizes, seed: int = 7) -> DemoTenant:
    tenant = build_tenant(seed)
    backend.create_group(Group(tenant.group_id, tenant.group_name, tenant.group_slug))
    for org in tenant.orgs:
        backend.create_org(Org(org.id, org.name, org.slug, tenant.group_id))
    for name in datasets():
        backend.load_batches(name, generate(name, tenant, sizes, seed=seed, now=AS_OF))
    return tenant


def seed_tokens(
    backend: Backend, tenant: DemoTenant
) -> tuple[dict[str, str], str, str]:
    other_group = create_group(backend, "Elsewhere")
    other_org = create_org(backend, "Elsewhere Org", other_group.id)
    lone_org = create_org(backend, "Lone Org", None)
    org0 = tenant.orgs[0].id
    roles = {
        "group": [f"group_viewer:{tenant.group_id}"],
        "group_admin": [f"group_admin:{tenant.group_id}"],
        "group_member": [f"group_member:{tenant.group_id}"],
        "org": [f"org_collaborator:{org0}"],
        "org_member": [f"org_member:{org0}"],
        "other": [f"group_viewer:{other_group.id}"],
        "lone": [f"org_admin:{lone_org.id}"],
    }
    tokens = {
        name: create_token(backend, name, bindings)[1]
        for name, bindings in roles.items()
    }
    _expired, tokens["expired"] = create_token(
        backend, "expired", roles["group"], expires_in=dt.timedelta(microseconds=1)
    )
    revoked, tokens["revoked"] = create_token(backend, "revoked", roles["group"])
    backend.revoke_credential(revoked.id, dt.datetime.now(dt.UTC))
    return tokens, other_org.id, other_group.id


@dataclass(frozen=True)
class Production:
    """Where a production-mode test server keeps its state."""

    database_url: str  # a PostgreSQL schema of its own
    storage_url: str  # an S3 bucket on the test server (s3server)


def start_live_server(
    data_dir: Path,
    sizes: DemoSizes = SMALL,
    production: Production | None = None,
    **overrides: Any,
) -> LiveServer:
    """Start a real server on 127.0.0.1 with seeded data and tokens.

    With ``production``, the server runs as a replica would: PostgreSQL,
    Procrastinate (a worker inside the process) and S3.
    """
    sock = _free_socket()
    port = sock.getsockname()[1]
    defaults: dict[str, Any] = {
        "data_dir": data_dir,
        "port": port,
        "public_base_url": f"http://127.0.0.1:{port}",
        "sweep_interval_seconds": 1,
    }
    if production is not None:
        defaults |= {
            "database_url": production.database_url,
            "storage_url": production.storage_url,
            "job_queue": "procrastinate",
            "embedded_worker": True,
            "heartbeat_seconds": 1,
            "stalled_worker_seconds": 5,
        }
    settings = load_settings({**defaults, **overrides}, environ={})
    backend = open_backend(settings)
    tenant = seed_data(backend, sizes)
    oracle = None
    if production is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        oracle = DuckDBBackend(data_dir / "oracle.duckdb")
        oracle.migrate()
        seed_data(oracle, sizes)
    tokens, other_org, other_group = seed_tokens(backend, tenant)
    service = assemble(settings, backend)
    service.start()
    config = uvicorn.Config(
        service.app, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    return LiveServer(
        f"http://127.0.0.1:{port}",
        service,
        tenant,
        tokens,
        other_org,
        other_group,
        server,
        thread,
        oracle=oracle,
    )


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"
