"""A client of the Export API that does the whole job right.

It starts an export, polls with backoff under a deadline, downloads every part
in parallel with verified sizes and row counts, renews links that expire, and
writes one merged file or the parts, as CSV, JSON Lines or Parquet::

    from snyk_export.client import Client, ExportRequest, OutputOptions

    with Client(token, api_url="https://api.snyk.io/rest") as client:
        result = client.export(
            ExportRequest("group", group_id, "issues",
                          filters={"updated": {"from": "2026-01-01T00:00:00Z"}}),
            OutputOptions(Path("issues.parquet"), format="parquet"),
        )
"""

from snyk_export.client.api import API_VERSION, DEFAULT_API_URL, RetryPolicy
from snyk_export.client.client import Client, FetchResult
from snyk_export.client.errors import (
    AccessDenied,
    ClientError,
    DeadlineExceeded,
    DownloadFailed,
    ExitCode,
    ExportErrored,
    RequestFailed,
    RequestRejected,
    StateFileError,
)
from snyk_export.client.output import OutputOptions
from snyk_export.client.progress import Progress, SilentProgress, TerminalProgress
from snyk_export.client.request import ExportRequest

__all__ = [
    "API_VERSION",
    "DEFAULT_API_URL",
    "AccessDenied",
    "Client",
    "ClientError",
    "DeadlineExceeded",
    "DownloadFailed",
    "ExitCode",
    "ExportErrored",
    "ExportRequest",
    "FetchResult",
    "OutputOptions",
    "Progress",
    "RequestFailed",
    "RequestRejected",
    "RetryPolicy",
    "SilentProgress",
    "StateFileError",
    "TerminalProgress",
]
