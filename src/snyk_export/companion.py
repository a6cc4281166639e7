"""The read-only companion endpoints clients call before exporting (§18).

``GET /self`` tells a client whose token it holds; ``GET /orgs/{org_id}`` and
``GET /groups/{group_id}/orgs`` let it discover the orgs it may export. The
documents follow Snyk's REST shapes: JSON:API resources of type ``user`` and
``org``, and a collection paginated with ``limit`` and ``starting_after``
behind a relative ``links.next``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from snyk_export.backends.base import Credential, Org
from snyk_export.errors import BadRequest
from snyk_export.ids import canonical_uuid

JSONAPI = {"version": "1.0"}
DEFAULT_PAGE_LIMIT = 10
MAX_PAGE_LIMIT = 100


def self_document(credential: Credential, version: str) -> dict[str, Any]:
    """Who the token belongs to."""
    return {
        "jsonapi": JSONAPI,
        "data": {
            "type": "user",
            "id": credential.id,
            "attributes": {"name": credential.name, "username": credential.name},
        },
        "links": {"self": f"/self?version={version}"},
    }


def _org_resource(org: Org) -> dict[str, Any]:
    attributes: dict[str, Any] = {"name": org.name, "slug": org.slug}
    if org.group_id is not None:
        attributes["group_id"] = org.group_id
    return {"type": "org", "id": org.id, "attributes": attributes}


def org_document(org: Org, version: str) -> dict[str, Any]:
    return {
        "jsonapi": JSONAPI,
        "data": _org_resource(org),
        "links": {"self": f"/orgs/{org.id}?version={version}"},
    }


def page_limit(raw: str | None) -> int:
    """The ``limit`` of a page: 1 to 100, 10 when absent."""
    if raw is None or raw == "":
        return DEFAULT_PAGE_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_LIMIT:
        raise BadRequest(
            f"'limit' must be an integer from 1 to {MAX_PAGE_LIMIT}", parameter="limit"
        )
    return int(raw)


def page_cursor(raw: str | None) -> str | None:
    """The ``starting_after`` cursor: the id of the last org already seen."""
    if raw is None or raw == "":
        return None
    cursor = canonical_uuid(raw)
    if cursor is None:
        raise BadRequest(
            "'starting_after' must be an org id", parameter="starting_after"
        )
    return cursor


def group_orgs_document(
    group_id: str, orgs: list[Org], version: str, limit: int, after: str | None
) -> dict[str, Any]:
    """One page of a group's orgs, in id order."""
    remaining = sorted(
        (org for org in orgs if after is None or org.id > after), key=lambda o: o.id
    )
    page = remaining[:limit]
    base = f"/groups/{group_id}/orgs"

    def link(**query: str) -> str:
        return f"{base}?{urlencode({'version': version, 'limit': limit, **query})}"

    links = {"self": link(**({"starting_after": after} if after else {}))}
    if len(remaining) > limit:
        links["next"] = link(starting_after=page[-1].id)
    return {
        "jsonapi": JSONAPI,
        "data": [_org_resource(org) for org in page],
        "links": links,
    }
