"""Export jobs: the status machine and the immutable job record.

Status moves forward only::

    PENDING --> STARTED --> FINISHED
       |           |
       +-----------+------> ERRORED

A STARTED job whose worker died is claimed again and stays STARTED.

A job record is never patched in place: each transition returns a new record,
and the store writes it only if the stored status is still the one the
transition started from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from snyk_export.definition import ExportDefinition
from snyk_export.errors import IllegalTransition
from snyk_export.filters import parse_instant


class Status(StrEnum):
    """The status of an export job, as the status endpoint reports it."""

    PENDING = "PENDING"
    STARTED = "STARTED"
    FINISHED = "FINISHED"
    ERRORED = "ERRORED"

    @property
    def terminal(self) -> bool:
        return self in (Status.FINISHED, Status.ERRORED)


_NEXT: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.STARTED, Status.ERRORED}),
    Status.STARTED: frozenset({Status.FINISHED, Status.ERRORED}),
    Status.FINISHED: frozenset(),
    Status.ERRORED: frozenset(),
}


@dataclass(frozen=True)
class Part:
    """One published result file of an export."""

    name: str
    file_size: int
    row_count: int
    sha256: str


@dataclass(frozen=True)
class DateRange:
    """A date filter as applied: the requested bounds, ``to`` closed at snapshot."""

    start: dt.datetime | None
    end: dt.datetime


@dataclass(frozen=True)
class Export:
    """An export job and, once finished, its results."""

    id: str
    definition: ExportDefinition
    status: Status
    created: dt.datetime
    credential_id: str
    attempts: int = 0
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    snapshot_at: dt.datetime | None = None
    parts: tuple[Part, ...] = ()
    failure: str | None = None

    @property
    def row_count(self) -> int:
        return sum(part.row_count for part in self.parts)

    def _move(self, status: Status) -> None:
        if status not in _NEXT[self.status]:
            raise IllegalTransition(
                f"export {self.id} cannot go from {self.status.value} to {status.value}"
            )

    def start(self, now: dt.datetime) -> Export:
        """The job claimed by a worker, its snapshot taken now."""
        self._move(Status.STARTED)
        return replace(
            self,
            status=Status.STARTED,
            started=now,
            snapshot_at=now,
            attempts=self.attempts + 1,
        )

    def finish(self, now: dt.datetime, parts: tuple[Part, ...]) -> Export:
        """The job done, with its published parts."""
        self._move(Status.FINISHED)
        return replace(self, status=Status.FINISHED, finished=now, parts=parts)

    def fail(self, now: dt.datetime, reason: str) -> Export:
        """The job given up, with the reason kept for the operator."""
        self._move(Status.ERRORED)
        return replace(self, status=Status.ERRORED, finished=now, failure=reason)

    def restart(self, now: dt.datetime) -> Export:
        """A STARTED job whose worker was lost, claimed to run again from the start.

        The status stays STARTED: clients never see a job move backwards.
        """
        if self.status is not Status.STARTED:
            raise IllegalTransition(
                f"export {self.id} is {self.status.value}, not STARTED"
            )
        return replace(self, started=now, snapshot_at=now, attempts=self.attempts + 1)

    def date_range(self, name: str) -> DateRange | None:
        """The applied range of date filter ``name``, once the snapshot is taken."""
        raw = self.definition.filters.get(name)
        if raw is None or self.snapshot_at is None:
            return None
        start = parse_instant(raw["from"]) if raw["from"] else None
        end = parse_instant(raw["to"]) if raw["to"] else self.snapshot_at
        return DateRange(start, end)
