"""The production job queue: Procrastinate on the deployment's PostgreSQL.

``serve`` replicas defer one Procrastinate job per export; ``snyk-export
worker`` processes on any host run them. Each job carries the export id as
its ``lock`` (two runs of one export never overlap) and ``queueing_lock`` (at
most one waiting). Every worker records a heartbeat; a job whose worker has
been silent for ``stalled_worker_seconds`` is put back in the queue by any
other worker and runs again from scratch, as the embedded runner does after a
restart. The job record's compare-and-set keeps a presumed-dead run that is in
fact still going from ever publishing.

Workers also purge expired exports, and queue again any unfinished export that
has no job waiting or running (its deferral failed, or Procrastinate gave up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import procrastinate
import uvicorn
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.worker import Worker
from starlette.applications import Starlette

from snyk_export.executor import ExportExecutor, Outcome, Sweeper
from snyk_export.observability import Check, Metrics, health_routes

logger = logging.getLogger(__name__)

TASK_NAME = "snyk_export.run_export"
QUEUE = "exports"
# Runs of the Procrastinate job (not of the export, which counts its own
# attempts): enough to ride out a database outage of several minutes.
RETRY = procrastinate.RetryStrategy(max_attempts=30, wait=1, linear_wait=2)


class RunAgain(Exception):
    """The export's run failed for a reason that may pass: retry the job."""


def _configure_task(app: procrastinate.App, export_id: str) -> Any:
    return app.configure_task(
        TASK_NAME, queue=QUEUE, lock=export_id, queueing_lock=export_id
    )


class ProcrastinateQueue:
    """How ``serve`` hands exports to the workers: one deferred job each."""

    def __init__(self, database_url: str) -> None:
        self.app = procrastinate.App(
            connector=procrastinate.SyncPsycopgConnector(
                conninfo=database_url, min_size=1, max_size=4
            )
        )
        self._opened = False

    def start(self) -> None:
        self.app.open()
        self._opened = True

    def stop(self) -> None:
        if self._opened:
            self.app.close()
            self._opened = False

    def submit(self, export_id: str) -> None:
        """Queue a job for the export; a workers' sweep catches a failed deferral."""
        try:
            _configure_task(self.app, export_id).defer(export_id=export_id)
        except AlreadyEnqueued:
            pass
        except Exception:
            logger.exception(
                "Could not queue export %s; a worker will queue it",
                export_id,
                extra={"action": "defer_failed", "export_id": export_id},
            )


class QueueWorker:
    """One worker process's share of the queue, with its maintenance loops."""

    def __init__(
        self,
        database_url: str,
        executor: ExportExecutor,
        sweeper: Sweeper,
        *,
        concurrency: int,
        heartbeat_seconds: float,
        stalled_worker_seconds: float,
        sweep_interval_seconds: float,
        unqueued_after_seconds: Callable[[float], list[str]],
        install_signal_handlers: bool = True,
    ) -> None:
        self.database_url = database_url
        self.executor = executor
        self.sweeper = sweeper
        self.concurrency = concurrency
        self.heartbeat_seconds = heartbeat_seconds
        self.stalled_worker_seconds = stalled_worker_seconds
        self.sweep_interval_seconds = sweep_interval_seconds
        self.unqueued_after_seconds = unqueued_after_seconds
        self.install_signal_handlers = install_signal_handlers
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=database_url)
        )
        self.app.task(name=TASK_NAME, queue=QUEUE, retry=RETRY)(self._run_export)
        self._worker: Worker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    def _run_export(self, export_id: str) -> None:
        if self.executor.run(export_id) is Outcome.RETRY:
            raise RunAgain(export_id)

    async def run(self) -> None:
        """Work until stopped (SIGTERM or :meth:`stop`)."""
        async with self.app.open_async():
            self._loop = asyncio.get_running_loop()
            self._worker = Worker(
                self.app,
                queues=[QUEUE],
                concurrency=self.concurrency,
                install_signal_handlers=self.install_signal_handlers,
                update_heartbeat_interval=self.heartbeat_seconds,
                stalled_worker_timeout=self.stalled_worker_seconds,
                delete_jobs="successful",
            )
            loops = [
                asyncio.create_task(self._requeue_stalled_forever()),
                asyncio.create_task(self._maintain_forever()),
            ]
            self.ready.set()
            try:
                await self._worker.run()  # type: ignore[no-untyped-call]
            finally:
                for task in loops:
                    task.cancel()
                await asyncio.gather(*loops, return_exceptions=True)

    async def requeue_stalled(self) -> int:
        """Put back in the queue the jobs of workers that stopped beating."""
        manager = self.app.job_manager
        requeued = 0
        for job in await manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=self.stalled_worker_seconds
        ):
            try:
                await manager.retry_job(job)
            except Exception:
                continue  # another worker requeued it first
            requeued += 1
            export_id = job.task_kwargs.get("export_id")
            logger.warning(
                "Requeued export %s of a worker that stopped",
                export_id,
                extra={"action": "job_requeued", "export_id": export_id},
            )
        return requeued

    def maintain(self) -> None:
        """Purge expired exports; queue unfinished exports that have no job."""
        self.sweeper.sweep()
        for export_id in self.unqueued_after_seconds(2 * self.stalled_worker_seconds):
            logger.info(
                "Queueing export %s, which had no job",
                export_id,
                extra={"action": "job_requeued", "export_id": export_id},
            )
            with contextlib.suppress(AlreadyEnqueued):
                _configure_task(self.app, export_id).defer(export_id=export_id)

    async def _requeue_stalled_forever(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self.requeue_stalled()
            except Exception:
                logger.exception(
                    "Looking for stalled jobs failed", extra={"action": "stalled_error"}
                )

    async def _maintain_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_seconds)
            try:
                await asyncio.to_thread(self.maintain)
            except Exception:
                logger.exception(
                    "Worker maintenance failed", extra={"action": "sweep_error"}
                )

    # Running inside another process (``serve`` with ``embedded_worker``).

    def start_thread(self) -> None:
        self._thread = threading.Thread(
            target=asyncio.run, args=(self.run(),), name="queue-worker", daemon=True
        )
        self._thread.start()
        self.ready.wait(30)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        if self._loop is not None and self._worker is not None:
            self._loop.call_soon_threadsafe(self._worker.stop)
        if self._thread is not None:
            self._thread.join(timeout_seconds)
            self._thread = None


class HealthServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` of a worker, on its own port.

    The same endpoints as the API's, served from a thread of their own (uvicorn
    leaves signals to the main thread, where the worker handles them).
    """

    def __init__(
        self,
        host: str,
        port: int,
        checks: Mapping[str, Check],
        metrics: Metrics | None,
    ) -> None:
        app = Starlette(routes=health_routes(checks, metrics))
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, name="health-server", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
