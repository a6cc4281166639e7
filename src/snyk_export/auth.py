"""Credentials, roles and the permission checks of the export endpoints.

Tokens arrive as ``Authorization: token <t>`` or ``bearer <t>``. They are
stored as SHA-256 hashes. Roles are bound to a credential on an org or a
group; group roles with report access cascade to every org of the group, the
way Snyk's group administrator and viewer roles do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass

from snyk_export.backends.base import Backend, Credential, RoleBinding
from snyk_export.catalog import Scope
from snyk_export.errors import BadRequest, Forbidden, NotFound, Unauthorized

ORG_REPORT_READ = "org.report.read"
GROUP_REPORT_READ = "group.report.read"
_AUTHORIZATION = re.compile(r"^\s*(token|bearer)[ \t]+(\S+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Role:
    """A role: where it is bound, what it grants there and on the group's orgs."""

    scope: Scope
    grants: frozenset[str]
    org_grants: frozenset[str] = frozenset()
    description: str = ""


ROLES: dict[str, Role] = {
    "group_admin": Role(
        "group",
        frozenset({GROUP_REPORT_READ}),
        frozenset({ORG_REPORT_READ}),
        "administers the group; reads reports of the group and all its orgs",
    ),
    "group_viewer": Role(
        "group",
        frozenset({GROUP_REPORT_READ}),
        frozenset({ORG_REPORT_READ}),
        "reads reports of the group and all its orgs",
    ),
    "group_member": Role("group", frozenset(), description="member of the group only"),
    "org_admin": Role(
        "org", frozenset({ORG_REPORT_READ}), description="administers the org"
    ),
    "org_collaborator": Role(
        "org",
        frozenset({ORG_REPORT_READ}),
        description="works in the org, reads reports",
    ),
    "org_member": Role("org", frozenset(), description="member of the org only"),
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh API token, shaped like Snyk's (a random UUID)."""
    return str(uuid.uuid4())


def parse_authorization(header: str | None) -> str:
    """The credential in an ``Authorization`` header; 401 if there is none."""
    match = _AUTHORIZATION.match(header or "")
    if match is None:
        raise Unauthorized("missing or malformed Authorization header")
    return match.group(2)


def authenticate(backend: Backend, header: str | None, now: dt.datetime) -> Credential:
    """The usable credential named by the header, or a 401."""
    token = parse_authorization(header)
    token_hash = hash_token(token)
    # Only hashes are compared, and an attacker cannot steer a hash's prefix,
    # so the timing of the indexed lookup says nothing about stored tokens.
    credential = backend.find_credential(token_hash)
    if credential is None or not credential.usable(now):
        raise Unauthorized("the token is unknown, revoked or expired")
    return credential


def parse_binding(text: str) -> RoleBinding:
    """Parse ``ROLE:SCOPE_ID`` as given on the command line."""
    role, _, scope_id = text.partition(":")
    if role not in ROLES or not scope_id:
        raise BadRequest(f"expected ROLE:ID with ROLE one of {', '.join(ROLES)}")
    return RoleBinding(ROLES[role].scope, scope_id.strip().lower(), role)


def _grants(
    backend: Backend, credential: Credential, scope: Scope, scope_id: str
) -> tuple[bool, set[str]]:
    member = False
    grants: set[str] = set()
    group_of_org = None
    if scope == "org":
        org = backend.get_org(scope_id)
        group_of_org = org.group_id if org else None
    for binding in credential.bindings:
        role = ROLES.get(binding.role)
        if role is None:
            continue
        if binding.scope == scope and binding.scope_id == scope_id:
            member = True
            grants |= role.grants
        elif (
            scope == "org"
            and binding.scope == "group"
            and binding.scope_id == group_of_org
        ) and role.org_grants:
            member = True
            grants |= role.org_grants
    return member, grants


def require_member(
    backend: Backend, credential: Credential, scope: Scope, scope_id: str
) -> set[str]:
    """The grants of a member of the org or group; 404 for anyone else (§5.2)."""
    exists = (
        backend.get_org(scope_id) if scope == "org" else backend.get_group(scope_id)
    ) is not None
    member, grants = _grants(backend, credential, scope, scope_id)
    if not exists or not member:
        raise NotFound(f"{scope} not found")
    return grants


def authorize(
    backend: Backend, credential: Credential, scope: Scope, scope_id: str
) -> None:
    """Check that ``credential`` may read reports of the org or group (§5)."""
    grants = require_member(backend, credential, scope, scope_id)
    needed = ORG_REPORT_READ if scope == "org" else GROUP_REPORT_READ
    if needed not in grants:
        raise Forbidden(f"the token lacks the permission {needed} on this {scope}")
