"""The client against a recorded, Snyk-shaped exchange on the hosted API paths.

The answers replay what api.snyk.io sends: a 202 whose ``links.self`` is the
path of Snyk's published example (which matches no endpoint), ``retry-after``
on the 202 and on a 429, results inline in the status once FINISHED, and
download links to presigned storage URLs that answer 403 with an XML body once
they have expired.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from snyk_export.client import (
    Client,
    DeadlineExceeded,
    DownloadFailed,
    ExitCode,
    ExportRequest,
    OutputOptions,
    RequestRejected,
)

ORG = "0f3c5b1e-8a2d-4c6e-9f10-2b3a4c5d6e7f"
EXPORT = "94f572f3-f17d-4d8d-ac55-44a8a034a6a9"
TOKEN = "snyk-test-token-0123456789"
BUCKET = "https://snyk-analytics-export.s3.amazonaws.com"
PARTS = [
    b'"ISSUE_SEVERITY","CVE"\n"High","[""CVE-2025-1""]"\n"Low","[]"\n',
    b'"ISSUE_SEVERITY","CVE"\n"Critical","[""CVE-2025-2"",""CVE-2025-3""]"\n',
]
EXPIRED_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)


def _error(status: int, code: str, detail: str, **headers: str) -> httpx.Response:
    document = {
        "jsonapi": {"version": "1.0"},
        "errors": [{"status": str(status), "code": code, "detail": detail}],
    }
    headers["snyk-request-id"] = "3d6a1f7e-0c4b-4e52-9b1a-7f2e8d9c0b1a"
    return httpx.Response(status, json=document, headers=headers)


class RecordedSnyk:
    """Replays the exchange and records what the client sent."""

    def __init__(
        self, host: str, *, results_in_status: bool = True, extra_rows: int = 0
    ) -> None:
        self.host = host
        self.results_in_status = results_in_status
        self.extra_rows = extra_rows
        self.sent: list[httpx.Request] = []
        self.status_answers = ["429", "STARTED", "FINISHED"]
        self.signature = "expired"
        self._lock = threading.Lock()

    def links(self) -> list[dict[str, Any]]:
        return [
            {
                "url": f"{BUCKET}/exports/{EXPORT}/data_{n}_0_0.csv?X-Amz-Algorithm="
                f"AWS4-HMAC-SHA256&X-Amz-Expires=60&X-Amz-Signature={self.signature}",
                "file_size": len(part),
                "row_count": part.count(b"\n") - 1 + self.extra_rows * (n == 0),
            }
            for n, part in enumerate(PARTS)
        ]

    def finished(self) -> dict[str, Any]:
        attributes = {
            "status": "FINISHED",
            "created": "2026-02-12T20:09:42.693Z",
            "finished": "2026-02-12T20:09:47.120Z",
            "formats": ["csv"],
            "row_count": 3 + self.extra_rows,
            "updated_date_range": {
                "from": "2026-01-01T00:00:00.000Z",
                "to": "2026-02-12T20:09:42.700Z",
            },
            "results": self.links(),
        }
        return {"data": {"type": "export", "id": EXPORT, "attributes": attributes}}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.sent.append(request)
            return self._answer(request)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.url.host == "snyk-analytics-export.s3.amazonaws.com":
            if "expired" in str(request.url):
                return httpx.Response(403, content=EXPIRED_XML)
            index = int(path.rsplit("/", 1)[1].split("_")[1])
            return httpx.Response(200, content=PARTS[index])
        assert request.url.host == self.host
        if path == f"/rest/orgs/{ORG}/export" and request.method == "POST":
            created = {
                "data": {
                    "type": "export",
                    "id": EXPORT,
                    "attributes": {"created": "2026-02-12T20:09:42.693Z"},
                    "links": {"self": f"/orgs/{ORG}/export/jobs/{EXPORT}"},
                }
            }
            return httpx.Response(202, json=created, headers={"retry-after": "10"})
        if path == f"/rest/orgs/{ORG}/jobs/export/{EXPORT}":
            answer = self.status_answers.pop(0)
            if answer == "429":
                return _error(429, "SNYK-0001", "throttled", **{"retry-after": "3"})
            if answer == "STARTED":
                attributes = {"status": "STARTED", "formats": ["csv"]}
                return httpx.Response(200, json={"data": {"attributes": attributes}})
            if not self.results_in_status:
                finished = {"status": "FINISHED", "formats": ["csv"]}
                return httpx.Response(200, json={"data": {"attributes": finished}})
            return httpx.Response(200, json=self.finished())
        if path == f"/rest/orgs/{ORG}/export/{EXPORT}":
            self.signature = "fresh"
            return httpx.Response(200, json=self.finished())
        return _error(404, "SNYK-OPENAPI-0004", f"no such path: {path}")


class FakeTime:
    """A clock that moves only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _client(snyk: RecordedSnyk, fake: FakeTime, **options: Any) -> Client:
    return Client(
        TOKEN,
        api_url=f"https://{snyk.host}/rest",
        transport=httpx.MockTransport(snyk),
        sleep=fake.sleep,
        clock=fake.clock,
        **options,
    )


