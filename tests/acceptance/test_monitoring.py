"""What an operator sees: health, readiness, Prometheus metrics and JSON logs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

import liveserver
from exporting import EVER, VERSION, body, export
from liveserver import LiveServer
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.config import Settings
from snyk_export.errors import Unavailable

SNYK_DOCUMENT = (
    Path(__file__).parents[3] / "shared" / "spec" / "snyk-export-openapi.yml"
)
COMMAND = [sys.executable, "-m", "snyk_export"]

ServerFactory = Callable[..., LiveServer]


class SwitchableDatabase(DuckDBBackend):
    """The real backend, whose ping fails while ``down`` is set."""

    down = False

    def ping(self) -> None:
        if self.down:
            raise Unavailable("the database is unreachable")
        super().ping()


@pytest.fixture
def switchable_server(
    server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> LiveServer:
    def open_switchable(settings: Settings) -> DuckDBBackend:
        backend = SwitchableDatabase(settings.database_path)
        backend.migrate()
        return backend

    monkeypatch.setattr(liveserver, "open_backend", open_switchable)
    return server_factory()


def validate_error_document(document: Any) -> None:
    snyk: dict[str, Any] = yaml.safe_load(SNYK_DOCUMENT.read_text("utf-8"))
    schema = {**snyk["components"]["schemas"]["ErrorDocument"]}
    schema["components"] = snyk["components"]
    jsonschema.Draft4Validator(schema).validate(document)


def scrape(server: LiveServer) -> dict[str, list[dict[str, str]]]:
    """Label sets of every sample, by sample name."""
    response = httpx.get(server.origin + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample.labels)
    return found


def test_liveness_and_readiness_answer_without_credentials(
    server_factory: ServerFactory,
) -> None:
    server = server_factory()

    alive = httpx.get(server.origin + "/healthz")
    ready = httpx.get(server.origin + "/readyz")

    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "storage": "ok"},
    }
    for response in (alive, ready):
        assert len(response.headers["snyk-request-id"]) == 36


def test_health_lives_outside_the_api_base_path(server_factory: ServerFactory) -> None:
    server = server_factory()

    response = server.client("group").get("/healthz")

    assert response.status_code == 404
    validate_error_document(response.json())


@pytest.mark.embedded_only("swaps in a DuckDB backend whose ping can be made to fail")
def test_readiness_fails_with_an_error_document_while_the_database_is_down(
    switchable_server: LiveServer,
) -> None:
    backend = switchable_server.backend
    assert isinstance(backend, SwitchableDatabase)

    backend.down = True
    down = httpx.get(switchable_server.origin + "/readyz")
    backend.down = False
    back = httpx.get(switchable_server.origin + "/readyz")

    assert down.status_code == 503
    assert down.headers["content-type"].startswith("application/vnd.api+json")
    assert int(down.headers["retry-after"]) > 0
    assert len(down.headers["snyk-request-id"]) == 36
    validate_error_document(down.json())
    assert down.json()["errors"][0]["detail"] == "not ready: database failed"
    assert httpx.get(switchable_server.origin + "/healthz").status_code == 200
    assert back.status_code == 200


def test_metrics_count_requests_by_route_template_without_ids(
    server_factory: ServerFactory,
) -> None:
    server = server_factory()
    group = server.tenant.group_id
    org = server.tenant.orgs[0].id
    client = server.client("group")
    result = export(
        client, "groups", group, body("issues", ["SCORE"], {"updated": EVER})
    )
    client.get(f"/orgs/{org}", params={"version": VERSION})
    client.get("/no/such/path")
    httpx.get(result.attributes["results"][0]["url"])

    found = scrape(server)

    routes = {
        (labels["method"], labels["route"], labels["status"])
        for labels in found["snyk_export_http_requests_total"]
    }
    assert ("POST", "/rest/groups/{group_id}/export", "202") in routes
    assert ("GET", "/rest/groups/{group_id}/jobs/export/{export_id}", "200") in routes
    assert ("GET", "/rest/orgs/{org_id}", "200") in routes
    assert ("GET", "/dl/{export_id}/{name}", "200") in routes
    assert ("GET", "unmatched", "404") in routes
    values = {
        value
        for labels in found.values()
        for label in labels
        for value in label.values()
    }
    for identifier in (group, org, result.export_id):
        assert not any(identifier in value for value in values)
    assert {"status": "FINISHED"} in found["snyk_export_exports"]
    assert "snyk_export_queue_depth" in found


def test_metrics_can_be_turned_off(server_factory: ServerFactory) -> None:
    server = server_factory(metrics=False)

    response = httpx.get(server.origin + "/metrics")

    assert response.status_code == 404
    validate_error_document(response.json())
    assert httpx.get(server.origin + "/healthz").status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _json_lines(stderr: str) -> list[dict[str, Any]]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def _cli(*args: str, data_dir: Path) -> list[str]:
    return [*COMMAND, *args, "--data-dir", str(data_dir)]


SMALL_DEMO = ("--issues", "300", "--usage", "50", "--pr-checks", "50")


@pytest.fixture
def json_env() -> dict[str, str]:
    return {**os.environ, "SNYK_EXPORT_LOG_FORMAT": "json"}


def test_cli_logs_one_json_object_per_line(
    tmp_path: Path, json_env: dict[str, str]
) -> None:
    command = _cli("demo", "--json", "--no-serve", *SMALL_DEMO, data_dir=tmp_path)

    result = subprocess.run(
        command, env=json_env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    entries = _json_lines(result.stderr)
    assert entries
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any(e.get("action") == "demo_generated" for e in entries)


@pytest.fixture
def served_demo(tmp_path: Path, json_env: dict[str, str]) -> Iterator[Any]:
    """A demo served by a separate ``snyk-export`` process logging JSON."""
    port = _free_port()
    command = _cli(
        "demo", "--json", "--port", str(port), *SMALL_DEMO, data_dir=tmp_path
    )
    process = subprocess.Popen(
        command, env=json_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    info = json.loads(process.stdout.readline())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield process, info
    if process.poll() is None:
        process.terminate()
        process.wait(30)


def test_served_requests_log_json_without_tokens_or_signatures(
    served_demo: Any,
) -> None:
    process, info = served_demo
    api, token, group = info["base_url"], info["tokens"]["group"], info["group_id"]
    headers = {"Authorization": f"token {token}"}
    params = {"version": info["version"]}
    httpx.get(f"{api}/self", headers=headers, params=params)
    httpx.get(f"{api}/groups/{group}/orgs", headers=headers, params=params)
    origin = api.removesuffix("/rest")
    httpx.get(f"{origin}/dl/{group}/data.csv?expires=1&sig={'ab' * 32}")

    process.terminate()
    _, stderr = process.communicate(timeout=30)

    entries = _json_lines(stderr)
    requests = [e for e in entries if e.get("action") == "request"]
    assert len(requests) >= 3
    assert all(len(e["request_id"]) == 36 for e in requests)
    for secret in (token, "ab" * 32):
        assert secret not in stderr
    assert "authorization" not in stderr.lower()
