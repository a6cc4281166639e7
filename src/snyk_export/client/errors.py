"""Errors of the export client, and the exit codes the command maps them to.

::

    ClientError                  root of everything the client raises
    +-- RequestFailed            the API answered an error, or could not be reached
    |   +-- AccessDenied         401, 403, or a scope the token cannot see (404)
    |   +-- RequestRejected      the API refused the request as written (400, 413, 415)
    +-- ExportErrored            the export job ended ERRORED
    +-- DeadlineExceeded         the deadline passed before the export was fetched
    +-- DownloadFailed           a part could not be downloaded or failed verification
    +-- StateFileError           the ``--since-last`` state file is unusable
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import ClassVar

import httpx

REQUEST_ID_HEADER = "snyk-request-id"


class ExitCode(IntEnum):
    """Exit codes of ``snyk-export fetch``, one per thing a scheduler can act on."""

    OK = 0
    FAILED = 1
    BAD_REQUEST = 2
    AUTH = 3
    ERRORED = 4
    TIMED_OUT = 5

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "the export was fetched and written",
    ExitCode.FAILED: "network or server failure, or a part failed verification "
    "(worth retrying)",
    ExitCode.BAD_REQUEST: "the request or the options were rejected (fix and rerun)",
    ExitCode.AUTH: "authentication failed, or the token has no access to the scope",
    ExitCode.ERRORED: "the export job ended ERRORED on the server",
    ExitCode.TIMED_OUT: "the deadline passed before the export was fetched",
}


class ClientError(Exception):
    """Root of every error raised by the export client."""

    exit_code: ClassVar[ExitCode] = ExitCode.FAILED

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (snyk-request-id {self.request_id})"
        return self.message


class RequestFailed(ClientError):
    """The API answered with an error status, or could not be reached at all."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status = status
        self.code = code
        self.detail = detail


class AccessDenied(RequestFailed):
    """The token was refused, or it cannot read reports of the org or group."""

    exit_code = ExitCode.AUTH


class RequestRejected(RequestFailed):
    """The API refused the export request as written."""

    exit_code = ExitCode.BAD_REQUEST


class ExportErrored(ClientError):
    """The export job ended ERRORED; Snyk gives no reason on its surface."""

    exit_code = ExitCode.ERRORED


class DeadlineExceeded(ClientError):
    """The export was not fetched before the deadline."""

    exit_code = ExitCode.TIMED_OUT


class DownloadFailed(ClientError):
    """A result part could not be downloaded, or its size or row count was wrong."""


class StateFileError(ClientError):
    """The ``--since-last`` state file cannot be read or belongs to another export."""

    exit_code = ExitCode.BAD_REQUEST


def error_from_response(response: httpx.Response, *, creating: bool) -> RequestFailed:
    """The error an API answer stands for, with the server's detail and request id.

    A 404 on the create request means the org or group is unknown or the token is
    not a member of it (Snyk hides scopes a token cannot see), so it is an access
    failure; a 404 later means the export itself is gone.
    """
    status = response.status_code
    code, detail = _first_error(response)
    request_id = response.headers.get(REQUEST_ID_HEADER)
    message = f"{response.request.method} {response.request.url.path} answered {status}"
    if code:
        message += f" {code}"
    if detail:
        message += f": {detail}"
    kind: type[RequestFailed] = RequestFailed
    if status in (401, 403) or (status == 404 and creating):
        kind = AccessDenied
    elif status in (400, 413, 415, 422):
        kind = RequestRejected
    return kind(message, status=status, code=code, detail=detail, request_id=request_id)


def _first_error(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        document = json.loads(response.content)
        error = document["errors"][0]
        return error.get("code"), error.get("detail") or error.get("title")
    except (ValueError, LookupError, TypeError, AttributeError):
        text = response.text.strip().splitlines()
        return None, text[0][:200] if text else None
