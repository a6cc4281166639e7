"""The ``snyk-export`` command: serve, demo, and operator commands."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from snyk_export.backends.base import Backend
from snyk_export.client.command import add_fetch_command
from snyk_export.config import Settings, load_settings, setting_doc
from snyk_export.errors import ApiError, ConfigurationError
from snyk_export.ingest.command import add_ingest_commands
from snyk_export.jobs import Status
from snyk_export.observability import configure_logging

logger = logging.getLogger("snyk_export")

SERVER_FLAGS = ("data_dir", "host", "port", "base_path", "public_base_url", "workers")


def _add_setting_flags(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    for name in names:
        kind: Callable[[str], Any] = (
            Path
            if name == "data_dir"
            else (int if name in ("port", "workers") else str)
        )
        parser.add_argument(
            "--" + name.replace("_", "-"), dest=name, type=kind, help=setting_doc(name)
        )


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name, None) for name in SERVER_FLAGS}
    return load_settings(overrides)


def _open(args: argparse.Namespace) -> tuple[Settings, Backend]:
    from snyk_export.server import open_backend

    settings = _settings(args)
    return settings, open_backend(settings)


def cmd_serve(args: argparse.Namespace) -> int:
    from snyk_export.server import assemble, serve

    serve(assemble(_settings(args)))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from snyk_export.server import run_worker

    settings = _settings(args)
    if settings.queue != "procrastinate":
        raise ConfigurationError(
            "snyk-export worker runs the procrastinate queue: set "
            "database_url=postgresql://... (job_queue auto or procrastinate)"
        )
    run_worker(settings)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings, backend = _open(args)
    backend.close()
    print(f"schema of {settings.database_description} is up to date")
    return 0


def _walkthrough(base_url: str, info: Any, version: str) -> str:
    group, org = info.group_id, info.org_ids[0]
    return f"""
Demo data: {", ".join(f"{n} {c:,}" for n, c in info.rows.items())} rows.

  group {group}
  orgs  {" ".join(info.org_ids)}

  GROUP_TOKEN={info.group_token}   (group viewer: the group and all its orgs)
  ORG_TOKEN={info.org_token}     (collaborator of org {org} only)

Try it:

  export API={base_url} GROUP_TOKEN={info.group_token}
  curl -s -X POST "$API/groups/{group}/export?version={version}" \\
    -H "Authorization: token $GROUP_TOKEN" \\
    -H "Content-Type: application/vnd.api+json" \\
    -d '{{"data":{{"type":"resource","attributes":{{
         "dataset":"issues","formats":["csv"],
         "columns":["ISSUE_SEVERITY","PROBLEM_TITLE","ISSUE_STATUS","FIRST_INTRODUCED"],
         "filters":{{"introduced":{{"from":"2025-01-01T00:00:00Z"}}}}}}}}}}'
  # then, with the id from the answer:
  curl -s "$API/groups/{group}/jobs/export/<EXPORT_ID>?version={version}" \\
    -H "Authorization: token $GROUP_TOKEN"
  # and download each results[].url (no token needed):
  curl -s "<URL>" | head
