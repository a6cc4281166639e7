"""Settings of the service, from the environment, a config file and defaults.

Each setting is read, in order, from a command-line flag, the environment
variable ``SNYK_EXPORT_<NAME>``, the TOML file named by ``SNYK_EXPORT_CONFIG``
(keys are the setting names) and finally its default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snyk_export.errors import ConfigurationError

ENV_PREFIX = "SNYK_EXPORT_"
MIB = 1024 * 1024
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def _optional_int(text: str) -> int | None:
    return None if text.strip().lower() in ("", "none", "null", "off") else int(text)


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_scope_limits(text: str) -> dict[str, int | None]:
    """Read ``org:ID=N,group:ID=none`` into ``{"org:ID": N, "group:ID": None}``."""
    limits: dict[str, int | None] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        scope, equals, limit = item.partition("=")
        kind, colon, scope_id = scope.strip().partition(":")
        if not equals or not colon or kind not in ("org", "group") or not scope_id:
            raise ValueError(f"expected org:ID=LIMIT or group:ID=LIMIT, got {item!r}")
        limits[f"{kind}:{scope_id.strip().lower()}"] = _optional_int(limit)
    return limits


def _setting(default: Any, doc: str, parse: Callable[[str], Any] = str) -> Any:
    if isinstance(default, dict):
        return field(default_factory=dict, metadata={"doc": doc, "parse": parse})
    return field(default=default, metadata={"doc": doc, "parse": parse})


@dataclass(frozen=True)
class Settings:
    """Every setting of the service; see ``snyk-export serve --help``."""

    data_dir: Path = _setting(
        Path("data"), "Directory for the database, results and keys.", Path
    )
    host: str = _setting("127.0.0.1", "Address the HTTP server binds to.")
    port: int = _setting(8000, "Port the HTTP server listens on.", int)
    base_path: str = _setting("/rest", "Path prefix of the API.")
    public_base_url: str | None = _setting(
        None, "Origin used in download links (default: http://HOST:PORT)."
    )
    database_url: str | None = _setting(
        None,
        "Database: duckdb:PATH, or postgresql://USER@HOST/DB shared by every "
        "replica and worker (default: DuckDB file DATA_DIR/snyk-export.duckdb).",
    )
    storage_url: str | None = _setting(
        None,
        "Result storage: s3://BUCKET/PREFIX for S3-compatible object storage, "
        "endpoint and credentials from the usual AWS settings "
        "(default: DATA_DIR/exports, served by this process).",
    )
    storage_links: str = _setting(
        "proxy",
        "How clients fetch results from object storage: proxy (links on "
        "public_base_url, streamed through serve, exactly as the contract "
        "describes them) or presigned (straight from the store: its own error "
        "bodies and hosts, unlike the contract's links).",
    )
    storage_public_endpoint_url: str | None = _setting(
        None,
        "Endpoint put in presigned links, when clients reach the object store at "
        "another address than this process does (default: the same endpoint).",
    )
    job_queue: str = _setting(
        "auto",
        "Where export jobs run: threads (inside serve), procrastinate (snyk-export "
        "worker processes, PostgreSQL only), or auto: procrastinate on PostgreSQL, "
        "threads otherwise.",
    )
    embedded_worker: bool = _setting(
        False,
        "With the procrastinate queue, also run a worker inside serve.",
        _bool,
    )
    heartbeat_seconds: float = _setting(
        10.0, "How often a worker records that it is alive.", float
    )
    stalled_worker_seconds: float = _setting(
        30.0,
        "A worker silent for this long is taken for dead; its jobs run again "
        "elsewhere.",
        float,
    )
    log_format: str = _setting("text", "Log lines as text or json (one object).")
    metrics: bool = _setting(
        True, "Serve Prometheus metrics at /metrics (outside base_path).", _bool
    )
    worker_port: int | None = _setting(
        None,
        "Port on which snyk-export worker serves /healthz, /readyz and /metrics "
        "(default: none).",
        _optional_int,
    )
    signing_keys: str | None = _setting(
        None,
        "Hex signing keys, newest first, comma-separated "
        "(default: DATA_DIR/signing.key, created on first start).",
    )
    max_request_bytes: int = _setting(MIB, "Largest accepted request body.", int)
    allow_missing_date_filter: bool = _setting(
        False, "Accept exports without a date filter, as unbounded.", _bool
    )
    spreadsheet_safe_csv: bool = _setting(
        False,
        "Extension: requests with x_spreadsheet_safe=true get string cells that "
        "start with = + - @ tab or CR prefixed with ' for spreadsheets.",
        _bool,
    )
    poll_hint_seconds: int = _setting(10, "retry-after sent with 202 responses.", int)
    workers: int = _setting(2, "Export jobs run at the same time.", int)
    max_rows_per_file: int = _setting(100_000, "Data rows per result file.", int)
    max_bytes_per_file: int = _setting(16 * MIB, "Bytes per result file.", int)
    empty_export_file: bool = _setting(
        False, "Give empty exports one header-only file instead of none.", _bool
    )
    export_post_limit: int | None = _setting(
        20,
        "Accepted exports per credential and scope per window (none: off).",
        _optional_int,
    )
    export_post_limits_by_scope: dict[str, int | None] = _setting(
        {},
        "Per-scope export limits overriding export_post_limit, as "
        "'org:ID=50,group:ID=none'.",
        lambda text: parse_scope_limits(text),
    )
    export_post_window_seconds: int = _setting(
        3600, "Window of export_post_limit.", int
    )
    request_limit: int | None = _setting(
        1620, "API requests per credential per window (none: off).", _optional_int
    )
    request_window_seconds: int = _setting(60, "Window of request_limit.", int)
    retention_seconds: int = _setting(
        259_200, "How long finished exports are kept.", int
    )
    max_url_expiration_seconds: int = _setting(
        3600, "Upper bound of download link lifetimes.", int
    )
    sweep_interval_seconds: int = _setting(
        60, "How often expired exports are purged.", int
    )
    job_max_attempts: int = _setting(3, "Runs of a job before it is ERRORED.", int)
    duckdb_memory_limit: str = _setting(
        "256MB", "Memory DuckDB may use before spilling to disk."
    )
    preserve_order: bool = _setting(
        True,
        "Export rows in storage order, so the same data gives the same files; "
        "off is faster but the order of rows may differ between runs.",
        _bool,
    )
    duckdb_threads: int | None = _setting(
        None, "Threads DuckDB uses (default: one per core).", _optional_int
    )

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if shown["signing_keys"]:
            shown["signing_keys"] = "<hidden>"
        if shown["database_url"]:
            shown["database_url"] = redacted_url(shown["database_url"])
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def origin(self) -> str:
        """The externally visible origin of download links."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def uses_postgres(self) -> bool:
        url = self.database_url
        return url is not None and url.startswith(POSTGRES_SCHEMES)

    @property
    def queue(self) -> str:
        """The job queue in effect: ``threads`` or ``procrastinate``."""
        if self.job_queue != "auto":
            return self.job_queue
        return "procrastinate" if self.uses_postgres else "threads"

    @property
    def database_path(self) -> Path:
        if self.database_url and self.database_url.startswith("duckdb:"):
            return Path(self.database_url.removeprefix("duckdb:").removeprefix("//"))
        return self.data_dir / "snyk-export.duckdb"

    @property
    def database_description(self) -> str:
        """Where the state is kept, fit for messages: no password shown."""
        if self.database_url and not self.database_url.startswith("duckdb:"):
            return redacted_url(self.database_url)
        return str(self.database_path)

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "exports"


