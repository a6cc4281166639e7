"""Export definitions and job records for the backend tests of both engines."""

from __future__ import annotations

import datetime as dt
import uuid

from snyk_export.backends.base import Backend
from snyk_export.definition import ExportDefinition
from snyk_export.jobs import Export, Status

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
EVER = {"updated": {"from": "2000-01-01T00:00:00.000Z", "to": None}}


def definition(scope_id: str, **overrides: object) -> ExportDefinition:
    """A group export of PROBLEM_ID over all time, unless ``overrides`` say else."""
    fields: dict[str, object] = {
        "scope": "group",
        "scope_id": scope_id,
        "dataset": "issues",
        "columns": ("PROBLEM_ID",),
        "filters": EVER,
    }
    fields.update(overrides)
    return ExportDefinition(**fields)  # type: ignore[arg-type]


def pending(
    scope_id: str, created: dt.datetime = NOW, credential: str = "c1"
) -> Export:
    return Export(
        str(uuid.uuid4()), definition(scope_id), Status.PENDING, created, credential
    )


def records_of(backend: Backend, export: Export, batch_rows: int = 97) -> list[str]:
    """Every rendered record of the export, streamed in small batches."""
    return [
        r.as_py() for batch in backend.stream_export(export, batch_rows) for r in batch
    ]
