"""Version resolution and version headers against §3 of the contract."""

from __future__ import annotations

import datetime as dt

import pytest

from snyk_export.errors import BadRequest, NotFound
from snyk_export.versioning import (
    Release,
    ReleaseTable,
    Stability,
    default_releases,
    parse_release,
    parse_version,
)

TODAY = dt.date(2026, 2, 12)
NOW = dt.datetime(2026, 2, 12, 20, 9, 42, tzinfo=dt.UTC)


@pytest.fixture
def table() -> ReleaseTable:
    return ReleaseTable(default_releases())


@pytest.mark.parametrize(
    ("requested", "served"),
    [
        ("2024-10-15", "2024-10-15"),
        ("2025-06-01", "2024-10-15"),
        ("2024-10-15~experimental", "2024-10-15"),
        ("2025-01-01~beta", "2024-10-15"),
        ("2024-05-10~experimental", "2024-05-10~experimental"),
        ("2024-08-01~experimental", "2024-05-10~experimental"),
        # Not in §3.2's list, but follow from its rule: wip accepts anything.
        ("2024-08-01~wip", "2024-05-10~experimental"),
        ("2024-08-01~work-in-progress", "2024-05-10~experimental"),
        ("2026-02-12", "2024-10-15"),
    ],
)
def test_spec_examples_are_served(
    table: ReleaseTable, requested: str, served: str
) -> None:
    resolved = table.resolve(requested, TODAY)

    assert resolved.release.name == served
    assert resolved.headers(NOW)["snyk-version-served"] == served


@pytest.mark.parametrize(
    "requested",
    ["2024-05-10", "2024-08-01~beta", "2024-05-09~experimental", "2024-05-09~wip"],
)
def test_spec_examples_without_a_matching_release_are_404(
    table: ReleaseTable, requested: str
) -> None:
    with pytest.raises(NotFound) as caught:
        table.resolve(requested, TODAY)

    error = caught.value
    assert error.status == 404
    assert error.code == "SNYK-OPENAPI-0004"
    assert error.parameter == "version"
    assert "no matching version" in error.detail
    assert error.document()["errors"][0]["source"] == {"parameter": "version"}


@pytest.mark.parametrize(
    "requested",
    [
        "2024-02-30",
        "beta",
        "experimental",
        "wip",
        "work-in-progress",
        "ga",
        "2024-10-15~ga",
        "2024-10-15~",
        "2024-10-15~alpha",
        "2024-10-15~BETA",
        "2024-10-15~beta~beta",
        "2024-1-15",
        "24-10-15",
        "2024/10/15",
        "20241015",
        "2024-10-15T00:00:00Z",
        " 2024-10-15",
        "2024-10-15 ",
        "2024-10-15\n",
        "2024-13-01",
        "2024-00-10",
        "2023-02-29",
        "\uff12\uff10\uff12\uff14-10-15",  # fullwidth digits
        "\u0662\u0660\u0662\u0664-\u0661\u0660-\u0661\u0665",  # Arabic-Indic
    ],
)
def test_malformed_versions_are_400(table: ReleaseTable, requested: str) -> None:
    with pytest.raises(BadRequest) as caught:
        table.resolve(requested, TODAY)

    error = caught.value
    assert error.status == 400
    assert error.code == "SNYK-OPENAPI-0001"
    assert error.parameter == "version"


@pytest.mark.parametrize("requested", [None, ""])
def test_missing_version_is_400_with_the_contract_detail(
    table: ReleaseTable, requested: str | None
) -> None:
    with pytest.raises(BadRequest) as caught:
        table.resolve(requested, TODAY)

    assert caught.value.detail == "missing required query parameter 'version'"
    assert caught.value.parameter == "version"
    assert caught.value.code == "SNYK-OPENAPI-0001"


