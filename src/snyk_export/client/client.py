"""The export client: start an export, wait for it, download and write it."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from snyk_export.catalog import find_dataset
from snyk_export.client.api import (
    API_VERSION,
    DEFAULT_API_URL,
    DEFAULT_RETRY,
    Clock,
    Deadline,
    ExportApi,
    JobStatus,
    RetryPolicy,
    Sleep,
    StartedExport,
)
from snyk_export.client.download import DownloadedPart, LinkBook, PartDownloader
from snyk_export.client.errors import DownloadFailed
from snyk_export.client.output import OutputOptions, write_output
from snyk_export.client.progress import Progress, SilentProgress
from snyk_export.client.request import ExportRequest
from snyk_export.client.state import SinceLast

logger = logging.getLogger(__name__)

USER_AGENT = "snyk-export-client/0.1"


@dataclass(frozen=True)
class FetchResult:
    """A fetched export: what the server reported and what was written."""

    export_id: str
    request: ExportRequest
    row_count: int
    parts: tuple[DownloadedPart, ...]
    files: tuple[Path, ...]
    updated_to: str | None
    link_renewals: int
    retries: int
    elapsed_seconds: float
    request_id: str | None

    @property
    def total_bytes(self) -> int:
        return sum(part.file_size for part in self.parts)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description of the run, for schedulers."""
        return {
            "status": "FINISHED",
            "export_id": self.export_id,
            "scope": self.request.scope,
            "scope_id": self.request.scope_id,
            "dataset": self.request.dataset,
            "filters": dict(self.request.filters),
            "row_count": self.row_count,
            "bytes": self.total_bytes,
            "parts": [
                {"file_size": part.file_size, "row_count": part.row_count}
                for part in self.parts
            ],
            "files": [str(path) for path in self.files],
            "updated_to": self.updated_to,
            "link_renewals": self.link_renewals,
            "retries": self.retries,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "request_id": self.request_id,
        }


class Client:
    """A client of the Snyk Export API, or of any server that speaks it.

    ``api_url`` is the REST base URL: ``https://api.snyk.io/rest`` (the default),
    a regional host such as ``https://api.eu.snyk.io/rest``, or this server's.
    ``transport`` replaces the network, for tests.
    """

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        version: str = API_VERSION,
        timeout_seconds: float = 3600.0,
        parallel_downloads: int = 4,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.parallel_downloads = parallel_downloads
        self.retry = retry
        self._sleep = sleep
        self._clock = clock
        # No default Authorization header: download links must not carry the
        # token (presigned storage URLs reject a second credential).
        self.http = httpx.Client(
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=max(8, parallel_downloads * 2)),
        )
        self.api = ExportApi(self.http, api_url, token, version=version, retry=retry)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"Client(api_url={self.api.api_url!r})"

    def export(
        self,
        request: ExportRequest,
        output: OutputOptions,
        *,
        since_last: Path | None = None,
        progress: Progress | None = None,
    ) -> FetchResult:
        """Run one export to the end and write it; raises a ClientError on failure.

        With ``since_last``, only rows updated since the last successful export
        recorded in that file are asked for, and the file is updated on success.
        """
        progress = progress or SilentProgress()
        started_at = self._clock()
        deadline = Deadline(self.timeout_seconds, self._clock, self._sleep)
        state = SinceLast.load(since_last, request) if since_last else None
        if state is not None:
            request = state.apply(request)
        retries_before = self.api.retries

        try:
            started = self._start(request, deadline, progress)
            job = self.api.wait(
                started,
                deadline,
                lambda status: progress.waiting(started.export_id, status),
            )
            fetched = self._fetch(started, job, request, output, deadline, progress)
        finally:
            progress.done()
        logger.debug(
            "Export fetched: %s rows in %s parts",
            job.row_count,
            len(fetched.parts),
            extra={"action": "export_fetched", "export_id": started.export_id},
        )
        updated_to = _updated_to(job, started)
        if state is not None:
            state.record(request, started.export_id, updated_to)

        return FetchResult(
            export_id=started.export_id,
            request=request,
            row_count=job.row_count,
            parts=fetched.parts,
            files=fetched.files,
            updated_to=updated_to,
            link_renewals=fetched.link_renewals,
            retries=self.api.retries - retries_before + fetched.retries,
            elapsed_seconds=self._clock() - started_at,
            request_id=started.request_id,
        )

    def _start(
        self, request: ExportRequest, deadline: Deadline, progress: Progress
    ) -> StartedExport:
        started = self.api.start(
            request.scope,
            request.scope_id,
            request.attributes(),
            request.query(),
            deadline,
        )
        logger.debug(
            "Export accepted",
            extra={"action": "export_accepted", "export_id": started.export_id},
        )
        progress.waiting(started.export_id, "PENDING")
        return started

    def _fetch(
        self,
        started: StartedExport,
        job: JobStatus,
        request: ExportRequest,
        output: OutputOptions,
        deadline: Deadline,
        progress: Progress,
    ) -> _Fetched:
        """Download the parts of a finished job and write the output."""
        _check_row_total(job)
        # Parts land next to the output, so writing it never crosses devices.
        anchor = output.path if output.split else output.path.parent
        anchor.mkdir(parents=True, exist_ok=True)
        links = LinkBook(
            job.results, lambda: self.api.results(started, deadline).results
        )
        with tempfile.TemporaryDirectory(prefix=".snyk-", dir=anchor) as scratch:
            downloader = self._downloader(links, Path(scratch), deadline, progress)
            progress.downloading(
                sum(p.file_size for p in job.results), len(job.results)
            )
            parts = downloader.fetch_all(len(job.results), self.parallel_downloads)
            progress.writing()
            files = write_output(
                [part.path for part in parts],
                output,
                find_dataset(request.dataset),
                request.header(),
            )
        return _Fetched(tuple(parts), tuple(files), links.renewals, downloader.retries)

    def _downloader(
        self, links: LinkBook, directory: Path, deadline: Deadline, progress: Progress
    ) -> PartDownloader:
        return PartDownloader(
            self.http,
            links,
            directory,
            deadline,
            retry=self.retry,
            on_bytes=progress.advanced,
            on_part=lambda part: progress.part_done(),
        )


class _Fetched(NamedTuple):
    parts: tuple[DownloadedPart, ...]
    files: tuple[Path, ...]
    link_renewals: int
    retries: int


def _check_row_total(job: JobStatus) -> None:
    listed_rows = sum(part.row_count for part in job.results)
    if listed_rows != job.row_count:
        raise DownloadFailed(
            f"the parts hold {listed_rows} rows, the export {job.row_count}",
            request_id=job.request_id,
        )


def _updated_to(job: JobStatus, started: StartedExport) -> str:
    """The instant the export's data reaches, in the server's clock."""
    updated = job.attributes.get("updated_date_range") or {}
    if isinstance(updated, dict) and updated.get("to"):
        return str(updated["to"])
    if started.created:
        return started.created
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    return now.replace("+00:00", "Z")
