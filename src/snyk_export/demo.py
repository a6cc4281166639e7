"""The demo tenant: generated data, a group, its orgs and two tokens.

``snyk-export demo`` calls :func:`prepare_demo`; a data directory that already
holds a demo is reused as it is, so its tokens stay valid across restarts.
The two demo tokens are kept in plain text in ``DATA_DIR/demo.json`` (mode
0600) for that reason; real tokens are only ever stored hashed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from snyk_export.backends.base import Backend, Group, Org
from snyk_export.catalog import datasets
from snyk_export.demo_data import DemoSizes, build_tenant, generate
from snyk_export.tenancy import create_token

logger = logging.getLogger(__name__)

DEMO_FILE = "demo.json"


@dataclass(frozen=True)
class DemoInfo:
    """What a user needs to try the demo."""

    group_id: str
    org_ids: list[str]
    group_token: str
    org_token: str
    rows: dict[str, int]


def load_demo(data_dir: Path) -> DemoInfo | None:
    path = data_dir / DEMO_FILE
    if not path.exists():
        return None
    return DemoInfo(**json.loads(path.read_text("utf-8")))


def prepare_demo(
    backend: Backend,
    data_dir: Path,
    *,
    seed: int,
    sizes: DemoSizes,
    as_of: dt.datetime,
) -> DemoInfo:
    """The demo of ``data_dir``, generating and loading it on first use."""
    existing = load_demo(data_dir)
    if existing is not None:
        return existing

    tenant = build_tenant(seed)
    backend.create_group(Group(tenant.group_id, tenant.group_name, tenant.group_slug))
    for org in tenant.orgs:
        backend.create_org(Org(org.id, org.name, org.slug, tenant.group_id))

    rows = {}
    for name in datasets():
        started = time.perf_counter()
        batches = generate(name, tenant, sizes, seed=seed, now=as_of)
        rows[name] = backend.load_batches(name, batches)
        logger.info(
            "Generated %s rows of %s in %.1fs",
            rows[name],
            name,
            time.perf_counter() - started,
            extra={"action": "demo_generated"},
        )

    _, group_token = create_token(
        backend, "demo-group-viewer", [f"group_viewer:{tenant.group_id}"]
    )
    _, org_token = create_token(
        backend, "demo-org-collaborator", [f"org_collaborator:{tenant.orgs[0].id}"]
    )
    info = DemoInfo(
        tenant.group_id, [org.id for org in tenant.orgs], group_token, org_token, rows
    )
    path = data_dir / DEMO_FILE
    path.touch(mode=0o600)
    path.write_text(json.dumps(asdict(info), indent=1), "utf-8")
    return info
