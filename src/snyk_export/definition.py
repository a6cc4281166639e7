"""The export definition: what a create request asks for, validated.

:func:`parse_create_request` applies the lenient parsing rules of the contract
(§6) to a request body and its query flags and returns an immutable
:class:`ExportDefinition`, or raises the 400 the contract names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from snyk_export.catalog import Dataset, Scope, find_dataset
from snyk_export.errors import BadRequest, UnprocessableRequest
from snyk_export.filters import is_absent, parse_filters, require_date_filter

DEFAULT_URL_EXPIRATION_SECONDS = 3600
_TYPE = re.compile(r"^[a-z][a-z0-9]*(_[a-z][a-z0-9]*)*$")
_ATTRIBUTES = "/data/attributes"
# A \uD800 to \uDFFF escape: the only way a JSON text can carry a surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


@dataclass(frozen=True)
class ExportDefinition:
    """An accepted export request: scope, dataset, columns, filters and flags."""

    scope: Scope
    scope_id: str
    dataset: str
    columns: tuple[str, ...]
    filters: dict[str, Any] = field(default_factory=dict)
    include_deleted: bool = False
    include_deactivated: bool = False
    url_expiration_seconds: int = DEFAULT_URL_EXPIRATION_SECONDS
    formats: tuple[str, ...] = ("csv",)
    spreadsheet_safe: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "scope_id": self.scope_id,
            "dataset": self.dataset,
            "columns": list(self.columns),
            "filters": self.filters,
            "include_deleted": self.include_deleted,
            "include_deactivated": self.include_deactivated,
            "url_expiration_seconds": self.url_expiration_seconds,
            "formats": list(self.formats),
            "spreadsheet_safe": self.spreadsheet_safe,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ExportDefinition:
        return cls(
            scope=raw["scope"],
            scope_id=raw["scope_id"],
            dataset=raw["dataset"],
            columns=tuple(raw["columns"]),
            filters=raw["filters"],
            include_deleted=raw["include_deleted"],
            include_deactivated=raw["include_deactivated"],
            url_expiration_seconds=raw["url_expiration_seconds"],
            formats=tuple(raw["formats"]),
            spreadsheet_safe=bool(raw.get("spreadsheet_safe", False)),
        )


@dataclass(frozen=True)
class CreateOptions:
    """Operator switches that change how create requests are judged."""

    allow_missing_date_filter: bool = False
    spreadsheet_safe_extension: bool = False


def decode_body(body: bytes) -> dict[str, Any]:
    """Decode a JSON request body whose top level must be an object."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("request body is not valid JSON", pointer="") from None
    if _SURROGATE_ESCAPE.search(body) and _has_unpaired_surrogate(document):
        # RFC 8259 §8.2: such a string is no Unicode text; it could be neither
        # stored nor echoed in an error detail.
        raise BadRequest(
            "request body is not valid JSON: unpaired surrogate in a string",
            pointer="",
        )
    if not isinstance(document, dict):
        raise BadRequest("request body must be a JSON object", pointer="")
    return document


def _has_unpaired_surrogate(document: object) -> bool:
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return True
    return False


def _reject_constant(name: str) -> None:
    # Python's decoder accepts NaN and Infinity, which are not JSON (RFC 8259).
    raise ValueError(f"{name} is not JSON")


def parse_flag(name: str, raw: str | None) -> bool:
    """Read ``include_deleted`` or ``include_deactivated`` (§6.7)."""
    value = (raw or "").strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0", ""):
        return False
    raise BadRequest(f"'{name}' must be true or false", parameter=name)


def parse_create_request(
    document: dict[str, Any],
    scope: Scope,
    scope_id: str,
    query: dict[str, str],
    options: CreateOptions,
) -> ExportDefinition:
    """Validate a decoded create body and its query flags (§6.3 to §6.7)."""
    attributes = _attributes(document)
    dataset = _dataset(attributes.get("dataset"))
    formats = _formats(attributes.get("formats"))
    columns = _columns(attributes.get("columns"), dataset)
    filters = parse_filters(attributes.get("filters"), dataset, scope)
    if not options.allow_missing_date_filter:
        require_date_filter(filters, dataset)
    expiration = _url_expiration(attributes.get("url_expiration_seconds"))
    return ExportDefinition(
        scope=scope,
        scope_id=scope_id,
        dataset=dataset.name,
        columns=columns,
        filters=filters,
        include_deleted=parse_flag("include_deleted", query.get("include_deleted")),
        include_deactivated=parse_flag(
            "include_deactivated", query.get("include_deactivated")
        ),
        url_expiration_seconds=expiration,
        formats=formats,
        spreadsheet_safe=_spreadsheet_safe(attributes, options),
    )


