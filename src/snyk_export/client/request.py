"""What to export: scope, dataset, columns, filters and flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from snyk_export.catalog import find_dataset
from snyk_export.client.api import Scope


@dataclass(frozen=True)
class ExportRequest:
    """One export to fetch: its scope, dataset, columns and filters.

    ``filters`` is the request's ``filters`` object as the API takes it, e.g.
    ``{"updated": {"from": "2026-01-01T00:00:00Z"}, "orgs": [...]}``.
    """

    scope: Scope
    scope_id: str
    dataset: str
    columns: tuple[str, ...] = ()
    filters: Mapping[str, Any] = field(default_factory=dict)
    include_deleted: bool = False
    include_deactivated: bool = False
    url_expiration_seconds: int | None = None

    def attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {"dataset": self.dataset, "formats": ["csv"]}
        if self.columns:
            attributes["columns"] = list(self.columns)
        if self.filters:
            attributes["filters"] = dict(self.filters)
        if self.url_expiration_seconds is not None:
            attributes["url_expiration_seconds"] = self.url_expiration_seconds
        return attributes

    def query(self) -> dict[str, str]:
        flags = {
            "include_deleted": self.include_deleted,
            "include_deactivated": self.include_deactivated,
        }
        return {name: "true" for name, value in flags.items() if value}

    def header(self) -> list[str]:
        """The columns the export will have, as the catalog resolves them (§6.5)."""
        dataset = find_dataset(self.dataset)
        if dataset is None:
            return [name.strip().upper() for name in self.columns]
        if not self.columns:
            return [column.name for column in dataset.columns]
        found = (dataset.find_column(name) for name in self.columns)
        return list(dict.fromkeys(column.name for column in found if column))
