"""Running one export job, and purging what retention no longer keeps.

Both job queues (threads inside ``serve``, Procrastinate workers) hand an
export id to :class:`ExportExecutor`. It claims the job (PENDING to STARTED, or
a STARTED job whose last run was lost, run again from scratch), streams the
records from the backend into parts written under the attempt's own location,
publishes them, and only then records the job FINISHED with its part list.

Every write of the job record is a compare-and-set on status and attempt
count, so a run that was taken for dead but is still going can never publish:
its final write finds a newer attempt and loses, and its files are discarded.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from enum import Enum
from typing import Protocol

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


class ExportEvents(Protocol):
    """Where finished and failed runs are counted (the metrics)."""

    def export_finished(
        self, dataset: str, seconds: float, rows: int, bytes_written: int
    ) -> None: ...

    def export_errored(self, dataset: str) -> None: ...


class Outcome(Enum):
    """What became of one run, for the queue that asked for it."""

    DONE = "done"  # terminal now, or not this run's job any more
    RETRY = "retry"  # failed for a reason that may pass; queue it again


class ExportExecutor:
    """Runs export jobs to a terminal state; one instance serves many threads."""

    def __init__(
        self,
        backend: Backend,
        storage: ResultStorage,
        *,
        limits: PartLimits,
        empty_export_file: bool,
        max_attempts: int,
        events: ExportEvents | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.backend = backend
        self.storage = storage
        self.limits = limits
        self.empty_export_file = empty_export_file
        self.max_attempts = max_attempts
        self.events = events
        self.clock = clock

    def claim(self, export_id: str) -> Export | None:
        """Take the job for this run, or None if there is nothing to run."""
        export = self.backend.get_export(export_id)
        if export is None or export.status.terminal:
            return None
        if export.status is Status.STARTED and export.attempts >= self.max_attempts:
            self.fail(export, f"worker lost {export.attempts} times")
            return None
        now = self.clock()
        claimed = (
            export.start(now)
            if export.status is Status.PENDING
            else export.restart(now)
        )
        if not self.backend.replace_export(claimed, export):
            return None
        if claimed.attempts > 1:
            logger.info(
                "Export %s runs again (attempt %s)",
                claimed.id,
                claimed.attempts,
                extra={"action": "export_resumed", "export_id": claimed.id},
            )
        return claimed

    def run(self, export_id: str) -> Outcome:
        """Run one job to a terminal state, if it is still to be run.

        Errors reading or writing the job record itself (the database is away)
        propagate: the caller queues the job again later.
        """
        export = self.claim(export_id)
        if export is None:
            return Outcome.DONE
        logger.info(
            "Export started", extra={"action": "export_started", "export_id": export.id}
        )
        started = time.monotonic()
        # Files of earlier attempts belong to runs that are gone.
        for attempt in range(1, export.attempts):
            self.storage.discard(export.id, attempt)
        try:
            parts = split_records(
                self.backend.stream_export(export, BATCH_ROWS),
                header_line(export.definition.columns),
                self.limits,
                lambda name: self.storage.open_part(export, name),
                empty_file=self.empty_export_file,
            )
            self.storage.publish(export, parts)
        except ExportFailed as exc:
            self.storage.discard(export.id, export.attempts)
            self.fail(export, exc.reason)
            return Outcome.DONE
        except Exception as exc:
            self.storage.discard(export.id, export.attempts)
            logger.exception(
                "Export run %s failed",
                export.attempts,
                extra={"action": "export_failed", "export_id": export.id},
            )
            if export.attempts < self.max_attempts:
                return Outcome.RETRY
            self.fail(export, f"{type(exc).__name__}: {exc}")
            return Outcome.DONE
        finished = export.finish(self.clock(), tuple(parts))
        if not self.backend.replace_export(finished, export):
            # A newer attempt took the job over; its files are the ones kept.
            self.storage.discard(export.id, export.attempts)
            return Outcome.DONE
        seconds = time.monotonic() - started
        logger.info(
            "Export finished with %s rows in %s parts in %.2f s",
            finished.row_count,
            len(parts),
            seconds,
            extra={"action": "export_finished", "export_id": export.id},
        )
        if self.events:
            self.events.export_finished(
                export.definition.dataset,
                seconds,
                finished.row_count,
                sum(part.file_size for part in parts),
            )
        return Outcome.DONE

    def fail(self, export: Export, reason: str) -> None:
        """Record the job ERRORED, unless another run moved it meanwhile."""
        failed = export.fail(self.clock(), reason)
        if self.backend.replace_export(failed, export):
            logger.warning(
                "Export errored: %s",
                reason,
                extra={"action": "export_errored", "export_id": export.id},
            )
            if self.events:
                self.events.export_errored(export.definition.dataset)


class Sweeper:
    """Deletes expired exports, and files no export needs any more."""

    def __init__(
        self,
        backend: Backend,
        storage: ResultStorage,
        *,
        retention_seconds: int,
        clock: Clock = utc_now,
    ) -> None:
        self.backend = backend
        self.storage = storage
        self.retention = dt.timedelta(seconds=retention_seconds)
        self.clock = clock

    def expired(self, export: Export, now: dt.datetime) -> bool:
        """Whether a terminal export is past its retention period."""
        return export.finished is not None and now >= export.finished + self.retention

    def sweep(self) -> int:
        """Purge expired exports and stray files; returns the exports deleted."""
        now = self.clock()
        # Listed before the exports: attempts only grow, and a job created
        # meanwhile is never taken for an orphan.
        stored = self.storage.stored()
        removed = 0
        for export in self.backend.list_exports():
            attempts = stored.pop(export.id, set())
            if export.status.terminal and self.expired(export, now):
                self.storage.discard(export.id)
                self.backend.delete_export(export.id)
                removed += 1
                continue
            for attempt in attempts - _kept_attempts(export):
                self.storage.discard(export.id, attempt)
        for orphan in stored:
            self.storage.discard(orphan)
        return removed


def _kept_attempts(export: Export) -> set[int]:
    """The attempts of an export whose files may still be needed."""
    if export.status in (Status.STARTED, Status.FINISHED):
        return {export.attempts}
    return set()
