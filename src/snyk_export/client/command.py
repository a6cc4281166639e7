"""The ``snyk-export fetch`` command, built on :class:`Client`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from snyk_export.catalog import FilterSpec, datasets
from snyk_export.client.api import API_VERSION, DEFAULT_API_URL
from snyk_export.client.client import Client, FetchResult
from snyk_export.client.errors import ClientError, ExitCode, RequestFailed
from snyk_export.client.output import OUTPUT_FORMATS, OutputOptions
from snyk_export.client.progress import Progress, TerminalProgress, format_bytes
from snyk_export.client.request import ExportRequest

logger = logging.getLogger(__name__)

TOKEN_ENV = "SNYK_TOKEN"
API_URL_ENV = "SNYK_API"
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

DESCRIPTION = """\
Start an export, wait for it, download every part (verified, in parallel,
renewing expired links) and write the result. Works against this server and
against Snyk: https://api.snyk.io/rest, or a regional host such as
https://api.eu.snyk.io/rest or https://api.au.snyk.io/rest."""


def _epilog() -> str:
    lines = ["exit codes:"]
    lines += [f"  {code.value}  {code.name:<12} {code.meaning}" for code in ExitCode]
    lines.append("")
    lines.append("Filters apply to the datasets the catalog lists them for;")
    lines.append("dates are RFC 3339 date-times, or YYYY-MM-DD for midnight UTC.")
    return "\n".join(lines)


def catalog_filters() -> dict[str, FilterSpec]:
    """Every filter of the catalog, by name, the first spec of each name."""
    specs: dict[str, FilterSpec] = {}
    for dataset in datasets().values():
        for spec in dataset.filters:
            specs.setdefault(spec.name, spec)
    return specs


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _datasets_with(name: str) -> str:
    names = [d.name for d in datasets().values() if d.find_filter(name)]
    where = "every dataset" if len(names) == len(datasets()) else ", ".join(names)
    return where + (", group scope only" if name == "orgs" else "")


def _add_filter_options(parser: argparse.ArgumentParser) -> None:
    filters = parser.add_argument_group("filters (generated from the catalog)")
    for name, spec in catalog_filters().items():
        users = _datasets_with(name)
        if spec.kind == "date_range":
            for bound in ("from", "to"):
                filters.add_argument(
                    f"{_option(name)}-{bound}",
                    dest=f"filter_{name}_{bound}",
                    metavar="TIME",
                    help=f"'{name}' range, {bound} (inclusive); {users}.",
                )
        elif spec.kind == "enum":
            filters.add_argument(
                _option(name),
                dest=f"filter_{name}",
                choices=spec.allowed_values,
                help=f"'{name}'; {users}.",
            )
        else:
            filters.add_argument(
                _option(name),
                dest=f"filter_{name}",
                action="extend",
                nargs="+",
                metavar="ID" if spec.kind == "uuid_list" else "VALUE",
                help=f"'{name}' values, repeatable (OR-ed); {users}.",
            )
    filters.add_argument(
        "--include-deleted", action="store_true", help="Include deleted rows."
    )
    filters.add_argument(
        "--include-deactivated",
        action="store_true",
        help="Include rows of projects that are not monitored.",
    )


def add_fetch_command(commands: Any) -> None:
    """Register ``fetch`` on the subcommands of the ``snyk-export`` parser."""
    fetch = commands.add_parser(
        "fetch",
        help="Fetch an export from this server or from Snyk.",
        description=DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scope = fetch.add_mutually_exclusive_group(required=True)
    scope.add_argument("--org", metavar="ORG_ID", help="Export at org scope.")
    scope.add_argument("--group", metavar="GROUP_ID", help="Export at group scope.")
    fetch.add_argument("--dataset", required=True, choices=list(datasets()))
    fetch.add_argument(
        "--columns",
        action="extend",
        nargs="+",
        metavar="NAME",
        help="Columns in this order, space- or comma-separated (default: all).",
    )
    _add_filter_options(fetch)
    _add_output_options(fetch)
    _add_connection_options(fetch)
    fetch.set_defaults(func=cmd_fetch)


def _add_output_options(fetch: argparse.ArgumentParser) -> None:
    output = fetch.add_argument_group("output")
    output.add_argument(
        "--out",
        required=True,
        type=Path,
        help="Output file (a directory with --split).",
    )
    output.add_argument(
        "--format", choices=OUTPUT_FORMATS, default="csv", help="Default: csv."
    )
    output.add_argument(
        "--split", action="store_true", help="Keep the parts as separate files."
    )
    output.add_argument(
        "--since-last",
        type=Path,
        metavar="STATE_FILE",
        help="Ask only for rows updated since the last success recorded here.",
    )
    output.add_argument(
        "--json", action="store_true", help="Print a JSON summary on stdout."
    )
    output.add_argument(
        "--quiet", action="store_true", help="No progress display, even on a terminal."
    )


def _add_connection_options(fetch: argparse.ArgumentParser) -> None:
    connection = fetch.add_argument_group("connection")
    connection.add_argument(
        "--api-url",
        default=os.environ.get(API_URL_ENV) or DEFAULT_API_URL,
        help=f"REST base URL [env {API_URL_ENV}; default {DEFAULT_API_URL}].",
    )
    connection.add_argument(
        "--token",
        help=f"API token [env {TOKEN_ENV}; prefer it: options show in process lists].",
    )
    connection.add_argument("--api-version", default=API_VERSION)
    connection.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="Deadline for the whole fetch (default 3600).",
    )
    connection.add_argument(
        "--parallel", type=int, default=4, help="Parts downloaded at once (default 4)."
    )
    connection.add_argument(
        "--url-expiration-seconds", type=int, help="Lifetime of download links."
    )


