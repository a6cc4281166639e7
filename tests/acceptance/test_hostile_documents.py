"""Extreme documents, wrong media types and oversized bodies, refused cleanly.

Fixed cases beside the properties of ``test_hostile_input``: nesting 10,000
levels deep, arrays of 300,000 elements, strings of 900 kB and 2 MiB,
duplicate keys, unpaired surrogates and NUL, members of the wrong JSON type,
media types other than JSON, and a 1 GiB body streamed at a server that
must answer 413 without reading it whole. Each is a 202 whose export FINISHES
with the rows its literal values select, or a JSON:API 4xx naming the member.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from exporting import EVER, VERSION, body
from hostile import (
    MIB,
    Stored,
    finish,
    post,
    refused,
)
from liveserver import LiveServer
from snyk_export.catalog import datasets

FILTERS = "/data/attributes/filters"
ISSUES = datasets()["issues"]


@pytest.fixture(scope="module")
def stored(live: LiveServer) -> Stored:
    return Stored.read(live)


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client("group_admin") as session:
        yield session


def nested(depth: int, inner: bytes = b"[]") -> bytes:
    """``inner`` inside ``depth`` arrays."""
    return b"[" * depth + inner + b"]" * depth


def wrapped(filters: bytes = b'"zzz": 0', columns: bytes = b'["SCORE"]') -> bytes:
    """A raw issues request over all time with extra filter members."""
    return (
        b'{"data": {"type": "resource", "attributes": {"dataset": "issues", '
        b'"formats": ["csv"], "columns": ' + columns + b', "filters": '
        b'{"updated": {"from": "2000-01-01T00:00:00Z"}, ' + filters + b"}}}}"
    )


EXTREME_REFUSALS = [
    ("10k levels at the top", b'{"data":' * 10_000 + b"{}" + b"}" * 10_000, 400, ""),
    ("10k levels in an unknown filter", wrapped(b'"zzz": ' + nested(10_000)), 400, ""),
    ("10k levels in a known filter", wrapped(b'"cve": ' + nested(10_000)), 400, ""),
    ("unpaired surrogate escape", wrapped(b'"cve": ["\\ud800"]'), 400, ""),
    ("raw NUL inside a string", wrapped(b'"cve": ["a\x00b"]'), 400, ""),
    (
        "NUL escape in a value",
        wrapped(b'"cve": ["a\\u0000b"]'),
        400,
        f"{FILTERS}/cve/0",
    ),
    (
        "300k numbers as columns",
        wrapped(columns=b'["SCORE", ' + b"1, " * 300_000 + b"1]"),
        400,
        "/data/attributes/columns/1",
    ),
    (
        "100k unknown columns",
        wrapped(columns=b"[" + b'"NOPE", ' * 100_000 + b'"NOPE"]'),
        400,
        "/data/attributes/columns",
    ),
    ("a value of 2 MiB", wrapped(b'"cve": ["' + b"'" * (2 * MIB) + b'"]'), 413, None),
    (
        "filter names equal but for case",
        wrapped(b'"CVE": ["a"], "cve": ["b"]'),
        400,
        f"{FILTERS}/cve",
    ),
]


@pytest.mark.parametrize(
    ("raw", "status", "pointer"),
    [c[1:] for c in EXTREME_REFUSALS],
    ids=[c[0] for c in EXTREME_REFUSALS],
)
def test_extreme_documents_are_refused_with_a_pointer(
    client: httpx.Client, live: LiveServer, raw: bytes, status: int, pointer: str | None
) -> None:
    item = refused(post(client, live.tenant.group_id, raw), status)

    if pointer is not None:
        assert item["source"] == {"pointer": pointer}


def test_extreme_documents_within_the_limit_are_taken_literally(
    client: httpx.Client, live: LiveServer, stored: Stored
) -> None:
    group, org = live.tenant.group_id, live.tenant.orgs[0].id
    orgs_spec = ISSUES.find_filter("orgs")
    assert orgs_spec is not None
    cases = {
        "200 levels in an unknown member": (wrapped(b'"zzz": ' + nested(200)), None),
        "60k distinct CVEs": (
            wrapped(
                b'"cve": ' + json.dumps([f"X-{i}" for i in range(60_000)]).encode()
            ),
            0,
        ),
        "20k copies of one org id": (
            wrapped(b'"orgs": ' + json.dumps([org.upper()] * 20_000).encode()),
            stored.count("issues", orgs_spec, [org]),
        ),
        "a CVE of 900 kB": (wrapped(b'"cve": ["' + b"'--" * 300_000 + b'"]'), 0),
        "duplicate keys, the last one wins": (
            wrapped(
                b'"orgs": ["' + live.other_org_id.encode() + b'"], '
                b'"orgs": ["' + org.encode() + b'"]'
            ),
            stored.count("issues", orgs_spec, [org]),
        ),
    }
    for name, (raw, expected) in cases.items():
        attributes = finish(client, post(client, group, raw))
        if expected is not None:
            assert attributes["row_count"] == expected, name


def endless(counter: list[int], total_bytes: int = 1 << 30) -> Iterator[bytes]:
    """A body of ``total_bytes`` in 1 MiB chunks, counting what was taken."""
    chunk = b" " * MIB
    yield b'{"data": {"type": "resource", "attributes": {"columns": ['
    while counter[0] < total_bytes:
        counter[0] += len(chunk)
        yield chunk


def assert_huge_body_is_cut_short(server: LiveServer, declared: bool) -> None:
    sent = [0]
    headers = {"Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(1 << 30)
    started = time.monotonic()

    with server.client("group") as session:
        response = session.post(
            f"/groups/{server.tenant.group_id}/export",
            params={"version": VERSION},
            content=endless(sent),
            headers=headers,
        )

    refused(response, 413)
    assert response.headers["connection"] == "close"
    assert time.monotonic() - started < 10
    # Socket buffers take a few MiB before the server's close stops the client.
    assert sent[0] <= 64 * MIB, f"the client had to send {sent[0] >> 20} MiB"


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_a_1_gib_streamed_body_gets_413_without_being_read_whole(
    live: LiveServer, declared: bool
) -> None:
    assert_huge_body_is_cut_short(live, declared)


def test_the_configured_body_limit_applies_to_streamed_bodies(
    server_factory: Any,
) -> None:
    server = server_factory(max_request_bytes=64 * 1024, request_limit="none")
    small = body("issues", ["SCORE"], {"updated": EVER, "cve": ["x" * 60_000]})
    large = body("issues", ["SCORE"], {"updated": EVER, "cve": ["x" * 70_000]})
    with server.client("group") as session:
        assert post(session, server.tenant.group_id, small).status_code == 202
        refused(post(session, server.tenant.group_id, large), 413)

    for declared in (False, True):
        assert_huge_body_is_cut_short(server, declared)


MEDIA_TYPES = [
    ("text/plain", 415),
    ("application/x-www-form-urlencoded", 415),
    ("multipart/form-data; boundary=x", 415),
    ("application/xml", 415),
    ("application/jsonp", 415),
    ("", 415),
    ("application/json; charset=utf-8", 202),
    ("APPLICATION/VND.API+JSON; ext=x", 202),
    ("application/merge-patch+json", 202),
]


@pytest.mark.parametrize(("content_type", "status"), MEDIA_TYPES)
def test_media_types_other_than_json_get_415(
    client: httpx.Client, live: LiveServer, content_type: str, status: int
) -> None:
    payload = body("issues", ["SCORE"], {"updated": EVER, "cve": ["zzz"]})

    response = post(client, live.tenant.group_id, payload, content_type=content_type)

    if status == 202:
        finish(client, response)
    else:
        refused(response, status)


TYPE_ERRORS = [
    (b"", ""),
    (b"   ", ""),
    (b"\xef\xbb\xbf", ""),
    (b"null", ""),
    (b"[]", ""),
    (b'"data"', ""),
    (b"42", ""),
    (b"true", ""),
    (b'{"data": 1}', "/data"),
    (b'{"data": {"type": 1, "attributes": {}}}', "/data/type"),
    (b'{"data": {"type": "x", "attributes": "issues"}}', "/data/attributes"),
    (
        b'{"data": {"type": "x", "attributes": {"dataset": 1}}}',
        "/data/attributes/dataset",
    ),
    (
        b'{"data": {"type": "x", "attributes": {"dataset": "issues", "formats": [1]}}}',
        "/data/attributes/formats",
    ),
    (wrapped(columns=b"[1]"), "/data/attributes/columns/0"),
    (wrapped(b'"cve": [1]'), f"{FILTERS}/cve/0"),
    (wrapped(b'"cve": 1'), f"{FILTERS}/cve"),
    (wrapped(b'"orgs": [1]'), f"{FILTERS}/orgs/0"),
    (wrapped(b'"introduced": {"from": 20240101}'), f"{FILTERS}/introduced/from"),
    (wrapped(b'"empty_project_tags": true'), f"{FILTERS}/empty_project_tags"),
]


@pytest.mark.parametrize(("raw", "pointer"), TYPE_ERRORS, ids=lambda v: repr(v)[:40])
def test_bodies_of_the_wrong_shape_are_400_with_a_pointer(
    client: httpx.Client, live: LiveServer, raw: bytes, pointer: str
) -> None:
    item = refused(post(client, live.tenant.group_id, raw))

    assert item["source"] == {"pointer": pointer}


def test_strings_for_numbers_and_flags_are_400_naming_them(
    client: httpx.Client, live: LiveServer
) -> None:
    group = live.tenant.group_id
    filters = {"updated": EVER}
    expiring = body("issues", ["SCORE"], filters, url_expiration_seconds="3600")
    item = refused(post(client, group, expiring))
    assert item["source"] == {"pointer": "/data/attributes/url_expiration_seconds"}
    plain = body("issues", ["SCORE"], filters)
    item = refused(post(client, group, plain, include_deleted="'; --"))
    assert item["source"] == {"parameter": "include_deleted"}
