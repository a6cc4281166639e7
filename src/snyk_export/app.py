"""The HTTP surface: the six export endpoints, downloads and the OpenAPI document.

Requests are checked in the order of the contract (§2): route, credential,
general limit, version, path parameters, visibility and permission, then the
operation's own input. Every failure becomes a JSON:API error document.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope

from snyk_export import openapi
from snyk_export.auth import authenticate, authorize, require_member
from snyk_export.backends.base import Credential
from snyk_export.catalog import Scope
from snyk_export.companion import (
    group_orgs_document,
    org_document,
    page_cursor,
    page_limit,
    self_document,
)
from snyk_export.definition import CreateOptions, decode_body, parse_create_request
from snyk_export.errors import (
    ApiError,
    BadRequest,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    error_document,
)
from snyk_export.executor import utc_now
from snyk_export.ids import canonical_uuid
from snyk_export.jobs import Export, Status
from snyk_export.observability import (
    PROBE_PATHS,
    Check,
    Metrics,
    MetricsMiddleware,
    health_routes,
)
from snyk_export.ratelimit import RequestLimiter
from snyk_export.service import (
    ExportService,
    created_document,
    export_document,
    status_path,
)
from snyk_export.signing import SigningKeys, verify_download
from snyk_export.storage.base import ResultStorage
from snyk_export.versioning import ReleaseTable, ResolvedVersion, resolve_any_date

logger = logging.getLogger(__name__)

JSONAPI_MEDIA_TYPE = "application/vnd.api+json"
REQUEST_ID_HEADER = "snyk-request-id"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


@dataclass
class Surface:
    """Everything the route handlers need, built once by the server."""

    service: ExportService
    storage: ResultStorage
    keys: SigningKeys
    releases: ReleaseTable
    limiter: RequestLimiter
    create_options: CreateOptions
    base_path: str
    max_request_bytes: int
    poll_hint_seconds: int
    metrics: Metrics | None = None  # None: no /metrics and no request metrics
    readiness_checks: Mapping[str, Check] = field(default_factory=dict)


class JsonApiResponse(Response):
    media_type = JSONAPI_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()


class PartResponse(FileResponse):
    """A result file, read in large chunks to keep the event loop's hops few."""

    chunk_size = 1024 * 1024