REQUEST = ExportRequest(
    "org",
    ORG,
    "issues",
    ("ISSUE_SEVERITY", "CVE"),
    {"updated": {"from": "2026-01-01T00:00:00Z"}},
)


@pytest.mark.parametrize("host", ["api.snyk.io", "api.eu.snyk.io", "api.au.snyk.io"])
def test_a_hosted_export_is_polled_downloaded_and_merged(
    tmp_path: Path, host: str
) -> None:
    snyk, fake = RecordedSnyk(host), FakeTime()
    with _client(snyk, fake) as client:
        result = client.export(REQUEST, OutputOptions(tmp_path / "issues.csv"))

    assert (tmp_path / "issues.csv").read_bytes() == PARTS[0] + PARTS[1].split(
        b"\n", 1
    )[1]
    assert fake.sleeps == [10.0, 3.0, 1.0]
    assert result.link_renewals == 1
    assert result.row_count == 3
    assert result.updated_to == "2026-02-12T20:09:42.700Z"
    post = snyk.sent[0]
    assert post.url.params["version"] == "2024-10-15"
    assert post.headers["content-type"] == "application/vnd.api+json"
    assert post.headers["authorization"] == f"token {TOKEN}"
    downloads = [r for r in snyk.sent if r.url.host.endswith("amazonaws.com")]
    assert "Signature=expired" in str(downloads[0].url)
    fresh = [r.url.path for r in downloads if "Signature=fresh" in str(r.url)]
    assert sorted(fresh) == [f"/exports/{EXPORT}/data_{n}_0_0.csv" for n in (0, 1)]
    assert all("authorization" not in r.headers for r in downloads)


def test_results_missing_from_a_finished_status_are_read_from_the_results_path(
    tmp_path: Path,
) -> None:
    snyk, fake = RecordedSnyk("api.snyk.io", results_in_status=False), FakeTime()
    with _client(snyk, fake) as client:
        result = client.export(REQUEST, OutputOptions(tmp_path / "x.csv"))

    assert result.row_count == 3
    assert len(result.parts) == 2
    paths = [r.url.path for r in snyk.sent if r.url.host == "api.snyk.io"]
    assert paths[-1] == f"/rest/orgs/{ORG}/export/{EXPORT}"
    assert len(records_in(tmp_path / "x.csv")) == 4


def records_in(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_a_part_whose_rows_do_not_match_the_listing_fails_the_fetch(
    tmp_path: Path,
) -> None:
    snyk, fake = RecordedSnyk("api.snyk.io", extra_rows=1), FakeTime()
    with _client(snyk, fake) as client, pytest.raises(DownloadFailed) as raised:
        client.export(REQUEST, OutputOptions(tmp_path / "x.csv"))

    assert "got 60 bytes and 2 rows, expected 60 bytes and 3 rows" in str(raised.value)
    assert raised.value.exit_code == ExitCode.FAILED
    assert not (tmp_path / "x.csv").exists()
    assert list(tmp_path.iterdir()) == []


def test_network_failures_are_retried_with_backoff(tmp_path: Path) -> None:
    snyk, fake = RecordedSnyk("api.snyk.io"), FakeTime()
    refusals = [2]

    def flaky(request: httpx.Request) -> httpx.Response:
        if refusals[0]:
            refusals[0] -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return snyk(request)

    with Client(
        TOKEN,
        transport=httpx.MockTransport(flaky),
        sleep=fake.sleep,
        clock=fake.clock,
    ) as client:
        result = client.export(REQUEST, OutputOptions(tmp_path / "x.csv"))

    assert result.retries == 3
    assert len(fake.sleeps) == 5
    assert 0.25 <= fake.sleeps[0] <= 0.5
    assert 0.5 <= fake.sleeps[1] <= 1.0
    assert fake.sleeps[2:] == [10.0, 3.0, 1.0]


def test_a_deadline_shorter_than_the_poll_hint_gives_up_at_once(
    tmp_path: Path,
) -> None:
    snyk, fake = RecordedSnyk("api.snyk.io"), FakeTime()
    with (
        _client(snyk, fake, timeout_seconds=5) as client,
        pytest.raises(DeadlineExceeded),
    ):
        client.export(REQUEST, OutputOptions(tmp_path / "x.csv"))

    assert fake.sleeps == []
    assert len(snyk.sent) == 1


def test_a_snyk_error_document_becomes_a_typed_error(tmp_path: Path) -> None:
    def reject(request: httpx.Request) -> httpx.Response:
        return _error(400, "SNYK-0003", "at least one date filter is required")

    with (
        Client(TOKEN, transport=httpx.MockTransport(reject)) as client,
        pytest.raises(RequestRejected) as raised,
    ):
        client.export(REQUEST, OutputOptions(tmp_path / "x.csv"))

    assert raised.value.code == "SNYK-0003"
    assert raised.value.detail == "at least one date filter is required"
    assert raised.value.request_id == "3d6a1f7e-0c4b-4e52-9b1a-7f2e8d9c0b1a"
    assert "snyk-request-id 3d6a1f7e" in str(raised.value)
    assert TOKEN not in str(raised.value)
