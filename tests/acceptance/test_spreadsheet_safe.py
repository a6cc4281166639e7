"""The opt-in spreadsheet-safe CSV extension (§19.3): off by default, opt-in only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from exporting import EVER, VERSION, body, export
from liveserver import LiveServer

TITLES = ['=HYPERLINK("http://x")', "-1", "+cmd", "@SUM(A1)", "safe title"]
COLUMNS = ["PROBLEM_ID", "PROBLEM_TITLE", "SCORE"]


def with_formula_cells(server: LiveServer) -> None:
    count = len(TITLES)
    server.backend.load_batches(
        "issues",
        iter(
            [
                pa.RecordBatch.from_pydict(
                    {
                        "GROUP_PUBLIC_ID": [server.tenant.group_id] * count,
                        "PROBLEM_ID": [f"formula-{i}" for i in range(count)],
                        "PROBLEM_TITLE": TITLES,
                        "SCORE": pa.array([-1.0] * count),
                        "UPDATED_AT": [dt.datetime(2026, 1, 2)] * count,
                    }
                )
            ]
        ),
    )


def formula_records(server: LiveServer, **attributes: Any) -> list[str]:
    payload = body(
        "issues", COLUMNS, {"updated": EVER, "issue_status": None}, **attributes
    )
    result = export(server.client("group"), "groups", server.tenant.group_id, payload)
    _, records = result.rows()
    return [",".join(r) for r in records if r[0].startswith("formula-")]


def test_opted_in_requests_get_formula_cells_neutralised(server_factory: Any) -> None:
    server = server_factory(spreadsheet_safe_csv=True)
    with_formula_cells(server)

    plain = formula_records(server)
    safe = formula_records(server, x_spreadsheet_safe=True)

    assert [r.split(",", 1)[1] for r in plain] == [
        '=HYPERLINK("http://x"),-1',
        "-1,-1",
        "+cmd,-1",
        "@SUM(A1),-1",
        "safe title,-1",
    ]
    assert [r.split(",", 1)[1] for r in safe] == [
        '\'=HYPERLINK("http://x"),-1',
        "'-1,-1",
        "'+cmd,-1",
        "'@SUM(A1),-1",
        "safe title,-1",
    ]


def test_the_extension_changes_nothing_for_plain_clients(server_factory: Any) -> None:
    off = server_factory()
    on = server_factory(spreadsheet_safe_csv=True)
    for server in (off, on):
        with_formula_cells(server)

    assert formula_records(off) == formula_records(on)
    assert formula_records(off, x_spreadsheet_safe=True) == formula_records(off)


def test_a_malformed_opt_in_is_ignored_when_off_and_refused_when_on(
    server_factory: Any,
) -> None:
    payload = body("issues", COLUMNS, {"updated": EVER}, x_spreadsheet_safe="yes")
    off = server_factory()
    on = server_factory(spreadsheet_safe_csv=True)
    group = off.tenant.group_id

    accepted = off.client("group").post(
        f"/groups/{group}/export", params={"version": VERSION}, json=payload
    )
    refused = on.client("group").post(
        f"/groups/{group}/export", params={"version": VERSION}, json=payload
    )

    assert accepted.status_code == 202
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["source"] == {
        "pointer": "/data/attributes/x_spreadsheet_safe"
    }