def _first(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    return values[0] if values else None


def _version_headers(request: Request) -> dict[str, str]:
    version: ResolvedVersion | None = getattr(request.state, "version", None)
    return version.headers(utc_now()) if version else {}


def error_response(request: Request, error: ApiError) -> Response:
    headers = {**_version_headers(request), **error.headers}
    return JsonApiResponse(error.document(), status_code=error.status, headers=headers)


@dataclass(frozen=True)
class Context:
    """A request that passed authentication, version and permission checks."""

    credential: Credential
    version: ResolvedVersion
    scope: Scope
    scope_id: str

    @property
    def version_text(self) -> str:
        return self.version.requested.normalized


class Handlers:
    """The route handlers, sharing one :class:`Surface`."""

    def __init__(self, surface: Surface) -> None:
        self.surface = surface
        self.service = surface.service

    async def _prepare(self, request: Request, scope: Scope) -> Context:
        backend = self.service.backend
        header = request.headers.get("authorization")
        credential = await run_in_threadpool(authenticate, backend, header, utc_now())
        self.surface.limiter.hit(credential.id)
        version = self.surface.releases.resolve(
            _first(request, "version"), utc_now().date()
        )
        request.state.version = version
        parameter = "org_id" if scope == "org" else "group_id"
        scope_id = canonical_uuid(request.path_params[parameter])
        if scope_id is None:
            raise BadRequest(f"'{parameter}' must be a UUID", parameter=parameter)
        await run_in_threadpool(authorize, backend, credential, scope, scope_id)
        return Context(credential, version, scope, scope_id)

    def _ok(self, context: Context, body: Any, status: int, **headers: str) -> Response:
        all_headers = {**context.version.headers(utc_now()), **headers}
        return JsonApiResponse(body, status_code=status, headers=all_headers)

    async def create(self, request: Request, scope: Scope) -> Response:
        context = await self._prepare(request, scope)
        body = await self._read_body(request)
        query = {
            name: value
            for name in ("include_deleted", "include_deactivated")
            if (value := _first(request, name)) is not None
        }
        definition = parse_create_request(
            decode_body(body),
            scope,
            context.scope_id,
            query,
            self.surface.create_options,
        )
        export = await run_in_threadpool(
            self.service.create, context.credential, definition
        )
        base = self.surface.base_path
        return self._ok(
            context,
            created_document(export, context.version_text),
            202,
            **{
                "content-location": f"{base}{created_document_path(export, context)}",
                "retry-after": str(self.surface.poll_hint_seconds),
            },
        )

    async def _read_body(self, request: Request) -> bytes:
        content_type = request.headers.get("content-type")
        if content_type is not None and not _is_json_media_type(content_type):
            raise UnsupportedMediaType(f"unsupported media type '{content_type}'")
        limit = self.surface.max_request_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def show(
        self, request: Request, scope: Scope, results_view: bool
    ) -> Response:
        context = await self._prepare(request, scope)
        export_id = canonical_uuid(request.path_params["export_id"])
        if export_id is None:
            raise BadRequest("'export_id' must be a UUID", parameter="export_id")
        export = await run_in_threadpool(
            self.service.find, context.scope, context.scope_id, export_id
        )
        results = (
            self.service.results(export) if export.status is Status.FINISHED else None
        )
        body = export_document(
            export, context.version_text, results, results_view=results_view
        )
        location = body["links"]["self"]
        return self._ok(
            context,
            body,
            200,
            **{"content-location": self.surface.base_path + location},
        )

    async def download(self, request: Request) -> Response:
        export_id = request.path_params["export_id"]
        name = request.path_params["name"]
        verify_download(
            self.surface.keys,
            export_id,
            name,
            request.query_params.get("expires"),
            request.query_params.get("sig"),
            int(time.time()),
        )
        export = await run_in_threadpool(self.service.backend.get_export, export_id)
        if (
            export is None
            or export.status is not Status.FINISHED
            or self.service.is_expired(export)
            or name not in {part.name for part in export.parts}
        ):
            raise NotFound("the file is no longer available")
        source = await run_in_threadpool(self.surface.storage.published, export, name)
        if source is None:
            raise NotFound("the file is no longer available")
        headers = {"content-disposition": f'attachment; filename="{name}"'}
        if isinstance(source, Path):
            return PartResponse(source, media_type=CSV_MEDIA_TYPE, headers=headers)
        # Streamed from object storage; the size is the one recorded at publish.
        size = next(part.file_size for part in export.parts if part.name == name)
        headers["content-length"] = str(size)
        if request.method == "HEAD":
            return Response(None, media_type=CSV_MEDIA_TYPE, headers=headers)
        return StreamingResponse(source, media_type=CSV_MEDIA_TYPE, headers=headers)

    async def _companion(self, request: Request) -> tuple[Credential, str]:
        """Authenticate and resolve the version of a companion request (§18)."""
        header = request.headers.get("authorization")
        backend = self.service.backend
        credential = await run_in_threadpool(authenticate, backend, header, utc_now())
        self.surface.limiter.hit(credential.id)
        version = resolve_any_date(_first(request, "version"), utc_now().date())
        request.state.version = version
        return credential, version.requested.normalized

    def _companion_ok(self, request: Request, body: Any) -> Response:
        return JsonApiResponse(body, headers=_version_headers(request))

    async def show_self(self, request: Request) -> Response:
        credential, version = await self._companion(request)
        return self._companion_ok(request, self_document(credential, version))

    def _scope_id(self, request: Request, parameter: str) -> str:
        scope_id = canonical_uuid(request.path_params[parameter])
        if scope_id is None:
            raise BadRequest(f"'{parameter}' must be a UUID", parameter=parameter)
        return scope_id

    async def show_org(self, request: Request) -> Response:
        credential, version = await self._companion(request)
        org_id = self._scope_id(request, "org_id")
        backend = self.service.backend
        await run_in_threadpool(require_member, backend, credential, "org", org_id)
        org = await run_in_threadpool(backend.get_org, org_id)
        if org is None:
            raise NotFound("org not found")
        return self._companion_ok(request, org_document(org, version))

    async def list_group_orgs(self, request: Request) -> Response:
        credential, version = await self._companion(request)
        group_id = self._scope_id(request, "group_id")
        backend = self.service.backend
        await run_in_threadpool(require_member, backend, credential, "group", group_id)
        limit = page_limit(_first(request, "limit"))
        after = page_cursor(_first(request, "starting_after"))
        orgs = await run_in_threadpool(backend.list_orgs, group_id)
        document = group_orgs_document(group_id, orgs, version, limit, after)
        return self._companion_ok(request, document)

    async def openapi_versions(self, request: Request) -> Response:
        versions = [release.name for release in self.surface.releases.releases]
        return Response(json.dumps(versions), media_type="application/json")

    async def openapi_document(self, request: Request) -> Response:
        version = self.surface.releases.resolve(
            request.path_params["version"], utc_now().date()
        )
        document = openapi.document(version.release, self.surface.base_path)
        return Response(
            json.dumps(document, ensure_ascii=False),
            media_type="application/json",
            headers=version.headers(utc_now()),
        )


def created_document_path(export: Export, context: Context) -> str:
    return f"{status_path(export)}?version={context.version_text}"


def _is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


class RequestIdMiddleware:
    """Gives every response a ``snyk-request-id`` and logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = (
            dict(scope["headers"])
            .get(REQUEST_ID_HEADER.encode(), b"")
            .decode("latin-1")
        )
        request_id = incoming.lower() if canonical_uuid(incoming) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != REQUEST_ID_HEADER.encode()
                ]
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        started_response = False

        async def send_tracked(message: Message) -> None:
            nonlocal started_response
            started_response = (
                started_response or message["type"] == "http.response.start"
            )
            await send_with_id(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:
            # Starlette has already answered with the JSON:API 500 and logged it;
            # anything that escaped before a response started is answered here.
            if not started_response:
                logger.error(
                    "Unexpected failure",
                    exc_info=exc,
                    extra={"action": "unexpected_error"},
                )
                await _send_internal_error(send_with_id)
        finally:
            # The path only: download links carry their signature in the query.
            # Probes and scrapes come every few seconds: debug, not info.
            logger.log(
                logging.DEBUG if scope["path"] in PROBE_PATHS else logging.INFO,
                "%s %s %s %.1fms",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
                extra={"action": "request", "request_id": request_id},
            )


class QueryRedactingFilter(logging.Filter):
    """Drops query strings from uvicorn's access lines: links carry signatures."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            if isinstance(args[2], str):
                args[2] = args[2].split("?", 1)[0]
            record.args = tuple(args)
        return True


def protect_access_log() -> None:
    """Make sure uvicorn's access log, if an operator enables it, leaks no query."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QueryRedactingFilter) for f in access.filters):
        access.addFilter(QueryRedactingFilter())


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        methods = (exc.headers or {}).get("Allow", "").split(", ")
        allow = ", ".join(sorted(m for m in methods if m))
        error: ApiError = MethodNotAllowed(
            f"method {request.method} is not allowed here", headers={"allow": allow}
        )
    elif exc.status_code == 404:
        error = NotFound(f"no such path: {request.url.path}")
    else:
        error = InternalError(str(exc.detail))
    return error_response(request, error)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error(
        "Unexpected failure", exc_info=exc, extra={"action": "unexpected_error"}
    )
    document = error_document(
        500, InternalError.code, InternalError.title, "an unexpected error occurred"
    )
    return JsonApiResponse(document, status_code=500)


async def _send_internal_error(send: Send) -> None:
    document = error_document(
        500, InternalError.code, InternalError.title, "an unexpected error occurred"
    )
    body = json.dumps(document, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", JSONAPI_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


Endpoint = Callable[[Request], Awaitable[Response]]


def build_app(surface: Surface) -> ASGIApp:
    """The ASGI application for one :class:`Surface`."""
    handlers = Handlers(surface)
    protect_access_log()

    def create(scope: Scope) -> Endpoint:
        return functools.partial(handlers.create, scope=scope)

    def show(scope: Scope, results_view: bool) -> Endpoint:
        return functools.partial(handlers.show, scope=scope, results_view=results_view)

    api_routes = [
        Route("/orgs/{org_id}/export", create("org"), methods=["POST"]),
        Route(
            "/orgs/{org_id}/jobs/export/{export_id}",
            show("org", False),
            methods=["GET"],
        ),
        Route("/orgs/{org_id}/export/{export_id}", show("org", True), methods=["GET"]),
        Route("/groups/{group_id}/export", create("group"), methods=["POST"]),
        Route(
            "/groups/{group_id}/jobs/export/{export_id}",
            show("group", False),
            methods=["GET"],
        ),
        Route(
            "/groups/{group_id}/export/{export_id}",
            show("group", True),
            methods=["GET"],
        ),
        Route("/self", handlers.show_self, methods=["GET"]),
        Route("/orgs/{org_id}", handlers.show_org, methods=["GET"]),
        Route("/groups/{group_id}/orgs", handlers.list_group_orgs, methods=["GET"]),
        Route("/openapi", handlers.openapi_versions, methods=["GET"]),
        Route("/openapi/{version}", handlers.openapi_document, methods=["GET"]),
    ]
    routes = [
        # No redirects for a trailing slash: it is another path, answered
        # with the JSON:API 404 like any unknown one.
        Mount(surface.base_path, app=Router(api_routes, redirect_slashes=False)),
        Route("/dl/{export_id}/{name}", handlers.download, methods=["GET"]),
        *health_routes(surface.readiness_checks, surface.metrics),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.router.redirect_slashes = False
    app.state.surface = surface
    if surface.metrics is None:
        return RequestIdMiddleware(app)
    return RequestIdMiddleware(MetricsMiddleware(app, surface.metrics))
