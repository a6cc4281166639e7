"""The usage dataset: scans run from CLIs, IDEs and CI pipelines."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from snyk_export.demo_data.arrays import (
    FloatArray,
    IntArray,
    instants,
    join,
    lists,
    numbers,
    offsets,
    only,
    repeat,
    strings,
    text,
    uuids,
    where,
)
from snyk_export.demo_data.batches import fill, record_batch
from snyk_export.demo_data.draws import CHUNK_ROWS, bucket, draw, random_stream
from snyk_export.demo_data.tenant import org_columns
from snyk_export.demo_data.vocabulary import (
    CODE,
    ECOSYSTEMS,
    OPEN_SOURCE,
    PRODUCTS,
    Ecosystem,
    optional,
    table,
)
from snyk_export.demo_data.window import DAY_MS, HOUR_MS, WINDOW_DAYS
from snyk_export.demo_data.world import DemoSizes, World


@dataclass(frozen=True)
class _Versions:
    """Version strings that advance with time: prefix, number, ".", patch."""

    prefix: pa.Array
    start: IntArray  # number at the start of the window
    per_year: FloatArray
    patch_low: IntArray
    patch_high: IntArray

    @classmethod
    def parse(cls, cells: Sequence[str]) -> _Versions:
        rows = [cell.split() for cell in cells]
        return cls(
            prefix=strings([r[0] for r in rows]),
            start=np.array([int(r[1]) for r in rows], dtype=np.int64),
            per_year=np.array([float(r[2]) for r in rows]),
            patch_low=np.array([int(r[3]) for r in rows], dtype=np.int64),
            patch_high=np.array([int(r[4]) for r in rows], dtype=np.int64),
        )

    def at(
        self, rng: np.random.Generator, client: IntArray, years: FloatArray
    ) -> pa.Array:
        number = self.start[client] + (years * self.per_year[client]).astype(np.int64)
        patch = rng.integers(self.patch_low[client], self.patch_high[client] + 1)
        return join(self.prefix.take(client), text(number), ".", text(patch))


# Tools that report interactions. Versions: prefix, number at start, increase per
# year, lowest and highest patch. RUNTIME_INTEGRATION_NAME derives from the label.
# application | ENVIRONMENT_DISPLAY_NAME | environment | version | environment version
_CLIENTS = table(
    """
