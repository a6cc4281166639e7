"""Hostile input is taken literally or refused cleanly; values never become SQL.

Hypothesis drives the live server with filter values, column names, path
parameters, version strings, credentials and raw bodies built from hostile
text: quotes, semicolons, ``--`` and ``/*``, NUL bytes, non-BMP characters,
invalid UTF-8, strings of hundreds of kilobytes, JSON of every type at every
member. Every answer is either an acceptance (202, and the export FINISHES
with exactly the rows whose stored value equals the literal, counted from the
stored rows independently of the server's SQL) or a JSON:API 4xx error
document naming the member or parameter at fault: never a 5xx, never a
dropped connection. Fixed extreme documents are in ``test_hostile_documents``;
the SQL text itself is checked in ``tests/unit/test_conditions.py``.

Runs are bounded (60 to 150 examples per property, about 860 in all, the
module in about 25 s); ``SNYK_EXPORT_LONG_TESTS=1`` runs ten times as many
examples (also in test_hostile_documents' and test_conditions' properties).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_from_bytes, unquote

import httpx
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

from exporting import EVER, VERSION, body
from hostile import (
    INJECTIONS,
    INVALID_UTF8,
    MIB,
    UUID,
    Stored,
    bounded,
    finish,
    hostile_text,
    json_values,
    matches,
    post,
    records,
    refused,
)
from liveserver import LiveServer
from snyk_export.catalog import FilterSpec, datasets

FILTERS = "/data/attributes/filters"
ISSUES = datasets()["issues"]
LIST_FILTERS = [
    (dataset.name, spec)
    for dataset in datasets().values()
    for spec in dataset.filters
    if spec.kind in ("string_list", "uuid_list")
]
# What the hostile filter value property saw, checked by the guard test after it.
OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="module")
def stored(live: LiveServer) -> Stored:
    return Stored.read(live)


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client("group_admin") as session:
        yield session


@pytest.fixture(scope="module")
def rare_cve(stored: Stored) -> str:
    """A CVE of a handful of issues: exports that are quick but not empty."""
    spec = ISSUES.find_filter("cve")
    assert spec is not None
    return next(
        cve
        for cve in stored.values("issues", "CVE")
        if 2 <= stored.count("issues", spec, [cve]) <= 10
    )


@pytest.fixture(scope="module")
def finished_export(client: httpx.Client, live: LiveServer, rare_cve: str) -> str:
    payload = body("issues", ["CVE"], {"updated": EVER, "cve": [rare_cve]})
    response = post(client, live.tenant.group_id, payload)
    return str(finish(client, response)["id"])


def refusal_pointer(
    spec: FilterSpec, values: list[str], at: str, bare: bool
) -> str | None:
    """Where the contract's checks would stop, in their order, or None."""
    pointers = [at if bare else f"{at}/{i}" for i in range(len(values))]
    for value, pointer in zip(values, pointers, strict=True):
        if "\x00" in value:
            return pointer
    if spec.kind == "uuid_list":
        for value, pointer in zip(values, pointers, strict=True):
            if not UUID.fullmatch(value.strip()):
                return pointer
    return None


def filter_values(
    spec: FilterSpec, dataset: str, stored: Stored, live: LiveServer
) -> Any:
    """Hostile values for one filter, with its stored values and near misses."""
    real = stored.values(dataset, spec.column)
    if spec.kind == "uuid_list":
        real = [*real, live.other_org_id, live.tenant.group_id]
        return st.one_of(hostile_text(real), st.uuids().map(str))
    return hostile_text(real)


