"""The OpenAPI 3.0.3 document of this server, one per release.

The document describes what the service accepts and returns, not what Snyk's
published document says: it fixes that document's known defects (a dangling
security scheme, untyped results, a status schema without results) and adds
what the contract adds (``application/json`` bodies, the download links). The
dataset catalog and the error codes are read from the code, never copied.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from snyk_export import errors
from snyk_export.catalog import FilterSpec, Scope, datasets
from snyk_export.versioning import Release, format_rfc3339

Schema = dict[str, Any]

JSONAPI_MEDIA_TYPE = "application/vnd.api+json"
_DATE = "[0-9]{4}-[0-1][0-9]-(3[01]|0[1-9]|[12][0-9])"
QUERY_VERSION_PATTERN = f"^{_DATE}(~(wip|work-in-progress|experimental|beta))?$"
SERVED_VERSION_PATTERN = f"^{_DATE}(~(wip|experimental|beta))?$"
FLAG_PATTERN = r"^\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)?\s*$"
TYPE_PATTERN = "^[a-z][a-z0-9]*(_[a-z][a-z0-9]*)*$"
_ID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_LINK_VERSION = r"\?version=[0-9]{4}-[0-9]{2}-[0-9]{2}(~(wip|experimental|beta))?$"
# §10.5: the path and query of a link use only unreserved characters and /?&=.
_DOWNLOAD_URL = r"^https?://[^/?#]+/[A-Za-z0-9._~/-]*\?[A-Za-z0-9._~&=-]+$"
_FILE_NAME = r"data_[0-9]+_0_0\.csv"
_SECURITY: list[Schema] = [{"APIToken": []}, {"BearerAuth": []}]


class _ScopeWords(NamedTuple):
    """How the operations of one scope are named and guarded."""

    scope: Scope
    noun: str
    article: str
    permission: str


_SCOPES = (
    _ScopeWords(
        "org", "Export", "an org", "View Organization reports (org.report.read)"
    ),
    _ScopeWords("group", "GroupExport", "a group", "View reports (group.report.read)"),
)
_VERSION_HEADERS = {
    "snyk-version-requested": "VersionRequested",
    "snyk-version-served": "VersionServed",
    "snyk-version-lifecycle-stage": "VersionStage",
}
_CREATE_ERRORS = ("400", "401", "403", "404", "413", "415", "429", "500")
_SHOW_ERRORS = ("400", "401", "403", "404", "429", "500")
_ERROR_DESCRIPTIONS = {
    "400": "Bad Request: the request or one of its parameters is invalid.",
    "401": "Unauthorized: no valid credential came with the request.",
    "403": "Forbidden: the permission is missing, or the download link is bad.",
    "404": "Not Found: no such scope, export, version or file for the caller.",
    "405": "Method Not Allowed: the path exists, but not for this method.",
    "413": "Payload Too Large: the request body is over the size limit.",
    "415": "Unsupported Media Type: the request body is not JSON.",
    "429": "Too Many Requests: a rate limit was reached.",
    "500": "Internal Server Error: the request could not be processed.",
    "503": "Service Unavailable: a dependency is down or overloaded.",
}

_OVERVIEW = """\
A self-hostable implementation of the Snyk Analytics Export API.

Every API path is relative to the server URL (the configured base path). Any \
other path under it answers 404, and another method on a known path answers \
405 with an `Allow` header, both as JSON:API error documents. Unknown query \
parameters are ignored; a repeated one counts by its first occurrence.

Deliberate departures from Snyk's published OpenAPI document:

* Once an export is `FINISHED`, the status endpoints return the full results \
attributes (`finished`, `row_count`, `results`, date ranges) inline, as the \
results endpoints do.
* Request bodies are accepted as `application/vnd.api+json`, `application/json` \
and any other `application/*+json` media type, with or without parameters; a \
body without `Content-Type` is read as JSON.
* Unknown members are ignored at every level of a request body, the org \
request included. For optional members, `null`, `{}` and `[]` mean absent.
* A failed export reports `ERRORED`. `409` is never answered.
* `results` items are exactly `{url, file_size, row_count}`.
* The security schemes the operations name exist (`APIToken`, `BearerAuth`).

