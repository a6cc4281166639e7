"""The dataset catalog: columns, types, filters and vocabularies.

The catalog is data (``datasets.json`` beside this module). Adding a column or a
filter to a dataset is an entry there, not new code: the request parser, the
query compiler, the table schema and the CSV rendering all read from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

ColumnType = Literal[
    "string", "integer", "number", "boolean", "timestamp", "date", "array", "json"
]
FilterKind = Literal["date_range", "string_list", "enum", "uuid_list"]
FilterMatch = Literal[
    "inclusive_range", "equals_any", "array_overlap", "null_or_empty_tags"
]
Scope = Literal["org", "group"]


@dataclass(frozen=True)
class Column:
    """One exported column."""

    name: str
    type: ColumnType
    values: tuple[str, ...] = ()
    values_closed: bool = False
    format: str | None = None


@dataclass(frozen=True)
class FilterSpec:
    """How one request filter reads one stored column."""

    name: str
    kind: FilterKind
    column: str
    match: FilterMatch
    case_sensitive: bool
    scopes: tuple[Scope, ...] = ("org", "group")
    allowed_values: tuple[str, ...] = ()
    normalize: str | None = None


@dataclass(frozen=True)
class Dataset:
    """A dataset of the export API and everything needed to export it."""

    name: str
    summary: str
    columns: tuple[Column, ...]
    filters: tuple[FilterSpec, ...]
    scope_columns: dict[Scope, str]
    required_date_filter: tuple[str, ...]
    deletion_columns: tuple[str, ...]
    monitoring_columns: tuple[str, ...]
    order_by: tuple[str, ...]

    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {column.name: column for column in self.columns}
        object.__setattr__(self, "_by_name", index)

    def column(self, name: str) -> Column:
        """The column called ``name`` (exact, uppercase)."""
        return self._by_name[name]

    def find_column(self, requested: str) -> Column | None:
        """The column a client meant by ``requested``, matched loosely."""
        return self._by_name.get(requested.strip().upper())

    def find_filter(self, name: str) -> FilterSpec | None:
        """The filter called ``name`` (already lowercase), if it applies here."""
        for spec in self.filters:
            if spec.name == name:
                return spec
        return None


def _load_dataset(name: str, raw: dict[str, Any]) -> Dataset:
    columns = tuple(
        Column(
            name=c["name"],
            type=c["type"],
            values=tuple(c.get("values", ())),
            values_closed=bool(c.get("values_closed", False)),
            format=c.get("format"),
        )
        for c in raw["columns"]
    )
    filters = tuple(
        FilterSpec(
            name=f["name"],
            kind=f["kind"],
            column=f["column"],
            match=f["match"],
            case_sensitive=bool(f["case_sensitive"]),
            scopes=tuple(f.get("scopes", ("org", "group"))),
            allowed_values=tuple(f.get("allowed_values", ())),
            normalize=f.get("normalize"),
        )
        for f in raw["filters"]
    )
    return Dataset(
        name=name,
        summary=str(raw["summary"]),
        columns=columns,
        filters=filters,
        scope_columns=dict(raw["scope_columns"]),
        required_date_filter=tuple(raw["required_date_filter"]),
        deletion_columns=tuple(raw["deletion_columns"]),
        monitoring_columns=tuple(raw["monitoring_columns"]),
        order_by=tuple(raw["order_by"]),
    )


@cache
def datasets() -> dict[str, Dataset]:
    """Every dataset of the catalog, by name, in catalog order."""
    text = resources.files(__package__).joinpath("datasets.json").read_text("utf-8")
    raw = json.loads(text)
    return {name: _load_dataset(name, body) for name, body in raw["datasets"].items()}


def find_dataset(requested: str) -> Dataset | None:
    """The dataset a client meant by ``requested`` (case-insensitive)."""
    return datasets().get(requested.strip().lower())
