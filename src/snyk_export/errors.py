"""One exception tree for the service, and its JSON:API error documents.

::

    ExportError                      root of everything the service raises
    +-- ApiError                     answered to the client with a status and code
    |   +-- BadRequest               400 SNYK-OPENAPI-0001 (syntax, schema)
    |   |   +-- LoadRejected         a file to load is invalid; nothing of it was kept
    |   +-- UnprocessableRequest     400 SNYK-0003 (semantics)
    |   +-- Unauthorized             401 SNYK-0005
    |   +-- Forbidden                403 SNYK-OPENAPI-0002
    |   +-- NotFound                 404 SNYK-OPENAPI-0004
    |   +-- MethodNotAllowed         405 SNYK-OPENAPI-0005
    |   +-- PayloadTooLarge          413 SNYK-OPENAPI-0006
    |   +-- UnsupportedMediaType     415 SNYK-OPENAPI-0008
    |   +-- Throttled                429 SNYK-0001
    |   +-- InternalError            500 SNYK-9999
    |   +-- Unavailable              503 SNYK-0009
    +-- ConfigurationError           the operator's settings are unusable
    +-- IllegalTransition            an export status would move backwards
    +-- ExportFailed                 a job could not produce its files
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

ERROR_CATALOG_URL = "https://docs.snyk.io/scan-with-snyk/error-catalog#"


class ExportError(Exception):
    """Root of every error raised by the service."""


class ConfigurationError(ExportError):
    """The settings given by the operator cannot be used."""


class IllegalTransition(ExportError):
    """An export was asked to move to a status it cannot reach from its own."""


class ExportFailed(ExportError):
    """A job could not produce its result files."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class ApiError(ExportError):
    """An error answered to the client as a JSON:API error document."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "SNYK-9999"
    title: ClassVar[str] = "Unable to process request"

    def __init__(
        self,
        detail: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.headers = headers or {}

    def document(self) -> dict[str, Any]:
        """The JSON:API error document for this error."""
        return error_document(
            self.status,
            self.code,
            self.title,
            self.detail,
            pointer=self.pointer,
            parameter=self.parameter,
        )


class BadRequest(ApiError):
    """The request is malformed: bad JSON, envelope, types or parameters."""

    status = 400
    code = "SNYK-OPENAPI-0001"
    title = "Bad request"


class LoadRejected(BadRequest):
    """A file given to ``load`` or ``import`` is invalid; nothing of it was stored."""


class UnprocessableRequest(ApiError):
    """The request is well formed but asks for something that cannot be done."""

    status = 400
    code = "SNYK-0003"
    title = "Client request cannot be processed"


class Unauthorized(ApiError):
    """No valid credential came with the request."""

    status = 401
    code = "SNYK-0005"
    title = "Authentication error"


class Forbidden(ApiError):
    """The caller may see the scope but lacks the permission, or a link is bad."""

    status = 403
    code = "SNYK-OPENAPI-0002"
    title = "Forbidden"


class NotFound(ApiError):
    """Nothing the caller may see exists at this address."""

    status = 404
    code = "SNYK-OPENAPI-0004"
    title = "Not found"


class MethodNotAllowed(ApiError):
    """The path exists, but not for this method."""

    status = 405
    code = "SNYK-OPENAPI-0005"
    title = "Method not allowed"


class PayloadTooLarge(ApiError):
    """The request body is larger than the configured limit."""

    status = 413
    code = "SNYK-OPENAPI-0006"
    title = "Request entity too large"

    def __init__(
        self,
        detail: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        # Closing is what stops the upload: a server keeping the connection
        # alive reads, and throws away, the rest of a body of any size.
        super().__init__(
            detail,
            pointer=pointer,
            parameter=parameter,
            headers={**(headers or {}), "connection": "close"},
        )


class UnsupportedMediaType(ApiError):
    """The request body is not JSON."""

    status = 415
    code = "SNYK-OPENAPI-0008"
    title = "Unsupported media type"


class Throttled(ApiError):
    """The caller went over a rate limit."""

    status = 429
    code = "SNYK-0001"
    title = "Service temporarily throttled"

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(
            detail, headers={"retry-after": str(max(1, retry_after_seconds))}
        )


class InternalError(ApiError):
    """Something unexpected failed inside the service."""

    status = 500
    code = "SNYK-9999"
    title = "Unable to process request"


class Unavailable(ApiError):
    """A dependency of the service is down or overloaded."""

    status = 503
    code = "SNYK-0009"
    title = "Unable to fulfill the request"


def error_document(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    pointer: str | None = None,
    parameter: str | None = None,
) -> dict[str, Any]:
    """Build a JSON:API error document in the shape Snyk's API answers with."""
    item: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": str(status),
        "code": code,
        "title": title,
        "detail": detail,
    }
    if pointer is not None:
        item["source"] = {"pointer": pointer}
    elif parameter is not None:
        item["source"] = {"parameter": parameter}
    item["links"] = {"about": ERROR_CATALOG_URL + code.lower()}
    item["meta"] = {
        "isErrorCatalogError": True,
        "classification": "UNEXPECTED" if status >= 500 else "ACTIONABLE",
        "level": "error",
    }
    return {"jsonapi": {"version": "1.0"}, "errors": [item]}
