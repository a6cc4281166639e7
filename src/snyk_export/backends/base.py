"""The interfaces every backend implements.

A backend keeps the tenancy (groups, orgs), the credentials and their role
bindings, the export jobs, and the analytics tables the exports read. The
embedded default keeps all of it in one DuckDB file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from snyk_export.catalog import Scope
from snyk_export.jobs import Export, Status


@dataclass(frozen=True)
class Group:
    """A group of organizations."""

    id: str
    name: str
    slug: str


@dataclass(frozen=True)
class Org:
    """An organization, optionally part of a group."""

    id: str
    name: str
    slug: str
    group_id: str | None


@dataclass(frozen=True)
class RoleBinding:
    """A role held by a credential on one org or group."""

    scope: Scope
    scope_id: str
    role: str


@dataclass(frozen=True)
class Credential:
    """An API token's record; the token itself is kept only as a hash."""

    id: str
    name: str
    created: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    bindings: tuple[RoleBinding, ...]

    def usable(self, now: dt.datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


class LineBatches(Protocol):
    """Batches of rendered CSV records, each an Arrow string array."""

    def __iter__(self) -> Iterator[pa.Array]: ...


class Backend(Protocol):
    """Everything the service keeps: tenancy, credentials, jobs, analytics."""

    def migrate(self) -> None: ...
    def claim_job_runner(self) -> None:
        """Refuse if another process already runs this deployment's jobs."""
        ...

    def close(self) -> None: ...
    def ping(self) -> None:
        """Raise unless the database answers a trivial query."""
        ...

    def create_group(self, group: Group) -> None: ...
    def create_org(self, org: Org) -> None: ...
    def get_group(self, group_id: str) -> Group | None: ...
    def get_org(self, org_id: str) -> Org | None: ...
    def list_groups(self) -> list[Group]: ...
    def list_orgs(self, group_id: str | None = None) -> list[Org]: ...

    def create_credential(self, credential: Credential, token_hash: str) -> None: ...
    def find_credential(self, token_hash: str) -> Credential | None: ...
    def list_credentials(self) -> list[Credential]: ...
    def revoke_credential(self, credential_id: str, now: dt.datetime) -> bool: ...

    def insert_export(self, export: Export) -> None: ...
    def create_export_within_limit(
        self, export: Export, limit: int | None, window_seconds: int
    ) -> float | None: ...
    def get_export(self, export_id: str) -> Export | None: ...
    def replace_export(self, export: Export, expected: Export) -> bool:
        """Compare and set: write ``export`` if the stored record still has
        ``expected``'s status and attempt count."""
        ...

    def list_exports(self, status: Status | None = None) -> list[Export]: ...
    def delete_export(self, export_id: str) -> None: ...
    def export_counts(self) -> dict[str, int]:
        """How many exports are stored, by status value."""
        ...

    def load_batches(self, dataset: str, batches: Iterator[pa.RecordBatch]) -> int: ...
    def count_rows(self, dataset: str) -> int: ...
    def stream_export(self, export: Export, batch_rows: int) -> LineBatches: ...
