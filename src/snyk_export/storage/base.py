"""The interface of result storage."""

from __future__ import annotations

from typing import Protocol

from snyk_export.jobs import Part


class PartWriter(Protocol):
    """A result file being written; invisible until published."""

    def write(self, data: bytes | memoryview) -> None: ...

    def close(self, row_count: int) -> Part:
        """Make the file durable and describe it; ``row_count`` excludes the header."""
        ...


class ResultStorage(Protocol):
    """Stores the parts of exports and hands out links to them."""

    def discard(self, export_id: str) -> None:
        """Remove everything stored for an export, published or not."""
        ...

    def open_part(self, export_id: str, name: str) -> PartWriter: ...

    def publish(self, export_id: str, parts: list[Part]) -> None:
        """Make written parts visible under their final names, all or nothing."""
        ...

    def link(self, export_id: str, part: Part, expires: int) -> str:
        """An absolute, signed URL for a published part, valid until ``expires``."""
        ...

    def stored_exports(self) -> set[str]:
        """Ids of every export that has something stored."""
        ...