@bounded(100)
@given(data=st.data())
def test_filter_values_are_literals_or_refused_with_a_pointer(
    client: httpx.Client, live: LiveServer, stored: Stored, data: st.DataObject
) -> None:
    dataset, spec = data.draw(st.sampled_from(LIST_FILTERS), label="filter")
    values = data.draw(
        st.lists(filter_values(spec, dataset, stored, live), min_size=1, max_size=3)
    )
    bare = len(values) == 1 and data.draw(st.booleans(), label="bare string")
    key = data.draw(st.sampled_from([spec.name, spec.name.upper(), spec.name.title()]))
    filters = {"updated": EVER, key: values[0] if bare else values}
    payload = json.dumps(
        body(dataset, [spec.column], filters), ensure_ascii=data.draw(st.booleans())
    ).encode()

    response = post(client, live.tenant.group_id, payload)

    pointer = refusal_pointer(spec, values, f"{FILTERS}/{key}", bare)
    if len(payload) > MIB:
        OUTCOMES["too large"] += 1
        refused(response, 413)
    elif pointer is not None:
        OUTCOMES["refused"] += 1
        assert refused(response)["source"] == {"pointer": pointer}
    else:
        attributes = finish(client, response)
        expected = stored.count(dataset, spec, values)
        OUTCOMES["matched rows" if expected else "matched nothing"] += 1
        assert attributes["row_count"] == expected
        _header, rows = records(attributes)
        assert len(rows) == expected
        array = spec.match == "array_overlap"
        for (field,) in rows:
            assert matches(spec, json.loads(field) if array else field, values)


def test_the_hostile_value_property_reached_every_outcome() -> None:
    # Guards the property above against passing on refusals alone.
    if not OUTCOMES:
        pytest.skip("the hostile filter value property did not run")
    assert OUTCOMES["refused"]
    assert OUTCOMES["matched nothing"]
    assert OUTCOMES["matched rows"]


@bounded(60)
@given(
    requested=st.lists(
        hostile_text([c.name for c in ISSUES.columns], max_size=100),
        min_size=1,
        max_size=6,
    )
)
def test_column_names_are_matched_loosely_or_dropped(
    client: httpx.Client,
    live: LiveServer,
    stored: Stored,
    rare_cve: str,
    requested: list[str],
) -> None:
    payload = body("issues", requested, {"updated": EVER, "cve": [rare_cve]})
    known = {c.name for c in ISSUES.columns}
    expected = list(
        dict.fromkeys(
            n.strip().upper() for n in requested if n.strip().upper() in known
        )
    )

    response = post(client, live.tenant.group_id, payload)

    if not expected:
        item = refused(response)
        assert item["code"] == "SNYK-0003"
        assert item["source"] == {"pointer": "/data/attributes/columns"}
        return
    attributes = finish(client, response)
    header, rows = records(attributes)
    assert header == expected
    spec = ISSUES.find_filter("cve")
    assert spec is not None
    assert (
        len(rows) == attributes["row_count"] == stored.count("issues", spec, [rare_cve])
    )


MEMBERS = [
    "",
    "/data",
    "/data/type",
    "/data/attributes",
    *(
        f"/data/attributes/{name}"
        for name in ("dataset", "formats", "formats/0", "columns", "columns/0")
    ),
    "/data/attributes/url_expiration_seconds",
    *(
        f"{FILTERS}{name}"
        for name in (
            "",
            "/updated",
            "/updated/from",
            "/updated/to",
            "/product_name",
            "/product_name/0",
            "/orgs",
            "/orgs/0",
            "/empty_project_tags",
        )
    ),
]


def replaced(document: Any, pointer: str, value: Any) -> Any:
    """A copy of ``document`` with the member at ``pointer`` set to ``value``."""
    if not pointer:
        return value
    head, _, rest = pointer[1:].partition("/")
    copy = list(document) if isinstance(document, list) else dict(document)
    key: Any = int(head) if isinstance(copy, list) else head
    copy[key] = replaced(copy[key], "/" + rest if rest else "", value)
    return copy


def related(pointer: str, member: str) -> bool:
    """Whether an error pointer names the member or one that contains it."""
    return (
        pointer == member
        or member.startswith(pointer + "/")
        or pointer.startswith(member + "/")
    )


@bounded(150)
@given(member=st.sampled_from(MEMBERS), value=json_values())
def test_a_member_of_any_json_type_is_accepted_or_refused_at_that_member(
    client: httpx.Client, live: LiveServer, member: str, value: Any
) -> None:
    # Columns and filters that every dataset has, so a changed dataset still fits.
    filters = {
        "updated": {"from": "2020-01-01T00:00:00Z", "to": None},
        "product_name": ["Snyk Code"],
        "orgs": [live.tenant.orgs[0].id],
        "empty_project_tags": "include",
    }
    document = body(
        "issues", ["ORG_PUBLIC_ID", "UPDATED_AT"], filters, url_expiration_seconds=60
    )

    response = post(client, live.tenant.group_id, replaced(document, member, value))

    if response.status_code == 202:
        finish(client, response)
        return
    item = refused(response)
    assert related(item["source"]["pointer"], member), item


