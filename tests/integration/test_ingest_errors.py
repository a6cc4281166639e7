"""Malformed files: the load stops naming file, line, column and reason.

Each case runs against a DuckDB file and a PostgreSQL schema holding the same
demo data; both must give the same message and keep the table as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest_samples import (
    ENGINES,
    engine_backend,
    export_csv,
    snyk_test_json,
    write_dataset,
    write_json,
)
from liveserver import seed_data
from snyk_export.backends.base import Backend
from snyk_export.backends.duckdb import DuckDBBackend
from snyk_export.backends.postgres import PostgresBackend
from snyk_export.demo_data import DemoSizes
from snyk_export.errors import LoadRejected
from snyk_export.ingest.loader import load_file
from snyk_export.ingest.sarif import read_sarif
from snyk_export.ingest.snyk_json import read_snyk_json

SIZES = DemoSizes(issues=400, usage=200, pr_checks=100, projects=20, integrations=4)


@pytest.fixture(params=ENGINES)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with engine_backend(request, tmp_path / "errors") as db:
        seed_data(db, SIZES)
        yield db


@pytest.fixture(scope="module")
def issues_csv(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    directory = tmp_path_factory.mktemp("valid")
    db = DuckDBBackend(directory / "db.duckdb")
    db.migrate()
    seed_data(db, SIZES)
    lines = write_dataset(db, "issues", directory / "issues.csv").read_text()
    db.close()
    return lines.splitlines()


def _rejected(backend: Backend, path: Path, dataset: str = "issues") -> str:
    before = export_csv(backend, dataset)
    with pytest.raises(LoadRejected) as caught:
        load_file(backend, dataset, path)
    assert export_csv(backend, dataset) == before
    return str(caught.value)


def _edited(lines: list[str], path: Path, line: int, old: str, new: str) -> Path:
    """The valid file with ``old`` replaced by ``new`` on (1-based) ``line``."""
    edited = list(lines)
    assert old in edited[line - 1]
    edited[line - 1] = edited[line - 1].replace(old, new, 1)
    path.write_text("\n".join(edited) + "\n")
    return path


def _fresh_rows(lines: list[str], count: int) -> list[str]:
    """``count`` data lines whose key is new, so the load would insert them."""
    return [line.replace('"', '"x', 1) for line in lines[1 : count + 1]]


def test_an_unknown_column_in_the_header_is_rejected(
    backend: Backend, issues_csv: list[str], tmp_path: Path
) -> None:
    path = _edited(issues_csv, tmp_path / "h.csv", 1, '"SCORE"', '"SCORE_V2"')
    message = _rejected(backend, path)
    assert message == "h.csv, line 1: SCORE_V2 is not an uppercase column of issues"


def test_a_header_without_the_key_is_rejected(backend: Backend, tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_text('"PROBLEM_ID","ISSUE_STATUS"\n"SNYK-JS-1","Open"\n')
    message = _rejected(backend, path)
    assert "k.csv, line 1: the natural key column PROJECT_PUBLIC_ID, " in message


def test_a_value_of_the_wrong_type_names_line_and_column(
    backend: Backend, issues_csv: list[str], tmp_path: Path
) -> None:
    lines = [issues_csv[0], *_fresh_rows(issues_csv, 5)]
    score = lines[0].split(",").index('"SCORE"')
    fields = lines[4].split(",")
    fields[score] = "high"
    lines[4] = ",".join(fields)
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    message = _rejected(backend, path)
    assert message == 't.csv, line 5, column SCORE: not a number: "high"'


def test_a_value_outside_a_closed_vocabulary_is_rejected(
    backend: Backend, issues_csv: list[str], tmp_path: Path
) -> None:
    lines = [issues_csv[0], *_fresh_rows(issues_csv, 3)]
    for severity in ("Critical", "High", "Medium", "Low"):
        lines[3] = lines[3].replace(f',"{severity}",', f',"{severity.lower()}",', 1)
    path = tmp_path / "v.csv"
    path.write_text("\n".join(lines) + "\n")
    message = _rejected(backend, path)
    assert message.startswith("v.csv, line 4, column ISSUE_SEVERITY: not one of ")


def test_a_repeated_key_names_both_lines(
    backend: Backend, issues_csv: list[str], tmp_path: Path
) -> None:
    rows = _fresh_rows(issues_csv, 3)
    path = tmp_path / "d.csv"
    path.write_text("\n".join([issues_csv[0], *rows, rows[1]]) + "\n")
    message = _rejected(backend, path)
    assert message.endswith(
        "d.csv, line 5: the key PROJECT_PUBLIC_ID, PROBLEM_ID, "
        "ASSET_FINDING_ID repeats line 3"
    )


def test_broken_quoting_is_rejected_with_its_line(
    backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        '"ID","ORG_PUBLIC_ID"\n"urn:1","0f8fad5b-d9cb-469f-a165-70867728950e"\n'
        '"urn:2,"0f8fad5b-d9cb-469f-a165-70867728950e"\n'
    )
    message = _rejected(backend, path, "usage")
    assert message.startswith("q.csv, line 3: ")


def test_a_truncated_file_is_rejected_and_nothing_is_stored(
    backend: Backend, issues_csv: list[str], tmp_path: Path
) -> None:
    text = "\n".join([issues_csv[0], *_fresh_rows(issues_csv, 20)]) + "\n"
    path = tmp_path / "cut.csv"
    cut = text[: len(text) * 2 // 3]
    path.write_text(cut)
    message = _rejected(backend, path)
    assert message.startswith(f"cut.csv, line {cut.count(chr(10)) + 1}: ")
    assert "expected columns" in message or "not closed" in message


def test_invalid_utf8_is_rejected_with_its_line(
    backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes(b'"ID","USER_NAME"\n"urn:new:1","Ann"\n"urn:new:2","Bj\xf6rn"\n')
    message = _rejected(backend, path, "usage")
    assert message == "u.csv, line 3: invalid UTF-8 (the file must be UTF-8 encoded)"


def test_an_empty_key_value_is_rejected(backend: Backend, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text('"PUBLIC_ID","PR_CHECK_STATE"\n,"success"\n')
    message = _rejected(backend, path, "pr_checks")
    assert (
        message == "e.csv, line 2, column PUBLIC_ID: empty, but it is part of the key"
    )


def test_a_malformed_uuid_is_rejected(backend: Backend, tmp_path: Path) -> None:
    path = tmp_path / "id.csv"
    path.write_text('"PUBLIC_ID"\n"0f8fad5b-d9cb-469f-a165"\n')
    message = _rejected(backend, path, "pr_checks")
    assert (
        message
        == 'id.csv, line 2, column PUBLIC_ID: not a UUID: "0f8fad5b-d9cb-469f-a165"'
    )


def test_a_broken_json_line_is_rejected_with_its_line(
    backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"ID": "urn:new:1"}\n\n{"ID": "urn:new:2", \n')
    message = _rejected(backend, path, "usage")
    assert message == "b.jsonl, line 3: not JSON"
    path.write_bytes(b'{"ID": "urn:new:1"}\n{"ID": "urn:new:\xff"}\n')
    message = _rejected(backend, path, "usage")
    assert message == "b.jsonl, line 2: invalid UTF-8 (the file must be UTF-8 encoded)"


def test_a_json_line_with_a_bad_value_names_its_line(
    backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "v.jsonl"
    lines = [{"ID": "urn:new:1"}, {"ID": "urn:new:2", "INTERACTION_EXIT_CODE": "two"}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    message = _rejected(backend, path, "usage")
    assert (
        message
        == 'v.jsonl, line 2, column INTERACTION_EXIT_CODE: not an integer: "two"'
    )


def test_a_nul_character_is_rejected_on_postgres_with_its_line(
    postgres_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "n.csv"
    path.write_bytes(b'"ID","USER_NAME"\n"urn:new:1","Ann"\n"urn:new:2","Bj\x00rn"\n')
    db = PostgresBackend(postgres_url, max_connections=2)
    db.migrate()
    try:
        message = _rejected(db, path, "usage")
    finally:
        db.close()
    assert message == (
        "n.csv, line 3, column USER_NAME: "
        "a NUL character, which PostgreSQL text cannot hold"
    )


def test_a_file_that_is_not_parquet_is_rejected(
    backend: Backend, tmp_path: Path
) -> None:
    path = tmp_path / "fake.parquet"
    path.write_text('"ID"\n"urn:1"\n')
    assert (
        _rejected(backend, path, "usage") == "fake.parquet: not a readable Parquet file"
    )


def test_a_sarif_file_that_is_not_sarif_is_rejected(tmp_path: Path) -> None:
    snyk = write_json(tmp_path / "scan.sarif", snyk_test_json([]))
    with pytest.raises(LoadRejected, match=r"scan\.sarif: not a SARIF 2\.1\.0 log"):
        read_sarif(snyk)
    broken = tmp_path / "broken.sarif"
    broken.write_text('{"version": "2.1.0", "runs": [')
    with pytest.raises(
        LoadRejected, match=r"broken.sarif: not a SARIF file \(not JSON\)"
    ):
        read_sarif(broken)
    toolless = write_json(tmp_path / "t.sarif", {"version": "2.1.0", "runs": [{}]})
    with pytest.raises(LoadRejected, match=r"without tool\.driver\.name"):
        read_sarif(toolless)


def test_a_snyk_json_file_that_is_not_a_scan_is_rejected(tmp_path: Path) -> None:
    sarif = write_json(tmp_path / "s.json", {"version": "2.1.0", "runs": []})
    with pytest.raises(LoadRejected, match="not the output of snyk test --json"):
        read_snyk_json(sarif)
    failed = write_json(tmp_path / "f.json", {"ok": False, "error": "auth failed"})
    with pytest.raises(LoadRejected, match="the scan failed: auth failed"):
        read_snyk_json(failed)
