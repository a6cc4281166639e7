"""The OpenAPI document the server publishes for each release."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from snyk_export import errors, openapi
from snyk_export.app import Surface, build_app
from snyk_export.catalog import datasets
from snyk_export.definition import ExportDefinition, parse_flag
from snyk_export.jobs import Export, Part, Status
from snyk_export.observability import PROBE_PATHS
from snyk_export.service import created_document, export_document
from snyk_export.signing import SigningKeys, download_path
from snyk_export.versioning import (
    Release,
    ReleaseTable,
    default_releases,
    parse_version,
)

SNYK_DOCUMENT = Path(
    os.environ.get(
        "SNYK_EXPORT_SNYK_OPENAPI",
        Path(__file__).resolve().parents[3] / "shared/spec/snyk-export-openapi.yml",
    )
)
MEDIA_TYPE = "application/vnd.api+json"
ORG_ID = "826e79b7-0073-44c3-a5ea-e0aa8a3dbf38"
GROUP_ID = "a1cbf11b-aa99-4434-b4e7-1bb47fc86db1"
EXPORT_ID = "94f572f3-f17d-4d8d-ac55-44a8a034a6a9"
CREATED = dt.datetime(2026, 2, 12, 20, 9, 42, 693000, tzinfo=dt.UTC)
STATUS_PATH = "/groups/{group_id}/jobs/export/{export_id}"
RESULTS_PATH = "/groups/{group_id}/export/{export_id}"
RELEASES = default_releases()
GA = RELEASES[-1]


def resolve(node: Any, root: dict[str, Any]) -> Any:
    """``node`` with every local ``$ref`` replaced by what it points to."""
    if isinstance(node, list):
        return [resolve(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return resolve(target, root)
    return {key: resolve(value, root) for key, value in node.items()}


def validator(schema: dict[str, Any]) -> OAS30Validator:
    return OAS30Validator(schema, format_checker=oas30_format_checker)


def operation(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    result: dict[str, Any] = resolve(doc["paths"][path][method], doc)
    return result


def response_schema(
    doc: dict[str, Any], path: str, method: str, status: str
) -> OAS30Validator:
    response = operation(doc, path, method)["responses"][status]
    return validator(response["content"][MEDIA_TYPE]["schema"])


def request_schema(doc: dict[str, Any], path: str, media_type: str) -> OAS30Validator:
    body = operation(doc, path, "post")["requestBody"]
    return validator(body["content"][media_type]["schema"])


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi.document(GA, "/rest")


def make_export(status: Status, *, scope: str = "group") -> Export:
    definition = ExportDefinition(
        scope="group" if scope == "group" else "org",
        scope_id=GROUP_ID if scope == "group" else ORG_ID,
        dataset="issues",
        columns=("ISSUE_SEVERITY", "CVE"),
        filters={"introduced": {"from": "2026-01-01T00:00:00.000Z", "to": None}},
    )
    export = Export(EXPORT_ID, definition, Status.PENDING, CREATED, "credential")
    if status is Status.PENDING:
        return export
    started = export.start(CREATED + dt.timedelta(seconds=1))
    if status is Status.STARTED:
        return started
    finished_at = CREATED + dt.timedelta(seconds=5)
    if status is Status.ERRORED:
        return started.fail(finished_at, "boom")
    parts = (
        Part("data_0_0_0.csv", 1328, 3, "0" * 64),
        Part("data_1_0_0.csv", 200, 1, "1" * 64),
    )
    return started.finish(finished_at, parts)


def results_of(export: Export) -> list[dict[str, Any]]:
    keys = SigningKeys(b"k" * 32)
    return [
        {
            "url": "https://exports.example.com"
            + download_path(keys, export.id, part.name, 1770930587),
            "file_size": part.file_size,
            "row_count": part.row_count,
        }
        for part in export.parts
    ]


def body_of(export: Export, *, results_view: bool) -> dict[str, Any]:
    results = results_of(export) if export.status is Status.FINISHED else None
    return export_document(export, "2024-10-15", results, results_view=results_view)


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r.name)
def test_document_is_valid_openapi_for_every_shipped_release(release: Release) -> None:
    validate(openapi.document(release, "/rest"))


def test_document_names_its_release_and_server(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.0.3"
    assert doc["info"]["title"] == "snyk-export"
    assert doc["info"]["version"] == "2024-10-15"
    assert doc["servers"][0]["url"] == "/rest"
    assert doc["x-snyk-api-stability"] == "ga"
    assert "x-snyk-api-deprecated-at" not in doc


def test_deprecated_release_says_when_it_goes() -> None:
    experimental = openapi.document(RELEASES[0], "/api")

    assert experimental["servers"][0]["url"] == "/api"
    assert experimental["x-snyk-api-stability"] == "experimental"
    assert experimental["x-snyk-api-deprecated-at"] == "2024-10-15T00:00:00.000Z"
    assert experimental["x-snyk-api-sunset-on"] == "2024-11-15"
    create = experimental["paths"]["/orgs/{org_id}/export"]["post"]
    assert create["deprecated"] is True
    assert create["x-snyk-api-stability"] == "experimental"


def test_document_is_plain_json(doc: dict[str, Any]) -> None:
    assert json.loads(json.dumps(doc)) == doc


def test_every_snyk_operation_keeps_its_method_and_path(doc: dict[str, Any]) -> None:
    snyk = yaml.safe_load(SNYK_DOCUMENT.read_text(encoding="utf-8"))

    def operations(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
        return {
            op["operationId"]: (method, path)
            for path, item in document["paths"].items()
            for method, op in item.items()
            if isinstance(op, dict) and "operationId" in op
        }

    ours = operations(doc)
    for operation_id, route in operations(snyk).items():
        assert ours[operation_id] == route


def test_export_operations_require_a_defined_credential(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["APIToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schemes["APIToken"]["description"],
    }
    assert schemes["BearerAuth"] == {"type": "http", "scheme": "bearer"}
    for path, item in doc["paths"].items():
        for op in item.values():
            if "operationId" not in op:
                continue
            names = {name for requirement in op["security"] for name in requirement}
            assert names <= set(schemes)
            if op["tags"] in (["Export"], ["Companion"]):
                assert names == {"APIToken", "BearerAuth"}, path
            else:
                assert op["security"] == [], path


def test_parameters_are_typed_as_the_server_reads_them(doc: dict[str, Any]) -> None:
    create = operation(doc, "/groups/{group_id}/export", "post")
    parameters = {p["name"]: p for p in create["parameters"]}

    assert parameters["version"]["required"] is True
    assert parameters["group_id"]["schema"] == {"type": "string", "format": "uuid"}
    assert parameters["include_deleted"]["required"] is False
    assert parameters["include_deactivated"]["in"] == "query"
    show = operation(doc, STATUS_PATH, "get")
    assert [p["name"] for p in show["parameters"]] == [
        "version",
        "group_id",
        "export_id",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "2024-10-15",
        "2024-05-10~experimental",
        "2025-01-01~beta",
        "2024-08-01~wip",
        "2024-08-01~work-in-progress",
        "2024-02-30",
        "2099-01-01",
    ],
)
def test_version_pattern_admits_what_the_grammar_admits(text: str) -> None:
    assert re.search(openapi.QUERY_VERSION_PATTERN, text)


@pytest.mark.parametrize(
    "text",
    ["beta", "wip", "2024-10-15~ga", "2024-1-15", "20241015", "2024-10-15~", ""],
)
def test_version_pattern_refuses_what_the_parser_refuses(text: str) -> None:
    assert not re.search(openapi.QUERY_VERSION_PATTERN, text)
    with pytest.raises(errors.BadRequest):
        parse_version(text)


@pytest.mark.parametrize(
    "value",
    [
        *("true", "TRUE", "True", "1", " true ", "false", "False", "0", ""),
        *("yes", "2", "on", "truee", "t", "-1"),
    ],
)
def test_flag_pattern_agrees_with_the_parser(value: str) -> None:
    try:
        parse_flag("include_deleted", value)
    except errors.BadRequest:
        accepted = False
    else:
        accepted = True
    assert bool(re.search(openapi.FLAG_PATTERN, value)) is accepted


def test_dataset_extension_lists_the_catalog(doc: dict[str, Any]) -> None:
    extension = doc["x-snyk-export-datasets"]

    assert list(extension) == list(datasets())
    for name, dataset in datasets().items():
        described = extension[name]
        assert described["columns"] == [
            {"name": column.name, "type": column.type} for column in dataset.columns
        ]
        assert [f["name"] for f in described["filters"]] == [
            spec.name for spec in dataset.filters
        ]
        for entry, spec in zip(described["filters"], dataset.filters, strict=True):
            assert entry["kind"] == spec.kind
            assert entry["scopes"] == list(spec.scopes)
            assert entry.get("allowed_values", []) == list(spec.allowed_values)
        assert described["required_date_filter"] == list(dataset.required_date_filter)


def test_dataset_enum_is_the_catalog(doc: dict[str, Any]) -> None:
    for scope in ("Org", "Group"):
        attributes = doc["components"]["schemas"][f"Export{scope}Attributes"]
        assert attributes["properties"]["dataset"]["enum"] == list(datasets())


@pytest.mark.parametrize("scope", ["org", "group"])
def test_filters_schema_has_every_catalog_filter_of_its_scope(
    doc: dict[str, Any], scope: str
) -> None:
    schema = doc["components"]["schemas"][f"{scope.title()}Filters"]
    expected = {
        spec.name
        for dataset in datasets().values()
        for spec in dataset.filters
        if scope in spec.scopes
    }

    assert set(schema["properties"]) == expected
    assert ("orgs" in schema["properties"]) is (scope == "group")


def test_filter_kinds_have_their_value_shapes(doc: dict[str, Any]) -> None:
    filters = doc["components"]["schemas"]["GroupFilters"]["properties"]
    check = validator(filters["introduced"])
    assert check.is_valid({"from": "2026-01-01T00:00:00Z", "to": None})
    assert not check.is_valid({"from": "2026-01-01"})
    assert validator(filters["empty_project_tags"]).is_valid("only")
    assert not validator(filters["empty_project_tags"]).is_valid("some")
    assert validator(filters["cve"]).is_valid(["CVE-2025-65945"])
    assert validator(filters["cve"]).is_valid("CVE-2025-65945")
    assert not validator(filters["cve"]).is_valid([1])
    assert validator(filters["orgs"]).is_valid([ORG_ID])
    assert not validator(filters["orgs"]).is_valid(["not-a-uuid"])


REFERENCE_REQUEST = {
    "data": {
        "type": "resource",
        "attributes": {
            "dataset": "issues",
            "formats": ["csv"],
            "columns": ["ISSUE_SEVERITY", "CVE", "ISSUE_SEVERITY_RANK"],
            "filters": {
                "introduced": {"from": "2026-01-01T00:00:00Z"},
                "orgs": [ORG_ID],
                "projects": {"environment": None},
            },
            "destination": {"type": "snyk"},
        },
    }
}


@pytest.mark.parametrize("media_type", [MEDIA_TYPE, "application/json"])
def test_request_schema_accepts_the_reference_request(
    doc: dict[str, Any], media_type: str
) -> None:
    check = request_schema(doc, "/groups/{group_id}/export", media_type)
    check.validate(REFERENCE_REQUEST)


def test_request_schema_accepts_snyks_own_examples(doc: dict[str, Any]) -> None:
    snyk = yaml.safe_load(SNYK_DOCUMENT.read_text(encoding="utf-8"))
    for scope in ("Org", "Group"):
        example = snyk["components"]["schemas"][f"Export{scope}Attributes"]["example"]
        path = f"/{scope.lower()}s/{{{scope.lower()}_id}}/export"
        body = {"data": {"type": "export", "attributes": example}}
        request_schema(doc, path, MEDIA_TYPE).validate(body)


@pytest.mark.parametrize(
    "attributes",
    [
        {"formats": ["csv"]},
        {"dataset": "issues"},
        {"dataset": "issues", "formats": []},
        {"dataset": "issues", "formats": ["json"]},
        {"dataset": "issues", "formats": ["csv"], "url_expiration_seconds": 3601},
        {"dataset": "issues", "formats": ["csv"], "columns": "CVE"},
    ],
)
def test_request_schema_refuses_what_the_server_refuses(
    doc: dict[str, Any], attributes: dict[str, Any]
) -> None:
    check = request_schema(doc, "/orgs/{org_id}/export", MEDIA_TYPE)
    assert not check.is_valid({"data": {"type": "export", "attributes": attributes}})


def test_request_schema_refuses_a_bad_resource_type(doc: dict[str, Any]) -> None:
    check = request_schema(doc, "/orgs/{org_id}/export", MEDIA_TYPE)
    attributes = {"dataset": "usage", "formats": ["csv"]}
    assert check.is_valid({"data": {"type": "export", "attributes": attributes}})
    assert not check.is_valid({"data": {"type": "Export", "attributes": attributes}})


@pytest.mark.parametrize("scope", ["org", "group"])
def test_created_document_matches_its_schema(doc: dict[str, Any], scope: str) -> None:
    path = f"/{scope}s/{{{scope}_id}}/export"
    body = created_document(make_export(Status.PENDING, scope=scope), "2024-10-15")

    response_schema(doc, path, "post", "202").validate(body)


@pytest.mark.parametrize("status", list(Status))
def test_status_document_matches_its_schema(
    doc: dict[str, Any], status: Status
) -> None:
    body = body_of(make_export(status), results_view=False)

    response_schema(doc, STATUS_PATH, "get", "200").validate(body)


@pytest.mark.parametrize("status", list(Status))
def test_results_document_matches_its_schema(
    doc: dict[str, Any], status: Status
) -> None:
    body = body_of(make_export(status), results_view=True)

    response_schema(doc, RESULTS_PATH, "get", "200").validate(body)


def test_status_schema_includes_results_once_finished(doc: dict[str, Any]) -> None:
    check = response_schema(doc, STATUS_PATH, "get", "200")
    finished = body_of(make_export(Status.FINISHED), results_view=False)
    pending = body_of(make_export(Status.PENDING), results_view=False)

    assert finished["data"]["attributes"]["results"]
    assert "introduced_date_range" in finished["data"]["attributes"]
    pending["data"]["attributes"]["results"] = []
    assert not check.is_valid(pending)
    del finished["data"]["attributes"]["results"]
    assert not check.is_valid(finished)


def test_results_schema_never_reports_started(doc: dict[str, Any]) -> None:
    check = response_schema(doc, RESULTS_PATH, "get", "200")
    body = body_of(make_export(Status.STARTED), results_view=True)

    assert body["data"]["attributes"]["status"] == "PENDING"
    body["data"]["attributes"]["status"] = "STARTED"
    assert not check.is_valid(body)


def test_result_items_are_closed(doc: dict[str, Any]) -> None:
    check = response_schema(doc, RESULTS_PATH, "get", "200")
    body = body_of(make_export(Status.FINISHED), results_view=True)

    body["data"]["attributes"]["results"][0]["sha256"] = "0" * 64
    assert not check.is_valid(body)


def api_errors() -> list[type[errors.ApiError]]:
    found: list[type[errors.ApiError]] = []
    pending: list[type[errors.ApiError]] = [errors.ApiError]
    while pending:
        kind = pending.pop()
        found.append(kind)
        pending.extend(kind.__subclasses__())
    return found


DOCUMENTED = api_errors()


@pytest.mark.parametrize("kind", DOCUMENTED, ids=lambda kind: kind.__name__)
def test_error_documents_match_the_response_of_their_status(
    doc: dict[str, Any], kind: type[errors.ApiError]
) -> None:
    check = validator(
        resolve(doc["components"]["responses"][str(kind.status)], doc)["content"][
            MEDIA_TYPE
        ]["schema"]
    )
    for source in ({}, {"pointer": "/data/attributes"}, {"parameter": "version"}):
        body = errors.error_document(kind.status, kind.code, kind.title, "x", **source)
        check.validate(body)


def test_error_schema_checks_status_and_code(doc: dict[str, Any]) -> None:
    check = response_schema(doc, STATUS_PATH, "get", "404")
    found = errors.NotFound("export not found").document()
    check.validate(found)

    assert not check.is_valid(errors.BadRequest("bad").document())
    found["errors"][0]["status"] = 404
    assert not check.is_valid(found)


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/orgs/{org_id}/export", "post", {"202", "400", "401", "403", "404"}),
        ("/orgs/{org_id}/export", "post", {"413", "415", "429", "500"}),
        (STATUS_PATH, "get", {"200", "400", "401", "403", "404", "429", "500"}),
        ("/dl/{export_id}/{file_name}", "get", {"200", "403", "404"}),
    ],
)
def test_operations_list_the_statuses_the_server_answers(
    doc: dict[str, Any], path: str, method: str, statuses: set[str]
) -> None:
    assert statuses <= set(doc["paths"][path][method]["responses"])
    assert "409" not in doc["paths"][path][method]["responses"]


def test_download_path_lives_outside_the_base_path(doc: dict[str, Any]) -> None:
    item = doc["paths"]["/dl/{export_id}/{file_name}"]
    ok = operation(doc, "/dl/{export_id}/{file_name}", "get")["responses"]["200"]

    assert item["servers"] == [{"url": "/", "description": "The download origin"}]
    assert list(ok["content"]) == ["text/csv"]


def test_success_headers_are_documented(doc: dict[str, Any]) -> None:
    created = operation(doc, "/orgs/{org_id}/export", "post")["responses"]["202"]
    throttled = operation(doc, "/orgs/{org_id}/export", "post")["responses"]["429"]

    for name in ("content-location", "retry-after", "snyk-request-id"):
        assert created["headers"][name]["required"] is True
    assert created["headers"]["snyk-version-served"]["required"] is True
    assert created["headers"]["sunset"]["required"] is False
    assert throttled["headers"]["retry-after"]["required"] is True
    assert throttled["headers"]["snyk-version-served"]["required"] is False


@pytest.mark.parametrize(
    "requested",
    ["2024-10-15", "2024-08-01~experimental", "2025-01-01~work-in-progress"],
)
def test_version_headers_match_their_schemas(
    doc: dict[str, Any], requested: str
) -> None:
    table = ReleaseTable(RELEASES)
    version = table.resolve(requested, dt.date(2026, 1, 1))
    headers = operation(doc, STATUS_PATH, "get")["responses"]["200"]["headers"]

    for name, value in version.headers(dt.datetime.now(dt.UTC)).items():
        validator(headers[name]["schema"]).validate(value)


def app_routes() -> set[tuple[str, str]]:
    """(method, path template) of every API route the app serves, HEAD aside.

    The operator's probes and metrics sit outside the API and its document.
    """
    blank = {field.name: None for field in dataclasses.fields(Surface)}
    app: Any = build_app(Surface(**{**blank, "base_path": "/rest"}))
    while not isinstance(app, Starlette):
        app = app.app  # unwrap the middleware
    routes: set[tuple[str, str]] = set()
    for route in app.routes:
        inner = route.routes if isinstance(route, Mount) else [route]
        for leaf in inner:
            assert isinstance(leaf, Route)
            if leaf.path in PROBE_PATHS:
                continue
            for method in leaf.methods or ():
                if method != "HEAD":
                    routes.add((method.lower(), re.sub(r"{[^}]+}", "{}", leaf.path)))
    return routes


def test_document_describes_exactly_the_routes_of_the_app(doc: dict[str, Any]) -> None:
    documented = {
        (method, re.sub(r"{[^}]+}", "{}", path))
        for path, item in doc["paths"].items()
        for method in item
        if method != "servers"
    }

    assert documented == app_routes()