@bounded(150)
@given(
    position=st.integers(0, 400),
    inserted=st.one_of(
        st.binary(min_size=1, max_size=8),
        st.sampled_from(INVALID_UTF8),
        st.text(min_size=1, max_size=4).map(str.encode),
    ),
    overwrite=st.booleans(),
)
def test_mutated_raw_bodies_are_accepted_or_refused(
    client: httpx.Client,
    live: LiveServer,
    position: int,
    inserted: bytes,
    overwrite: bool,
) -> None:
    valid = json.dumps(
        body("issues", ["SCORE"], {"updated": EVER, "product_name": ["Snyk Code"]})
    ).encode()
    position = min(position, len(valid))
    cut = position + (len(inserted) if overwrite else 0)
    raw = valid[:position] + inserted + valid[cut:]

    response = post(client, live.tenant.group_id, raw)

    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        item = refused(response)
        assert item["source"] == {"pointer": ""}
        assert item["detail"] == "request body is not valid JSON"
        return
    if response.status_code == 202:
        finish(client, response)
    else:
        refused(response)


def encoded_segments() -> Any:
    """Path segments, percent-encoded; raw bytes give invalid UTF-8 too."""
    return st.one_of(
        hostile_text(max_size=1000).map(lambda text: quote(text, safe="")),
        st.binary(max_size=40).map(lambda raw: quote_from_bytes(raw, safe="")),
        st.uuids().map(lambda u: str(u).upper()),
    )


PATHS = [
    ("GET", "/orgs/{x}/jobs/export/{export}", "org_id"),
    ("GET", "/orgs/{x}/export/{export}", "org_id"),
    ("POST", "/orgs/{x}/export", "org_id"),
    ("GET", "/groups/{x}/jobs/export/{export}", "group_id"),
    ("GET", "/groups/{x}/export/{export}", "group_id"),
    ("POST", "/groups/{x}/export", "group_id"),
    ("GET", "/groups/{group}/jobs/export/{x}", "export_id"),
    ("GET", "/groups/{group}/export/{x}", "export_id"),
    ("GET", "/orgs/{org}/jobs/export/{x}", "export_id"),
    ("GET", "/orgs/{x}", "org_id"),
    ("GET", "/groups/{x}/orgs", "group_id"),
]


@bounded(150)
@given(template=st.sampled_from(PATHS), encoded=encoded_segments())
def test_generated_path_parameters_are_refused_naming_the_parameter(
    client: httpx.Client,
    live: LiveServer,
    finished_export: str,
    template: tuple[str, str, str],
    encoded: str,
) -> None:
    method, path, parameter = template
    decoded = unquote(encoded, errors="replace")
    note(f"segment {encoded!r}, decoded {decoded!r}")
    # An empty last segment or a trailing slash is another path: a 404, tested
    # by the test after this one.
    assume(not path.endswith("{x}") or decoded[-1:] not in ("", "/"))
    url = path.format(
        x=encoded,
        export=finished_export,
        group=live.tenant.group_id,
        org=live.tenant.orgs[0].id,
    )

    response = client.request(method, url, params={"version": VERSION})

    assert response.status_code < 500, response.text[:2000]
    if "/" in decoded or "\n" in decoded or decoded in ("", ".", ".."):
        # Another route, or none: Starlette's mount pattern (.*) stops at a
        # newline, so one inside a parameter is a 404 rather than the 400 of §1.4.
        refused(response, response.status_code)
    elif not UUID.fullmatch(decoded):
        item = refused(response)
        assert item["source"] == {"parameter": parameter}
    elif response.status_code >= 400:
        refused(response, response.status_code)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/groups/{group}/export/"),
        ("POST", "/groups/{group}/export/"),
        ("POST", "/orgs/{org}/export/"),
        ("GET", "/self/"),
        ("GET", "/orgs/{org}/"),
    ],
)
def test_a_trailing_slash_gets_a_json_api_404_not_a_redirect(
    client: httpx.Client, live: LiveServer, method: str, path: str
) -> None:
    url = path.format(group=live.tenant.group_id, org=live.tenant.orgs[0].id)

    response = client.request(method, url, params={"version": VERSION})

    refused(response, 404)