def redacted_url(url: str) -> str:
    """``url`` with the password of its user replaced by ``***``."""
    scheme, separator, rest = url.partition("://")
    userinfo, at, location = rest.rpartition("@")
    if not separator or not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{separator}{user}:***@{location}"


def env_name(setting: str) -> str:
    return ENV_PREFIX + setting.upper()


def setting_doc(setting: str) -> str:
    """The help text of a setting, naming its environment variable."""
    spec = {f.name: f for f in dataclasses.fields(Settings)}[setting]
    return f"{spec.metadata['doc']} [env {env_name(setting)}]"


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from flags (``overrides``), the environment, a file, defaults."""
    environ = os.environ if environ is None else environ
    from_file = _read_file(environ.get(ENV_PREFIX + "CONFIG"))
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(Settings):
        parse = spec.metadata["parse"]
        if overrides and overrides.get(spec.name) is not None:
            raw = overrides[spec.name]
            values[spec.name] = (
                _parse(spec.name, parse, raw) if isinstance(raw, str) else raw
            )
        elif env_name(spec.name) in environ:
            values[spec.name] = _parse(spec.name, parse, environ[env_name(spec.name)])
        elif spec.name in from_file:
            raw = from_file[spec.name]
            values[spec.name] = (
                _parse(spec.name, parse, raw) if isinstance(raw, str) else raw
            )
    settings = Settings(**values)
    _check(settings)
    return settings


def _parse(name: str, parse: Callable[[str], Any], text: str) -> Any:
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigurationError(f"setting {name}: {exc}") from exc


def _read_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc}") from exc


def _check(settings: Settings) -> None:
    if not settings.base_path.startswith("/") or settings.base_path.endswith("/"):
        raise ConfigurationError("base_path must start with '/' and not end with it")
    if settings.workers < 1:
        raise ConfigurationError("workers must be at least 1")
    if settings.max_rows_per_file < 1 or settings.max_bytes_per_file < 1024:
        raise ConfigurationError(
            "max_rows_per_file >= 1 and max_bytes_per_file >= 1024"
        )
    if settings.job_queue not in ("auto", "threads", "procrastinate"):
        raise ConfigurationError("job_queue must be auto, threads or procrastinate")
    if settings.storage_links not in ("proxy", "presigned"):
        raise ConfigurationError("storage_links must be proxy or presigned")
    if settings.log_format not in ("text", "json"):
        raise ConfigurationError("log_format must be text or json")
    if settings.storage_url and not settings.storage_url.startswith("s3://"):
        raise ConfigurationError(
            "storage_url must be s3://BUCKET/PREFIX (or unset for DATA_DIR/exports)"
        )
    if settings.queue == "procrastinate" and not settings.uses_postgres:
        raise ConfigurationError(
            "job_queue=procrastinate needs database_url=postgresql://..."
        )
    if not 0 < settings.heartbeat_seconds < settings.stalled_worker_seconds:
        raise ConfigurationError(
            "heartbeat_seconds must be positive and below stalled_worker_seconds"
        )
    if not 1 <= settings.max_url_expiration_seconds <= 3600:
        raise ConfigurationError("max_url_expiration_seconds must be within 1..3600")