snyk-cli      | CLI                | -                 | 1. 1100 48 0 0 | -
snyk-ls       | Visual Studio Code | Visual Studio Code| 2. 2 6 0 9     | 1. 70 12 0 3
snyk-ls       | Jetbrains IDE      | IntelliJ Ultimate | 2. 4 5 0 9     | 20 21 1 1 3
PyCharm       | Jetbrains IDE      | PyCharm           | 2. 4 5 0 9     | 20 21 1 1 3
Visual Studio | Visual Studio      | Visual Studio     | 1.1. 30 24 0 0 | 17. 2 2 0 5
snyk-ls       | Eclipse            | Eclipse IDE       | 2. 1 4 0 5     | 4. 24 3 0 2
snyk-ls       | Other              | Neovim            | 2. 2 6 0 9     | 0. 8 1 0 5
"""
)
_CLIENT_APPLICATIONS = strings([c[0] for c in _CLIENTS])
_CLIENT_LABELS = strings([c[1] for c in _CLIENTS])
_CLIENT_ENVIRONMENTS = strings([optional(c[2]) for c in _CLIENTS])
_CLIENT_INTEGRATIONS = strings([c[1].upper().replace(" ", "_") for c in _CLIENTS])
_CLIENT_VERSIONS = _Versions.parse([c[3] for c in _CLIENTS])
_ENVIRONMENT_VERSIONS = _Versions.parse(
    [c[3] if c[4] == "-" else c[4] for c in _CLIENTS]
)
_CI_SYSTEMS = strings(
    ["GitHub Actions", "Jenkins", "GitLab CI", "Azure Pipelines", "CircleCI"]
)
_CI_INTEGRATIONS = pc.utf8_upper(pc.replace_substring(_CI_SYSTEMS, " ", "_"))
# Interaction kinds: IDE, CLI on a laptop, CLI in CI, PR check, unknown.
_KIND_SHARES = (0.42, 0.25, 0.27, 0.03, 0.03)
_KIND_STAGES = strings(["dev", "dev", "cicd", "prchecks", "unknown"])
_PLATFORMS = strings(["darwin", "windows", "linux"])
_LINUX = 2
_ARCHITECTURES = strings(["AMD64", "ARM64", "386", "ALPINE"])
_ARCHITECTURE_SHARES = ((0.2, 0.8, 0, 0), (0.97, 0, 0.03, 0), (0.85, 0.1, 0, 0.05))
_USAGE_PRODUCT_SHARES = (0.5, 0.22, 0.15, 0.13)
_CATEGORIES = lists(
    [
        ["oss", "test"],
        ["code", "test"],
        ["container", "test"],
        ["iac", "test"],
        ["oss", "monitor"],
        ["container", "monitor"],
    ]
)


def _package_purl(ecosystem: Ecosystem, package: str, number: int) -> str:
    version = f"{1 + number % 12}.{(number * 7) % 10}.{(number * 3) % 9}"
    if ecosystem.purl_type == "npm":
        return f"pkg:npm/{package.replace('@', '%40')}@{version}"
    purl_type = {"pip": "pypi", "maven": "maven"}.get(ecosystem.purl_type)
    return (
        f"pkg:{purl_type or ecosystem.purl_type}/{package.replace(':', '/')}@{version}"
    )


_PACKAGE_PURLS = strings(
    [_package_purl(e, p, k) for e in ECOSYSTEMS[:5] for k, p in enumerate(e.packages)]
)


def usage_chunks(world: World, sizes: DemoSizes, seed: int) -> Iterator[pa.RecordBatch]:
    for chunk, start in enumerate(range(0, sizes.usage, CHUNK_ROWS)):
        count = min(CHUNK_ROWS, sizes.usage - start)
        yield _usage_batch(world, count, random_stream(seed, "usage", chunk + 1))


def _usage_batch(world: World, count: int, rng: np.random.Generator) -> pa.RecordBatch:
    users = world.users
    user = draw(rng, list(users.activity), count)
    kind = draw(rng, _KIND_SHARES, count)
    client = np.where(kind == 0, users.ide[user], 0)
    product = draw(rng, _USAGE_PRODUCT_SHARES, count)
    age = (rng.random(count) ** 1.6 * WINDOW_DAYS * DAY_MS).astype(np.int64)
    started = world.window.now_ms - age
    success = rng.random(count) < 0.94
    exit_code = np.where(success, draw(rng, (0.45, 0.55), count), 2)
    monitor = (
        np.isin(kind, (1, 2)) & np.isin(product, (0, 2)) & (rng.random(count) < 0.2)
    )
    columns = {
        "ID": join("urn:snyk:interaction:", uuids(rng, count)),
        "PRODUCT_DISPLAY_NAME": strings(list(PRODUCTS)).take(product),
        "INTERACTION_TYPE": repeat("Scan done", count),
        "INTERACTION_CATEGORIES": _CATEGORIES.take(
            np.where(monitor, 4 + (product == 2), product)
        ),
        "INTERACTION_TIMESTAMP": instants(started),
        "INTERACTION_STATUS": where(success, "success", "failure"),
        "INTERACTION_STAGE": _KIND_STAGES.take(kind),
        "INTERACTION_EXIT_CODE": pa.array(exit_code.astype(np.int64)),
        "INTERACTION_TARGET_ID": _interaction_targets(world, user, product, rng),
        "RUNTIME_APPLICATION_DATA_SCHEMA_VERSION": repeat("v2", count),
        "RUNTIME_PERFORMANCE_DURATION_MS": numbers(
            np.round(np.exp(rng.normal(8.6, 0.9, count)) * (1.0 + (product == CODE)))
        ),
        "USER_NAME": strings(users.names).take(user),
        "USER_EMAIL": strings(users.emails).take(user),
        "UPDATED_AT": instants(
            np.minimum(
                started + rng.integers(1_000, 6 * HOUR_MS, count), world.window.now_ms
            )
        ),
    }
    columns |= _runtime(world, rng, user, kind, client, started)
    return record_batch(
        "usage",
        count,
        fill(org_columns(world.tenant), "usage", users.org[user]),
        columns,
    )


def _runtime(
    world: World,
    rng: np.random.Generator,
    user: IntArray,
    kind: IntArray,
    client: IntArray,
    started: IntArray,
) -> dict[str, pa.Array]:
    """The RUNTIME_* and ENVIRONMENT_* columns of each interaction."""
    years = (started - world.window.start_ms) / (365 * DAY_MS)
    in_ci = np.isin(kind, (2, 3))
    platform = np.where(in_ci, _LINUX, world.users.platform[user])
    ci = draw(rng, (0.5, 0.2, 0.15, 0.1, 0.05), len(kind))
    version = _CLIENT_VERSIONS.at(rng, client, years)
    ide = kind == 0
    integration = where(
        in_ci, _CI_INTEGRATIONS.take(ci), _CLIENT_INTEGRATIONS.take(client)
    )
    return {
        "RUNTIME_APPLICATION_NAME": _CLIENT_APPLICATIONS.take(client),
        "RUNTIME_APPLICATION_VERSION": version,
        "RUNTIME_PLATFORM_OS": _PLATFORMS.take(platform),
        "RUNTIME_PLATFORM_ARCH": _ARCHITECTURES.take(_architectures(rng, platform)),
        "RUNTIME_ENVIRONMENT_NAME": where(
            in_ci, _CI_SYSTEMS.take(ci), _CLIENT_ENVIRONMENTS.take(client)
        ),
        "ENVIRONMENT_DISPLAY_NAME": _CLIENT_LABELS.take(client),
        "RUNTIME_ENVIRONMENT_VERSION": only(
            _ENVIRONMENT_VERSIONS.at(rng, client, years), ide
        ),
        "RUNTIME_INTEGRATION_NAME": only(integration, kind != 4),
        "RUNTIME_INTEGRATION_VERSION": only(version, ide | (kind == 1)),
    }


def _architectures(rng: np.random.Generator, platform: IntArray) -> IntArray:
    unit = rng.random(len(platform))
    architecture = np.zeros(len(platform), dtype=np.int64)
    for index, shares in enumerate(_ARCHITECTURE_SHARES):
        on_platform = platform == index
        architecture[on_platform] = bucket(unit[on_platform], shares)
    return architecture


def _interaction_targets(
    world: World, user: IntArray, product: IntArray, rng: np.random.Generator
) -> pa.Array:
    """Package URLs of what each interaction scanned.

    Half the Open Source scans test a dependency; the rest scan a project of the
    user's org that the same product covers.
    """
    count = len(user)
    projects = world.projects
    shelves = len(world.tenant.orgs) * len(PRODUCTS)
    shelf = projects.org * len(PRODUCTS) + projects.product
    stocked = np.bincount(shelf, minlength=shelves)
    wanted = world.users.org[user] * len(PRODUCTS) + product
    pick = offsets(list(stocked))[wanted]
    pick += (rng.random(count) * stocked[wanted]).astype(np.int64)
    by_shelf = np.argsort(shelf, kind="stable")
    own = projects.purl.take(pa.array(by_shelf[np.minimum(pick, len(by_shelf) - 1)]))
    package = _PACKAGE_PURLS.take(
        pa.array((rng.random(count) * len(_PACKAGE_PURLS)).astype(np.int64))
    )
    by_package = (product == OPEN_SOURCE) & (rng.random(count) < 0.5)
    return where(by_package | (stocked[wanted] == 0), package, own)
