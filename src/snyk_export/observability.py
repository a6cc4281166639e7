"""What operators watch: Prometheus metrics, health and readiness, JSON logs.

The API and the worker process share these pieces. Each :class:`Metrics` keeps
its own registry, so several servers in one process (as in the tests) never
mix their samples. Request metrics are labelled with route templates only,
never raw paths, so tenant and export ids cannot grow the label sets.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import anyio
import anyio.to_thread
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snyk_export.errors import Unavailable
from snyk_export.jobs import Status

logger = logging.getLogger(__name__)

Check = Callable[[], None]
"""A readiness check: returns if its dependency is usable, raises otherwise."""
Endpoint = Callable[[Request], Awaitable[Response]]

JSONAPI_MEDIA_TYPE = "application/vnd.api+json"
TEXT_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
UNMATCHED_ROUTE = "unmatched"
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
EXPORT_DURATION_BUCKETS = (
    *(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    *(60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0),
)
READINESS_RETRY_AFTER_SECONDS = 5


class Metrics:
    """The service's Prometheus metrics, in a registry of their own.

    ``export_counts`` and ``queue_depth`` are read at scrape time from shared
    state (the database), so they agree across replicas; without
    ``queue_depth`` the depth is the PENDING count of ``export_counts``.
    """

    def __init__(
        self,
        *,
        export_counts: Callable[[], Mapping[str, int]] | None = None,
        queue_depth: Callable[[], int] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self._http_requests = Counter(
            "snyk_export_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._http_duration = Histogram(
            "snyk_export_http_request_duration_seconds",
            "Time to answer an HTTP request, body included.",
            ["method", "route"],
            registry=self.registry,
        )
        self._exports = Counter(
            "snyk_export_exports",
            "Exports this process brought to FINISHED or ERRORED.",
            ["dataset", "status"],
            registry=self.registry,
        )
        self._export_duration = Histogram(
            "snyk_export_export_duration_seconds",
            "Time a finished export's job took to run.",
            ["dataset"],
            buckets=EXPORT_DURATION_BUCKETS,
            registry=self.registry,
        )
        self._export_rows = Counter(
            "snyk_export_export_rows",
            "Data rows written by finished exports.",
            ["dataset"],
            registry=self.registry,
        )
        self._export_bytes = Counter(
            "snyk_export_export_bytes",
            "Bytes of result files written by finished exports.",
            ["dataset"],
            registry=self.registry,
        )
        if export_counts is not None or queue_depth is not None:
            self.registry.register(StoredExportsCollector(export_counts, queue_depth))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def request_answered(
        self, method: str, route: str, status: int, seconds: float
    ) -> None:
        method = method if method in HTTP_METHODS else "OTHER"
        self._http_requests.labels(method, route, str(status)).inc()
        self._http_duration.labels(method, route).observe(seconds)

    def export_finished(
        self, dataset: str, seconds: float, rows: int, bytes_written: int
    ) -> None:
        self._exports.labels(dataset, Status.FINISHED.value).inc()
        self._export_duration.labels(dataset).observe(seconds)
        self._export_rows.labels(dataset).inc(rows)
        self._export_bytes.labels(dataset).inc(bytes_written)

    def export_errored(self, dataset: str) -> None:
        self._exports.labels(dataset, Status.ERRORED.value).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition of every metric, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class StoredExportsCollector(Collector):
    """Gauges read from the database at scrape time; skipped while it fails."""

    def __init__(
        self,
        export_counts: Callable[[], Mapping[str, int]] | None,
        queue_depth: Callable[[], int] | None,
    ) -> None:
        self._export_counts = export_counts
        self._queue_depth = queue_depth

    def collect(self) -> Iterator[Metric]:
        counts = _read_source("export counts", self._export_counts)
        if counts is not None:
            family = GaugeMetricFamily(
                "snyk_export_exports",
                "Exports currently stored, by status, across every replica.",
                labels=["status"],
            )
            for status in Status:
                family.add_metric([status.value], counts.get(status.value, 0))
            yield family

        if self._queue_depth is not None:
            depth = _read_source("queue depth", self._queue_depth)
        else:
            depth = None if counts is None else counts.get(Status.PENDING.value, 0)
        if depth is not None:
            yield GaugeMetricFamily(
                "snyk_export_queue_depth",
                "Exports waiting for a worker (PENDING).",
                value=depth,
            )


def _read_source(name: str, source: Callable[[], Any] | None) -> Any:
    if source is None:
        return None
    try:
        return source()
    except Exception as exc:
        # A scrape must still answer while the database is down.
        logger.warning(
            "Cannot read %s for metrics: %s",
            name,
            exc,
            extra={"action": "metrics_source_failed"},
        )
        return None


def route_template(scope: Scope, root_path: str = "") -> str:
    """The template of the route that answered, mount prefixes included.

    Starlette's router leaves the matched route in the scope and extends
    ``root_path`` by each mount's prefix on the way in; ``root_path`` is the
    value the scope had before the app saw it.
    """
    route = scope.get("route")
    if not isinstance(route, Route):
        return UNMATCHED_ROUTE
    mounted: str = scope.get("root_path", "")
    return mounted[len(root_path) :] + route.path


class MetricsMiddleware:
    """Counts and times every HTTP request, by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            self.metrics.request_answered(
                scope["method"],
                route_template(scope, root_path),
                status,
                time.perf_counter() - started,
            )