Result files are served by signed links outside the base path, \
`GET /dl/{export_id}/{file_name}?expires=<unix seconds>&sig=<hex>` on the \
configured public origin (operation `downloadExportFile`); they need no \
credential. `x-snyk-export-datasets` lists, for each dataset, its columns with \
their types and the filters that apply to it."""


def document(release: Release, base_path: str) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of this server for one release."""
    return {
        "openapi": "3.0.3",
        "info": _info(release),
        "servers": [{"url": base_path or "/", "description": "The export API"}],
        "security": _SECURITY,
        "tags": [
            {"name": "Export", "description": "The Snyk export operations."},
            {"name": "OpenAPI", "description": "The documents of this server."},
            {"name": "Download", "description": "Signed links to result files."},
        ],
        "paths": _paths(release),
        "components": _components(),
        **_release_extensions(release),
        "x-snyk-export-datasets": _dataset_catalog(),
    }


def _info(release: Release) -> Schema:
    lines = [f"Release `{release.name}` ({release.stability.label})."]
    if release.deprecated_at is not None:
        lines.append(f"Deprecated at {format_rfc3339(release.deprecated_at)}.")
    if release.sunset_on is not None:
        lines.append(f"Sunset on {release.sunset_on.isoformat()}.")
    description = " ".join(lines) + "\n\n" + _OVERVIEW
    return {"title": "snyk-export", "version": release.name, "description": description}


def _release_extensions(release: Release) -> Schema:
    extensions: Schema = {
        "x-snyk-api-version": release.name,
        "x-snyk-api-stability": release.stability.label,
    }
    if release.deprecated_at is not None:
        extensions["x-snyk-api-deprecated-at"] = format_rfc3339(release.deprecated_at)
    if release.sunset_on is not None:
        extensions["x-snyk-api-sunset-on"] = release.sunset_on.isoformat()
    return extensions


def _ref(section: str, name: str) -> Schema:
    return {"$ref": f"#/components/{section}/{name}"}


def _string(**keywords: Any) -> Schema:
    return {"type": "string", **keywords}


def _enum(*values: str | int, kind: str = "string") -> Schema:
    return {"type": kind, "enum": list(values)}


def _array(items: Schema, **keywords: Any) -> Schema:
    return {"type": "array", "items": items, **keywords}


def _count() -> Schema:
    return {"type": "integer", "minimum": 0}


def _date_time(**keywords: Any) -> Schema:
    return _string(format="date-time", example="2026-02-12T20:09:42.693Z", **keywords)


