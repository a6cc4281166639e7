"""Routes, versions, credentials and visibility, in the order of §2."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from exporting import EVER, VERSION, body, start
from liveserver import LiveServer

UPDATED = {"updated": EVER}


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/vnd.api+json"
    assert uuid.UUID(response.headers["snyk-request-id"])
    document = response.json()
    assert set(document) == {"jsonapi", "errors"}
    item: dict[str, Any] = document["errors"][0]
    assert item["status"] == str(response.status_code)
    assert item["detail"]
    return item


def test_unknown_paths_are_json_api_404s_without_version_headers(
    live: LiveServer,
) -> None:
    response = live.client().get("/nothing/here", params={"version": VERSION})
    assert response.status_code == 404
    assert error_of(response)["code"] == "SNYK-OPENAPI-0004"
    assert "snyk-version-served" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/orgs/{org}/export", "POST"),
        ("DELETE", "/orgs/{org}/jobs/export/{id}", "GET, HEAD"),
        ("POST", "/groups/{group}/export/{id}", "GET, HEAD"),
    ],
)
def test_wrong_methods_are_405_with_allow(
    live: LiveServer, method: str, path: str, allow: str
) -> None:
    url = path.format(
        org=live.tenant.orgs[0].id, group=live.tenant.group_id, id=uuid.uuid4()
    )
    response = live.client().request(method, url, params={"version": VERSION})
    assert response.status_code == 405
    assert error_of(response)["code"] == "SNYK-OPENAPI-0005"
    assert response.headers["allow"] == allow


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "token",
        "Basic abc",
        "{group}",
        "token nope",
        "token {expired}",
        "token {revoked}",
    ],
)
def test_missing_or_bad_credentials_are_401(
    live: LiveServer, header: str | None
) -> None:
    headers = {}
    if header is not None:
        headers["Authorization"] = header.format(**live.tokens)
    response = httpx.post(
        f"{live.api}/groups/{live.tenant.group_id}/export",
        params={"version": "not-a-version"},
        headers=headers,
        json=body("issues", filters=UPDATED),
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "SNYK-0005"
    assert "snyk-version-served" not in response.headers


@pytest.mark.parametrize(
    "template",
    [
        "token {t}",
        "Token {t}",
        "TOKEN\t{t}",
        "bearer {t}",
        "Bearer   {t}",
        "BEARER \t {t}",
    ],
)
def test_both_schemes_are_accepted_in_any_case(live: LiveServer, template: str) -> None:
    response = httpx.post(
        f"{live.api}/groups/{live.tenant.group_id}/export",
        params={"version": VERSION},
        headers={"Authorization": template.format(t=live.tokens["group"])},
        json=body("issues", filters=UPDATED),
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("version", "status", "served"),
    [
        ("2024-10-15", 202, "2024-10-15"),
        ("2025-06-01", 202, "2024-10-15"),
        ("2024-10-15~experimental", 202, "2024-10-15"),
        ("2025-01-01~beta", 202, "2024-10-15"),
        ("2024-05-10~experimental", 202, "2024-05-10~experimental"),
        ("2024-08-01~work-in-progress", 202, "2024-05-10~experimental"),
        ("2024-05-10", 404, None),
        ("2024-08-01~beta", 404, None),
        ("2024-05-09~experimental", 404, None),
        ("2099-01-01", 400, None),
        ("beta", 400, None),
        ("2024-02-30", 400, None),
        ("2024-10-15~ga", 400, None),
        ("", 400, None),
    ],
)
def test_version_resolution_and_headers(
    live: LiveServer, version: str, status: int, served: str | None
) -> None:
    response = live.client().post(
        f"/groups/{live.tenant.group_id}/export",
        params={"version": version},
        json=body("issues", filters=UPDATED),
    )
    assert response.status_code == status, response.text
    if served is None:
        item = error_of(response)
        assert item["source"] == {"parameter": "version"}
        assert item["code"] == (
            "SNYK-OPENAPI-0004" if status == 404 else "SNYK-OPENAPI-0001"
        )
        assert "snyk-version-served" not in response.headers
        return
    headers = response.headers
    assert headers["snyk-version-served"] == served
    assert headers["snyk-version-requested"] == version.replace(
        "work-in-progress", "wip"
    )
    if served == "2024-05-10~experimental":
        assert headers["snyk-version-lifecycle-stage"] == "sunset"
        assert headers["deprecation"] == "2024-10-15T00:00:00.000Z"
        assert headers["sunset"] == "2024-11-15"
        assert (
            f"version={headers['snyk-version-requested']}"
            in headers["content-location"]
        )
    else:
        assert headers["snyk-version-lifecycle-stage"] == "ga"
        assert "deprecation" not in headers
        assert "sunset" not in headers


def test_missing_version_is_400(live: LiveServer) -> None:
    response = live.client().get(
        f"/groups/{live.tenant.group_id}/jobs/export/{uuid.uuid4()}"
    )
    assert response.status_code == 400
    assert error_of(response)["detail"] == "missing required query parameter 'version'"


def visibility_cases(live: LiveServer) -> list[tuple[str, str, str, int]]:
    group, org0, org1 = (
        live.tenant.group_id,
        live.tenant.orgs[0].id,
        live.tenant.orgs[1].id,
    )
    return [
        ("group", "groups", group, 202),
        ("group", "orgs", org1, 202),
        ("group_admin", "orgs", org0, 202),
        ("group_member", "groups", group, 403),
        ("group_member", "orgs", org0, 404),
        ("org", "orgs", org0, 202),
        ("org", "orgs", org1, 404),
        ("org", "groups", group, 404),
        ("org_member", "orgs", org0, 403),
        ("other", "groups", group, 404),
        ("other", "orgs", org0, 404),
        ("other", "orgs", live.other_org_id, 202),
        ("group", "orgs", live.other_org_id, 404),
        ("group", "groups", str(uuid.uuid4()), 404),
        ("group", "orgs", str(uuid.uuid4()), 404),
    ]


def test_visibility_and_permission_matrix(live: LiveServer) -> None:
    for token, scope, scope_id, expected in visibility_cases(live):
        client = live.client(token)
        response = client.post(
            f"/{scope}/{scope_id}/export",
            params={"version": VERSION},
            json=body("issues", filters=UPDATED),
        )
        assert response.status_code == expected, (token, scope, response.text)
        probe = client.get(
            f"/{scope}/{scope_id}/jobs/export/{uuid.uuid4()}",
            params={"version": VERSION},
        )
        assert probe.status_code == (404 if expected == 202 else expected), (
            token,
            scope,
        )
        if expected != 202:
            item = error_of(response)
            assert (
                item["code"]
                == {403: "SNYK-OPENAPI-0002", 404: "SNYK-OPENAPI-0004"}[expected]
            )
            assert scope_id not in item["detail"] or expected == 403


def test_an_export_is_visible_only_in_the_scope_it_was_created_in(
    live: LiveServer,
) -> None:
    group, org0 = live.tenant.group_id, live.tenant.orgs[0].id
    client = live.client("group")
    group_export = start(
        client, f"/groups/{group}/export", body("issues", filters=UPDATED)
    )
    org_export = start(client, f"/orgs/{org0}/export", body("issues", filters=UPDATED))

    def status(path: str, token: str = "group") -> int:
        return live.client(token).get(path, params={"version": VERSION}).status_code

    for kind in ("jobs/export", "export"):
        assert status(f"/groups/{group}/{kind}/{group_export}") == 200
        assert status(f"/orgs/{org0}/{kind}/{group_export}") == 404
        assert status(f"/orgs/{org0}/{kind}/{org_export}") == 200
        assert status(f"/orgs/{org0}/{kind}/{org_export}", "org") == 200
        assert status(f"/orgs/{live.tenant.orgs[1].id}/{kind}/{org_export}") == 404
        assert status(f"/groups/{group}/{kind}/{org_export}") == 404
        assert status(f"/orgs/{live.other_org_id}/{kind}/{org_export}", "other") == 404


def test_request_ids_are_echoed_when_valid_and_fresh_otherwise(
    live: LiveServer,
) -> None:
    mine = str(uuid.uuid4())
    client = live.client()
    echoed = client.get("/nowhere", headers={"snyk-request-id": mine.upper()})
    assert echoed.headers["snyk-request-id"] == mine
    fresh = client.get("/nowhere", headers={"snyk-request-id": "not-a-uuid"})
    assert uuid.UUID(fresh.headers["snyk-request-id"]) != uuid.UUID(mine)