def _instant(text: str) -> str:
    return f"{text}T00:00:00Z" if DATE_ONLY.match(text) else text


def build_filters(args: argparse.Namespace, dataset_name: str) -> dict[str, Any]:
    """The request's filters from the options; refuses filters of other datasets."""
    dataset = datasets()[dataset_name]
    filters: dict[str, Any] = {}
    for name, spec in catalog_filters().items():
        if spec.kind == "date_range":
            bounds = {
                bound: _instant(given)
                for bound in ("from", "to")
                if (given := getattr(args, f"filter_{name}_{bound}")) is not None
            }
            value: Any = bounds or None
        else:
            value = getattr(args, f"filter_{name}")
            if spec.kind == "uuid_list" and value:
                value = [item for v in value for item in v.split(",") if item]
        if value is None:
            continue
        applies = dataset.find_filter(name)
        if applies is None or (args.org and "org" not in applies.scopes):
            raise argparse.ArgumentTypeError(
                f"{_option(name)} does not apply to {dataset_name} at this scope"
            )
        filters[name] = value
    return filters


def build_request(args: argparse.Namespace) -> ExportRequest:
    columns = [c.strip() for v in args.columns or () for c in v.split(",") if c.strip()]
    return ExportRequest(
        scope="org" if args.org else "group",
        scope_id=args.org or args.group,
        dataset=args.dataset,
        columns=tuple(columns),
        filters=build_filters(args, args.dataset),
        include_deleted=args.include_deleted,
        include_deactivated=args.include_deactivated,
        url_expiration_seconds=args.url_expiration_seconds,
    )


def cmd_fetch(args: argparse.Namespace) -> int:
    # httpx logs every URL at INFO, and download links carry their signatures.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        return _fail(args, ExitCode.AUTH, f"no token: set {TOKEN_ENV} or --token")
    try:
        request = build_request(args)
    except argparse.ArgumentTypeError as exc:
        return _fail(args, ExitCode.BAD_REQUEST, str(exc))
    terminal = sys.stderr.isatty() and not args.quiet
    progress: Progress | None = TerminalProgress(sys.stderr) if terminal else None
    output = OutputOptions(args.out, args.format, args.split)
    try:
        with Client(
            token,
            api_url=args.api_url,
            version=args.api_version,
            timeout_seconds=args.timeout,
            parallel_downloads=args.parallel,
        ) as client:
            result = client.export(
                request, output, since_last=args.since_last, progress=progress
            )
    except ClientError as exc:
        return _fail(args, exc.exit_code, str(exc), exc)
    except Exception:
        logger.exception("Fetch failed unexpectedly", extra={"action": "fetch_failed"})
        return _fail(args, ExitCode.FAILED, "unexpected failure (see the log above)")
    _report(args, result, terminal)
    return ExitCode.OK


def _report(args: argparse.Namespace, result: FetchResult, terminal: bool) -> None:
    if args.json:
        print(json.dumps(result.summary()), flush=True)
    elif terminal:
        print(
            f"export {result.export_id}: {result.row_count} rows in "
            f"{len(result.parts)} parts ({format_bytes(result.total_bytes)}) "
            f"written to {', '.join(map(str, result.files[:3]))}"
            + (" …" if len(result.files) > 3 else ""),
            file=sys.stderr,
        )


def _fail(
    args: argparse.Namespace,
    code: ExitCode,
    message: str,
    error: ClientError | None = None,
) -> int:
    print(f"snyk-export fetch: {message}", file=sys.stderr, flush=True)
    if args.json:
        detail: dict[str, Any] = {"type": type(error).__name__ if error else None}
        detail["message"] = error.message if error else message
        detail["request_id"] = error.request_id if error else None
        if isinstance(error, RequestFailed):
            detail.update(status=error.status, code=error.code, detail=error.detail)
        summary = {"status": "FAILED", "exit_code": int(code), "error": detail}
        print(json.dumps(summary), flush=True)
    return int(code)
