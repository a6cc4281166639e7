"""The export service: creating exports, finding them, describing their results."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Protocol

from snyk_export.backends.base import Backend, Credential
from snyk_export.catalog import Scope
from snyk_export.definition import ExportDefinition
from snyk_export.errors import NotFound, Throttled
from snyk_export.executor import Clock, utc_now
from snyk_export.filters import format_instant
from snyk_export.ids import new_export_id
from snyk_export.jobs import Export, Status
from snyk_export.storage.base import ResultStorage

JSONAPI = {"version": "1.0"}
SCOPE_PATHS: dict[Scope, str] = {"org": "orgs", "group": "groups"}


class JobQueue(Protocol):
    """Where accepted exports go to be run: worker threads, or Procrastinate."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def submit(self, export_id: str) -> None: ...


class ExportService:
    """What the HTTP surface asks of exports, independent of HTTP."""

    def __init__(
        self,
        backend: Backend,
        storage: ResultStorage,
        queue: JobQueue,
        *,
        export_post_limit: int | None,
        export_post_window_seconds: int,
        export_post_limits_by_scope: dict[str, int | None] | None = None,
        retention_seconds: int,
        max_url_expiration_seconds: int,
        clock: Clock = utc_now,
    ) -> None:
        self.backend = backend
        self.storage = storage
        self.queue = queue
        self.export_post_limit = export_post_limit
        self.export_post_limits_by_scope = export_post_limits_by_scope or {}
        self.export_post_window_seconds = export_post_window_seconds
        self.retention = dt.timedelta(seconds=retention_seconds)
        self.max_url_expiration_seconds = max_url_expiration_seconds
        self.clock = clock

    def create(self, credential: Credential, definition: ExportDefinition) -> Export:
        """Accept an export, within the creation limit, and queue it."""
        export = Export(
            id=new_export_id(),
            definition=definition,
            status=Status.PENDING,
            created=_to_millis(self.clock()),
            credential_id=credential.id,
        )
        key = f"{definition.scope}:{definition.scope_id}"
        limit = self.export_post_limits_by_scope.get(key, self.export_post_limit)
        wait = self.backend.create_export_within_limit(
            export, limit, self.export_post_window_seconds
        )
        if wait is not None:
            raise Throttled(
                "too many exports started for this scope; try again later",
                retry_after_seconds=math.ceil(wait),
            )
        self.queue.submit(export.id)
        return export

    def find(self, scope: Scope, scope_id: str, export_id: str) -> Export:
        """The export, if it was created in this scope and is still retained."""
        export = self.backend.get_export(export_id)
        if (
            export is None
            or export.definition.scope != scope
            or export.definition.scope_id != scope_id
            or self.is_expired(export)
        ):
            raise NotFound(f"export {export_id} not found")
        return export

    def is_expired(self, export: Export) -> bool:
        return (
            export.finished is not None
            and self.clock() >= export.finished + self.retention
        )

    def link_expiry(self, export: Export) -> int:
        """Unix time at which links minted now expire (§10.6, §14.2)."""
        assert export.finished is not None
        lifetime = min(
            export.definition.url_expiration_seconds, self.max_url_expiration_seconds
        )
        until = min(
            self.clock() + dt.timedelta(seconds=lifetime),
            export.finished + self.retention,
        )
        return int(until.timestamp())

    def results(self, export: Export) -> list[dict[str, Any]]:
        """The result items of a finished export, with freshly signed links."""
        expires = self.link_expiry(export)
        return [
            {
                "url": self.storage.link(export, part, expires),
                "file_size": part.file_size,
                "row_count": part.row_count,
            }
            for part in export.parts
        ]


def _to_millis(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=(moment.microsecond // 1000) * 1000)


def status_path(export: Export) -> str:
    d = export.definition
    return f"/{SCOPE_PATHS[d.scope]}/{d.scope_id}/jobs/export/{export.id}"


def results_path(export: Export) -> str:
    d = export.definition
    return f"/{SCOPE_PATHS[d.scope]}/{d.scope_id}/export/{export.id}"


def created_document(export: Export, version: str) -> dict[str, Any]:
    """The body of a 202 answer to a create request (§6.8)."""
    return {
        "jsonapi": JSONAPI,
        "data": {
            "type": "export",
            "id": export.id,
            "attributes": {"created": format_instant(export.created)},
            "links": {"self": f"{status_path(export)}?version={version}"},
        },
    }


def _finished_attributes(
    export: Export, results: list[dict[str, Any]]
) -> dict[str, Any]:
    assert export.finished is not None
    attributes: dict[str, Any] = {
        "status": Status.FINISHED.value,
        "created": format_instant(export.created),
        "finished": format_instant(export.finished),
        "formats": list(export.definition.formats),
        "row_count": export.row_count,
    }
    for name in ("introduced", "updated"):
        applied = export.date_range(name)
        if applied is not None:
            bounds = {"to": format_instant(applied.end)}
            if applied.start is not None:
                bounds = {"from": format_instant(applied.start), **bounds}
            attributes[f"{name}_date_range"] = bounds
    attributes["results"] = results
    return attributes


def export_document(
    export: Export,
    version: str,
    results: list[dict[str, Any]] | None,
    *,
    results_view: bool,
) -> dict[str, Any]:
    """The body of a status (§8) or results (§9) answer."""
    if export.status is Status.FINISHED and results is not None:
        attributes = _finished_attributes(export, results)
    else:
        status = export.status
        if results_view and status is Status.STARTED:
            status = Status.PENDING
        attributes = {"status": status.value}
        if results_view:
            attributes["row_count"] = 0
        attributes["created"] = format_instant(export.created)
        attributes["formats"] = list(export.definition.formats)
    return {
        "jsonapi": JSONAPI,
        "data": {"type": "export", "id": export.id, "attributes": attributes},
        "links": {"self": f"{results_path(export)}?version={version}"},
    }