def expected_version_status(version: str, today: dt.date) -> int:
    """The contract's table of §3.2 with the shipped releases of §3.1."""
    grammar = (
        r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
        r"(?:~(wip|work-in-progress|experimental|beta))?"
    )
    match = re.fullmatch(grammar, version)
    if match is None:
        return 400
    try:
        date = dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return 400
    if date > today:
        return 400
    asked = {None: 3, "beta": 2, "experimental": 1}.get(match[4], 0)
    releases = [(dt.date(2024, 5, 10), 1), (dt.date(2024, 10, 15), 3)]
    served = any(day <= date and stability >= asked for day, stability in releases)
    return 200 if served else 404


def versions() -> Any:
    suffixes = [
        "",
        "~wip",
        "~work-in-progress",
        "~experimental",
        "~beta",
        "~ga",
        "~BETA",
    ]
    dated = st.builds(
        lambda day, suffix: day.isoformat() + suffix,
        st.dates(),
        st.sampled_from([*suffixes, "~", " ", "\x00"]),
    )
    odd = st.sampled_from(
        ["2024-02-30", "\u0662\u0660\u0662\u0664-10-15", "2024-10-15~beta~beta"]
    )
    return st.one_of(dated, odd, hostile_text(max_size=1000))


@bounded(150)
@given(version=versions())
def test_generated_versions_resolve_or_are_refused_naming_the_parameter(
    client: httpx.Client, live: LiveServer, finished_export: str, version: str
) -> None:
    path = f"/groups/{live.tenant.group_id}/jobs/export/{finished_export}"

    response = client.get(path, params={"version": version})

    expected = expected_version_status(version, dt.datetime.now(dt.UTC).date())
    if expected == 200:
        assert response.status_code == 200, response.text[:2000]
        assert response.headers["snyk-version-served"]
    else:
        item = refused(response, expected)
        assert item["source"] == {"parameter": "version"}


HEADER_BYTES = [
    b"\t",
    *(bytes([b]) for b in range(0x20, 0x7F)),
    *(bytes([b]) for b in range(0x80, 0x100)),
]


@bounded(100)
@given(
    scheme=st.sampled_from([b"", b"token ", b"Bearer ", b"TOKEN\t", b"Basic "]),
    credential=st.lists(st.sampled_from(HEADER_BYTES), min_size=1, max_size=300).map(
        b"".join
    ),
)
def test_generated_credentials_get_401(
    live: LiveServer, finished_export: str, scheme: bytes, credential: bytes
) -> None:
    header = (scheme + credential).strip(b" \t") or b"x"
    path = f"{live.api}/groups/{live.tenant.group_id}/export/{finished_export}"

    response = httpx.get(
        path, params={"version": VERSION}, headers={b"Authorization": header}
    )

    refused(response, 401)


def test_sql_in_filter_values_matches_nothing_while_real_values_match(
    client: httpx.Client, live: LiveServer, stored: Stored
) -> None:
    group = live.tenant.group_id
    before = table_counts(live)
    spec = ISSUES.find_filter("product_name")
    assert spec is not None

    def row_count(values: list[str]) -> int:
        payload = body("issues", ["SCORE"], {"updated": EVER, "product_name": values})
        return int(finish(client, post(client, group, payload))["row_count"])

    assert row_count(["Snyk Code"]) == stored.count("issues", spec, ["Snyk Code"]) > 0
    for injected in [*INJECTIONS[:6], "Snyk Code' --", 'Snyk Code"; --']:
        assert row_count([injected]) == 0, injected
    orgs = body("issues", ["SCORE"], {"updated": EVER, "orgs": ["x' OR '1'='1"]})
    item = refused(post(client, group, orgs))
    assert item["source"] == {"pointer": f"{FILTERS}/orgs/0"}
    item = refused(post(client, quote("x' OR '1'='1"), orgs, scope="orgs"))
    assert item["source"] == {"parameter": "org_id"}
    assert table_counts(live) == before


def table_counts(live: LiveServer) -> dict[str, Any]:
    """Rows per table in the server's own database, whatever its engine."""
    tables = [*datasets(), "credentials", "role_bindings", "orgs", "groups"]
    backend = live.backend  # DuckDB or PostgreSQL: both answer _fetchall
    return {t: backend._fetchall(f"SELECT count(*) FROM {t}") for t in tables}
