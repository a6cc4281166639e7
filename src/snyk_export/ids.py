"""Identifiers: the UUID syntax of path parameters and filter values."""

from __future__ import annotations

import re
import uuid

_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def canonical_uuid(text: str) -> str | None:
    """``text`` as a lowercase canonical UUID, or None if it is not one."""
    return text.lower() if _UUID.fullmatch(text) else None


def new_export_id() -> str:
    """A fresh, random export id (UUIDv4, lowercase)."""
    return str(uuid.uuid4())
