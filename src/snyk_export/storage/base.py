"""The interface of result storage.

Each run of a job (an attempt) writes under its own location,
``<export_id>/<attempt>/<part>``, so a worker that was taken for dead but is
still writing can never overwrite the files of the attempt that replaced it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from snyk_export.jobs import Export, Part


class PartWriter(Protocol):
    """A result file being written; invisible until published."""

    def write(self, data: bytes | memoryview) -> None: ...

    def close(self, row_count: int) -> Part:
        """Make the file durable and describe it; ``row_count`` excludes the header."""
        ...

    def abort(self) -> None:
        """Give the file up after a failure, releasing its handle and space."""
        ...


class ResultStorage(Protocol):
    """Stores the parts of exports and hands out links to them."""

    def open_part(self, export: Export, name: str) -> PartWriter:
        """A writer for part ``name`` of the export's current attempt."""
        ...

    def publish(self, export: Export, parts: list[Part]) -> None:
        """Make written parts visible under their final names, all or nothing."""
        ...

    def link(self, export: Export, part: Part, expires: int) -> str:
        """An absolute, signed URL for a published part, valid until ``expires``."""
        ...

    def published(self, export: Export, name: str) -> Path | Iterator[bytes] | None:
        """A published part's bytes for ``/dl`` links: a local file, or chunks
        read from the store; None if it is not stored."""
        ...

    def discard(self, export_id: str, attempt: int | None = None) -> None:
        """Remove what one attempt stored, or everything of the export (None)."""
        ...

    def stored(self) -> dict[str, set[int]]:
        """Every export that has something stored, with the attempts that do."""
        ...

    def check(self) -> None:
        """Raise :class:`~snyk_export.errors.Unavailable` if the store is away."""
        ...
