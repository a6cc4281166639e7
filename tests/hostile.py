"""Hostile input for property tests: generated text, a row oracle, refusal checks.

The oracle reads stored rows straight from the server's database and applies
the matching rules of the contract (§6.6) in Python, so an export can be
checked without trusting the SQL that produced it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from exporting import VERSION
from liveserver import LiveServer
from snyk_export.catalog import Dataset, FilterSpec, datasets

LONG = os.environ.get("SNYK_EXPORT_LONG_TESTS") == "1"
MIB = 1024 * 1024
JSONAPI = "application/vnd.api+json"
UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
CODES = {
    400: {"SNYK-OPENAPI-0001", "SNYK-0003"},
    401: {"SNYK-0005"},
    403: {"SNYK-OPENAPI-0002"},
    404: {"SNYK-OPENAPI-0004"},
    405: {"SNYK-OPENAPI-0005"},
    413: {"SNYK-OPENAPI-0006"},
    415: {"SNYK-OPENAPI-0008"},
}
# Tried by every property: where a naive query builder would break out of SQL.
INJECTIONS = [
    "x' OR '1'='1",
    "' OR 1=1 --",
    "'; DROP TABLE issues; --",
    "Snyk Code' OR 'a'='a",
    '" OR ""="',
    "*/ OR 1=1 /*",
    "/*",
    "--",
    ";",
    "%",
    "_",
    "\\",
    "\\'",
    "''",
    "?",
    "$1",
    "%s",
    ":1",
    "NULL",
    "') OR TRUE --",
    "' UNION SELECT token_hash FROM credentials --",
    "[",
    "{}",
    "\u2028",
    "\ufeff",
    "\U0001d54f",
    "\U0001f600",
    "\x00",
    "a\x00' OR '1'='1",
]
INVALID_UTF8 = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]


def bounded(examples: int) -> Callable[[Any], Any]:
    """Hypothesis settings for ``examples`` runs, ten times as many in long runs."""
    return settings(
        max_examples=examples * (10 if LONG else 1),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )


def variants(value: str) -> st.SearchStrategy[str]:
    """Near misses of a real value, and the value itself."""
    return st.sampled_from(
        [
            *(value, value.upper(), value.lower(), f" {value}", f"{value}\t"),
            *(value + "'", "'" + value, value + "%", value[:-1] + "_", value + "\x00"),
        ]
    )


def hostile_text(real: Sequence[str] = (), max_size: int = 400_000) -> Any:
    """Strings a client should never send, mixed with real values and near misses."""
    choices = [
        st.sampled_from(INJECTIONS),
        st.text(max_size=30),
        st.text(st.characters(min_codepoint=0x10000), min_size=1, max_size=6),
        st.builds(str.__add__, st.sampled_from(INJECTIONS), st.text(max_size=5)),
    ]
    if max_size >= 50_000:
        pattern = "x' OR '1'='1; -- /*"
        choices.append(
            st.integers(50_000, max_size).map(
                lambda n: (pattern * (n // len(pattern) + 1))[:n]
            )
        )
    if real:
        values = st.sampled_from(sorted(real))
        choices += [
            values,
            values.flatmap(variants),
            st.builds(str.__add__, values, st.sampled_from(INJECTIONS)),
        ]
    return st.one_of(choices)


def json_values() -> Any:
    """Any JSON value, nested a few levels."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=10)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        ),
        max_leaves=12,
    )


def normal_tag(tag: str) -> str:
    """A tag as the contract compares it (§6.6 item 5)."""
    space = " \t\r\n"
    key, sep, value = tag.strip(space).partition(":")
    return f"{key.strip(space)}:{value.strip(space)}" if sep else key


def matches(spec: FilterSpec, stored: Any, values: Sequence[str]) -> bool:
    """Whether a stored value passes a list filter, by the rules of §6.6."""
    if stored is None:
        return False
    fold: Callable[[str], str] = str if spec.case_sensitive else str.lower
    if spec.normalize == "tag":
        fold = normal_tag
    wanted = {
        v.strip().lower() if spec.kind == "uuid_list" else fold(v) for v in values
    }
    elements = stored if spec.match == "array_overlap" else [stored]
    return any(fold(element) in wanted for element in elements)