def _object(properties: Schema, required: list[str] | None = None) -> Schema:
    """A closed object whose members are all required unless told otherwise."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties) if required is None else required,
        "properties": properties,
    }


def _content(schema: Schema, media_type: str = JSONAPI_MEDIA_TYPE) -> Schema:
    return {media_type: {"schema": schema}}


def _responses_for(success: Schema, errors_answered: tuple[str, ...]) -> Schema:
    return {**success, **{code: _ref("responses", code) for code in errors_answered}}


def _paths(release: Release) -> Schema:
    paths: Schema = {}
    for words in _SCOPES:
        root = f"/{words.scope}s/{{{words.scope}_id}}"
        paths[f"{root}/export"] = {"post": _create_operation(words, release)}
        paths[f"{root}/jobs/export/{{export_id}}"] = {
            "get": _show_operation(words, "status", release)
        }
        paths[f"{root}/export/{{export_id}}"] = {
            "get": _show_operation(words, "results", release)
        }
    paths["/self"] = {"get": _self_operation()}
    paths["/orgs/{org_id}"] = {"get": _org_operation()}
    paths["/groups/{group_id}/orgs"] = {"get": _group_orgs_operation()}
    paths["/openapi"] = {"get": _versions_operation()}
    paths["/openapi/{version}"] = {"get": _document_operation()}
    # Links live at the server root, outside the base path of the API.
    paths["/dl/{export_id}/{file_name}"] = {
        "servers": [{"url": "/", "description": "The download origin"}],
        "get": _download_operation(),
    }
    return paths


def _export_operation(
    words: _ScopeWords, release: Release, operation_id: str, summary: str, what: str
) -> Schema:
    permission = words.permission
    operation: Schema = {
        "operationId": operation_id,
        "summary": summary,
        "description": f"{what}\n\n#### Required permissions\n\n- `{permission}`",
        "tags": ["Export"],
        "security": _SECURITY,
        "x-snyk-api-stability": release.stability.label,
        "x-snyk-api-version": release.name,
        "x-snyk-required-permission": permission,
    }
    if release.deprecated_at is not None:
        operation["deprecated"] = True
    return operation


def _create_operation(words: _ScopeWords, release: Release) -> Schema:
    what = f"Create and start an export for {words.article}."
    operation_id = f"create{words.noun}"
    operation = _export_operation(words, release, operation_id, "Start an export", what)
    names = ("Version", f"{words.scope}Id", "include_deleted", "include_deactivated")
    operation["parameters"] = [_ref("parameters", name) for name in names]
    body = f"Create{words.scope.title()}Export"
    operation["requestBody"] = _ref("requestBodies", body)
    success = {"202": _ref("responses", "CreateExport")}
    operation["responses"] = _responses_for(success, _CREATE_ERRORS)
    return operation


def _show_operation(words: _ScopeWords, view: str, release: Release) -> Schema:
    status_view = view == "status"
    operation_id = f"get{words.noun}JobStatus" if status_view else f"get{words.noun}"
    what = f"Get the {view} of an export of {words.article}."
    operation = _export_operation(
        words, release, operation_id, f"Get export {view}", what
    )
    names = ("Version", f"{words.scope}Id", "exportId")
    operation["parameters"] = [_ref("parameters", name) for name in names]
    success = {"200": _ref("responses", "GetExportJob" if status_view else "GetExport")}
    operation["responses"] = _responses_for(success, _SHOW_ERRORS)
    return operation


_COMPANION_ERRORS = ("400", "401", "404", "429", "500")
_COMPANION_NOTE = (
    "A companion of the export endpoints (export-api.md §18): any valid "
    "`version` date up to today is served."
)


def _org_resource() -> Schema:
    attributes = _object(
        {"name": _string(), "slug": _string(), "group_id": _string(format="uuid")},
        ["name", "slug"],
    )
    return _object(
        {"type": _enum("org"), "id": _string(format="uuid"), "attributes": attributes},
        ["type", "id", "attributes"],
    )


def _companion_operation(
    operation_id: str,
    summary: str,
    data: Schema,
    parameters: list[Schema],
    links: Schema,
) -> Schema:
    document = _object(
        {"jsonapi": _ref("schemas", "JsonApi"), "data": data, "links": links},
        ["jsonapi", "data", "links"],
    )
    ok = {
        "description": summary,
        "headers": _success_headers(),
        "content": _content(document),
    }
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": _COMPANION_NOTE,
        "tags": ["Companion"],
        "security": _SECURITY,
        "parameters": [_ref("parameters", "Version"), *parameters],
        "responses": _responses_for({"200": ok}, _COMPANION_ERRORS),
    }


def _self_operation() -> Schema:
    attributes = _object({"name": _string(), "username": _string()}, ["name"])
    user = _object(
        {"type": _enum("user"), "id": _string(format="uuid"), "attributes": attributes},
        ["type", "id", "attributes"],
    )
    links = _object({"self": _string()}, ["self"])
    return _companion_operation("getSelf", "Who the token belongs to", user, [], links)


def _org_operation() -> Schema:
    links = _object({"self": _string()}, ["self"])
    return _companion_operation(
        "getOrg",
        "An org the token is a member of",
        _org_resource(),
        [_ref("parameters", "orgId")],
        links,
    )


def _group_orgs_operation() -> Schema:
    limit = _parameter(
        "limit",
        "query",
        _string(pattern="^[0-9]+$"),
        "Page size, 1 to 100 (10).",
        required=False,
    )
    after = _parameter(
        "starting_after",
        "query",
        _string(format="uuid"),
        "Id of the last org of the previous page.",
        required=False,
    )
    links = _object({"self": _string(), "next": _string()}, ["self"])
    return _companion_operation(
        "listGroupOrgs",
        "The orgs of a group, a page at a time",
        _array(_org_resource()),
        [_ref("parameters", "groupId"), limit, after],
        links,
    )


def _versions_operation() -> Schema:
    versions = _array(_string(pattern=SERVED_VERSION_PATTERN))
    ok = {
        "description": "The names of the releases in the release table.",
        "headers": {"snyk-request-id": _ref("headers", "RequestId")},
        "content": _content(versions, "application/json"),
    }
    return {
        "operationId": "listOpenAPIVersions",
        "summary": "List the releases of this server",
        "tags": ["OpenAPI"],
        "security": [],
        "responses": _responses_for({"200": ok}, ("500",)),
    }


def _document_operation() -> Schema:
    version = _parameter("version", "path", _string(pattern=QUERY_VERSION_PATTERN))
    version["description"] = "Resolved as the `version` query parameter is."
    ok = {
        "description": "The OpenAPI document of the release served.",
        "headers": _success_headers(),
        "content": _content({"type": "object"}, "application/json"),
    }
    return {
        "operationId": "getOpenAPIVersion",
        "summary": "Get the OpenAPI document of a release",
        "tags": ["OpenAPI"],
        "security": [],
        "parameters": [version],
        "responses": _responses_for({"200": ok}, ("400", "404", "500")),
    }


def _download_operation() -> Schema:
    disposition = _string(pattern=f'^attachment; filename="{_FILE_NAME}"$')
    ok = {
        "description": "The CSV file (UTF-8), header row first.",
        "headers": {
            "snyk-request-id": _ref("headers", "RequestId"),
            "content-disposition": _header("The file name.", disposition),
        },
        "content": _content(_string(), "text/csv"),
    }
    return {
        "operationId": "downloadExportFile",
        "summary": "Download a result file",
        "description": "The `url` of a results item, valid until `expires`. Any "
        "`Authorization` header is ignored.",
        "tags": ["Download"],
        "security": [],
        "parameters": [
            _parameter("export_id", "path", _string(format="uuid")),
            _parameter("file_name", "path", _string(pattern=f"^{_FILE_NAME}$")),
            _parameter("expires", "query", _string(pattern="^[0-9]{1,12}$")),
            _parameter("sig", "query", _string(pattern="^[0-9a-f]{64}$")),
        ],
        "responses": _responses_for({"200": ok}, ("403", "404", "500")),
    }


def _parameter(
    name: str, where: str, schema: Schema, description: str = "", required: bool = True
) -> Schema:
    parameter: Schema = {"name": name, "in": where, "required": required}
    if description:
        parameter["description"] = description
    return {**parameter, "schema": schema}


def _components() -> Schema:
    token = 'The value is "token <API token>"; the scheme is case-insensitive.'
    return {
        "schemas": _schemas(),
        "parameters": _parameters(),
        "requestBodies": {
            "CreateOrgExport": _request_body("org"),
            "CreateGroupExport": _request_body("group"),
        },
        "responses": _responses(),
        "headers": _headers(),
        "securitySchemes": {
            "APIToken": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": token,
            },
            "BearerAuth": {"type": "http", "scheme": "bearer"},
        },
    }


def _parameters() -> Schema:
    uuid = _string(format="uuid")
    flag = _string(pattern=FLAG_PATTERN)
    values = (
        ": `true` or `1` mean true; `false`, `0` or empty mean false "
        "(case-insensitive). Default false."
    )
    version = _parameter(
        "version",
        "query",
        _string(pattern=QUERY_VERSION_PATTERN, example="2024-10-15"),
        "The requested version: a date, optionally followed by `~wip`, "
        "`~work-in-progress`, `~experimental` or `~beta`.",
    )
    deleted = "Include rows of deleted issues, projects, orgs and groups" + values
    deactivated = "Include rows of projects that are not monitored" + values
    return {
        "Version": version,
        "orgId": _parameter("org_id", "path", uuid, "Org ID"),
        "groupId": _parameter("group_id", "path", uuid, "Group ID"),
        "exportId": _parameter("export_id", "path", uuid, "Unique export identifier"),
        "include_deleted": _parameter("include_deleted", "query", flag, deleted, False),
        "include_deactivated": _parameter(
            "include_deactivated", "query", flag, deactivated, False
        ),
    }


def _request_body(scope: Scope) -> Schema:
    attributes = _ref("schemas", f"Export{scope.title()}Attributes")
    data = {
        "type": "object",
        "required": ["type", "attributes"],
        "properties": {"type": _ref("schemas", "Types"), "attributes": attributes},
    }
    envelope = {"type": "object", "required": ["data"], "properties": {"data": data}}
    return {
        "required": True,
        "description": "Any `application/*+json` media type is accepted.",
        "content": {
            **_content(envelope),
            **_content(envelope, "application/json"),
        },
    }


def _schemas() -> Schema:
    statuses = ("PENDING", "STARTED", "ERRORED")
    finished = _ref("schemas", "FinishedAttributes")
    item = {
        "url": _string(format="uri", pattern=_DOWNLOAD_URL),
        "file_size": _count(),
        "row_count": _count(),
    }
    return {
        "Types": _string(pattern=TYPE_PATTERN, example="export"),
        "JsonApi": _object({"version": _enum("1.0")}),
        "ExportOrgAttributes": _attributes_schema("org"),
        "ExportGroupAttributes": _attributes_schema("group"),
        "OrgFilters": _filters_schema("org"),
        "GroupFilters": _filters_schema("group"),
        "CreatedDocument": _created_document(),
        "StatusDocument": _export_document("StatusAttributes"),
        "ResultsDocument": _export_document("ResultsAttributes"),
        "StatusAttributes": {"oneOf": [_unfinished_attributes(statuses), finished]},
        "ResultsAttributes": {
            "oneOf": [
                _unfinished_attributes(("PENDING", "ERRORED"), row_count=True),
                finished,
            ]
        },
        "FinishedAttributes": _finished_attributes(),
        "ResultItem": _object(item),
        "AppliedDateRange": _object({"from": _date_time(), "to": _date_time()}, ["to"]),
        "ErrorDocument": _error_document(),
    }


def _attributes_schema(scope: Scope) -> Schema:
    columns = (
        "Column names, trimmed and matched case-insensitively; unknown names are "
        "dropped. The names of each dataset are in `x-snyk-export-datasets`. "
        "Absent or empty: every column of the dataset."
    )
    expiration = {"type": "integer", "minimum": 0, "maximum": 3600}
    properties = {
        "dataset": {
            **_enum(*datasets()),
            "description": "Matched case-insensitively.",
        },
        "formats": _array(
            _enum("csv"), minItems=1, description="Matched case-insensitively."
        ),
        "columns": _array(_string(), nullable=True, description=columns),
        "filters": _ref("schemas", f"{scope.title()}Filters"),
        "url_expiration_seconds": {
            **expiration,
            "nullable": True,
            "default": 3600,
            "description": "Lifetime of result links; 0 means the default.",
        },
        "x_spreadsheet_safe": {
            "type": "boolean",
            "nullable": True,
            "description": "Extension, honoured only where the operator enables "
            "`spreadsheet_safe_csv`: string cells that a spreadsheet would run as a "
            "formula (starting with = + - @, tab or CR) are written with a leading "
            "`'`. Ignored otherwise, like any unknown member.",
        },
    }
    return {
        "type": "object",
        "required": ["dataset", "formats"],
        "properties": properties,
        "description": "Unknown members, such as `destination`, are ignored.",
    }


def _filters_schema(scope: Scope) -> Schema:
    uses: dict[str, list[tuple[str, FilterSpec]]] = {}
    for dataset in datasets().values():
        for spec in dataset.filters:
            if scope in spec.scopes:
                uses.setdefault(spec.name, []).append((dataset.name, spec))
    return {
        "type": "object",
        "nullable": True,
        "description": "Filter names are case-insensitive; unknown filters and "
        "filters that do not apply to the dataset are ignored.",
        "properties": {name: _filter_schema(used) for name, used in uses.items()},
    }


def _filter_schema(uses: list[tuple[str, FilterSpec]]) -> Schema:
    spec = uses[0][1]
    where = ", ".join(f"{dataset} ({used.column})" for dataset, used in uses)
    case = "case-sensitive" if spec.case_sensitive else "case-insensitive"
    return {**_filter_value_schema(spec), "description": f"Applies to {where}; {case}."}


def _filter_value_schema(spec: FilterSpec) -> Schema:
    if spec.kind == "date_range":
        bound = _date_time(nullable=True)
        range_ = {"from": bound, "to": bound}
        return {"type": "object", "nullable": True, "properties": range_}
    if spec.kind == "enum":
        return {**_enum(*spec.allowed_values), "nullable": True}
    item = _string(format="uuid") if spec.kind == "uuid_list" else _string()
    # A bare string counts as a list of one (§6.6).
    return {"anyOf": [_array(item, nullable=True), item]}


def _link(path: str) -> Schema:
    pattern = f"^/(orgs|groups)/{_ID}/{path}/{_ID}{_LINK_VERSION}"
    return _string(format="uri-reference", pattern=pattern)


def _resource(attributes: Schema, **members: Schema) -> Schema:
    identity = {
        "type": _enum("export"),
        "id": _string(format="uuid", pattern=f"^{_ID}$"),
    }
    return _object({**identity, "attributes": attributes, **members})


def _created_document() -> Schema:
    attributes = _object({"created": _date_time()})
    data = _resource(attributes, links=_object({"self": _link("jobs/export")}))
    return _object({"jsonapi": _ref("schemas", "JsonApi"), "data": data})


def _export_document(attributes: str) -> Schema:
    data = _resource(_ref("schemas", attributes))
    links = _object({"self": _link("export")})
    return _object(
        {"jsonapi": _ref("schemas", "JsonApi"), "data": data, "links": links}
    )


def _formats() -> Schema:
    return _array(_enum("csv"), minItems=1)


def _unfinished_attributes(
    statuses: tuple[str, ...], *, row_count: bool = False
) -> Schema:
    properties: Schema = {"status": _enum(*statuses)}
    if row_count:
        properties["row_count"] = _enum(0, kind="integer")
    properties |= {"created": _date_time(), "formats": _formats()}
    return _object(properties)


def _finished_attributes() -> Schema:
    date_range = _ref("schemas", "AppliedDateRange")
    properties = {
        "status": _enum("FINISHED"),
        "created": _date_time(),
        "finished": _date_time(),
        "formats": _formats(),
        "row_count": _count(),
        "introduced_date_range": date_range,
        "updated_date_range": date_range,
        "results": _array(_ref("schemas", "ResultItem")),
    }
    required = [name for name in properties if not name.endswith("_date_range")]
    return _object(properties, required)


def _error_document() -> Schema:
    source = {
        "oneOf": [
            _object({"pointer": _string()}),
            _object({"parameter": _string()}),
        ]
    }
    meta = {
        "type": "object",
        "required": ["isErrorCatalogError", "classification", "level"],
        "properties": {
            "isErrorCatalogError": {"type": "boolean"},
            "classification": _enum("ACTIONABLE", "UNEXPECTED"),
            "level": _string(),
        },
    }
    item = {
        "id": _string(format="uuid"),
        "status": _string(pattern="^[45][0-9]{2}$"),
        "code": _string(pattern="^SNYK-"),
        "title": _string(),
        "detail": _string(),
        "source": source,
        "links": _object({"about": _string(format="uri")}),
        "meta": meta,
    }
    required = [name for name in item if name != "source"]
    errors_list = _array(_object(item, required), minItems=1)
    return _object({"jsonapi": _ref("schemas", "JsonApi"), "errors": errors_list})


def _error_codes() -> dict[str, list[str]]:
    """The Snyk error codes the service answers with, by HTTP status."""
    codes: dict[str, list[str]] = {}
    pending: list[type[errors.ApiError]] = [errors.ApiError]
    while pending:
        kind = pending.pop(0)
        pending.extend(kind.__subclasses__())
        listed = codes.setdefault(str(kind.status), [])
        if kind.code not in listed:
            listed.append(kind.code)
    return codes


def _error_response(status: str, codes: list[str]) -> Schema:
    # The shared document narrowed to this status and its codes.
    item = {
        "type": "object",
        "properties": {"status": _enum(status), "code": _enum(*codes)},
    }
    narrowed = {"type": "object", "properties": {"errors": _array(item)}}
    headers = {
        "snyk-request-id": _ref("headers", "RequestId"),
        **_version_headers("Optional"),
    }
    if status == "429":
        headers["retry-after"] = _ref("headers", "RetryAfter")
    if status == "503":
        headers["retry-after"] = _header(
            "Seconds to wait.", _retry_after(), required=False
        )
    if status == "405":
        headers["allow"] = _header("The methods of the path.", _string())
    schema = {"allOf": [_ref("schemas", "ErrorDocument"), narrowed]}
    return {
        "description": _ERROR_DESCRIPTIONS[status],
        "headers": headers,
        "content": _content(schema),
    }


def _responses() -> Schema:
    codes = _error_codes()
    responses: Schema = {
        "CreateExport": _success("Created an export.", "CreatedDocument", retry=True),
        "GetExportJob": _success("The export status.", "StatusDocument"),
        "GetExport": _success("The export results.", "ResultsDocument"),
    }
    for status, listed in codes.items():
        responses[status] = _error_response(status, listed)
    return responses


def _success(description: str, schema: str, *, retry: bool = False) -> Schema:
    headers = {**_success_headers(), "content-location": _ref("headers", "Location")}
    if retry:
        headers["retry-after"] = _ref("headers", "RetryAfter")
    content = _content(_ref("schemas", schema))
    return {"description": description, "headers": headers, "content": content}


def _version_headers(prefix: str = "") -> Schema:
    headers = {
        header: _ref("headers", prefix + name)
        for header, name in _VERSION_HEADERS.items()
    }
    headers["deprecation"] = _ref("headers", "Deprecation")
    headers["sunset"] = _ref("headers", "Sunset")
    return headers


def _success_headers() -> Schema:
    return {"snyk-request-id": _ref("headers", "RequestId"), **_version_headers()}


def _headers() -> Schema:
    version = _string(pattern=SERVED_VERSION_PATTERN)
    stages = ("wip", "experimental", "beta", "ga", "deprecated", "sunset")
    version_headers = {
        "VersionRequested": ("The requested version, normalised.", version),
        "VersionServed": ("The release that served the request.", version),
        "VersionStage": ("The lifecycle stage of the release served.", _enum(*stages)),
    }
    headers: Schema = {
        "RequestId": _header("Identifies the request.", _string(format="uuid")),
        "Location": _header("Where the export is read, base path included.", _string()),
        "RetryAfter": _header("Seconds to wait.", _retry_after()),
        "Deprecation": _header(
            "When the release served is deprecated.",
            _string(format="date-time"),
            required=False,
        ),
        "Sunset": _header(
            "When the release served may be removed.",
            _string(format="date"),
            required=False,
        ),
    }
    for name, (description, schema) in version_headers.items():
        headers[name] = _header(description, schema)
        # Errors raised before the version is resolved carry no version headers.
        headers[f"Optional{name}"] = _header(description, schema, required=False)
    return headers


def _retry_after() -> Schema:
    return _string(pattern="^[0-9]+$")


def _header(description: str, schema: Schema, *, required: bool = True) -> Schema:
    return {"description": description, "required": required, "schema": schema}


def _dataset_catalog() -> Schema:
    return {
        name: {
            "summary": dataset.summary,
            "columns": [{"name": c.name, "type": c.type} for c in dataset.columns],
            "filters": [_filter_entry(spec) for spec in dataset.filters],
            "required_date_filter": list(dataset.required_date_filter),
        }
        for name, dataset in datasets().items()
    }


def _filter_entry(spec: FilterSpec) -> Schema:
    entry: Schema = {
        "name": spec.name,
        "kind": spec.kind,
        "column": spec.column,
        "case_sensitive": spec.case_sensitive,
        "scopes": list(spec.scopes),
    }
    if spec.allowed_values:
        entry["allowed_values"] = list(spec.allowed_values)
    return entry