@pytest.mark.parametrize(
    "requested", ["2099-01-01", "2026-02-13", "2026-02-13~beta", "2026-02-13~wip"]
)
def test_a_date_after_today_is_400_newer_than_present(
    table: ReleaseTable, requested: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        table.resolve(requested, TODAY)

    assert caught.value.detail == "requested version newer than present date"
    assert caught.value.parameter == "version"
    assert caught.value.code == "SNYK-OPENAPI-0001"


def test_a_leap_day_is_a_calendar_date(table: ReleaseTable) -> None:
    # Valid syntax, so it gets past the 400 and fails only on resolution.
    with pytest.raises(NotFound):
        table.resolve("2024-02-29~experimental", TODAY)


@pytest.mark.parametrize(
    ("requested", "normalized"),
    [
        ("2024-10-15", "2024-10-15"),
        ("2025-01-01~beta", "2025-01-01~beta"),
        ("2024-10-15~experimental", "2024-10-15~experimental"),
        ("2024-10-15~wip", "2024-10-15~wip"),
        ("2024-10-15~work-in-progress", "2024-10-15~wip"),
    ],
)
def test_requested_header_is_normalised(
    table: ReleaseTable, requested: str, normalized: str
) -> None:
    headers = table.resolve(requested, TODAY).headers(NOW)

    assert headers["snyk-version-requested"] == normalized


def test_ga_release_headers_have_no_deprecation_or_sunset(
    table: ReleaseTable,
) -> None:
    headers = table.resolve("2024-10-15", TODAY).headers(NOW)

    assert headers == {
        "snyk-version-requested": "2024-10-15",
        "snyk-version-served": "2024-10-15",
        "snyk-version-lifecycle-stage": "ga",
    }


def test_experimental_release_carries_deprecation_and_sunset(
    table: ReleaseTable,
) -> None:
    headers = table.resolve("2024-05-10~experimental", TODAY).headers(NOW)

    assert headers["snyk-version-served"] == "2024-05-10~experimental"
    assert headers["sunset"] == "2024-11-15"
    deprecation = headers["deprecation"]
    assert deprecation.startswith("2024-10-15T00:00:00")
    assert deprecation.endswith("Z")
    parsed = dt.datetime.fromisoformat(deprecation.replace("Z", "+00:00"))
    assert parsed == dt.datetime(2024, 10, 15, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "stage"),
    [
        (dt.datetime(2024, 9, 1, tzinfo=dt.UTC), "experimental"),
        (dt.datetime(2024, 10, 14, 23, 59, 59, tzinfo=dt.UTC), "experimental"),
        (dt.datetime(2024, 10, 15, 0, 0, 0, tzinfo=dt.UTC), "deprecated"),
        (dt.datetime(2024, 11, 1, tzinfo=dt.UTC), "deprecated"),
        # "once its sunset date has passed": the sunset day itself is the last
        # deprecated day.
        (dt.datetime(2024, 11, 15, 23, 0, tzinfo=dt.UTC), "deprecated"),
        (dt.datetime(2024, 11, 16, 0, 0, tzinfo=dt.UTC), "sunset"),
        (NOW, "sunset"),
    ],
)
def test_lifecycle_stage_follows_deprecation_and_sunset_dates(
    table: ReleaseTable, now: dt.datetime, stage: str
) -> None:
    headers = table.resolve("2024-05-10~experimental", now.date()).headers(now)

    assert headers["snyk-version-lifecycle-stage"] == stage


def test_a_sunset_release_is_still_served(table: ReleaseTable) -> None:
    resolved = table.resolve("2024-08-01~experimental", TODAY)

    assert resolved.release.name == "2024-05-10~experimental"
    assert resolved.headers(NOW)["snyk-version-lifecycle-stage"] == "sunset"


def test_deprecation_header_is_written_in_utc() -> None:
    offset = dt.timezone(dt.timedelta(hours=2))
    release = Release(
        dt.date(2025, 1, 1),
        Stability.BETA,
        deprecated_at=dt.datetime(2025, 3, 1, 2, 0, tzinfo=offset),
    )
    table = ReleaseTable([release])

    headers = table.resolve("2025-02-01~beta", TODAY).headers(NOW)

    assert headers["deprecation"] == "2025-03-01T00:00:00.000Z"
    assert "sunset" not in headers
    assert headers["snyk-version-lifecycle-stage"] == "deprecated"


def test_newest_qualifying_release_wins() -> None:
    table = ReleaseTable(
        [
            parse_release("2025-03-01~beta"),
            parse_release("2024-10-15"),
            parse_release("2025-01-01~wip"),
            parse_release("2025-02-01"),
        ]
    )

    assert table.resolve("2025-03-05", TODAY).release.name == "2025-02-01"
    assert table.resolve("2025-03-05~beta", TODAY).release.name == "2025-03-01~beta"
    assert table.resolve("2025-01-15~wip", TODAY).release.name == "2025-01-01~wip"
    assert table.resolve("2025-01-15~beta", TODAY).release.name == "2024-10-15"


def test_same_day_releases_serve_the_most_stable() -> None:
    table = ReleaseTable(
        [parse_release("2025-01-01~beta"), parse_release("2025-01-01")]
    )

    assert table.resolve("2025-01-01~wip", TODAY).release.name == "2025-01-01"


def test_stability_order() -> None:
    assert Stability.WIP < Stability.EXPERIMENTAL < Stability.BETA < Stability.GA


def test_parse_version_reads_work_in_progress_as_wip() -> None:
    requested = parse_version("2024-10-15~work-in-progress")

    assert requested.stability is Stability.WIP
    assert requested.date == dt.date(2024, 10, 15)


def test_shipped_table_matches_section_3_1() -> None:
    releases = {release.name: release for release in default_releases()}

    assert set(releases) == {"2024-05-10~experimental", "2024-10-15"}
    experimental = releases["2024-05-10~experimental"]
    assert experimental.deprecated_at == dt.datetime(2024, 10, 15, tzinfo=dt.UTC)
    assert experimental.sunset_on == dt.date(2024, 11, 15)
    ga = releases["2024-10-15"]
    assert ga.deprecated_at is None
    assert ga.sunset_on is None