"""


def cmd_demo(args: argparse.Namespace) -> int:
    from snyk_export.demo import prepare_demo
    from snyk_export.demo_data import DemoSizes
    from snyk_export.server import assemble, serve

    settings, backend = _open(args)
    sizes = DemoSizes(issues=args.issues, usage=args.usage, pr_checks=args.pr_checks)
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    info = prepare_demo(
        backend, settings.data_dir, seed=args.seed, sizes=sizes, as_of=today
    )
    base_url = settings.origin + settings.base_path
    version = "2024-10-15"
    if args.json:
        print(
            json.dumps(
                {
                    "base_url": base_url,
                    "version": version,
                    "group_id": info.group_id,
                    "org_ids": info.org_ids,
                    "tokens": {"group": info.group_token, "org": info.org_token},
                    "data_dir": str(settings.data_dir),
                    "rows": info.rows,
                }
            ),
            flush=True,
        )
    else:
        print(_walkthrough(base_url, info, version), flush=True)
    if args.no_serve:
        backend.close()
        return 0
    serve(assemble(settings, backend))
    return 0


def cmd_group_create(args: argparse.Namespace) -> int:
    from snyk_export.tenancy import create_group

    _, backend = _open(args)
    group = create_group(backend, args.name, args.id)
    print(group.id)
    return 0


def cmd_group_list(args: argparse.Namespace) -> int:
    _, backend = _open(args)
    for group in backend.list_groups():
        print(f"{group.id}  {group.slug}  {group.name}")
    return 0


def cmd_org_create(args: argparse.Namespace) -> int:
    from snyk_export.tenancy import create_org

    _, backend = _open(args)
    org = create_org(backend, args.name, args.group, args.id)
    print(org.id)
    return 0


def cmd_org_list(args: argparse.Namespace) -> int:
    _, backend = _open(args)
    for org in backend.list_orgs(args.group):
        print(f"{org.id}  {org.group_id or '-':36}  {org.slug}  {org.name}")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from snyk_export.tenancy import create_token

    _, backend = _open(args)
    expires = dt.timedelta(days=args.expires_in_days) if args.expires_in_days else None
    credential, token = create_token(backend, args.name, args.role, expires_in=expires)
    print(token)
    print(f"credential {credential.id}; the token is shown only once", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    _, backend = _open(args)
    now = dt.datetime.now(dt.UTC)
    for credential in backend.list_credentials():
        state = "active" if credential.usable(now) else "revoked/expired"
        roles = ",".join(f"{b.role}:{b.scope_id}" for b in credential.bindings)
        print(f"{credential.id}  {state:15}  {credential.name}  {roles}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    _, backend = _open(args)
    if not backend.revoke_credential(args.credential_id, dt.datetime.now(dt.UTC)):
        print(f"no active credential {args.credential_id}", file=sys.stderr)
        return 1
    return 0


def cmd_exports_list(args: argparse.Namespace) -> int:
    _, backend = _open(args)
    status = Status(args.status.upper()) if args.status else None
    for export in backend.list_exports(status):
        d = export.definition
        print(
            f"{export.id}  {export.status.value:8}  {d.scope}:{d.scope_id}  "
            f"{d.dataset}  rows={export.row_count}  created={export.created:%F %T}"
            + (f"  failure={export.failure}" if export.failure else "")
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snyk-export", description="A self-hostable Snyk Analytics Export API."
    )
    parser.add_argument("--log-level", default="INFO", help="Logging level.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="Serve the API.")
    _add_setting_flags(serve, SERVER_FLAGS)
    serve.set_defaults(func=cmd_serve)

    demo = commands.add_parser("demo", help="Create demo data and tokens, then serve.")
    _add_setting_flags(demo, SERVER_FLAGS)
    demo.add_argument(
        "--json",
        action="store_true",
        help="Print one JSON line with URL, ids and tokens.",
    )
    demo.add_argument("--seed", type=int, default=7, help="Seed of the demo data.")
    demo.add_argument("--issues", type=int, default=200_000, help="Issues to generate.")
    demo.add_argument(
        "--usage", type=int, default=50_000, help="Usage events to generate."
    )
    demo.add_argument(
        "--pr-checks", type=int, default=20_000, help="PR checks to generate."
    )
    demo.add_argument(
        "--no-serve", action="store_true", help="Prepare the demo and exit."
    )
    demo.set_defaults(func=cmd_demo)

    worker = commands.add_parser(
        "worker",
        help="Run export jobs from the queue (PostgreSQL deployments).",
        description="Run export jobs queued by serve replicas, WORKERS at a time, "
        "until SIGTERM or SIGINT; a running job is finished first.",
    )
    _add_setting_flags(worker, ("data_dir", "workers"))
    worker.set_defaults(func=cmd_worker)

    migrate = commands.add_parser("migrate", help="Create or upgrade the schema.")
    _add_setting_flags(migrate, ("data_dir",))
    migrate.set_defaults(func=cmd_migrate)

    _add_tenancy_commands(commands)
    add_fetch_command(commands)
    add_ingest_commands(commands)
    return parser


def _add_tenancy_commands(commands: Any) -> None:
    group = commands.add_parser("group", help="Manage groups.").add_subparsers(
        dest="action", required=True
    )
    create = group.add_parser("create", help="Create a group; prints its id.")
    create.add_argument("--name", required=True)
    create.add_argument("--id", help="Use this UUID instead of a random one.")
    create.set_defaults(func=cmd_group_create)
    listing = group.add_parser("list", help="List groups.")
    listing.set_defaults(func=cmd_group_list)

    org = commands.add_parser("org", help="Manage orgs.").add_subparsers(
        dest="action", required=True
    )
    create = org.add_parser("create", help="Create an org; prints its id.")
    create.add_argument("--name", required=True)
    create.add_argument("--group", help="Id of the group the org belongs to.")
    create.add_argument("--id", help="Use this UUID instead of a random one.")
    create.set_defaults(func=cmd_org_create)
    listing = org.add_parser("list", help="List orgs.")
    listing.add_argument("--group", help="Only orgs of this group.")
    listing.set_defaults(func=cmd_org_list)

    token = commands.add_parser("token", help="Manage API tokens.").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", help="Create a token; prints it once.")
    create.add_argument("--name", required=True, help="Who or what the token is for.")
    create.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE:ID",
        help="Role binding, repeatable. Roles: group_admin, group_viewer, "
        "group_member, org_admin, org_collaborator, org_member.",
    )
    create.add_argument("--expires-in-days", type=float, help="Expire after this long.")
    create.set_defaults(func=cmd_token_create)
    listing = token.add_parser("list", help="List tokens (never their values).")
    listing.set_defaults(func=cmd_token_list)
    revoke = token.add_parser("revoke", help="Revoke a token by credential id.")
    revoke.add_argument("credential_id")
    revoke.set_defaults(func=cmd_token_revoke)

    exports = commands.add_parser("exports", help="Inspect exports.").add_subparsers(
        dest="action", required=True
    )
    listing = exports.add_parser("list", help="List exports still retained.")
    listing.add_argument("--status", choices=[s.value.lower() for s in Status])
    listing.set_defaults(func=cmd_exports_list)

    for sub in (group, org, token, exports):
        for action in sub.choices.values():
            _add_setting_flags(action, ("data_dir",))


def _log_format() -> str:
    """The configured log format; text while the settings are unusable."""
    try:
        return load_settings().log_format
    except ConfigurationError:
        return "text"  # the command itself reports the settings' problem


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, _log_format())
    try:
        return int(args.func(args))
    except (ConfigurationError, ApiError) as exc:
        print(f"snyk-export: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
