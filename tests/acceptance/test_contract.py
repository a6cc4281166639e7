"""Every response body checked against Snyk's published OpenAPI document.

The one deliberate difference (export-api.md §8.2): once FINISHED, the status
response carries the full results attributes, which Snyk's status schema
forbids. The check patches exactly that schema and nothing else.
"""

from __future__ import annotations

import copy
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from exporting import EVER, VERSION, body, start, wait
from liveserver import LiveServer

SNYK_DOCUMENT = (
    Path(__file__).parents[3] / "shared" / "spec" / "snyk-export-openapi.yml"
)
MEDIA = "application~1vnd.api+json"
ERROR_RESPONSES = {"400", "401", "403", "404", "409", "500", "TooManyRequests"}


@cache
def snyk_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SNYK_DOCUMENT.read_text("utf-8"))
    responses = document["components"]["responses"]
    finished = copy.deepcopy(
        responses["GetExport"]["content"]["application/vnd.api+json"]["schema"][
            "properties"
        ]["data"]["properties"]["attributes"]
    )
    finished["properties"]["status"]["enum"].append("STARTED")
    finished["required"] = ["status"]
    status = responses["GetExportJob"]["content"]["application/vnd.api+json"]["schema"]
    status["properties"]["data"]["properties"]["attributes"] = finished
    return document


def validate(response: httpx.Response, component: str) -> None:
    registry = Registry().with_resource(
        "snyk.yml",
        Resource.from_contents(snyk_document(), default_specification=DRAFT4),
    )
    schema = {
        "$ref": f"snyk.yml#/components/responses/{component}/content/{MEDIA}/schema"
    }
    validator = jsonschema.Draft4Validator(
        schema, registry=registry, format_checker=jsonschema.FormatChecker()
    )
    validator.validate(response.json())
    declared = snyk_document()["components"]["responses"][component].get("headers", {})
    for header in ("snyk-request-id", "content-location", "retry-after"):
        if header in declared and (header != "content-location" or component != "404"):
            assert header in response.headers, (component, header)
    assert response.headers["content-type"] == "application/vnd.api+json"


def test_create_status_and_results_bodies_follow_snyk_schemas(live: LiveServer) -> None:
    client = live.client("group")
    for scope, scope_id in (
        ("groups", live.tenant.group_id),
        ("orgs", live.tenant.orgs[0].id),
    ):
        created = client.post(
            f"/{scope}/{scope_id}/export",
            params={"version": VERSION},
            json=body("issues", None, {"introduced": EVER, "updated": EVER}),
        )
        validate(created, "CreateExport")
        export_id = created.json()["data"]["id"]
        early_status = client.get(
            f"/{scope}/{scope_id}/jobs/export/{export_id}", params={"version": VERSION}
        )
        early_results = client.get(
            f"/{scope}/{scope_id}/export/{export_id}", params={"version": VERSION}
        )
        validate(early_status, "GetExportJob")
        validate(early_results, "GetExport")
        wait(client, f"/{scope}/{scope_id}/jobs/export/{export_id}")
        for path, component in (
            (f"jobs/export/{export_id}", "GetExportJob"),
            (f"export/{export_id}", "GetExport"),
        ):
            finished = client.get(
                f"/{scope}/{scope_id}/{path}", params={"version": VERSION}
            )
            validate(finished, component)
            attributes = finished.json()["data"]["attributes"]
            assert attributes["status"] == "FINISHED"
            for item in attributes["results"]:
                assert set(item) == {"url", "file_size", "row_count"}


def test_unpatched_status_schema_still_rejects_finished_documents(
    live: LiveServer,
) -> None:
    # Proves the patch above is needed, i.e. the check is not vacuous.
    client = live.client("group")
    group = live.tenant.group_id
    export_id = start(
        client, f"/groups/{group}/export", body("issues", ["SCORE"], {"updated": EVER})
    )
    finished = wait(client, f"/groups/{group}/jobs/export/{export_id}")
    original = yaml.safe_load(SNYK_DOCUMENT.read_text("utf-8"))
    registry = Registry().with_resource(
        "snyk.yml", Resource.from_contents(original, default_specification=DRAFT4)
    )
    schema = {
        "$ref": f"snyk.yml#/components/responses/GetExportJob/content/{MEDIA}/schema"
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema, registry=registry).validate(finished)


def test_error_bodies_follow_the_error_document_schema(live: LiveServer) -> None:
    group = live.tenant.group_id
    missing = uuid.uuid4()
    cases = [
        (
            live.client("group").post(
                f"/groups/{group}/export",
                params={"version": VERSION},
                json={"data": {}},
            ),
            "400",
        ),
        (
            live.client(None).get(
                f"/groups/{group}/jobs/export/{missing}", params={"version": VERSION}
            ),
            "401",
        ),
        (
            live.client("group_member").get(
                f"/groups/{group}/jobs/export/{missing}", params={"version": VERSION}
            ),
            "403",
        ),
        (
            live.client("group").get(
                f"/groups/{group}/export/{missing}", params={"version": VERSION}
            ),
            "404",
        ),
        (live.client("group").get("/no/such/path"), "404"),
        (live.client("group").delete(f"/groups/{group}/export"), "404"),
    ]
    for response, component in cases:
        assert response.status_code in (int(component), 405), response.text
        validate(response, component)
