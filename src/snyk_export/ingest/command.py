"""The ``load`` and ``import`` commands of ``snyk-export``."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snyk_export.backends.base import Backend
from snyk_export.catalog import datasets
from snyk_export.config import load_settings, setting_doc
from snyk_export.errors import ConfigurationError
from snyk_export.ingest.findings import Finding, Product
from snyk_export.ingest.loader import load_file
from snyk_export.ingest.projects import ScanProject, find_or_create_org
from snyk_export.ingest.sarif import read_sarif
from snyk_export.ingest.scans import import_scan
from snyk_export.ingest.snyk_json import read_snyk_json

PROJECT_TYPES: dict[Product, str] = {
    "Snyk Code": "sast",
    "Snyk Container": "container",
    "Snyk IaC": "iac",
    "Snyk Open Source": "sbom",
}
# DuckDB's file has one writer at a time; PostgreSQL takes loads while servers run.
SERVER_RUNNING = (
    "{path} is in use, most likely by a running server on this data directory. "
    "The database file has one writer at a time: stop the server, run "
    "`snyk-export {command} ...` again, then start the server."
)


def _open(args: argparse.Namespace) -> Backend:
    """The backend the settings name; PostgreSQL's may be shared with servers."""
    from snyk_export.server import open_backend

    settings = load_settings({"data_dir": args.data_dir})
    try:
        return open_backend(settings)
    except ConfigurationError as exc:
        if settings.uses_postgres or "cannot open" not in str(exc):
            raise
        message = SERVER_RUNNING.format(
            path=settings.database_path, command=args.command
        )
        raise ConfigurationError(message) from exc


def cmd_load(args: argparse.Namespace) -> int:
    backend = _open(args)
    try:
        for path in args.files:
            report = load_file(backend, args.dataset, path, fmt=args.format)
            print(report.summary(), flush=True)
    finally:
        backend.close()
    return 0


def _scanned_at(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class ScanFile:
    """What one scan file says about one project."""

    name: str
    product: Product
    project_type: str
    target_file: str | None
    findings: list[Finding]


def _import(args: argparse.Namespace, scans: list[ScanFile]) -> int:
    backend = _open(args)
    scanned_at = args.scanned_at or dt.datetime.now(dt.UTC)
    try:
        org, group = find_or_create_org(backend, args.org, args.group)
        for scan in scans:
            project = ScanProject(
                org, group, scan.name, scan.product, scan.project_type, scan.target_file
            )
            report = import_scan(backend, scan.findings, project, scanned_at)
            print(f"project {project.id} ({scan.product}): {report.summary()}")
    finally:
        backend.close()
    return 0


def cmd_import_snyk_json(args: argparse.Namespace) -> int:
    scans = read_snyk_json(args.file)
    several = len(scans) > 1
    return _import(
        args,
        [
            ScanFile(
                f"{args.project}:{scan.target_file}" if several else args.project,
                scan.product,
                scan.project_type,
                scan.target_file,
                scan.findings,
            )
            for scan in scans
        ],
    )


def cmd_import_sarif(args: argparse.Namespace) -> int:
    log = read_sarif(args.file)
    return _import(
        args,
        [
            ScanFile(
                args.project,
                product,
                PROJECT_TYPES[product],
                None,
                [f for f in log.findings if f.product == product],
            )
            for product in log.products
        ],
    )


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", dest="data_dir", type=Path, help=setting_doc("data_dir")
    )


def _add_scan_arguments(
    parser: argparse.ArgumentParser, handler: Callable[[argparse.Namespace], int]
) -> None:
    parser.add_argument("file", type=Path, help="The scan results.")
    parser.add_argument(
        "--org", required=True, help="Org id, name or slug; created when missing."
    )
    parser.add_argument(
        "--group", help="Group id, name or slug of an org to create; created too."
    )
    parser.add_argument(
        "--project", required=True, help="Project name; created when missing."
    )
    parser.add_argument(
        "--scanned-at",
        type=_scanned_at,
        default=None,
        help="When the scan ran (ISO 8601, default now); the time of its changes.",
    )
    _add_data_dir(parser)
    parser.set_defaults(func=handler)


def add_ingest_commands(commands: Any) -> None:
    """Add ``load`` and ``import`` to the subcommands of ``snyk-export``."""
    load = commands.add_parser(
        "load",
        help="Upsert CSV, Parquet or JSON Lines files into a dataset.",
        description="Each file is loaded whole or not at all. Rows are matched on "
        "the dataset's natural key; only changed rows get a new UPDATED_AT.",
    )
    load.add_argument("--dataset", required=True, choices=list(datasets()))
    load.add_argument(
        "--format",
        choices=["csv", "parquet", "jsonl"],
        help="Format of every file (default: from each file's suffix).",
    )
    load.add_argument("files", nargs="+", type=Path, metavar="FILE")
    _add_data_dir(load)
    load.set_defaults(func=cmd_load)

    kinds = commands.add_parser(
        "import", help="Import scan results as the issues of a project."
    ).add_subparsers(dest="kind", required=True)
    _add_scan_arguments(
        kinds.add_parser("snyk-json", help="The output of snyk test --json."),
        cmd_import_snyk_json,
    )
    _add_scan_arguments(
        kinds.add_parser("sarif", help="A SARIF 2.1.0 log (Snyk Code, Semgrep, ...)."),
        cmd_import_sarif,
    )
