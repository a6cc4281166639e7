"""Result files in the data directory, served by the app through signed links."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from snyk_export.errors import Unavailable
from snyk_export.jobs import Export, Part
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
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
        return Part(self.name, self._size, row_count, self._hash.hexdigest())

    def abort(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class LocalStorage:
    """Parts kept under ``root/<export_id>/<attempt>/``; links point at /dl."""

    def __init__(self, root: Path, keys: SigningKeys, origin: str) -> None:
        self.root = root
        self.keys = keys
        self.origin = origin
        root.mkdir(parents=True, exist_ok=True)

    def _directory(self, export_id: str, attempt: int) -> Path:
        return self.root / export_id / str(attempt)

    def discard(self, export_id: str, attempt: int | None = None) -> None:
        target = self.root / export_id
        if attempt is not None:
            target = target / str(attempt)
        shutil.rmtree(target, ignore_errors=True)

    def open_part(self, export: Export, name: str) -> LocalPartWriter:
        directory = self._directory(export.id, export.attempts)
        directory.mkdir(parents=True, exist_ok=True)
        return LocalPartWriter(directory, name)

    def publish(self, export: Export, parts: list[Part]) -> None:
        if not parts:
            return
        directory = self._directory(export.id, export.attempts)
        for part in parts:
            os.replace(directory / (_TEMP_PREFIX + part.name), directory / part.name)
        _fsync_directory(directory)

    def link(self, export: Export, part: Part, expires: int) -> str:
        return self.origin + download_path(self.keys, export.id, part.name, expires)

    def published(self, export: Export, name: str) -> Path | None:
        """The file of a published part, or None if it is not stored."""
        if "/" in name or name.startswith("."):
            return None
        path = self._directory(export.id, export.attempts) / name
        if not path.is_file():
            # Exports finished before attempts had directories of their own.
            path = self.root / export.id / name
        return path if path.is_file() else None

    def stored(self) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        for entry in self.root.iterdir():
            if entry.is_dir():
                found[entry.name] = {
                    int(run.name)
                    for run in entry.iterdir()
                    if run.is_dir() and run.name.isdigit()
                }
        return found

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise Unavailable(f"result directory {self.root} is not writable")
