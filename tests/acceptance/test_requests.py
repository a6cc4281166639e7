"""How the create endpoint judges requests: lenient input, exact errors (§6, §15)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from exporting import EVER, VERSION, body
from liveserver import LiveServer

UPDATED = {"updated": EVER}


def post(
    client: httpx.Client,
    path: str,
    content: Any,
    *,
    raw: bool = False,
    headers: dict[str, str] | None = None,
    **params: str,
) -> httpx.Response:
    data = content if raw else json.dumps(content)
    merged = {"Content-Type": "application/vnd.api+json", **(headers or {})}
    return client.post(
        path, params={"version": VERSION, **params}, content=data, headers=merged
    )


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/vnd.api+json"
    document = response.json()
    assert set(document) == {"jsonapi", "errors"}
    item: dict[str, Any] = document["errors"][0]
    assert item["status"] == str(response.status_code)
    return item


BAD_BODIES = [
    (b"", "SNYK-OPENAPI-0001", ""),
    (b"{not json", "SNYK-OPENAPI-0001", ""),
    (b"[1, 2]", "SNYK-OPENAPI-0001", ""),
    (b"\xff\xfe{}", "SNYK-OPENAPI-0001", ""),
    (b"[" * 100_000 + b"]" * 100_000, "SNYK-OPENAPI-0001", ""),
    (b"{}", "SNYK-OPENAPI-0001", "/data"),
    (b'{"data": null}', "SNYK-OPENAPI-0001", "/data"),
    (
        b'{"data": {"type": "Export", "attributes": {}}}',
        "SNYK-OPENAPI-0001",
        "/data/type",
    ),
    (b'{"data": {"attributes": {}}}', "SNYK-OPENAPI-0001", "/data/type"),
    (b'{"data": {"type": "export"}}', "SNYK-OPENAPI-0001", "/data/attributes"),
]


@pytest.mark.parametrize(
    ("content", "code", "pointer"), BAD_BODIES, ids=lambda v: repr(v)[:40]
)
def test_malformed_bodies_are_refused_with_a_pointer(
    live: LiveServer, content: bytes, code: str, pointer: str
) -> None:
    response = post(
        live.client(), f"/groups/{live.tenant.group_id}/export", content, raw=True
    )
    assert response.status_code == 400
    item = error_of(response)
    assert item["code"] == code
    assert item["source"] == {"pointer": pointer}


BAD_ATTRIBUTES = [
    ({"formats": ["csv"]}, 400, "SNYK-OPENAPI-0001", "/data/attributes/dataset"),
    (
        {"dataset": 7, "formats": ["csv"]},
        400,
        "SNYK-OPENAPI-0001",
        "/data/attributes/dataset",
    ),
    (
        {"dataset": "vulns", "formats": ["csv"]},
        400,
        "SNYK-0003",
        "/data/attributes/dataset",
    ),
    ({"dataset": "issues"}, 400, "SNYK-OPENAPI-0001", "/data/attributes/formats"),
    (
        {"dataset": "issues", "formats": []},
        400,
        "SNYK-OPENAPI-0001",
        "/data/attributes/formats",
    ),
    (
        {"dataset": "issues", "formats": ["json"]},
        400,
        "SNYK-OPENAPI-0001",
        "/data/attributes/formats",
    ),
    (
        {"dataset": "issues", "formats": ["csv"], "columns": ["NOPE"]},
        400,
        "SNYK-0003",
        "/data/attributes/columns",
    ),
    (
        {"dataset": "issues", "formats": ["csv"], "columns": ["SCORE", 3]},
        400,
        "SNYK-OPENAPI-0001",
        "/data/attributes/columns/1",
    ),
    (
        {
            "dataset": "issues",
            "formats": ["csv"],
            "url_expiration_seconds": 3601,
            "filters": UPDATED,
        },
        400,
        "SNYK-OPENAPI-0001",
        "/data/attributes/url_expiration_seconds",
    ),
    (
        {
            "dataset": "issues",
            "formats": ["csv"],
            "url_expiration_seconds": "60",
            "filters": UPDATED,
        },
        400,
        "SNYK-OPENAPI-0001",
        "/data/attributes/url_expiration_seconds",
    ),
    (
        {"dataset": "issues", "formats": ["csv"], "filters": {}},
        400,
        "SNYK-0003",
        "/data/attributes/filters",
    ),
    (
        {"dataset": "usage", "formats": ["csv"], "filters": {"introduced": EVER}},
        400,
        "SNYK-0003",
        "/data/attributes/filters",
    ),
    (
        {
            "dataset": "issues",
            "formats": ["csv"],
            "filters": {"introduced": {"from": "2024-11-28"}},
        },
        400,
        "SNYK-OPENAPI-0001",
        "/data/attributes/filters/introduced/from",
    ),
    (
        {
            "dataset": "issues",
            "formats": ["csv"],
            "filters": {
                "introduced": {
                    "from": "2024-02-01T00:00:00Z",
                    "to": "2024-01-01T00:00:00Z",
                }
            },
        },
        400,
        "SNYK-0003",
        "/data/attributes/filters/introduced",
    ),
    (
        {
            "dataset": "issues",
            "formats": ["csv"],
            "filters": {"updated": EVER, "orgs": ["not-a-uuid"]},
        },
        400,
        "SNYK-OPENAPI-0001",
        "/data/attributes/filters/orgs/0",
    ),
    (
        {
            "dataset": "issues",
            "formats": ["csv"],
            "filters": {"updated": EVER, "Product_Name": ["a"], "product_name": ["b"]},
        },
        400,
        "SNYK-OPENAPI-0001",
        "/data/attributes/filters/product_name",
    ),
    (
        {
            "dataset": "issues",
            "formats": ["csv"],
            "filters": {"updated": EVER, "empty_project_tags": "sometimes"},
        },
        400,
        "SNYK-OPENAPI-0001",
        "/data/attributes/filters/empty_project_tags",
    ),
    (
        {
            "dataset": "issues",
            "formats": ["csv"],
            "filters": {"updated": EVER, "issue_status": ["Open", 1]},
        },
        400,
        "SNYK-OPENAPI-0001",
        "/data/attributes/filters/issue_status/1",
    ),
]


@pytest.mark.parametrize(
    ("attributes", "status", "code", "pointer"),
    BAD_ATTRIBUTES,
    ids=lambda v: json.dumps(v)[:60],
)
def test_bad_attributes_are_refused_with_code_and_pointer(
    live: LiveServer, attributes: dict[str, Any], status: int, code: str, pointer: str
) -> None:
    payload = {"data": {"type": "export", "attributes": attributes}}
    response = post(live.client(), f"/groups/{live.tenant.group_id}/export", payload)
    assert response.status_code == status, response.text
    item = error_of(response)
    assert (item["code"], item["source"]) == (code, {"pointer": pointer})
    assert item["links"]["about"].endswith("#" + code.lower())
    assert response.headers["snyk-version-served"] == VERSION


LENIENT = [
    {
        "data": {
            "type": "resource",
            "id": "x",
            "attributes": {
                "dataset": "ISSUES",
                "formats": ["CSV", "csv"],
                "filters": {**UPDATED, "projects": {}, "general": {"a": 1}},
                "destination": {"type": "snyk", "file_name": "x.csv"},
                "columns": None,
                "url_expiration_seconds": 0,
            },
        },
        "meta": {"x": 1},
        "jsonapi": {"version": "1.0"},
    },
    {
        "data": {
            "type": "export",
            "attributes": {
                "dataset": " usage ",
                "formats": ["csv"],
                "columns": [],
                "filters": {
                    "UPDATED": {"from": "2024-01-01t00:00:00+02:00"},
                    "introduced": None,
                    "cve": ["x"],
                },
                "url_expiration_seconds": 60.0,
            },
        }
    },
    {
        "data": {
            "type": "snake_case_type",
            "attributes": {
                "dataset": "pr_checks",
                "formats": ["csv"],
                "filters": {"updated": {"to": "2030-01-01T00:00:00"}},
            },
        }
    },
]


@pytest.mark.parametrize("payload", LENIENT, ids=range(len(LENIENT)))
def test_shapes_seen_in_the_wild_are_accepted(
    live: LiveServer, payload: dict[str, Any]
) -> None:
    response = post(live.client(), f"/groups/{live.tenant.group_id}/export", payload)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/vnd.api+json; charset=utf-8",
        "application/vnd.api+json; ext=bulk",
        "Application/JSON",
        "application/merge-patch+json",
    ],
)
def test_json_media_types_are_accepted(live: LiveServer, content_type: str) -> None:
    response = post(
        live.client(),
        f"/groups/{live.tenant.group_id}/export",
        body("issues", filters=UPDATED),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 202, response.text


def test_a_body_without_content_type_is_read_as_json(live: LiveServer) -> None:
    request = live.client().build_request(
        "POST",
        f"/groups/{live.tenant.group_id}/export",
        params={"version": VERSION},
        content=json.dumps(body("issues", filters=UPDATED)).encode(),
    )
    assert "content-type" not in request.headers
    assert live.client().send(request).status_code == 202


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"]
)
def test_other_media_types_get_415(live: LiveServer, content_type: str) -> None:
    response = post(
        live.client(),
        f"/groups/{live.tenant.group_id}/export",
        body("issues", filters=UPDATED),
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 415
    assert error_of(response)["code"] == "SNYK-OPENAPI-0008"


def test_oversized_bodies_get_413(live: LiveServer) -> None:
    payload = body("issues", ["SCORE"] * 200_000, UPDATED)
    response = post(live.client(), f"/groups/{live.tenant.group_id}/export", payload)
    assert response.status_code == 413
    assert error_of(response)["code"] == "SNYK-OPENAPI-0006"


def test_oversized_chunked_bodies_get_413_too(live: LiveServer) -> None:
    def chunks() -> Any:
        yield b'{"data": {"type": "export", "attributes": {"columns": ['
        for _ in range(30_000):
            yield b'"SCORE", ' * 10
        yield b'"SCORE"]}}}'

    response = live.client().post(
        f"/groups/{live.tenant.group_id}/export",
        params={"version": VERSION},
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("flag", "value"), [("include_deleted", "yes"), ("include_deactivated", "2")]
)
def test_bad_include_flags_are_refused(live: LiveServer, flag: str, value: str) -> None:
    response = post(
        live.client(),
        f"/groups/{live.tenant.group_id}/export",
        body("issues", filters=UPDATED),
        **{flag: value},
    )
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": flag}


@pytest.mark.parametrize("path", ["/orgs/not-a-uuid/export", "/groups/1234/export"])
def test_malformed_scope_ids_are_400(live: LiveServer, path: str) -> None:
    response = post(live.client(), path, body("issues", filters=UPDATED))
    assert response.status_code == 400
    parameter = "org_id" if path.startswith("/orgs") else "group_id"
    assert error_of(response)["source"] == {"parameter": parameter}


def test_malformed_export_id_is_400(live: LiveServer) -> None:
    response = live.client().get(
        f"/groups/{live.tenant.group_id}/jobs/export/xyz", params={"version": VERSION}
    )
    assert response.status_code == 400
    assert error_of(response)["source"] == {"parameter": "export_id"}


def test_a_created_export_is_readable_at_once(live: LiveServer) -> None:
    client = live.client()
    group = live.tenant.group_id
    response = post(
        client, f"/groups/{group.upper()}/export", body("issues", filters=UPDATED)
    )

    assert response.status_code == 202
    document = response.json()
    export_id = document["data"]["id"]
    assert uuid.UUID(export_id).version == 4
    assert set(document) == {"jsonapi", "data"}
    assert document["data"]["type"] == "export"
    assert set(document["data"]["attributes"]) == {"created"}
    status_path = f"/groups/{group}/jobs/export/{export_id}"
    assert document["data"]["links"] == {"self": f"{status_path}?version={VERSION}"}
    assert (
        response.headers["content-location"] == f"/rest{status_path}?version={VERSION}"
    )
    assert response.headers["retry-after"] == "10"

    status = client.get(status_path, params={"version": VERSION})
    assert status.status_code == 200
    attributes = status.json()["data"]["attributes"]
    assert attributes["created"] == document["data"]["attributes"]["created"]
    assert status.json()["links"]["self"] == (
        f"/groups/{group}/export/{export_id}?version={VERSION}"
    )


def test_unknown_query_parameters_are_ignored_and_the_first_repeat_wins(
    live: LiveServer,
) -> None:
    response = live.client().post(
        f"/groups/{live.tenant.group_id}/export?version={VERSION}&version=2099-01-01&foo=1",
        json=body("issues", filters=UPDATED),
    )
    assert response.status_code == 202
