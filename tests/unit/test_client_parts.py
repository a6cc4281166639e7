"""Pieces of the export client: record counting, retry-after, options, state."""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from pathlib import Path

import httpx
import pytest

from snyk_export.catalog import datasets
from snyk_export.cli import build_parser
from snyk_export.client import ExitCode, ExportRequest, StateFileError, progress
from snyk_export.client.api import retry_after_seconds
from snyk_export.client.command import build_request, catalog_filters
from snyk_export.client.download import RecordCounter
from snyk_export.client.state import SinceLast

TRICKY_CSV = (
    b'"A","B"\n"line\nfeed","quote "" inside"\n,"""starts, and ends"""\n1,"\n\n"\n'
)


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 1024])
def test_records_are_counted_across_chunks_and_quoted_newlines(
    chunk_bytes: int,
) -> None:
    counter = RecordCounter()
    for start in range(0, len(TRICKY_CSV), chunk_bytes):
        counter.feed(TRICKY_CSV[start : start + chunk_bytes])

    expected = list(csv.reader(io.StringIO(TRICKY_CSV.decode(), newline="")))
    assert counter.records == len(expected) == 4


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), ("0", 0.0), ("soon", None), ("", None)]
)
def test_retry_after_is_read_in_seconds(header: str, seconds: float | None) -> None:
    response = httpx.Response(429, headers={"retry-after": header})
    assert retry_after_seconds(response) == seconds


def test_retry_after_as_an_http_date_in_the_past_means_now() -> None:
    response = httpx.Response(
        503, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}
    )
    assert retry_after_seconds(response) == 0.0


def test_every_catalog_filter_has_an_option() -> None:
    (commands,) = (
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    fetch = commands.choices["fetch"]
    options = {o for action in fetch._actions for o in action.option_strings}
    for name, spec in catalog_filters().items():
        flag = "--" + name.replace("_", "-")
        if spec.kind == "date_range":
            assert {flag + "-from", flag + "-to"} <= options
        else:
            assert flag in options
    assert {"--include-deleted", "--include-deactivated", "--orgs"} <= options


def test_options_become_the_request_filters() -> None:
    args = build_parser().parse_args(
        [
            "fetch", "--group", "g", "--dataset", "issues", "--out", "x",
            "--introduced-from", "2026-01-01", "--updated-to", "2026-02-01T10:00:00Z",
            "--orgs", "a,b", "--orgs", "c", "--cve", "CVE-1", "--cve", "CVE-2", "CVE-3",
            "--empty-project-tags", "only", "--columns", "CVE,SCORE", "PROBLEM_ID",
            "--include-deleted",
        ]
    )  # fmt: skip
    request = build_request(args)

    assert request == ExportRequest(
        "group",
        "g",
        "issues",
        ("CVE", "SCORE", "PROBLEM_ID"),
        {
            "updated": {"to": "2026-02-01T10:00:00Z"},
            "introduced": {"from": "2026-01-01T00:00:00Z"},
            "orgs": ["a", "b", "c"],
            "cve": ["CVE-1", "CVE-2", "CVE-3"],
            "empty_project_tags": "only",
        },
        include_deleted=True,
    )
    assert request.query() == {"include_deleted": "true"}


def test_the_orgs_filter_is_refused_at_org_scope() -> None:
    args = build_parser().parse_args(
        ["fetch", "--org", "o", "--dataset", "usage", "--out", "x", "--orgs", "a"]
    )
    with pytest.raises(Exception, match="--orgs does not apply"):
        build_request(args)


def test_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fetch", "--help"])
    text = capsys.readouterr().out
    for code in ExitCode:
        assert f"{code.value}  {code.name}" in text
    assert "SNYK_TOKEN" in text
    assert "SNYK_API" in text


def test_the_header_of_an_empty_export_follows_the_catalog() -> None:
    request = ExportRequest("org", "o", "usage", ("id", "nope", "ID", "org_public_id"))
    assert request.header() == ["ID", "ORG_PUBLIC_ID"]
    everything = ExportRequest("org", "o", "usage").header()
    assert everything == [c.name for c in datasets()["usage"].columns]


def test_since_last_state_belongs_to_one_scope_and_dataset(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    request = ExportRequest("group", "g", "usage")
    fresh = SinceLast.load(path, request)
    assert fresh.apply(request).filters == {"updated": {"from": "1970-01-01T00:00:00Z"}}

    fresh.record(request, "e1", "2026-02-12T20:09:42.700Z")
    loaded = SinceLast.load(path, request)
    assert loaded.apply(request).filters["updated"] == {
        "from": "2026-02-12T20:09:42.700Z"
    }
    assert json.loads(path.read_text())["export_id"] == "e1"
    with pytest.raises(StateFileError, match="another export"):
        SinceLast.load(path, ExportRequest("group", "g", "issues"))
    bounded = ExportRequest("group", "g", "usage", filters={"updated": {"to": "x"}})
    with pytest.raises(StateFileError, match="--updated-to"):
        loaded.apply(bounded)


def test_the_terminal_line_ticks_while_waiting_then_shows_the_download(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress, "TICK_SECONDS", 0.01)
    monkeypatch.setattr(progress, "REDRAW_SECONDS", 0.0)
    screen = io.StringIO()
    display = progress.TerminalProgress(screen)
    display.waiting("94f572f3-f17d-4d8d-ac55-44a8a034a6a9", "STARTED")
    time.sleep(0.2)
    display.downloading(total_bytes=2048, total_parts=2)
    display.advanced(1024)
    display.part_done()
    time.sleep(0.05)
    display.done()

    frames = screen.getvalue().split("\r\x1b[K")
    waiting = [f for f in frames if f.startswith("export 94f572f3 STARTED, ")]
    assert len(waiting) > 3
    first_download = frames.index("downloading 0 B of 2.0 KiB (0%), parts 0/2")
    assert all(not f.startswith("export") for f in frames[first_download:])
    assert frames[-1] == "downloading 1.0 KiB of 2.0 KiB (50%), parts 1/2\n"
