"""Assembling the service from its settings, and running it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from snyk_export.app import Surface, build_app
from snyk_export.backends.base import Backend
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.config import POSTGRES_SCHEMES, Settings
from snyk_export.definition import CreateOptions
from snyk_export.errors import ConfigurationError
from snyk_export.executor import ExportExecutor, Sweeper
from snyk_export.jobs import Export, Part
from snyk_export.observability import Metrics
from snyk_export.parts import PartLimits
from snyk_export.ratelimit import (
    RequestLimiter,
    SharedWindowLimiter,
    SlidingWindowLimiter,
)
from snyk_export.runner import ThreadRunner
from snyk_export.service import ExportService, JobQueue
from snyk_export.signing import SigningKeys, download_path
from snyk_export.storage.base import ResultStorage
from snyk_export.storage.local import LocalStorage
from snyk_export.storage.s3 import S3Storage
from snyk_export.versioning import ReleaseTable, default_releases
from snyk_export.worker import HealthServer, ProcrastinateQueue, QueueWorker

logger = logging.getLogger(__name__)


def open_backend(settings: Settings) -> Backend:
    """The backend named by the settings, its schema up to date."""
    url = settings.database_url
    backend: Backend
    if url and url.startswith(POSTGRES_SCHEMES):
        backend = PostgresBackend(url, max_connections=settings.workers + 8)
    elif url and not url.startswith("duckdb:"):
        raise ConfigurationError(
            f"unsupported database_url {url.split(':', 1)[0]}:...; use "
            "duckdb:PATH (or leave it unset) or postgresql://..."
        )
    else:
        backend = DuckDBBackend(
            settings.database_path,
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
            preserve_order=settings.preserve_order,
        )
    backend.migrate()
    return backend


def load_keys(settings: Settings, backend: Backend) -> SigningKeys:
    """The keys of download links: configured, else shared by every replica."""
    if settings.signing_keys:
        return SigningKeys.from_text(settings.signing_keys)
    if isinstance(backend, PostgresBackend):
        return SigningKeys.from_text(backend.signing_key())
    return SigningKeys.load_or_create(settings.data_dir / "signing.key")


def open_storage(settings: Settings, keys: SigningKeys) -> ResultStorage:
    """Object storage when ``storage_url`` names a bucket, else the data directory."""
    if not settings.storage_url:
        return LocalStorage(settings.results_dir, keys, settings.origin)

    def proxy_link(export: Export, part: Part, expires: int) -> str:
        return settings.origin + download_path(keys, export.id, part.name, expires)

    return S3Storage(
        settings.storage_url,
        public_endpoint_url=settings.storage_public_endpoint_url,
        proxy_links=proxy_link if settings.storage_links == "proxy" else None,
    )


def build_executor(
    settings: Settings,
    backend: Backend,
    storage: ResultStorage,
    metrics: Metrics | None,
) -> ExportExecutor:
    return ExportExecutor(
        backend,
        storage,
        limits=PartLimits(settings.max_rows_per_file, settings.max_bytes_per_file),
        empty_export_file=settings.empty_export_file,
        max_attempts=settings.job_max_attempts,
        events=metrics,
    )


def build_worker(
    settings: Settings,
    backend: Backend,
    storage: ResultStorage,
    metrics: Metrics | None,
    *,
    install_signal_handlers: bool,
) -> QueueWorker:
    """A Procrastinate worker over the settings' PostgreSQL database."""
    if not isinstance(backend, PostgresBackend) or not settings.database_url:
        raise ConfigurationError(
            "the procrastinate queue needs database_url=postgresql://..."
        )
    return QueueWorker(
        settings.database_url,
        build_executor(settings, backend, storage, metrics),
        Sweeper(backend, storage, retention_seconds=settings.retention_seconds),
        concurrency=settings.workers,
        heartbeat_seconds=settings.heartbeat_seconds,
        stalled_worker_seconds=settings.stalled_worker_seconds,
        sweep_interval_seconds=settings.sweep_interval_seconds,
        unqueued_after_seconds=backend.exports_without_job,
        install_signal_handlers=install_signal_handlers,
    )


