"""The export endpoints over HTTP: retries, ``retry-after``, polling with backoff.

Every call takes a :class:`Deadline`; no wait, retry or poll outlives it.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from snyk_export.client.errors import (
    REQUEST_ID_HEADER,
    DeadlineExceeded,
    ExportErrored,
    RequestFailed,
    error_from_response,
)

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.snyk.io/rest"
API_VERSION = "2024-10-15"
JSONAPI_MEDIA_TYPE = "application/vnd.api+json"
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})

Scope = Literal["org", "group"]
SCOPE_PATHS: dict[Scope, str] = {"org": "orgs", "group": "groups"}
Sleep = Callable[[float], None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class RetryPolicy:
    """How failed requests are retried and how a running job is polled."""

    poll_initial_seconds: float = 1.0
    poll_factor: float = 1.5
    poll_max_seconds: float = 30.0
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    max_retries: int = 8


DEFAULT_RETRY = RetryPolicy()


class Deadline:
    """A point in time after which the client gives up."""

    def __init__(self, timeout_seconds: float, clock: Clock, sleep: Sleep) -> None:
        self.clock = clock
        self._sleep = sleep
        self.at = clock() + timeout_seconds

    def remaining_seconds(self) -> float:
        return max(0.0, self.at - self.clock())

    def sleep(self, seconds: float, why: str) -> None:
        """Wait ``seconds``, or raise at once if the wait would pass the deadline."""
        if seconds >= self.remaining_seconds():
            raise DeadlineExceeded(f"deadline reached while waiting ({why})")
        self._sleep(max(0.0, seconds))


@dataclass(frozen=True)
class ResultPart:
    """One result file of a finished export, as the API lists it."""

    url: str
    file_size: int
    row_count: int


@dataclass(frozen=True)
class JobStatus:
    """What a status or results answer says about an export."""

    export_id: str
    status: str
    row_count: int
    results: tuple[ResultPart, ...]
    attributes: Mapping[str, Any]
    request_id: str | None

    @property
    def terminal(self) -> bool:
        return self.status in ("FINISHED", "ERRORED")


@dataclass(frozen=True)
class StartedExport:
    """An export the API accepted."""

    scope: Scope
    scope_id: str
    export_id: str
    created: str | None
    poll_hint_seconds: float | None
    request_id: str | None


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``retry-after`` header in seconds (delta or HTTP date), if usable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class ExportApi:
    """The six export endpoints of one API base URL, for one token."""

    def __init__(
        self,
        http: httpx.Client,
        api_url: str,
        token: str,
        *,
        version: str = API_VERSION,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self._authorization = f"token {token}"
        self.version = version
        self.retry = retry
        self.retries = 0

    def start(
        self,
        scope: Scope,
        scope_id: str,
        attributes: Mapping[str, Any],
        query: Mapping[str, str],
        deadline: Deadline,
    ) -> StartedExport:
        """Create an export (E1 or E4)."""
        body = {"data": {"type": "resource", "attributes": dict(attributes)}}
        path = f"/{SCOPE_PATHS[scope]}/{scope_id}/export"
        response = self.send("POST", path, deadline, json=body, params=query)
        data = response.json()["data"]
        # The id is all that is needed: Snyk's published 202 example carries a
        # links.self that matches no endpoint, so paths are built, not followed.
        return StartedExport(
            scope,
            scope_id,
            str(data["id"]),
            data.get("attributes", {}).get("created"),
            retry_after_seconds(response),
            response.headers.get(REQUEST_ID_HEADER),
        )

    def status(self, started: StartedExport, deadline: Deadline) -> JobStatus:
        """The job status (E2 or E5); results are inline once FINISHED."""
        return self._read(started, "jobs/export", deadline)

    def results(self, started: StartedExport, deadline: Deadline) -> JobStatus:
        """The job results (E3 or E6), with freshly signed links."""
        return self._read(started, "export", deadline)

    def _read(self, started: StartedExport, kind: str, deadline: Deadline) -> JobStatus:
        path = f"/{SCOPE_PATHS[started.scope]}/{started.scope_id}/{kind}"
        response = self.send("GET", f"{path}/{started.export_id}", deadline)
        attributes = response.json()["data"]["attributes"]
        parts = tuple(
            ResultPart(str(item["url"]), int(item["file_size"]), int(item["row_count"]))
            for item in attributes.get("results") or ()
        )
        return JobStatus(
            started.export_id,
            str(attributes["status"]),
            int(attributes.get("row_count") or 0),
            parts,
            attributes,
            response.headers.get(REQUEST_ID_HEADER),
        )

    def wait(
        self,
        started: StartedExport,
        deadline: Deadline,
        on_status: Callable[[str], None] = lambda status: None,
    ) -> JobStatus:
        """Poll until the job is FINISHED; ERRORED raises :class:`ExportErrored`."""
        first = started.poll_hint_seconds
        interval = self.retry.poll_initial_seconds
        deadline.sleep(first if first is not None else interval, "export accepted")
        while True:
            job = self.status(started, deadline)
            on_status(job.status)
            if job.status == "ERRORED":
                raise ExportErrored(
                    f"export {started.export_id} ended ERRORED",
                    request_id=job.request_id,
                )
            if job.status == "FINISHED" and "results" not in job.attributes:
                # Snyk's OpenAPI status schema has no results; the results
                # endpoint always has them once the job is FINISHED.
                return self.results(started, deadline)
            if job.status == "FINISHED":
                return job
            deadline.sleep(interval, f"export {job.status}")
            interval = min(
                interval * self.retry.poll_factor, self.retry.poll_max_seconds
            )

    def send(
        self,
        method: str,
        path: str,
        deadline: Deadline,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One API request, retried on 429, 5xx and network failures."""
        creating = method == "POST"
        headers = {"Authorization": self._authorization}
        if creating:
            headers["Content-Type"] = JSONAPI_MEDIA_TYPE
        query = {"version": self.version, **(params or {})}
        failures = 0
        while True:
            timeout = min(60.0, max(1.0, deadline.remaining_seconds()))
            try:
                response = self.http.request(
                    method,
                    self.api_url + path,
                    params=query,
                    json=json,
                    headers=headers,
                    timeout=timeout,
                )
            except httpx.TransportError as exc:
                # A POST lost in transit may have created an export; creating a
                # second one is the lesser harm than failing the whole run.
                failure = RequestFailed(f"{method} {path} failed: {exc}")
                if failures == self.retry.max_retries:
                    raise failure from exc
                failures += 1
                self._back_off(failures, None, deadline, failure)
                continue
            if response.status_code < 400:
                return response
            error = error_from_response(response, creating=creating)
            # Throttling is bounded by the deadline alone: the server says when
            # to come back, and coming back then is always right.
            throttled = response.status_code == 429
            if response.status_code not in RETRIED_STATUSES or (
                not throttled and failures == self.retry.max_retries
            ):
                raise error
            failures += 0 if throttled else 1
            self._back_off(failures, retry_after_seconds(response), deadline, error)

    def _back_off(
        self,
        failures: int,
        retry_after: float | None,
        deadline: Deadline,
        error: RequestFailed,
    ) -> None:
        self.retries += 1
        if retry_after is None:
            ceiling = self.retry.retry_initial_seconds * 2 ** max(0, failures - 1)
            retry_after = random.uniform(0.5, 1.0) * min(
                ceiling, self.retry.retry_max_seconds
            )
        logger.debug("Retrying in %.1fs after %s", retry_after, error.message)
        try:
            deadline.sleep(retry_after, "to retry")
        except DeadlineExceeded as exc:
            raise DeadlineExceeded(
                f"deadline reached before a retry of: {error.message}",
                request_id=error.request_id,
            ) from exc
