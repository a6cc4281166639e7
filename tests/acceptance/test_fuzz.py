"""Property-based requests generated from the server's own OpenAPI document.

Schemathesis builds requests for every operation of ``/rest/openapi/{version}``;
path ids are pointed at real scopes and exports half of the time so that the
generated bodies and parameters reach the parsing and export logic instead of
stopping at a 404. No response may be a 5xx, and every response must match the
document: status, content type, headers and body schema.
"""

from __future__ import annotations

import zlib
from collections import Counter
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exporting import EVER, body, export
from liveserver import LiveServer
from snyk_export import openapi
from snyk_export.versioning import default_releases

SCHEMA = schemathesis.openapi.from_dict(
    openapi.document(default_releases()[-1], "/rest")
)
SEEN: Counter[tuple[str, int]] = Counter()
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@pytest.fixture(scope="module")
def finished_export(live: LiveServer) -> str:
    result = export(
        live.client("group"),
        "groups",
        live.tenant.group_id,
        body("issues", ["SCORE"], {"updated": EVER}),
    )
    return result.export_id


@SCHEMA.parametrize()
@hypothesis.settings(
    max_examples=25, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
def test_generated_requests_get_documented_answers_and_no_server_error(
    case: Any, live: LiveServer, finished_export: str
) -> None:
    real = {
        "group_id": live.tenant.group_id,
        "org_id": live.tenant.orgs[0].id,
        "export_id": finished_export,
    }
    if zlib.crc32(repr((case.body, case.query)).encode()) % 2 == 0:
        for name, value in real.items():
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = value
    headers = {"Authorization": f"token {live.tokens['group_admin']}"}
    base = live.origin if case.path.startswith("/dl/") else live.api
    response = case.call(base_url=base, headers=headers)
    SEEN[(case.method, response.status_code)] += 1
    case.validate_response(response, checks=CHECKS)


def test_fuzzing_reached_the_export_logic() -> None:
    # Guards the test above against passing on nothing but 404s.
    assert SEEN[("POST", 202)] > 0
    assert SEEN[("POST", 400)] > 0
    assert SEEN[("GET", 200)] > 0
