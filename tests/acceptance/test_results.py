"""Status and results documents, signed links, limits and retention (§8 to §14)."""

from __future__ import annotations

import re
import time
import urllib.parse
from typing import Any

import httpx
import pytest

from exporting import EVER, VERSION, body, export, start, wait
from liveserver import LiveServer
from snyk_export.demo_data import build_tenant

UPDATED = {"updated": EVER}
LINK = re.compile(
    r"^http://127\.0\.0\.1:\d+/dl/[0-9a-f-]{36}/data_\d+_0_0\.csv"
    r"\?expires=\d+&sig=[0-9a-f]{64}$"
)


def test_finished_documents_carry_results_inline(live: LiveServer) -> None:
    client = live.client("group")
    result = export(
        client,
        "groups",
        live.tenant.group_id,
        body("issues", ["PROBLEM_ID"], {"introduced": EVER}),
    )

    attributes = result.attributes
    assert list(attributes) == [
        "status",
        "created",
        "finished",
        "formats",
        "row_count",
        "introduced_date_range",
        "results",
    ]
    assert attributes["formats"] == ["csv"]
    for index, item in enumerate(attributes["results"]):
        assert set(item) == {"url", "file_size", "row_count"}
        assert LINK.match(item["url"]), item["url"]
        assert f"/data_{index}_0_0.csv?" in item["url"]
    assert result.results["data"]["attributes"]["row_count"] == attributes["row_count"]
    assert result.results["links"] == result.status["links"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", attributes["finished"])


def test_links_are_fresh_on_every_read_and_old_ones_keep_working(
    live: LiveServer,
) -> None:
    client = live.client("group")
    result = export(
        client,
        "groups",
        live.tenant.group_id,
        body("issues", ["PROBLEM_ID"], UPDATED, url_expiration_seconds=120),
    )
    first = result.attributes["results"][0]["url"]
    time.sleep(1.1)
    again = client.get(
        f"/groups/{live.tenant.group_id}/export/{result.export_id}",
        params={"version": VERSION},
    ).json()
    second = again["data"]["attributes"]["results"][0]["url"]
    assert first != second
    expires = int(
        urllib.parse.parse_qs(urllib.parse.urlsplit(second).query)["expires"][0]
    )
    assert 118 <= expires - time.time() <= 121
    assert httpx.get(first).content == httpx.get(second).content == result.parts[0]


def test_downloads_ignore_authorization_and_survive_percent_decoding(
    live: LiveServer,
) -> None:
    result = export(
        live.client("group"),
        "groups",
        live.tenant.group_id,
        body("issues", ["PROBLEM_ID"], UPDATED),
    )
    url = result.attributes["results"][0]["url"]
    assert urllib.parse.unquote(url) == url
    for headers in (
        {},
        {"Authorization": "token nope"},
        {"Authorization": f"token {live.tokens['group']}"},
        {"Accept": "application/json", "Accept-Encoding": "gzip"},
    ):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 200
        assert response.content == result.parts[0]
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert (
            response.headers["content-disposition"]
            == 'attachment; filename="data_0_0_0.csv"'
        )
        assert "content-encoding" not in response.headers
        assert response.headers["snyk-request-id"]
    head = httpx.head(url)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == len(result.parts[0])
    assert httpx.post(url).status_code == 405


def _tamper(url: str, what: str, other_id: str) -> str:
    base, query = url.split("?")
    params = dict(urllib.parse.parse_qsl(query))
    if what == "sig":
        params["sig"] = ("0" if params["sig"][0] != "0" else "1") + params["sig"][1:]
    elif what == "expires":
        params["expires"] = str(int(params["expires"]) + 1)
    elif what == "file":
        base = base.replace("data_0_0_0.csv", "data_1_0_0.csv")
    elif what == "export":
        base = re.sub(r"/dl/[0-9a-f-]{36}/", f"/dl/{other_id}/", base)
    elif what == "truncated":
        params["sig"] = params["sig"][:-2]
    elif what == "missing":
        del params["sig"]
    return base + "?" + urllib.parse.urlencode(params)


@pytest.mark.parametrize(
    "what", ["sig", "expires", "file", "export", "truncated", "missing"]
)
def test_tampered_links_are_refused(live: LiveServer, what: str) -> None:
    client = live.client("group")
    one = export(
        client, "groups", live.tenant.group_id, body("issues", ["PROBLEM_ID"], UPDATED)
    )
    other = export(
        client, "groups", live.tenant.group_id, body("issues", ["PROBLEM_ID"], UPDATED)
    )
    url = _tamper(one.attributes["results"][0]["url"], what, other.export_id)
    response = httpx.get(url)
    assert response.status_code == 403
    document = response.json()
    assert document["errors"][0]["code"] == "SNYK-OPENAPI-0002"
    assert response.headers["content-type"] == "application/vnd.api+json"


def test_expired_links_are_refused_with_link_expired(live: LiveServer) -> None:
    result = export(
        live.client("group"),
        "groups",
        live.tenant.group_id,
        body("issues", ["PROBLEM_ID"], UPDATED, url_expiration_seconds=1),
    )
    url = result.attributes["results"][0]["url"]
    time.sleep(2.1)
    response = httpx.get(url)
    assert response.status_code == 403
    assert response.json()["errors"][0]["detail"] == "link expired"


def test_pending_documents_have_exactly_the_contract_members(live: LiveServer) -> None:
    client = live.client("group")
    export_id = start(
        client, f"/groups/{live.tenant.group_id}/export", body("issues", None, UPDATED)
    )
    status = client.get(
        f"/groups/{live.tenant.group_id}/jobs/export/{export_id}",
        params={"version": VERSION},
    ).json()["data"]["attributes"]
    results = client.get(
        f"/groups/{live.tenant.group_id}/export/{export_id}",
        params={"version": VERSION},
    ).json()["data"]["attributes"]
    if status["status"] != "FINISHED":
        assert set(status) == {"status", "created", "formats"}
        assert status["status"] in ("PENDING", "STARTED")
    if results["status"] != "FINISHED":
        assert results["status"] == "PENDING"
        assert set(results) == {"status", "row_count", "created", "formats"}
        assert results["row_count"] == 0
    wait(client, f"/groups/{live.tenant.group_id}/jobs/export/{export_id}")


def test_export_creation_limit_counts_accepted_posts_per_scope(
    server_factory: Any,
) -> None:
    server = server_factory(export_post_limit=2, request_limit="none")
    client = server.client("group")
    group, org = server.tenant.group_id, server.tenant.orgs[0].id
    payload = body("issues", ["SCORE"], UPDATED)
    bad = body("issues", ["SCORE"], {})
    for _ in range(2):
        assert (
            client.post(
                f"/groups/{group}/export", params={"version": VERSION}, json=bad
            ).status_code
            == 400
        )
        start(client, f"/groups/{group}/export", payload)
    refused = client.post(
        f"/groups/{group}/export", params={"version": VERSION}, json=payload
    )
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["code"] == "SNYK-0001"
    assert 3590 <= int(refused.headers["retry-after"]) <= 3600
    assert refused.headers["snyk-version-served"] == VERSION
    assert set(refused.headers) & {"x-ratelimit-limit", "ratelimit"} == set()
    start(client, f"/orgs/{org}/export", payload)
    start(server.client("group_admin"), f"/groups/{group}/export", payload)
    status = client.get(
        f"/groups/{group}/export/{refused.headers['snyk-request-id']}",
        params={"version": VERSION},
    )
    assert status.status_code == 404


def test_general_request_limit_counts_every_api_request(server_factory: Any) -> None:
    server = server_factory(request_limit=5, request_window_seconds=60)
    client = server.client("group")
    missing = "00000000-0000-4000-8000-000000000000"
    path = f"/groups/{server.tenant.group_id}/jobs/export/{missing}"
    statuses = [
        client.get(path, params={"version": VERSION}).status_code for _ in range(6)
    ]
    assert statuses == [404] * 5 + [429]
    refused = client.get(path, params={"version": VERSION})
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert (
        server.client("org").get(path, params={"version": VERSION}).status_code == 404
    )


def test_exports_disappear_after_retention(server_factory: Any) -> None:
    server = server_factory(retention_seconds=2, sweep_interval_seconds=1)
    client = server.client("group")
    result = export(
        client, "groups", server.tenant.group_id, body("issues", ["SCORE"], UPDATED)
    )
    url = result.attributes["results"][0]["url"]
    expires = int(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["expires"][0])
    assert expires <= time.time() + 2
    time.sleep(2.5)
    for kind in ("jobs/export", "export"):
        gone = client.get(
            f"/groups/{server.tenant.group_id}/{kind}/{result.export_id}",
            params={"version": VERSION},
        )
        assert gone.status_code == 404
    assert httpx.get(url).status_code in (403, 404)
    deadline = time.monotonic() + 5
    while server.backend.get_export(result.export_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.backend.get_export(result.export_id) is None
    assert not (server.service.settings.results_dir / result.export_id).exists()


def test_a_scope_can_have_its_own_export_limit(server_factory: Any) -> None:
    tenant = build_tenant(7)
    group, org = tenant.group_id, tenant.orgs[0].id
    server = server_factory(
        export_post_limit=1, export_post_limits_by_scope=f"group:{group.upper()}=none"
    )
    client = server.client("group")
    payload = body("issues", ["SCORE"], UPDATED)
    for _ in range(3):
        start(client, f"/groups/{group}/export", payload)
    start(client, f"/orgs/{org}/export", payload)
    refused = client.post(
        f"/orgs/{org}/export", params={"version": VERSION}, json=payload
    )
    assert refused.status_code == 429
