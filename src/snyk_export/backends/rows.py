"""How export jobs are laid out as table rows, the same in every backend.

Instants are stored as UTC timestamps without a zone; the definition and the
part list as JSON, encoded and decoded by the backend's own driver types.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from snyk_export.definition import ExportDefinition
from snyk_export.jobs import Export, Part, Status

EXPORT_COLUMNS = (
    "id, definition, status, created, credential_id, attempts, started, finished, "
    "snapshot_at, parts, failure"
)


def naive(moment: dt.datetime | None) -> dt.datetime | None:
    """``moment`` in UTC without a zone, as the tables store instants."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """A stored instant with its UTC zone put back."""
    return None if moment is None else moment.replace(tzinfo=dt.UTC)


def export_from_row(row: tuple[Any, ...], decode: Callable[[Any], Any]) -> Export:
    """The export in a row of ``EXPORT_COLUMNS``; ``decode`` reads a JSON value."""
    (
        export_id,
        definition,
        status,
        created,
        credential_id,
        attempts,
        started,
        finished,
        snapshot_at,
        parts,
        failure,
    ) = row
    return Export(
        id=export_id,
        definition=ExportDefinition.from_json(decode(definition)),
        status=Status(status),
        created=created.replace(tzinfo=dt.UTC),
        credential_id=credential_id,
        attempts=attempts,
        started=aware(started),
        finished=aware(finished),
        snapshot_at=aware(snapshot_at),
        parts=tuple(Part(**part) for part in decode(parts)),
        failure=failure,
    )


def export_values(export: Export, encode: Callable[[Any], Any]) -> list[Any]:
    """The values of ``EXPORT_COLUMNS`` for ``export``; ``encode`` writes JSON."""
    return [
        export.id,
        encode(export.definition.to_json()),
        export.status.value,
        naive(export.created),
        export.credential_id,
        export.attempts,
        naive(export.started),
        naive(export.finished),
        naive(export.snapshot_at),
        encode([vars(part) for part in export.parts]),
        export.failure,
    ]
