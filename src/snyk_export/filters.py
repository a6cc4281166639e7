"""Parsing of export filters into normalised values.

The normalised form is plain JSON data kept with the job, so a job read back
from the database compiles to exactly the query it was accepted with::

    {"updated": {"from": "2024-01-01T00:00:00.000Z", "to": null},
     "product_name": ["Snyk Code"], "orgs": ["..."],
     "empty_project_tags": "include"}
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from snyk_export.catalog import Dataset, FilterSpec, Scope
from snyk_export.errors import BadRequest, UnprocessableRequest
from snyk_export.ids import canonical_uuid

FILTERS_POINTER = "/data/attributes/filters"

_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"([Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)
# The whitespace trimmed from project tags; the SQL side trims the same set.
TAG_WHITESPACE = " \t\r\n"


def is_absent(value: object) -> bool:
    """Whether an optional member counts as absent (``null``, ``{}``, ``[]``)."""
    return value is None or value == {} or value == []


def parse_date_time(text: str, pointer: str) -> dt.datetime:
    """Parse an RFC 3339 date-time, truncated to milliseconds, as UTC."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise BadRequest(f"'{text}' is not an RFC 3339 date-time", pointer=pointer)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or ".0")[1:7].ljust(6, "0"))
    try:
        tz = _offset(zone)
        moment = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            (micros // 1000) * 1000,
            tzinfo=tz,
        ).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise BadRequest(
            f"'{text}' is not a valid date-time", pointer=pointer
        ) from None
    return moment


def _offset(zone: str | None) -> dt.tzinfo:
    if not zone or zone in ("Z", "z"):
        return dt.UTC
    hours, minutes = int(zone[1:3]), int(zone[4:])
    if hours > 23 or minutes > 59:
        raise ValueError(f"offset {zone} out of range")
    sign = 1 if zone[0] == "+" else -1
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def format_instant(moment: dt.datetime) -> str:
    """Format an instant as RFC 3339 UTC with exactly three fractional digits."""
    utc = moment.astimezone(dt.UTC)
    # isoformat, unlike strftime("%Y"), writes years before 1000 with four digits.
    return utc.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def parse_instant(text: str) -> dt.datetime:
    """Read back an instant written by :func:`format_instant`."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_filters(raw: object, dataset: Dataset, scope: Scope) -> dict[str, Any]:
    """Normalise the ``filters`` member of a request for ``dataset``."""
    if is_absent(raw):
        return {}
    if not isinstance(raw, dict):
        raise BadRequest("filters must be an object", pointer=FILTERS_POINTER)

    seen: dict[str, str] = {}
    result: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.lower()
        if name in seen:
            raise BadRequest(
                f"filter '{key}' is given twice (as '{seen[name]}')",
                pointer=f"{FILTERS_POINTER}/{_escape(key)}",
            )
        seen[name] = key
        spec = dataset.find_filter(name)
        if spec is None or scope not in spec.scopes:
            continue
        parsed = _parse_one(spec, value, f"{FILTERS_POINTER}/{_escape(key)}")
        if parsed is not None:
            result[name] = parsed
    return result


def require_date_filter(filters: dict[str, Any], dataset: Dataset) -> None:
    """Refuse an export of ``dataset`` without one of its date filters."""
    if any(name in filters for name in dataset.required_date_filter):
        return
    names = " or ".join(dataset.required_date_filter)
    plural = (
        "at least one date filter"
        if len(dataset.required_date_filter) > 1
        else "the date filter"
    )
    raise UnprocessableRequest(
        f"{plural} ({names}) is required for dataset '{dataset.name}'",
        pointer=FILTERS_POINTER,
    )


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _parse_one(spec: FilterSpec, value: object, pointer: str) -> Any:
    if is_absent(value):
        return None
    if spec.kind == "date_range":
        return _parse_date_range(value, pointer)
    if spec.kind == "enum":
        return _parse_enum(spec, value, pointer)
    values = _parse_string_list(value, pointer)
    if spec.kind == "uuid_list":
        # Errors point at the element as sent, so duplicates collapse afterwards.
        values = [
            _parse_uuid(v, pointer if isinstance(value, str) else f"{pointer}/{i}")
            for i, v in enumerate(values)
        ]
    return list(dict.fromkeys(values))


def _parse_date_range(value: object, pointer: str) -> dict[str, str | None] | None:
    if not isinstance(value, dict):
        raise BadRequest(
            "a date range must be an object with 'from' and 'to'", pointer=pointer
        )
    bounds: dict[str, dt.datetime | None] = {}
    for bound in ("from", "to"):
        text = value.get(bound)
        if is_absent(text):
            bounds[bound] = None
        elif isinstance(text, str):
            bounds[bound] = parse_date_time(text, f"{pointer}/{bound}")
        else:
            raise BadRequest(
                f"'{bound}' must be a date-time string", pointer=f"{pointer}/{bound}"
            )
    start, end = bounds["from"], bounds["to"]
    if start is None and end is None:
        return None
    if start is not None and end is not None and start > end:
        raise UnprocessableRequest("'from' is later than 'to'", pointer=pointer)
    return {
        "from": format_instant(start) if start else None,
        "to": format_instant(end) if end else None,
    }


def _parse_enum(spec: FilterSpec, value: object, pointer: str) -> str:
    if isinstance(value, str) and value.lower() in spec.allowed_values:
        return value.lower()
    allowed = ", ".join(spec.allowed_values)
    raise BadRequest(f"'{spec.name}' must be one of: {allowed}", pointer=pointer)


def _parse_string_list(value: object, pointer: str) -> list[str]:
    if isinstance(value, str):
        return [_filter_string(value, pointer)]
    if not isinstance(value, list):
        raise BadRequest("expected an array of strings", pointer=pointer)
    return [
        _filter_string(item, f"{pointer}/{index}") for index, item in enumerate(value)
    ]


def _filter_string(item: object, pointer: str) -> str:
    if not isinstance(item, str):
        raise BadRequest("expected a string", pointer=pointer)
    if "\x00" in item:
        # PostgreSQL can store NUL neither in text nor in the job's JSONB.
        raise BadRequest(
            "filter values must not contain NUL characters", pointer=pointer
        )
    return item


def _parse_uuid(text: str, pointer: str) -> str:
    canonical = canonical_uuid(text.strip())
    if canonical is None:
        raise BadRequest(f"'{text}' is not a UUID", pointer=pointer)
    return canonical


def normalize_tag(tag: str) -> str:
    """A project tag with whitespace trimmed at both ends and around its ``:``."""
    key, sep, value = tag.strip(TAG_WHITESPACE).partition(":")
    if not sep:
        return key
    return f"{key.strip(TAG_WHITESPACE)}{sep}{value.strip(TAG_WHITESPACE)}"
