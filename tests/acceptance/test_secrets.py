"""No token, signature or Authorization header reaches the server's logs."""

from __future__ import annotations

import logging
import urllib.parse

import httpx
import pytest

from exporting import EVER, VERSION, body, export
from liveserver import LiveServer


def test_logs_never_carry_tokens_or_signatures(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    group = live.tenant.group_id
    result = export(
        live.client("group"),
        "groups",
        group,
        body("issues", ["SCORE"], {"updated": EVER}),
    )
    url = result.attributes["results"][0]["url"]
    signature = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["sig"][0]
    httpx.get(url.replace(signature, "0" * 64))
    live.client("nope-not-a-token").get(
        f"/groups/{group}/export/{result.export_id}", params={"version": VERSION}
    )
    live.client("revoked").post(
        f"/groups/{group}/export",
        params={"version": VERSION},
        json=body("issues", None, {}),
    )

    server_records = [
        r
        for r in caplog.records
        if r.name.startswith(("snyk_export", "uvicorn", "starlette"))
    ]
    assert any(getattr(r, "action", None) == "request" for r in server_records)
    text = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {vars(r)}" for r in server_records
    )
    for secret in [*live.tokens.values(), signature, "nope-not-a-token"]:
        assert secret not in text
    assert "authorization" not in text.lower()
