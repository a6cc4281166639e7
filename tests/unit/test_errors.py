"""Every client-facing error renders as a JSON:API error document in Snyk's shape."""

from __future__ import annotations

import uuid

import pytest

from snyk_export import errors


def _api_errors() -> list[type[errors.ApiError]]:
    found: list[type[errors.ApiError]] = []
    pending = [errors.ApiError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", _api_errors(), ids=lambda c: c.__name__)
def test_every_api_error_renders_a_valid_error_document(
    cls: type[errors.ApiError],
) -> None:
    error = (
        cls("slow down", retry_after_seconds=3)
        if cls is errors.Throttled
        else cls("something is off", pointer="/data")
    )
    document = error.document()

    assert set(document) == {"jsonapi", "errors"}
    assert document["jsonapi"] == {"version": "1.0"}
    (item,) = document["errors"]
    assert uuid.UUID(item["id"]).version == 4
    assert item["status"] == str(cls.status)
    assert 400 <= cls.status < 600
    assert item["code"] == cls.code
    assert item["links"]["about"] == (
        "https://docs.snyk.io/scan-with-snyk/error-catalog#" + cls.code.lower()
    )
    assert item["meta"]["classification"] == (
        "UNEXPECTED" if cls.status >= 500 else "ACTIONABLE"
    )
    assert item["meta"]["isErrorCatalogError"] is True


def test_throttled_errors_carry_a_whole_second_retry_after_of_at_least_one() -> None:
    assert errors.Throttled("x", retry_after_seconds=0).headers == {"retry-after": "1"}
    assert errors.Throttled("x", retry_after_seconds=42).headers == {
        "retry-after": "42"
    }


def test_payload_too_large_closes_the_connection() -> None:
    # Otherwise the server goes on reading the oversized body to its end.
    assert errors.PayloadTooLarge("x").headers == {"connection": "close"}


def test_codes_follow_the_snyk_error_catalog_table() -> None:
    table = {
        errors.BadRequest: (400, "SNYK-OPENAPI-0001"),
        errors.UnprocessableRequest: (400, "SNYK-0003"),
        errors.Unauthorized: (401, "SNYK-0005"),
        errors.Forbidden: (403, "SNYK-OPENAPI-0002"),
        errors.NotFound: (404, "SNYK-OPENAPI-0004"),
        errors.MethodNotAllowed: (405, "SNYK-OPENAPI-0005"),
        errors.PayloadTooLarge: (413, "SNYK-OPENAPI-0006"),
        errors.UnsupportedMediaType: (415, "SNYK-OPENAPI-0008"),
        errors.Throttled: (429, "SNYK-0001"),
        errors.InternalError: (500, "SNYK-9999"),
        errors.Unavailable: (503, "SNYK-0009"),
    }
    for cls, (status, code) in table.items():
        assert (cls.status, cls.code) == (status, code)