@dataclass
class Service:
    """A service ready to run: its backend, job queue and ASGI app."""

    settings: Settings
    backend: Backend
    queue: JobQueue
    app: ASGIApp
    worker: QueueWorker | None = None

    def start(self) -> None:
        """Start running jobs (threads, or the embedded queue worker)."""
        self.queue.start()
        if self.worker is not None:
            self.worker.start_thread()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.queue.stop()
        self.backend.close()


def _limiter(settings: Settings, backend: Backend) -> RequestLimiter:
    if isinstance(backend, PostgresBackend):
        return SharedWindowLimiter(
            backend, settings.request_limit, settings.request_window_seconds
        )
    return SlidingWindowLimiter(settings.request_limit, settings.request_window_seconds)


def assemble(settings: Settings, backend: Backend | None = None) -> Service:
    """Build every part of the service; nothing runs jobs until :meth:`start`."""
    backend = backend or open_backend(settings)
    keys = load_keys(settings, backend)
    storage = open_storage(settings, keys)
    metrics = Metrics(export_counts=backend.export_counts) if settings.metrics else None
    queue: JobQueue
    worker = None
    if settings.queue == "procrastinate":
        assert settings.database_url is not None  # checked with the settings
        queue = ProcrastinateQueue(settings.database_url)
        if settings.embedded_worker:
            worker = build_worker(
                settings, backend, storage, metrics, install_signal_handlers=False
            )
    else:
        queue = ThreadRunner(
            backend,
            build_executor(settings, backend, storage, metrics),
            Sweeper(backend, storage, retention_seconds=settings.retention_seconds),
            workers=settings.workers,
            sweep_interval_seconds=settings.sweep_interval_seconds,
        )
    service = ExportService(
        backend,
        storage,
        queue,
        export_post_limit=settings.export_post_limit,
        export_post_limits_by_scope=settings.export_post_limits_by_scope,
        export_post_window_seconds=settings.export_post_window_seconds,
        retention_seconds=settings.retention_seconds,
        max_url_expiration_seconds=settings.max_url_expiration_seconds,
    )
    surface = Surface(
        service=service,
        storage=storage,
        keys=keys,
        releases=ReleaseTable(default_releases()),
        limiter=_limiter(settings, backend),
        create_options=CreateOptions(
            settings.allow_missing_date_filter, settings.spreadsheet_safe_csv
        ),
        base_path=settings.base_path,
        max_request_bytes=settings.max_request_bytes,
        poll_hint_seconds=settings.poll_hint_seconds,
        metrics=metrics,
        readiness_checks={"database": backend.ping, "storage": storage.check},
    )
    return Service(settings, backend, queue, build_app(surface), worker)


def serve(service: Service) -> None:
    """Start running jobs and serve HTTP until interrupted."""
    settings = service.settings
    service.start()
    logger.info(
        "Serving on %s%s (jobs: %s)",
        settings.origin,
        settings.base_path,
        settings.queue,
        extra={"action": "server_started"},
    )
    try:
        uvicorn.run(
            service.app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    finally:
        service.close()


def run_worker(settings: Settings) -> None:
    """Run export jobs from the queue until SIGTERM or SIGINT (``worker`` command)."""
    backend = open_backend(settings)
    storage = open_storage(settings, load_keys(settings, backend))
    metrics = Metrics(export_counts=backend.export_counts) if settings.metrics else None
    worker = build_worker(
        settings, backend, storage, metrics, install_signal_handlers=True
    )
    health = None
    if settings.worker_port is not None:
        health = HealthServer(
            settings.host,
            settings.worker_port,
            {"database": backend.ping, "storage": storage.check},
            metrics,
        )
        health.start()
    logger.info(
        "Worker running %s jobs at a time",
        settings.workers,
        extra={"action": "worker_started"},
    )
    try:
        asyncio.run(worker.run())
    finally:
        if health is not None:
            health.stop()
        backend.close()
