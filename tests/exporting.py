"""Driving exports over HTTP the way a client would, and an independent CSV oracle."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx

from snyk_export.catalog import Column

VERSION = "2024-10-15"


def body(
    dataset: str,
    columns: list[str] | None = None,
    filters: dict[str, Any] | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    attrs: dict[str, Any] = {"dataset": dataset, "formats": ["csv"]}
    if columns is not None:
        attrs["columns"] = columns
    if filters is not None:
        attrs["filters"] = filters
    attrs.update(attributes)
    return {"data": {"type": "resource", "attributes": attrs}}


EVER = {"from": "2000-01-01T00:00:00Z"}


@dataclass
class Finished:
    """A finished export as a client sees it."""

    export_id: str
    status: dict[str, Any]
    results: dict[str, Any]
    parts: list[bytes]

    @property
    def attributes(self) -> dict[str, Any]:
        return self.status["data"]["attributes"]

    def rows(self) -> tuple[list[str], list[list[str]]]:
        """Header and data records of all parts, each part's header checked."""
        header: list[str] | None = None
        records: list[list[str]] = []
        for part in self.parts:
            reader = list(csv.reader(io.StringIO(part.decode("utf-8"), newline="")))
            if header is None:
                header = reader[0]
            assert reader[0] == header
            records.extend(reader[1:])
        return header or [], records


def start(
    client: httpx.Client, path: str, payload: dict[str, Any], **params: str
) -> str:
    response = client.post(path, params={"version": VERSION, **params}, json=payload)
    assert response.status_code == 202, response.text
    return str(response.json()["data"]["id"])


def wait(
    client: httpx.Client, status_path: str, timeout_seconds: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_seconds
    while True:
        response = client.get(status_path, params={"version": VERSION})
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        if document["data"]["attributes"]["status"] in ("FINISHED", "ERRORED"):
            return document
        assert time.monotonic() < deadline, "export did not finish in time"
        time.sleep(0.05)


def export(
    client: httpx.Client,
    scope: str,
    scope_id: str,
    payload: dict[str, Any],
    **params: str,
) -> Finished:
    """Run one export to FINISHED and download every part without a token."""
    export_id = start(client, f"/{scope}/{scope_id}/export", payload, **params)
    status = wait(client, f"/{scope}/{scope_id}/jobs/export/{export_id}")
    assert status["data"]["attributes"]["status"] == "FINISHED", status
    results = client.get(
        f"/{scope}/{scope_id}/export/{export_id}", params={"version": VERSION}
    ).json()
    parts = []
    for item in status["data"]["attributes"]["results"]:
        download = httpx.get(item["url"], timeout=30)
        assert download.status_code == 200, download.text
        assert len(download.content) == item["file_size"]
        parts.append(download.content)
    return Finished(export_id, status, results, parts)


def render(column: Column, value: Any) -> str:
    """How the contract (§11.3) writes ``value``, as the csv module reads it back."""
    if value is None:
        return ""
    if column.type in ("string",):
        return str(value)
    if column.type == "integer":
        return str(int(value))
    if column.type == "number":
        if math.isnan(value) or math.isinf(value):
            return ""
        if float(value).is_integer():
            return str(int(value))
        text = repr(float(value))
        if "e" in text:
            text = format(float(value), "f").rstrip("0")
        return text
    if column.type == "boolean":
        return "true" if value else "false"
    if column.type == "timestamp":
        assert isinstance(value, dt.datetime)
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if column.type == "date":
        return str(value.isoformat())
    if column.type == "array":
        return json.dumps(list(value), separators=(",", ":"), ensure_ascii=False)
    return json.dumps(json.loads(value), separators=(",", ":"), ensure_ascii=False)


def field(column: Column, value: Any) -> str:
    """The exact CSV field the contract asks for (quoting included)."""
    if value is None:
        return ""
    text = render(column, value)
    if column.type in ("integer", "number"):
        return text
    return '"' + text.replace('"', '""') + '"'


def expected_csv(columns: list[Column], rows: list[tuple[Any, ...]]) -> bytes:
    """The whole export as one CSV document: header, then one record per row."""
    lines = [",".join(f'"{c.name}"' for c in columns)]
    lines.extend(
        ",".join(field(c, v) for c, v in zip(columns, row, strict=True)) for row in rows
    )
    return ("\n".join(lines) + "\n").encode("utf-8")


def joined(parts: list[bytes]) -> bytes:
    """Parts concatenated in order without their repeated headers (§10.2)."""
    if not parts:
        return b""
    header_end = parts[0].index(b"\n") + 1
    return parts[0] + b"".join(part[header_end:] for part in parts[1:])
