"""Running export jobs on a bounded pool of worker threads.

A worker claims a job (PENDING to STARTED), streams its records from the
backend into parts written under temporary names, publishes the parts, and
only then records the job FINISHED with its part list. A job left STARTED by a
process that died is claimed again on the next start and run from scratch;
after ``job_max_attempts`` claims it becomes ERRORED instead.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable

from snyk_export.backends.base import Backend
from snyk_export.backends.duckdb_query import header_line
from snyk_export.errors import ExportFailed
from snyk_export.jobs import Export, Status
from snyk_export.parts import PartLimits, split_records
from snyk_export.storage.base import ResultStorage

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
BATCH_ROWS = 4096


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Runner:
    """The worker pool of one server process, and its retention sweeper."""

    def __init__(
        self,
        backend: Backend,
        storage: ResultStorage,
        *,
        workers: int,
        limits: PartLimits,
        empty_export_file: bool,
        max_attempts: int,
        retention_seconds: int,
        sweep_interval_seconds: int,
        clock: Clock = utc_now,
    ) -> None:
        self.backend = backend
        self.storage = storage
        self.workers = workers
        self.limits = limits
        self.empty_export_file = empty_export_file
        self.max_attempts = max_attempts
        self.retention = dt.timedelta(seconds=retention_seconds)
        self.sweep_interval_seconds = sweep_interval_seconds
        self.clock = clock
        self._queue: queue.Queue[str] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Recover jobs of a previous process, then start workers and sweeper."""
        self.backend.claim_job_runner()
        self.recover()
        for index in range(self.workers):
            self._spawn(self._work, f"export-worker-{index}")
        self._spawn(self._sweep_forever, "export-sweeper")

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
        for export in self.backend.list_exports(Status.STARTED):
            if export.attempts >= self.max_attempts:
                self._fail(export, f"worker lost {export.attempts} times")
            else:
                logger.info(
                    "Resuming export %s",
                    export.id,
                    extra={"action": "export_resumed", "export_id": export.id},
                )
                self.submit(export.id)
        for export in self.backend.list_exports(Status.PENDING):
            self.submit(export.id)

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                export_id = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.run(export_id)
            except Exception:
                logger.exception(
                    "Export worker failed on %s",
                    export_id,
                    extra={"action": "worker_error", "export_id": export_id},
                )

    def _claim(self, export_id: str) -> Export | None:
        export = self.backend.get_export(export_id)
        if export is None or export.status.terminal:
            return None
        now = self.clock()
        claimed = (
            export.start(now)
            if export.status is Status.PENDING
            else export.restart(now)
        )
        if not self.backend.replace_export(claimed, export.status):
            return None
        return claimed

    def run(self, export_id: str) -> None:
        """Run one job to a terminal state, if it is still to be run."""
        export = self._claim(export_id)
        if export is None:
            return
        logger.info(
            "Export started", extra={"action": "export_started", "export_id": export.id}
        )
        self.storage.discard(export.id)
        try:
            parts = split_records(
                self.backend.stream_export(export, BATCH_ROWS),
                header_line(export.definition.columns),
                self.limits,
                lambda name: self.storage.open_part(export.id, name),
                empty_file=self.empty_export_file,
            )
            self.storage.publish(export.id, parts)
        except ExportFailed as exc:
            self.storage.discard(export.id)
            self._fail(export, exc.reason)
            return
        except Exception as exc:
            self.storage.discard(export.id)
            logger.exception(
                "Export failed",
                extra={"action": "export_failed", "export_id": export.id},
            )
            if export.attempts < self.max_attempts:
                self.submit(export.id)
            else:
                self._fail(export, f"{type(exc).__name__}: {exc}")
            return
        finished = export.finish(self.clock(), tuple(parts))
        if not self.backend.replace_export(finished, Status.STARTED):
            self.storage.discard(export.id)
            return
        logger.info(
            "Export finished with %s rows in %s parts",
            finished.row_count,
            len(parts),
            extra={"action": "export_finished", "export_id": export.id},
        )

    def _fail(self, export: Export, reason: str) -> None:
        failed = export.fail(self.clock(), reason)
        if self.backend.replace_export(failed, export.status):
            logger.warning(
                "Export errored: %s",
                reason,
                extra={"action": "export_errored", "export_id": export.id},
            )

    def expired(self, export: Export, now: dt.datetime) -> bool:
        """Whether a terminal export is past its retention period."""
        return export.finished is not None and now >= export.finished + self.retention

    def sweep(self) -> int:
        """Delete expired exports and files that belong to no export."""
        now = self.clock()
        removed = 0
        # Listed before the exports, so a job created meanwhile is never taken
        # for an orphan.
        stored = self.storage.stored_exports()
        known = set()
        for export in self.backend.list_exports():
            if export.status.terminal and self.expired(export, now):
                self.storage.discard(export.id)
                self.backend.delete_export(export.id)
                removed += 1
            else:
                known.add(export.id)
        for orphan in stored - known:
            self.storage.discard(orphan)
        return removed

    def _sweep_forever(self) -> None:
        while not self._stopping.wait(self.sweep_interval_seconds):
            try:
                self.sweep()
            except Exception:
                logger.exception(
                    "Retention sweep failed", extra={"action": "sweep_error"}
                )
