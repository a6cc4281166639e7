"""Operator actions on groups, orgs and tokens, shared by the CLI and the demo."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from snyk_export.auth import hash_token, new_token, parse_binding
from snyk_export.backends.base import Backend, Credential, Group, Org
from snyk_export.errors import BadRequest
from snyk_export.ids import canonical_uuid


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unnamed"


def _new_id(given: str | None) -> str:
    if given is None:
        return str(uuid.uuid4())
    canonical = canonical_uuid(given)
    if canonical is None:
        raise BadRequest(f"'{given}' is not a UUID")
    return canonical


def create_group(backend: Backend, name: str, group_id: str | None = None) -> Group:
    group = Group(_new_id(group_id), name, slugify(name))
    backend.create_group(group)
    return group


def create_org(
    backend: Backend, name: str, group_id: str | None, org_id: str | None = None
) -> Org:
    if group_id is not None:
        group_id = _new_id(group_id)
        if backend.get_group(group_id) is None:
            raise BadRequest(f"group {group_id} does not exist")
    org = Org(_new_id(org_id), name, slugify(name), group_id)
    backend.create_org(org)
    return org


def create_token(
    backend: Backend,
    name: str,
    roles: list[str],
    *,
    expires_in: dt.timedelta | None = None,
) -> tuple[Credential, str]:
    """A new credential with ``ROLE:ID`` bindings, and its token (shown once)."""
    bindings = tuple(parse_binding(role) for role in roles)
    for binding in bindings:
        exists = (
            backend.get_org(binding.scope_id)
            if binding.scope == "org"
            else backend.get_group(binding.scope_id)
        )
        if exists is None:
            raise BadRequest(f"{binding.scope} {binding.scope_id} does not exist")
    now = dt.datetime.now(dt.UTC)
    credential = Credential(
        id=str(uuid.uuid4()),
        name=name,
        created=now,
        expires_at=now + expires_in if expires_in else None,
        revoked_at=None,
        bindings=bindings,
    )
    token = new_token()
    backend.create_credential(credential, hash_token(token))
    return credential, token
