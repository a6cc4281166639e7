"""Metrics, route templates, readiness and JSON log lines, without a server."""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

import anyio
import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from snyk_export.app import QueryRedactingFilter
from snyk_export.observability import (
    JsonFormatter,
    Metrics,
    MetricsMiddleware,
    health_routes,
)


def _record(message: str, *args: Any, **extra: Any) -> logging.LogRecord:
    record = logging.getLogger("snyk_export.test").makeRecord(
        "snyk_export.test", logging.INFO, __file__, 1, message, args, None
    )
    record.__dict__.update(extra)
    return record


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def call(app: ASGIApp, method: str, path: str) -> httpx.Response:
    """One request straight into ``app``, answered even if the app raises."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.request(method, path)

    return anyio.run(send)


def test_json_lines_carry_time_level_logger_message_and_extras() -> None:
    record = _record(
        "Export %s\nfinished", "e1", action="export_finished", export_id="e1"
    )

    line = JsonFormatter().format(record)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "snyk_export.test"
    assert entry["message"] == "Export e1\nfinished"
    assert entry["action"] == "export_finished"
    assert entry["export_id"] == "e1"
    assert entry["time"].endswith("Z")
    assert "T" in entry["time"]
    assert not {"args", "msg", "levelno", "exc_info"} & set(entry)


def test_json_lines_render_exceptions_as_text() -> None:
    try:
        raise ValueError("broken part")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "Failed", (), sys.exc_info()
        )

    entry = json.loads(JsonFormatter().format(record))

    assert "Traceback" in entry["exception"]
    assert "ValueError: broken part" in entry["exception"]


def test_json_lines_survive_values_json_cannot_encode() -> None:
    record = _record("Odd", action="odd", when=object(), text="line\u2028separator")

    line = JsonFormatter().format(record)

    assert len(line.splitlines()) == 1
    assert json.loads(line)["when"].startswith("<object object")


def test_json_access_lines_lose_their_query_strings() -> None:
    record = logging.makeLogRecord(
        {
            "name": "uvicorn.access",
            "msg": '%s - "%s %s HTTP/%s" %d',
            "args": (
                "127.0.0.1:5",
                "GET",
                "/dl/e/a.csv?expires=9&sig=f00d",
                "1.1",
                200,
            ),
        }
    )

    QueryRedactingFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == '127.0.0.1:5 - "GET /dl/e/a.csv HTTP/1.1" 200'
    assert "f00d" not in json.dumps(entry)


def test_request_and_export_metrics_are_rendered() -> None:
    metrics = Metrics()

    metrics.request_answered("GET", "/rest/self", 200, 0.01)
    metrics.request_answered("BREW", "/rest/self", 405, 0.01)
    metrics.export_finished("issues", 12.5, rows=1000, bytes_written=65536)
    metrics.export_errored("usage")
    found = samples(metrics)

    requests = "snyk_export_http_requests_total"
    assert found[requests, labels(method="GET", route="/rest/self", status="200")] == 1
    assert (
        found[requests, labels(method="OTHER", route="/rest/self", status="405")] == 1
    )
    duration = "snyk_export_http_request_duration_seconds_count"
    assert found[duration, labels(method="GET", route="/rest/self")] == 1
    exports = "snyk_export_exports_total"
    assert found[exports, labels(dataset="issues", status="FINISHED")] == 1
    assert found[exports, labels(dataset="usage", status="ERRORED")] == 1
    assert found["snyk_export_export_rows_total", labels(dataset="issues")] == 1000
    assert found["snyk_export_export_bytes_total", labels(dataset="issues")] == 65536
    bucket = labels(dataset="issues", le="30.0")
    assert found["snyk_export_export_duration_seconds_bucket", bucket] == 1


def test_each_metrics_object_keeps_its_own_registry() -> None:
    first, second = Metrics(), Metrics()

    first.export_errored("issues")

    key = ("snyk_export_exports_total", labels(dataset="issues", status="ERRORED"))
    assert samples(first)[key] == 1
    assert key not in samples(second)


def test_stored_exports_are_read_at_scrape_time() -> None:
    counts = {"PENDING": 3, "FINISHED": 7}
    metrics = Metrics(export_counts=lambda: counts)

    found = samples(metrics)
    counts["PENDING"] = 1
    again = samples(metrics)

    assert found["snyk_export_exports", labels(status="PENDING")] == 3
    assert found["snyk_export_exports", labels(status="FINISHED")] == 7
    assert found["snyk_export_exports", labels(status="STARTED")] == 0
    assert found["snyk_export_queue_depth", labels()] == 3
    assert again["snyk_export_queue_depth", labels()] == 1


def test_failing_sources_drop_their_gauges_but_not_the_scrape() -> None:
    def unreachable() -> dict[str, int]:
        raise ConnectionError("database is down")

    metrics = Metrics(export_counts=unreachable)
    metrics.export_errored("issues")

    found = samples(metrics)

    names = {name for name, _ in found}
    assert "snyk_export_exports" not in names
    assert "snyk_export_queue_depth" not in names
    assert "snyk_export_exports_total" in names


def test_queue_depth_source_is_independent_of_export_counts() -> None:
    def unreachable() -> dict[str, int]:
        raise ConnectionError("database is down")

    metrics = Metrics(export_counts=unreachable, queue_depth=lambda: 4)

    assert samples(metrics)["snyk_export_queue_depth", labels()] == 4


async def hello(request: Request) -> Response:
    return PlainTextResponse("hello")


async def broken(request: Request) -> Response:
    raise RuntimeError("boom")


def _routes(metrics: Metrics) -> set[tuple[str, str, str]]:
    return {
        (dict(key)["method"], dict(key)["route"], dict(key)["status"])
        for name, key in samples(metrics)
        if name == "snyk_export_http_requests_total"
    }


def test_requests_are_labelled_with_route_templates() -> None:
    metrics = Metrics()
    api = [Route("/orgs/{org_id}/export/{export_id}", hello), Route("/broken", broken)]
    app = MetricsMiddleware(
        Starlette(
            routes=[
                Mount("/rest", routes=api),
                Route("/dl/{export_id}/{name}", hello),
            ]
        ),
        metrics,
    )

    call(app, "GET", "/rest/orgs/0d5e5c4a-1111-4a4a-9a9a-000000000001/export/e-42")
    call(app, "GET", "/dl/e-42/data_0.csv?sig=secret")
    call(app, "POST", "/rest/orgs/o-1/export/e-1")
    call(app, "GET", "/rest/nothing/here")
    call(app, "GET", "/elsewhere")
    call(app, "GET", "/rest/broken")

    assert _routes(metrics) == {
        ("GET", "/rest/orgs/{org_id}/export/{export_id}", "200"),
        ("GET", "/dl/{export_id}/{name}", "200"),
        ("POST", "/rest/orgs/{org_id}/export/{export_id}", "405"),
        ("GET", "unmatched", "404"),
        ("GET", "/rest/broken", "500"),
    }


def test_readiness_answers_200_when_every_check_passes() -> None:
    app = Starlette(routes=health_routes({"database": lambda: None}))

    response = call(app, "GET", "/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


def test_readiness_answers_503_naming_the_failed_check() -> None:
    def unreachable() -> None:
        raise ConnectionError("no route to 10.0.0.5")

    app = Starlette(
        routes=health_routes({"database": unreachable, "storage": lambda: None})
    )

    response = call(app, "GET", "/readyz")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    (error,) = response.json()["errors"]
    assert error["status"] == "503"
    assert error["code"] == "SNYK-0009"
    assert error["detail"] == "not ready: database failed"
    assert "10.0.0.5" not in response.text


def test_readiness_gives_up_on_a_hung_check() -> None:
    release = threading.Event()

    def hang() -> None:
        release.wait()

    app = Starlette(routes=health_routes({"storage": hang}, timeout_seconds=0.2))

    try:
        response = call(app, "GET", "/readyz")
    finally:
        release.set()

    assert response.status_code == 503
    assert response.json()["errors"][0]["detail"] == "not ready: storage timed out"


def test_liveness_needs_no_checks_and_metrics_only_when_given() -> None:
    without = Starlette(routes=health_routes({}))
    with_metrics = Starlette(routes=health_routes({}, Metrics()))

    assert call(without, "GET", "/healthz").json() == {"status": "ok"}
    assert call(without, "GET", "/metrics").status_code == 404
    scrape = call(with_metrics, "GET", "/metrics")
    assert scrape.status_code == 200
    assert "python_info" in scrape.text
