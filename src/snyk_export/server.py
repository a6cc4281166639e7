"""Assembling the service from its settings, and running it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from snyk_export.app import Surface, build_app
from snyk_export.backends.base import Backend
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.config import Settings
from snyk_export.definition import CreateOptions
from snyk_export.errors import ConfigurationError
from snyk_export.parts import PartLimits
from snyk_export.ratelimit import SlidingWindowLimiter
from snyk_export.runner import Runner
from snyk_export.service import ExportService
from snyk_export.signing import SigningKeys
from snyk_export.storage.local import LocalStorage
from snyk_export.versioning import ReleaseTable, default_releases

logger = logging.getLogger(__name__)


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


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


def load_keys(settings: Settings) -> SigningKeys:
    if settings.signing_keys:
        return SigningKeys.from_text(settings.signing_keys)
    return SigningKeys.load_or_create(settings.data_dir / "signing.key")


@dataclass
class Service:
    """A running service: its backend, worker pool and ASGI app."""

    settings: Settings
    backend: Backend
    runner: Runner
    app: ASGIApp

    def close(self) -> None:
        self.runner.stop()
        self.backend.close()


def assemble(settings: Settings, backend: Backend | None = None) -> Service:
    """Build every part of the service; the runner is not started yet."""
    backend = backend or open_backend(settings)
    keys = load_keys(settings)
    storage = LocalStorage(settings.results_dir, keys, settings.origin)
    runner = Runner(
        backend,
        storage,
        workers=settings.workers,
        limits=PartLimits(settings.max_rows_per_file, settings.max_bytes_per_file),
        empty_export_file=settings.empty_export_file,
        max_attempts=settings.job_max_attempts,
        retention_seconds=settings.retention_seconds,
        sweep_interval_seconds=settings.sweep_interval_seconds,
    )
    service = ExportService(
        backend,
        storage,
        runner,
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
        limiter=SlidingWindowLimiter(
            settings.request_limit, settings.request_window_seconds
        ),
        create_options=CreateOptions(
            settings.allow_missing_date_filter, settings.spreadsheet_safe_csv
        ),
        base_path=settings.base_path,
        max_request_bytes=settings.max_request_bytes,
        poll_hint_seconds=settings.poll_hint_seconds,
    )
    return Service(settings, backend, runner, build_app(surface))


def serve(service: Service) -> None:
    """Start the workers and serve HTTP until interrupted."""
    settings = service.settings
    service.runner.start()
    logger.info(
        "Serving on %s%s",
        settings.origin,
        settings.base_path,
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
