"""The ``--since-last`` state file of cyclic exports.

The file remembers when the last successful export was taken, in the server's
clock: the upper bound of its ``updated`` range as the server reports it (the
snapshot time when the range was open). The next export asks for rows updated
from that instant on. Bounds are inclusive (§6.6), so a row updated exactly at
the boundary can appear in two consecutive exports; none is ever skipped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from snyk_export.client.errors import StateFileError
from snyk_export.client.request import ExportRequest

STATE_VERSION = 1
BEGINNING = "1970-01-01T00:00:00Z"


@dataclass(frozen=True)
class SinceLast:
    """The state of one cyclic export, read from and written to ``path``."""

    path: Path
    updated_from: str | None

    @classmethod
    def load(cls, path: Path, request: ExportRequest) -> SinceLast:
        """The state in ``path`` (none yet if it does not exist), checked against
        the request it is used with."""
        try:
            state = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return cls(path, None)
        except (OSError, ValueError) as exc:
            raise StateFileError(f"cannot read state file {path}: {exc}") from exc
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise StateFileError(f"{path} is not a snyk-export state file")
        expected = _identity(request)
        recorded = {key: state.get(key) for key in expected}
        if recorded != expected:
            raise StateFileError(
                f"state file {path} belongs to another export: {recorded}"
            )
        return cls(path, str(state["updated_to"]))

    def apply(self, request: ExportRequest) -> ExportRequest:
        """The request narrowed to rows updated since the last success."""
        given = dict(request.filters.get("updated") or {})
        if given.get("to"):
            raise StateFileError("--since-last exports up to now; drop --updated-to")
        start = self.updated_from or given.get("from") or BEGINNING
        filters = {**request.filters, "updated": {"from": start}}
        return replace(request, filters=filters)

    def record(self, request: ExportRequest, export_id: str, updated_to: str) -> None:
        """Remember a successful export; written atomically."""
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            **_identity(request),
            "updated_to": updated_to,
            "export_id": export_id,
        }
        partial = self.path.with_name(f".{self.path.name}.partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(state, indent=2) + "\n", "utf-8")
        os.replace(partial, self.path)


def _identity(request: ExportRequest) -> dict[str, Any]:
    return {
        "scope": request.scope,
        "scope_id": request.scope_id,
        "dataset": request.dataset,
    }