_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the extras."""

    def format(self, record: logging.LogRecord) -> str:
        created = dt.datetime.fromtimestamp(record.created, dt.UTC)
        entry: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ASCII escapes keep U+2028 and friends from splitting the line.
        return json.dumps(entry, default=str)


def configure_logging(level: str, fmt: str) -> None:
    """Send log records to stderr as text or as JSON lines (``fmt`` "json")."""
    handler = logging.StreamHandler()
    formatter = JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_LOG_FORMAT)
    handler.setFormatter(formatter)
    logging.basicConfig(level=level.upper(), handlers=[handler])


def health_routes(
    checks: Mapping[str, Check] | None,
    metrics: Metrics | None = None,
    *,
    timeout_seconds: float = 5.0,
) -> list[Route]:
    """``/healthz``, ``/readyz`` running ``checks``, and ``/metrics`` if given."""
    routes = [
        Route("/healthz", liveness, methods=["GET"]),
        Route(
            "/readyz",
            readiness_endpoint(checks or {}, timeout_seconds),
            methods=["GET"],
        ),
    ]
    if metrics is not None:
        routes.append(Route("/metrics", metrics_endpoint(metrics), methods=["GET"]))
    return routes


async def liveness(request: Request) -> Response:
    """Answers as long as the process serves HTTP at all."""
    return JSONResponse({"status": "ok"})


def readiness_endpoint(checks: Mapping[str, Check], timeout_seconds: float) -> Endpoint:
    """An endpoint answering 200 once every check passes, else a 503 error."""
    # Checks of a hung dependency are abandoned at the timeout; their own
    # limiter keeps the abandoned threads from starving the API's pool.
    limiter = anyio.CapacityLimiter(max(1, 2 * len(checks)))

    async def readiness(request: Request) -> Response:
        outcomes: dict[str, str] = {}
        async with anyio.create_task_group() as group:
            for name, check in checks.items():
                group.start_soon(
                    _run_check, name, check, timeout_seconds, limiter, outcomes
                )

        ordered = {name: outcomes[name] for name in checks}
        failed = [
            f"{name} {outcome}" for name, outcome in ordered.items() if outcome != "ok"
        ]
        if not failed:
            return JSONResponse({"status": "ready", "checks": ordered})
        error = Unavailable(f"not ready: {', '.join(failed)}")
        return JSONResponse(
            error.document(),
            status_code=error.status,
            media_type=JSONAPI_MEDIA_TYPE,
            headers={"retry-after": str(READINESS_RETRY_AFTER_SECONDS)},
        )

    return readiness


async def _run_check(
    name: str,
    check: Check,
    timeout_seconds: float,
    limiter: anyio.CapacityLimiter,
    outcomes: dict[str, str],
) -> None:
    try:
        with anyio.fail_after(timeout_seconds):
            await anyio.to_thread.run_sync(
                check, abandon_on_cancel=True, limiter=limiter
            )
    except TimeoutError:
        outcomes[name] = "timed out"
        logger.warning(
            "Readiness check %s timed out after %ss",
            name,
            timeout_seconds,
            extra={"action": "readiness_failed", "check": name},
        )
    except Exception as exc:
        # The reason goes to the log only: /readyz needs no credential.
        outcomes[name] = "failed"
        logger.warning(
            "Readiness check %s failed: %s",
            name,
            exc,
            extra={"action": "readiness_failed", "check": name},
        )
    else:
        outcomes[name] = "ok"


def metrics_endpoint(metrics: Metrics) -> Endpoint:
    """An endpoint serving ``metrics`` in Prometheus' text format."""

    async def serve_metrics(request: Request) -> Response:
        # Rendering runs the database-backed collector: keep it off the loop.
        body, content_type = await run_in_threadpool(metrics.render)
        return Response(body, headers={"content-type": content_type})

    return serve_metrics
