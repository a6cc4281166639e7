"""Demo data: a deterministic, realistic tenant and its five datasets.

One seed describes a whole world: a group with its orgs, SCM integrations, users,
projects and their PR-check settings histories. ``generate`` streams any dataset
of that world as Arrow record batches whose schema is the catalog's.

Every random draw comes from a ``numpy`` PCG64 stream named after what it serves
(``seed`` plus a fixed offset per stream), and each chunk of rows gets its own
jump of that stream. Rows therefore depend only on the seed, ``now`` and the
sizes, never on ``batch_rows``. Attributes of a problem (title, severity, CVEs)
are a hash of its id, so one PROBLEM_ID reads the same in every project.
"""

from snyk_export.demo_data.arrays import BoolArray, FloatArray, IntArray
from snyk_export.demo_data.batches import arrow_schema
from snyk_export.demo_data.datasets import generate
from snyk_export.demo_data.tenant import DemoOrg, DemoTenant, build_tenant
from snyk_export.demo_data.world import DemoSizes

__all__ = [
    "BoolArray",
    "DemoOrg",
    "DemoSizes",
    "DemoTenant",
    "FloatArray",
    "IntArray",
    "arrow_schema",
    "build_tenant",
    "generate",
]
