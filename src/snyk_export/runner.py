"""The embedded job queue: worker threads inside the server process.

Jobs wait in memory; what a process held when it died is found again in the
database on the next start: STARTED jobs run again from scratch (or become
ERRORED after ``job_max_attempts`` runs) and PENDING jobs are queued. That
take-over is only right while one process runs the jobs of a database, so the
runner claims the database first; replicas use the Procrastinate queue.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from snyk_export.backends.base import Backend
from snyk_export.errors import ConfigurationError
from snyk_export.executor import ExportExecutor, Outcome, Sweeper
from snyk_export.jobs import Status

logger = logging.getLogger(__name__)

# How long a job waits before it is tried again after its run could not even
# read or write the job record (the database was away).
REQUEUE_DELAY_SECONDS = 2.0
# How often the runner renews its claim on the database (see claim_job_runner).
CLAIM_CHECK_SECONDS = 2.0


class ThreadRunner:
    """A bounded pool of worker threads and the retention sweeper."""

    def __init__(
        self,
        backend: Backend,
        executor: ExportExecutor,
        sweeper: Sweeper,
        *,
        workers: int,
        sweep_interval_seconds: float,
    ) -> None:
        self.backend = backend
        self.executor = executor
        self.sweeper = sweeper
        self.workers = workers
        self.sweep_interval_seconds = sweep_interval_seconds
        self._queue: queue.Queue[str] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Claim the database, queue unfinished jobs, start workers and sweeper."""
        self.backend.claim_job_runner()
        self.recover()
        for index in range(self.workers):
            self._spawn(self._work, f"export-worker-{index}")
        self._spawn(self._sweep_forever, "export-sweeper")
        self._spawn(self._keep_claim_forever, "runner-claim")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout_seconds)
        self._threads.clear()

    def submit(self, export_id: str) -> None:
        self._queue.put(export_id)

    def recover(self) -> None:
        """Queue every job that a previous process left unfinished."""
        for status in (Status.STARTED, Status.PENDING):
            for export in self.backend.list_exports(status):
                self.submit(export.id)

    def _submit_later(self, export_id: str) -> None:
        timer = threading.Timer(REQUEUE_DELAY_SECONDS, self.submit, [export_id])
        timer.daemon = True
        timer.start()

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                export_id = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                outcome = self.executor.run(export_id)
            except Exception:
                logger.exception(
                    "Export %s could not run; trying again shortly",
                    export_id,
                    extra={"action": "worker_error", "export_id": export_id},
                )
                self._submit_later(export_id)
                continue
            if outcome is Outcome.RETRY:
                self.submit(export_id)

    def _keep_claim_forever(self) -> None:
        """Take the database's claim back after an outage, or stop if it is lost."""
        while not self._stopping.wait(CLAIM_CHECK_SECONDS):
            try:
                self.backend.claim_job_runner()
            except ConfigurationError:
                logger.critical(
                    "Another process took over the export jobs of this database; "
                    "this server stops running jobs",
                    extra={"action": "runner_claim_lost"},
                )
                self._stopping.set()
            except Exception:
                logger.warning(
                    "Could not renew the job runner's claim; retrying",
                    exc_info=True,
                    extra={"action": "runner_claim_error"},
                )

    def _sweep_forever(self) -> None:
        while not self._stopping.wait(self.sweep_interval_seconds):
            try:
                self.sweeper.sweep()
            except Exception:
                logger.exception(
                    "Retention sweep failed", extra={"action": "sweep_error"}
                )