@dataclass
class Stored:
    """The rows a group export over all time may see, read straight from storage."""

    rows: dict[str, list[dict[str, Any]]]

    def values(self, dataset: str, column: str) -> list[str]:
        found: set[str] = set()
        for row in self.rows[dataset]:
            value = row[column]
            elements = value if isinstance(value, list) else [value]
            found.update(e for e in elements if e is not None)
        return sorted(found)

    @classmethod
    def read(cls, live: LiveServer) -> Stored:
        return cls({d.name: visible_rows(live, d) for d in datasets().values()})

    def count(self, dataset: str, spec: FilterSpec, values: Sequence[str]) -> int:
        return sum(matches(spec, r[spec.column], values) for r in self.rows[dataset])


def visible_rows(live: LiveServer, dataset: Dataset) -> list[dict[str, Any]]:
    """The filter columns of the group's rows that are neither deleted nor
    deactivated and were updated since 2000, as ``EVER`` asks (§6.7)."""
    columns = sorted(
        {spec.column for spec in dataset.filters}
        | set(dataset.deletion_columns)
        | set(dataset.monitoring_columns)
        | {dataset.scope_columns["group"]}
    )
    select = ", ".join(f'"{c}"' for c in columns)
    rows = [
        dict(zip(columns, r, strict=True))
        for r in live.query(f"SELECT {select} FROM {dataset.name}")
    ]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return [
        row
        for row in rows
        if row[dataset.scope_columns["group"]] == live.tenant.group_id
        and all(row[c] is None for c in dataset.deletion_columns)
        and all(row[c] is not False for c in dataset.monitoring_columns)
        and row["UPDATED_AT"] is not None
        and dt.datetime(2000, 1, 1) <= row["UPDATED_AT"] <= now
    ]


def refused(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    """The error item of a clean refusal, the whole document checked (§15.1)."""
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"] == JSONAPI
    assert uuid.UUID(response.headers["snyk-request-id"])
    document = response.json()
    assert set(document) == {"jsonapi", "errors"}
    item: dict[str, Any] = document["errors"][0]
    assert uuid.UUID(item["id"])
    assert item["status"] == str(status)
    assert item["code"] in CODES[status]
    assert isinstance(item["detail"], str)
    assert item["detail"]
    assert "Traceback" not in item["detail"]
    return item


def finish(client: httpx.Client, accepted: httpx.Response) -> dict[str, Any]:
    """Poll an accepted export to its end; it must be FINISHED."""
    assert accepted.status_code == 202, accepted.text[:2000]
    data = accepted.json()["data"]
    deadline = time.monotonic() + 30
    while True:
        document = client.get(data["links"]["self"]).json()
        status = document["data"]["attributes"]["status"]
        if status in ("FINISHED", "ERRORED"):
            break
        assert time.monotonic() < deadline, "export did not end in 30 s"
        time.sleep(0.02)
    assert status == "FINISHED", document
    return {"id": data["id"], **document["data"]["attributes"]}


def records(attributes: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and records of every part of a finished export, downloaded."""
    header: list[str] = []
    rows: list[list[str]] = []
    for item in attributes["results"]:
        part = httpx.get(item["url"], timeout=30)
        assert part.status_code == 200
        header, *data = csv.reader(io.StringIO(part.text, newline=""))
        rows.extend(data)
    return header, rows


def post(
    client: httpx.Client,
    scope_id: str,
    payload: dict[str, Any] | bytes,
    *,
    scope: str = "groups",
    content_type: str = JSONAPI,
    **params: str,
) -> httpx.Response:
    """A create request with a JSON body, or raw bytes as they are."""
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(
        f"/{scope}/{scope_id}/export",
        params={"version": VERSION, **params},
        content=content,
        headers={"Content-Type": content_type},
    )