def _attributes(document: dict[str, Any]) -> dict[str, Any]:
    data = document.get("data")
    if data is None:
        raise BadRequest("'data' is required", pointer="/data")
    if not isinstance(data, dict):
        raise BadRequest("'data' must be an object", pointer="/data")
    kind = data.get("type")
    if not isinstance(kind, str) or not _TYPE.fullmatch(kind):
        raise BadRequest(
            "'data.type' must be a resource type name", pointer="/data/type"
        )
    attributes = data.get("attributes")
    if attributes is None:
        raise BadRequest("'data.attributes' is required", pointer=_ATTRIBUTES)
    if not isinstance(attributes, dict):
        raise BadRequest("'data.attributes' must be an object", pointer=_ATTRIBUTES)
    return attributes


def _dataset(raw: object) -> Dataset:
    pointer = f"{_ATTRIBUTES}/dataset"
    if raw is None:
        raise BadRequest("'dataset' is required", pointer=pointer)
    if not isinstance(raw, str):
        raise BadRequest("'dataset' must be a string", pointer=pointer)
    dataset = find_dataset(raw)
    if dataset is None:
        raise UnprocessableRequest(f"unknown dataset '{raw}'", pointer=pointer)
    return dataset


def _formats(raw: object) -> tuple[str, ...]:
    pointer = f"{_ATTRIBUTES}/formats"
    if raw is None or raw == []:
        raise BadRequest("'formats' is required and must list 'csv'", pointer=pointer)
    if not isinstance(raw, list):
        raise BadRequest("'formats' must be an array", pointer=pointer)
    for item in raw:
        if not isinstance(item, str) or item.lower() != "csv":
            raise BadRequest("the only supported format is 'csv'", pointer=pointer)
    return ("csv",)


def _columns(raw: object, dataset: Dataset) -> tuple[str, ...]:
    pointer = f"{_ATTRIBUTES}/columns"
    if is_absent(raw):
        return tuple(column.name for column in dataset.columns)
    if not isinstance(raw, list):
        raise BadRequest("'columns' must be an array of strings", pointer=pointer)
    chosen: dict[str, None] = {}
    for index, name in enumerate(raw):
        if not isinstance(name, str):
            raise BadRequest(
                "column names must be strings", pointer=f"{pointer}/{index}"
            )
        column = dataset.find_column(name)
        if column is not None:
            chosen.setdefault(column.name)
    if not chosen:
        raise UnprocessableRequest(
            f"none of the requested columns exists in dataset '{dataset.name}'",
            pointer=pointer,
        )
    return tuple(chosen)


def _spreadsheet_safe(attributes: dict[str, Any], options: CreateOptions) -> bool:
    """The opt-in ``x_spreadsheet_safe`` extension; ignored unless enabled (§19)."""
    if not options.spreadsheet_safe_extension:
        return False
    raw = attributes.get("x_spreadsheet_safe")
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise BadRequest(
            "'x_spreadsheet_safe' must be true or false",
            pointer=f"{_ATTRIBUTES}/x_spreadsheet_safe",
        )
    return raw


def _url_expiration(raw: object) -> int:
    pointer = f"{_ATTRIBUTES}/url_expiration_seconds"
    if is_absent(raw):
        return DEFAULT_URL_EXPIRATION_SECONDS
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a JSON number with no fractional part, such as 3600.0
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise BadRequest("'url_expiration_seconds' must be an integer", pointer=pointer)
    if not 0 <= raw <= 3600:
        raise BadRequest(
            "'url_expiration_seconds' must be between 0 and 3600", pointer=pointer
        )
    return raw or DEFAULT_URL_EXPIRATION_SECONDS
