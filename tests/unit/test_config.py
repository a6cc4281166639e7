"""Settings come from flags, the environment, a TOML file, then defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from snyk_export.config import (
    load_settings,
    parse_scope_limits,
    redacted_url,
    setting_doc,
)
from snyk_export.errors import ConfigurationError
from snyk_export.server import open_backend


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('port = 9001\nworkers = 5\nbase_path = "/api"\n')
    environ = {
        "SNYK_EXPORT_CONFIG": str(config),
        "SNYK_EXPORT_WORKERS": "3",
        "SNYK_EXPORT_PORT": "9002",
    }
    settings = load_settings({"port": "9003"}, environ=environ)
    assert (settings.port, settings.workers, settings.base_path) == (9003, 3, "/api")
    assert load_settings({}, environ={}).port == 8000


def test_none_turns_a_limit_off() -> None:
    settings = load_settings({}, environ={"SNYK_EXPORT_EXPORT_POST_LIMIT": "none"})
    assert settings.export_post_limit is None
    assert settings.request_limit == 1620


def test_scope_limits_are_parsed_and_bad_ones_refused() -> None:
    assert parse_scope_limits("org:ABC=5, group:def=none") == {
        "org:abc": 5,
        "group:def": None,
    }
    for bad in ("org=5", "team:x=1", "org:x", "org:x=many"):
        with pytest.raises(ValueError, match=r"."):
            parse_scope_limits(bad)
    with pytest.raises(ConfigurationError, match="export_post_limits_by_scope"):
        load_settings({}, environ={"SNYK_EXPORT_EXPORT_POST_LIMITS_BY_SCOPE": "x"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("workers", "0"),
        ("base_path", "rest"),
        ("max_url_expiration_seconds", "7200"),
        ("port", "eighty"),
    ],
)
def test_unusable_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError):
        load_settings({}, environ={f"SNYK_EXPORT_{name.upper()}": value})


def test_secrets_hide_in_repr_and_help_names_the_variable() -> None:
    settings = load_settings({}, environ={"SNYK_EXPORT_SIGNING_KEYS": "ab" * 16})
    assert "abab" not in repr(settings)
    assert "[env SNYK_EXPORT_PORT]" in setting_doc("port")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/x", "postgresql://app:***@db:5432/x"),
        (
            "postgres://app:p@ss@db/x?sslmode=require",
            "postgres://app:***@db/x?sslmode=require",
        ),
        ("postgresql://app@db/x", "postgresql://app@db/x"),
        ("duckdb:/srv/state.duckdb", "duckdb:/srv/state.duckdb"),
    ],
)
def test_database_passwords_never_show(url: str, shown: str) -> None:
    settings = load_settings({}, environ={"SNYK_EXPORT_DATABASE_URL": url})

    assert redacted_url(url) == shown
    assert f"database_url={shown!r}" in repr(settings)
    if not url.startswith("duckdb:"):
        assert settings.database_description == shown


def test_an_unknown_database_scheme_is_refused(tmp_path: Path) -> None:
    settings = load_settings(
        {"data_dir": tmp_path}, environ={"SNYK_EXPORT_DATABASE_URL": "mysql://db/x"}
    )

    with pytest.raises(ConfigurationError, match="postgresql://"):
        open_backend(settings)
