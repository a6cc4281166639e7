"""The companion endpoints clients call before exporting (§18)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from liveserver import LiveServer


def get(client: httpx.Client, path: str, **params: str) -> httpx.Response:
    return client.get(path, params={"version": "2024-10-15", **params})


def test_self_names_the_tokens_credential(live: LiveServer) -> None:
    response = get(live.client("group"), "/self")
    assert response.status_code == 200
    document = response.json()
    assert document["data"]["type"] == "user"
    assert document["data"]["attributes"]["name"] == "group"
    assert response.headers["snyk-version-served"] == "2024-10-15"


@pytest.mark.parametrize("version", ["2021-06-04", "2023-05-29~beta", "2024-01-23"])
def test_companions_serve_versions_older_than_the_export_api(
    live: LiveServer, version: str
) -> None:
    response = live.client("group").get("/self", params={"version": version})
    assert response.status_code == 200
    assert response.headers["snyk-version-requested"] == version
    assert response.headers["snyk-version-served"] == version.split("~")[0]


@pytest.mark.parametrize("version", ["2099-01-01", "latest", ""])
def test_companions_still_refuse_bad_versions(live: LiveServer, version: str) -> None:
    response = live.client("group").get("/self", params={"version": version})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "version"}


def test_orgs_are_visible_to_their_members_only(live: LiveServer) -> None:
    org = live.tenant.orgs[0]
    for token in ("group", "group_admin", "org", "org_member"):
        response = get(live.client(token), f"/orgs/{org.id.upper()}")
        assert response.status_code == 200, token
        data = response.json()["data"]
        assert data == {
            "type": "org",
            "id": org.id,
            "attributes": {
                "name": org.name,
                "slug": org.slug,
                "group_id": live.tenant.group_id,
            },
        }
    for token, org_id in (
        ("org", live.tenant.orgs[1].id),
        ("other", org.id),
        ("group", str(uuid.uuid4())),
        ("group_member", org.id),
    ):
        assert get(live.client(token), f"/orgs/{org_id}").status_code == 404, token
    assert get(live.client(None), f"/orgs/{org.id}").status_code == 401
    assert get(live.client("group"), "/orgs/not-a-uuid").status_code == 400


def test_group_orgs_are_paginated_with_a_relative_next_link(live: LiveServer) -> None:
    client = live.client("group_member")
    group = live.tenant.group_id
    seen: list[str] = []
    path, params = f"/groups/{group}/orgs", {"limit": "3"}
    while True:
        response = get(client, path, **params)
        assert response.status_code == 200
        document = response.json()
        assert len(document["data"]) <= 3
        seen += [org["id"] for org in document["data"]]
        next_link = document["links"].get("next")
        if next_link is None:
            break
        assert next_link.startswith(f"/groups/{group}/orgs?")
        next_url = httpx.URL(next_link)
        path, params = next_url.path, dict(next_url.params)
    assert seen == sorted(org.id for org in live.tenant.orgs)
    assert get(live.client("org"), f"/groups/{group}/orgs").status_code == 404
    assert get(client, f"/groups/{group}/orgs", limit="0").status_code == 400
    bad_cursor = get(client, f"/groups/{group}/orgs", starting_after="x")
    assert bad_cursor.status_code == 400
