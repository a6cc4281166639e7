"""Result files in the data directory, served by the app through signed links."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from snyk_export.jobs import Part
from snyk_export.signing import SigningKeys, download_path

_TEMP_PREFIX = ".partial-"


class LocalPartWriter:
    """Writes one part under a temporary name, measuring it on the way."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = name
        self.path = directory / (_TEMP_PREFIX + name)
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._hash = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        self._hash.update(data)
        self._size += len(data)

    def close(self, row_count: int) -> Part:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return Part(self.name, self._size, row_count, self._hash.hexdigest())


class LocalStorage:
    """Parts kept under ``root/<export_id>/``; links point at the app's /dl route."""

    def __init__(self, root: Path, keys: SigningKeys, origin: str) -> None:
        self.root = root
        self.keys = keys
        self.origin = origin
        root.mkdir(parents=True, exist_ok=True)

    def _directory(self, export_id: str) -> Path:
        return self.root / export_id

    def discard(self, export_id: str) -> None:
        shutil.rmtree(self._directory(export_id), ignore_errors=True)

    def open_part(self, export_id: str, name: str) -> LocalPartWriter:
        directory = self._directory(export_id)
        directory.mkdir(parents=True, exist_ok=True)
        return LocalPartWriter(directory, name)

    def publish(self, export_id: str, parts: list[Part]) -> None:
        directory = self._directory(export_id)
        if not parts:
            return
        for part in parts:
            os.replace(directory / (_TEMP_PREFIX + part.name), directory / part.name)
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def link(self, export_id: str, part: Part, expires: int) -> str:
        return self.origin + download_path(self.keys, export_id, part.name, expires)

    def published_path(self, export_id: str, name: str) -> Path | None:
        """The file of a published part, or None if it is not stored."""
        if "/" in name or name.startswith("."):
            return None
        path = self._directory(export_id) / name
        return path if path.is_file() else None

    def stored_exports(self) -> set[str]:
        return {entry.name for entry in self.root.iterdir() if entry.is_dir()}
