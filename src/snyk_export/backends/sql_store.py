"""Reads and writes both SQL backends spell the same, bar the parameter marker.

Tenancy, export lookups and row counts are plain statements; each backend
subclasses :class:`SqlStore`, says how it runs a statement and which marker
it uses, and keeps only what its engine does differently (transactions,
locking, loading, streaming).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from snyk_export.backends.base import Group, Org
from snyk_export.backends.conditions import quote_identifier
from snyk_export.backends.rows import EXPORT_COLUMNS, export_from_row
from snyk_export.catalog import datasets
from snyk_export.jobs import Export, Status


class SqlStore(ABC):
    """The engine-neutral part of a SQL backend; statements are written with ``?``."""

    PARAMETER = "?"

    @abstractmethod
    def _fetchall(self, sql: str, params: list[Any] | None = None) -> list[Any]: ...

    @abstractmethod
    def _execute(self, sql: str, params: list[Any] | None = None) -> Any: ...

    @abstractmethod
    def _decode_json(self, value: Any) -> Any:
        """A JSON column's value as Python data."""

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[Any]:
        return self._fetchall(sql.replace("?", self.PARAMETER), params)

    def _run(self, sql: str, params: list[Any]) -> None:
        self._execute(sql.replace("?", self.PARAMETER), params)

    def create_group(self, group: Group) -> None:
        self._run(
            "INSERT INTO groups VALUES (?, ?, ?)", [group.id, group.name, group.slug]
        )

    def create_org(self, org: Org) -> None:
        self._run(
            "INSERT INTO orgs VALUES (?, ?, ?, ?)",
            [org.id, org.name, org.slug, org.group_id],
        )

    def get_group(self, group_id: str) -> Group | None:
        rows = self._rows("SELECT id, name, slug FROM groups WHERE id = ?", [group_id])
        return Group(*rows[0]) if rows else None

    def get_org(self, org_id: str) -> Org | None:
        rows = self._rows(
            "SELECT id, name, slug, group_id FROM orgs WHERE id = ?", [org_id]
        )
        return Org(*rows[0]) if rows else None

    def list_groups(self) -> list[Group]:
        rows = self._rows("SELECT id, name, slug FROM groups ORDER BY name, id")
        return [Group(*r) for r in rows]

    def list_orgs(self, group_id: str | None = None) -> list[Org]:
        sql = "SELECT id, name, slug, group_id FROM orgs"
        params: list[Any] = []
        if group_id is not None:
            sql += " WHERE group_id = ?"
            params.append(group_id)
        return [Org(*r) for r in self._rows(sql + " ORDER BY name, id", params)]

    def get_export(self, export_id: str) -> Export | None:
        rows = self._rows(
            f"SELECT {EXPORT_COLUMNS} FROM exports WHERE id = ?", [export_id]
        )
        return export_from_row(rows[0], self._decode_json) if rows else None

    def list_exports(self, status: Status | None = None) -> list[Export]:
        sql = f"SELECT {EXPORT_COLUMNS} FROM exports"
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status.value)
        rows = self._rows(sql + " ORDER BY created, id", params)
        return [export_from_row(r, self._decode_json) for r in rows]

    def delete_export(self, export_id: str) -> None:
        self._run("DELETE FROM exports WHERE id = ?", [export_id])

    def export_counts(self) -> dict[str, int]:
        rows = self._rows("SELECT status, count(*) FROM exports GROUP BY status")
        return {status: int(count) for status, count in rows}

    def ping(self) -> None:
        self._rows("SELECT 1")

    def count_rows(self, dataset: str) -> int:
        table = quote_identifier(datasets()[dataset].name)
        return int(self._rows(f"SELECT count(*) FROM {table}")[0][0])
