"""The export status machine against §7.1 and §9.4 of the contract."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from snyk_export.definition import ExportDefinition
from snyk_export.errors import IllegalTransition
from snyk_export.jobs import DateRange, Export, Part, Status

CREATED = dt.datetime(2026, 2, 12, 20, 9, 42, 693000, tzinfo=dt.UTC)
STARTED = CREATED + dt.timedelta(seconds=1)
FINISHED = CREATED + dt.timedelta(seconds=5)
PARTS = (
    Part("data_0_0_0.csv", file_size=1328, row_count=3, sha256="0" * 64),
    Part("data_1_0_0.csv", file_size=200, row_count=2, sha256="1" * 64),
)


def definition(filters: dict[str, Any] | None = None) -> ExportDefinition:
    return ExportDefinition(
        scope="group",
        scope_id="a1cbf11b-aa99-4434-b4e7-1bb47fc86db1",
        dataset="issues",
        columns=("CVE",),
        filters=filters or {},
    )


def pending(filters: dict[str, Any] | None = None) -> Export:
    return Export(
        id="94f572f3-f17d-4d8d-ac55-44a8a034a6a9",
        definition=definition(filters),
        status=Status.PENDING,
        created=CREATED,
        credential_id="cred",
    )


def in_status(status: Status) -> Export:
    job = pending()
    if status is Status.PENDING:
        return job
    if status is Status.ERRORED:
        return job.fail(FINISHED, "boom")
    job = job.start(STARTED)
    if status is Status.FINISHED:
        return job.finish(FINISHED, PARTS)
    return job


MOVES: dict[Status, Callable[[Export], Export]] = {
    Status.STARTED: lambda job: job.start(FINISHED),
    Status.FINISHED: lambda job: job.finish(FINISHED, ()),
    Status.ERRORED: lambda job: job.fail(FINISHED, "again"),
}
ALLOWED = {
    (Status.PENDING, Status.STARTED),
    (Status.PENDING, Status.ERRORED),
    (Status.STARTED, Status.FINISHED),
    (Status.STARTED, Status.ERRORED),
}
EVERY_MOVE = [(source, target) for source in Status for target in MOVES]


@pytest.mark.parametrize(
    ("source", "target"), [move for move in EVERY_MOVE if move in ALLOWED]
)
def test_allowed_transitions(source: Status, target: Status) -> None:
    job = in_status(source)

    moved = MOVES[target](job)

    assert moved.status is target
    assert job.status is source


@pytest.mark.parametrize(
    ("source", "target"), [move for move in EVERY_MOVE if move not in ALLOWED]
)
def test_illegal_transitions_raise(source: Status, target: Status) -> None:
    job = in_status(source)

    with pytest.raises(IllegalTransition):
        MOVES[target](job)


@pytest.mark.parametrize("status", [Status.FINISHED, Status.ERRORED])
def test_terminal_states_are_terminal(status: Status) -> None:
    assert status.terminal
    job = in_status(status)

    for move in MOVES.values():
        with pytest.raises(IllegalTransition):
            move(job)
    with pytest.raises(IllegalTransition):
        job.restart(FINISHED)


@pytest.mark.parametrize("status", [Status.PENDING, Status.STARTED])
def test_running_states_are_not_terminal(status: Status) -> None:
    assert not status.terminal


def test_records_are_immutable() -> None:
    job = in_status(Status.FINISHED)

    with pytest.raises(dataclasses.FrozenInstanceError):
        job.status = Status.ERRORED  # type: ignore[misc]


def test_status_values_are_the_openapi_enum() -> None:
    assert [status.value for status in Status] == [
        "PENDING",
        "STARTED",
        "FINISHED",
        "ERRORED",
    ]


def test_start_takes_the_snapshot_and_counts_the_attempt() -> None:
    job = pending().start(STARTED)

    assert job.status is Status.STARTED
    assert job.started == STARTED
    assert job.snapshot_at == STARTED
    assert job.attempts == 1
    assert job.created == CREATED


def test_finish_keeps_the_parts_and_sums_their_rows() -> None:
    job = pending().start(STARTED).finish(FINISHED, PARTS)

    assert job.finished == FINISHED
    assert job.parts == PARTS
    assert job.row_count == 5


def test_a_job_without_parts_has_no_rows() -> None:
    assert pending().start(STARTED).finish(FINISHED, ()).row_count == 0


def test_fail_keeps_the_reason() -> None:
    job = pending().start(STARTED).fail(FINISHED, "disk full")

    assert job.status is Status.ERRORED
    assert job.failure == "disk full"
    assert job.finished == FINISHED
    assert job.row_count == 0


def test_restart_keeps_started_and_counts_another_attempt() -> None:
    later = STARTED + dt.timedelta(minutes=3)

    job = pending().start(STARTED).restart(later)

    assert job.status is Status.STARTED
    assert job.attempts == 2
    assert job.started == later
    assert job.snapshot_at == later
    assert job.restart(later).attempts == 3


def test_restart_of_a_pending_job_raises() -> None:
    with pytest.raises(IllegalTransition):
        pending().restart(STARTED)


def test_date_range_is_unknown_before_the_snapshot() -> None:
    job = pending({"updated": {"from": "2026-01-01T00:00:00.000Z", "to": None}})

    assert job.date_range("updated") is None


def test_open_date_range_ends_at_the_snapshot() -> None:
    job = pending({"updated": {"from": "2026-01-01T00:00:00.000Z", "to": None}})

    applied = job.start(STARTED).date_range("updated")

    assert applied == DateRange(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), STARTED)


def test_closed_date_range_keeps_its_end() -> None:
    job = pending({"introduced": {"from": None, "to": "2026-02-01T10:00:00.250Z"}})

    applied = job.start(STARTED).date_range("introduced")

    end = dt.datetime(2026, 2, 1, 10, 0, 0, 250000, tzinfo=dt.UTC)
    assert applied == DateRange(None, end)


def test_unapplied_date_filter_has_no_range() -> None:
    job = pending({"updated": {"from": "2026-01-01T00:00:00.000Z", "to": None}})

    assert job.start(STARTED).date_range("introduced") is None


def test_restart_moves_the_open_end_to_the_new_snapshot() -> None:
    later = STARTED + dt.timedelta(minutes=3)
    job = pending({"updated": {"from": "2026-01-01T00:00:00.000Z", "to": None}})
    job = job.start(STARTED)

    applied = job.restart(later).date_range("updated")

    assert applied is not None
    assert applied.end == later
