"""Snyk's API version grammar, the release table and version resolution.

A client asks for ``YYYY-MM-DD`` optionally followed by ``~stability``. The
service answers with the newest release dated on or before that day whose
stability is at least the one asked for, and says what it did in the
``snyk-version-*`` headers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import IntEnum

from snyk_export.errors import BadRequest, NotFound


class Stability(IntEnum):
    """Release stabilities, ordered from least to most stable."""

    WIP = 0
    EXPERIMENTAL = 1
    BETA = 2
    GA = 3

    @property
    def label(self) -> str:
        return self.name.lower()


_STABILITY_WORDS = {
    "wip": Stability.WIP,
    "work-in-progress": Stability.WIP,
    "experimental": Stability.EXPERIMENTAL,
    "beta": Stability.BETA,
}
_VERSION = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:~(wip|work-in-progress|experimental|beta))?"
)


@dataclass(frozen=True)
class Release:
    """A release of the export surface, as listed in the release table."""

    date: dt.date
    stability: Stability
    deprecated_at: dt.datetime | None = None
    sunset_on: dt.date | None = None

    @property
    def name(self) -> str:
        """The release as written in ``version=`` and in headers."""
        return format_version(self.date, self.stability)

    def lifecycle_stage(self, now: dt.datetime) -> str:
        """The stage reported in ``snyk-version-lifecycle-stage``."""
        if self.sunset_on is not None and now.date() > self.sunset_on:
            return "sunset"
        if self.deprecated_at is not None and now >= self.deprecated_at:
            return "deprecated"
        return self.stability.label


@dataclass(frozen=True)
class RequestedVersion:
    """A parsed ``version`` query parameter."""

    date: dt.date
    stability: Stability

    @property
    def normalized(self) -> str:
        return format_version(self.date, self.stability)


@dataclass(frozen=True)
class ResolvedVersion:
    """The outcome of resolution: what was asked and what is served."""

    requested: RequestedVersion
    release: Release

    def headers(self, now: dt.datetime) -> dict[str, str]:
        """The version headers every later response carries."""
        headers = {
            "snyk-version-requested": self.requested.normalized,
            "snyk-version-served": self.release.name,
            "snyk-version-lifecycle-stage": self.release.lifecycle_stage(now),
        }
        if self.release.deprecated_at is not None:
            headers["deprecation"] = format_rfc3339(self.release.deprecated_at)
        if self.release.sunset_on is not None:
            headers["sunset"] = self.release.sunset_on.isoformat()
        return headers


def format_version(date: dt.date, stability: Stability) -> str:
    if stability is Stability.GA:
        return date.isoformat()
    return f"{date.isoformat()}~{stability.label}"


def format_rfc3339(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_version(text: str) -> RequestedVersion:
    """Parse a ``version`` value; a malformed one is a 400."""
    match = _VERSION.fullmatch(text)
    if match is None:
        raise BadRequest(f"invalid version '{text}'", parameter="version")
    year, month, day, word = match.groups()
    try:
        date = dt.date(int(year), int(month), int(day))
    except ValueError:
        raise BadRequest(
            f"invalid version '{text}': not a calendar date", parameter="version"
        ) from None
    stability = _STABILITY_WORDS[word] if word else Stability.GA
    return RequestedVersion(date, stability)


def parse_release(text: str) -> Release:
    """Parse a release name from the configured release table."""
    requested = parse_version(text)
    return Release(requested.date, requested.stability)


class ReleaseTable:
    """The releases the service knows, and resolution against them."""

    def __init__(self, releases: list[Release]) -> None:
        self.releases = sorted(releases, key=lambda r: (r.date, r.stability))

    def resolve(self, raw: str | None, today: dt.date) -> ResolvedVersion:
        """Resolve the ``version`` parameter of a request (§3.2)."""
        if not raw:
            raise BadRequest(
                "missing required query parameter 'version'", parameter="version"
            )
        requested = parse_version(raw)
        if requested.date > today:
            raise BadRequest(
                "requested version newer than present date", parameter="version"
            )
        candidates = [
            release
            for release in self.releases
            if release.date <= requested.date
            and release.stability >= requested.stability
        ]
        if not candidates:
            raise NotFound(
                f"no matching version for '{requested.normalized}'",
                parameter="version",
            )
        best = max(candidates, key=lambda r: (r.date, r.stability))
        return ResolvedVersion(requested, best)


def resolve_any_date(raw: str | None, today: dt.date) -> ResolvedVersion:
    """Resolution for the companion endpoints (§18): any valid past date is served.

    Clients probe ``/self`` and list orgs with whatever version they use
    elsewhere, often older than the export endpoints, so every well-formed date
    up to today is served as the GA surface of that date.
    """
    if not raw:
        raise BadRequest(
            "missing required query parameter 'version'", parameter="version"
        )
    requested = parse_version(raw)
    if requested.date > today:
        raise BadRequest(
            "requested version newer than present date", parameter="version"
        )
    return ResolvedVersion(requested, Release(requested.date, Stability.GA))


def default_releases() -> list[Release]:
    """The release table the service ships with (§3.1)."""
    return [
        Release(
            dt.date(2024, 5, 10),
            Stability.EXPERIMENTAL,
            deprecated_at=dt.datetime(2024, 10, 15, tzinfo=dt.UTC),
            sunset_on=dt.date(2024, 11, 15),
        ),
        Release(dt.date(2024, 10, 15), Stability.GA),
    ]
