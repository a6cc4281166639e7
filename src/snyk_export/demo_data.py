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

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from snyk_export.catalog import datasets

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class DemoOrg:
    """An organization of the demo tenant."""

    id: str
    name: str
    slug: str


@dataclass(frozen=True)
class DemoTenant:
    """The demo group and its organizations."""

    group_id: str
    group_name: str
    group_slug: str
    orgs: tuple[DemoOrg, ...]


@dataclass(frozen=True)
class DemoSizes:
    """How many rows and world objects to generate."""

    issues: int = 200_000
    usage: int = 50_000
    pr_checks: int = 20_000
    projects: int = 400
    integrations: int = 12


_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "array": pa.list_(pa.string()),
    "json": pa.string(),
}

_STREAMS = {
    "tenant": 11,
    "world": 23,
    "issues": 101,
    "usage": 202,
    "pr_checks": 303,
    "pr_checks_project_adoption": 404,
    "pr_checks_integration_adoption": 505,
}

_CHUNK_ROWS = 65_536
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_WINDOW_DAYS = 4 * 365
_MIN_PROJECTS = 4


def arrow_schema(dataset: str) -> pa.Schema:
    """The Arrow schema of ``dataset``: catalog columns, names and order."""
    catalog = datasets().get(dataset)
    if catalog is None:
        raise ValueError(f"unknown dataset {dataset!r}")
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in catalog.columns])


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_HEX_POSITIONS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def _rng(seed: int, stream: str, chunk: int = 0) -> np.random.Generator:
    """The generator of ``stream``; chunk ``k`` > 0 gets the stream jumped k times."""
    bits = np.random.PCG64(seed + _STREAMS[stream])
    return np.random.Generator(bits.jumped(chunk) if chunk else bits)


def _bucket(unit: FloatArray, shares: Sequence[float]) -> IntArray:
    """Map uniform draws in [0, 1) to indices of ``shares`` with those weights."""
    edges = np.cumsum(np.asarray(shares, dtype=np.float64))
    picks = np.searchsorted(edges / edges[-1], unit, side="right")
    return np.minimum(picks, len(shares) - 1).astype(np.int64)


def _draw(rng: np.random.Generator, shares: Sequence[float], count: int) -> IntArray:
    return _bucket(rng.random(count), shares)


def _pick(
    rng: np.random.Generator, values: Sequence[str], shares: Sequence[float]
) -> str:
    """One of ``values``, drawn with relative weights ``shares``."""
    return values[int(_draw(rng, shares, 1)[0])]


def _between(
    rng: np.random.Generator, low: IntArray, high: IntArray, power: float = 1.0
) -> IntArray:
    """Instants in [low, high] (ms); ``power`` > 1 skews them towards ``low``."""
    fraction = rng.random(len(low)) ** power
    return low + (fraction * (high - low)).astype(np.int64)


def _mix(keys: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The splitmix64 finaliser: a cheap, well-spread 64-bit hash."""
    z = keys + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hex(raw: NDArray[np.uint8]) -> NDArray[np.uint8]:
    chars = np.empty((len(raw), raw.shape[1] * 2), dtype=np.uint8)
    chars[:, 0::2] = _HEX_DIGITS[raw >> 4]
    chars[:, 1::2] = _HEX_DIGITS[raw & 0x0F]
    return chars


def _fixed_width(chars: NDArray[np.uint8]) -> pa.Array:
    """A string array from an (n, width) matrix of ASCII codes."""
    count, width = chars.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars).tobytes()
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))


def _uuids(rng: np.random.Generator, count: int) -> pa.Array:
    """Lowercase version-4 UUIDs, as ``str(uuid.UUID(bytes=raw, version=4))``."""
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    chars = np.full((count, 36), ord("-"), dtype=np.uint8)
    chars[:, _UUID_HEX_POSITIONS] = _hex(raw)
    return _fixed_width(chars)


def _shas(rng: np.random.Generator, count: int) -> pa.Array:
    """Git commit SHAs: 40 lowercase hex digits."""
    return _fixed_width(_hex(rng.integers(0, 256, size=(count, 20), dtype=np.uint8)))


class _Traits:
    """Stable pseudo-random draws per problem, hashed from its ecosystem and number."""

    def __init__(self, seed: int, ecosystem: IntArray, problem: IntArray) -> None:
        salt = _mix(np.array([seed & 0xFFFFFFFF], dtype=np.uint64))[0]
        ecosystem_bits = ecosystem.astype(np.uint64) << np.uint64(40)
        self._keys = _mix(salt ^ ecosystem_bits ^ problem.astype(np.uint64))

    def integers(self, trait: int, bound: IntArray | int) -> IntArray:
        bounds = np.asarray(bound).astype(np.uint64)
        return (self._hashed(trait) % bounds).astype(np.int64)

    def unit(self, trait: int) -> FloatArray:
        return (self._hashed(trait) >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def _hashed(self, trait: int) -> NDArray[np.uint64]:
        return _mix(self._keys + np.uint64((trait * int(_GOLDEN)) % 2**64))


def _strings(values: Sequence[str | None]) -> pa.Array:
    return pa.array(values, type=pa.string())


def _lists(values: Sequence[Sequence[str] | None]) -> pa.Array:
    return pa.array(values, type=pa.list_(pa.string()))


def _join(*parts: Any) -> pa.Array:
    """Concatenate string arrays and literals element-wise; NULL if any part is."""
    return pc.binary_join_element_wise(*parts, "")


def _text(numbers: IntArray) -> pa.Array:
    return pc.cast(pa.array(numbers), pa.string())


def _where(condition: BoolArray, then: Any, otherwise: Any) -> pa.Array:
    return pc.if_else(pa.array(condition), then, otherwise)


def _only(values: pa.Array, valid: BoolArray) -> pa.Array:
    """``values`` where ``valid``, NULL elsewhere."""
    return pc.if_else(pa.array(valid), values, pa.scalar(None, values.type))


def _coded(vocabulary: pa.Array, codes: IntArray) -> pa.Array:
    """Vocabulary entries by index; a negative index is NULL."""
    return vocabulary.take(pa.array(np.maximum(codes, 0), mask=codes < 0))


def _flags(codes: IntArray) -> pa.Array:
    """Booleans from codes 1 (true), 0 (false) and -1 (NULL)."""
    return pa.array(codes == 1, mask=codes < 0)


def _instants(ms: IntArray, valid: BoolArray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(ms * 1000, type=pa.timestamp("us"), mask=mask)


def _numbers(values: FloatArray, valid: BoolArray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(values, type=pa.float64(), mask=mask)


def _list_of(candidates: Sequence[pa.Array], counts: IntArray) -> pa.Array:
    """Row r holds candidates[0][r] .. candidates[counts[r] - 1][r]."""
    rows = len(counts)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    slots = np.arange(len(candidates))
    positions = np.arange(rows)[:, None] + slots[None, :] * rows
    flat = positions[slots[None, :] < counts[:, None]]
    values = pa.concat_arrays(list(candidates)).take(pa.array(flat))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _empty_lists(count: int) -> pa.Array:
    offsets = pa.array(np.zeros(count + 1, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array([], type=pa.string()))


def _repeat(value: str, count: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), count)


def _record_batch(
    dataset: str, count: int, *parts: Mapping[str, pa.Array]
) -> pa.RecordBatch:
    """A batch with the dataset's schema; later parts win, absent columns are NULL."""
    schema = arrow_schema(dataset)
    columns: dict[str, pa.Array] = {}
    for part in parts:
        columns.update(part)
    unknown = set(columns) - set(schema.names)
    if unknown:
        raise KeyError(f"{dataset} has no columns {sorted(unknown)}")
    arrays = [columns.get(f.name, pa.nulls(count, f.type)) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _rebatch(
    chunks: Iterator[pa.RecordBatch], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Re-cut a stream of batches into batches of exactly ``batch_rows`` rows."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for chunk in chunks:
        offset = 0
        while offset < chunk.num_rows:
            take = min(batch_rows - pending_rows, chunk.num_rows - offset)
            pending.append(chunk.slice(offset, take))
            pending_rows += take
            offset += take
            if pending_rows == batch_rows:
                yield _merge(pending)
                pending, pending_rows = [], 0
    if pending_rows:
        yield _merge(pending)


def _merge(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


_OPEN_SOURCE, _CODE, _CONTAINER, _IAC = range(4)
_PRODUCTS = ("Snyk Open Source", "Snyk Code", "Snyk Container", "Snyk IaC")
_SEVERITIES = ("Critical", "High", "Medium", "Low")
_SEVERITY_SHARES = (0.08, 0.27, 0.45, 0.20)
_THRESHOLDS = ("low", "medium", "high", "critical")
_POLICIES = ("only_new", "all")


def _table(text: str) -> list[list[str]]:
    """The rows of a ``|``-separated text table, cells stripped."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return [[cell.strip() for cell in line.split("|")] for line in lines]


def _words(text: str) -> list[str]:
    return text.split()


def _optional(cell: str) -> str | None:
    return None if cell == "-" else cell


def _offsets(sizes: Sequence[int]) -> IntArray:
    """Where each of consecutive blocks of ``sizes`` starts."""
    blocks = np.asarray(sizes, dtype=np.int64)
    return np.cumsum(blocks) - blocks


@dataclass(frozen=True)
class _ProjectType:
    name: str
    display_name: str
    product: int
    ecosystem: int  # problem space of its findings; -1 for Code
    target_file: str | None
    runtime: str | None
    share: float
    from_scm: bool  # imported from a repository, else scanned as a container image


# name | display name | product | ecosystem | target file | runtime | share | source
_PROJECT_TYPES = tuple(
    _ProjectType(
        name=r[0],
        display_name=r[1],
        product=int(r[2]),
        ecosystem=int(r[3]),
        target_file=_optional(r[4]),
        runtime=_optional(r[5]),
        share=float(r[6]),
        from_scm=r[7] == "scm",
    )
    for r in _table(
        """
npm            | npm            | 0 | 0  | package.json     | node@18.19.0 | 16 | scm
yarn           | Yarn           | 0 | 0  | yarn.lock        | node@20.11.1 | 5  | scm
pip            | pip            | 0 | 1  | requirements.txt | python@3.11  | 8  | scm
poetry         | Poetry         | 0 | 1  | pyproject.toml   | python@3.12  | 3  | scm
maven          | Maven          | 0 | 2  | pom.xml          | java@17.0.9  | 8  | scm
gradle         | Gradle         | 0 | 2  | build.gradle     | java@21.0.1  | 4  | scm
golang         | Go Modules     | 0 | 3  | go.mod           | go@1.21.6    | 5  | scm
nuget          | NuGet          | 0 | 4  | App.csproj       | -            | 3  | scm
sast           | Code Analysis  | 1 | -1 | -                | -            | 18 | scm
dockerfile     | Dockerfile     | 2 | 5  | Dockerfile       | -            | 6  | scm
deb            | Debian         | 2 | 5  | -                | -            | 7  | image
apk            | Alpine         | 2 | 6  | -                | -            | 5  | image
terraform      | Terraform      | 3 | 7  | infra/main.tf    | -            | 5  | scm
k8sconfig      | Kubernetes     | 3 | 8  | k8s/app.yaml     | -            | 4  | scm
cloudformation | CloudFormation | 3 | 9  | cfn/stack.yaml   | -            | 3  | scm
    """
    )
)
# The first projects cover every product, so even a tiny world exports all four.
_FIRST_TYPES = ("npm", "sast", "deb", "terraform")


@dataclass(frozen=True)
class _Ecosystem:
    """A package ecosystem: how its vulnerability ids, versions and ranges read."""

    token: str
    purl_type: str
    version_suffix: str
    range_open: str
    range_close: str
    packages: tuple[str, ...]


_PACKAGES_BY_TOKEN = {
    "JS": """lodash @angular/core express jsonwebtoken axios minimist moment
        @babel/traverse node-forge ws semver jws tar follow-redirects webpack
        @angular/animations""",
    "PYTHON": """django requests urllib3 flask jinja2 pyyaml cryptography pillow
        setuptools sqlalchemy werkzeug numpy""",
    "JAVA": """org.apache.logging.log4j:log4j-core org.yaml:snakeyaml
        com.fasterxml.jackson.core:jackson-databind commons-io:commons-io
        org.springframework:spring-web io.netty:netty-codec-http
        org.apache.tomcat.embed:tomcat-embed-core com.google.guava:guava""",
    "GOLANG": """golang.org/x/net/http2 golang.org/x/crypto/ssh google.golang.org/grpc
        github.com/gin-gonic/gin github.com/golang-jwt/jwt""",
    "DOTNET": """Newtonsoft.Json System.Text.Encodings.Web Microsoft.Data.SqlClient
        System.Net.Http log4net""",
    "DEBIAN12": """openssl/libssl3 glibc/libc6 zlib/zlib1g curl/libcurl4
        systemd/libsystemd0 perl/perl-base expat/libexpat1""",
    "ALPINE319": "busybox/busybox openssl/libcrypto3 musl/musl zlib/zlib expat",
}
# token | purl type | version suffix | vulnerable range: open, close
_ECOSYSTEMS = tuple(
    _Ecosystem(
        token=r[0],
        purl_type=r[1],
        version_suffix=_optional(r[2]) or "",
        range_open=r[3],
        range_close=_optional(r[4]) or "",
        packages=tuple(_PACKAGES_BY_TOKEN[r[0]].split()),
    )
    for r in _table(
        """
    JS        | npm    | -          | <  | -
    PYTHON    | pip    | -          | <  | -
    JAVA      | maven  | -          | [, | )
    GOLANG    | golang | -          | <  | -
    DOTNET    | nuget  | -          | <  | -
    DEBIAN12  | deb    | -1~deb12u1 | <  | -
    ALPINE319 | apk    | -r0        | <  | -
    """
    )
)
_LICENSED_ECOSYSTEMS = 5  # the Open Source ones, first in _ECOSYSTEMS
# IaC rule families: token | title of each rule
_IAC_RULES = _table(
    """
    TF  | S3 bucket is publicly readable
    TF  | Security group allows ingress from 0.0.0.0/0
    TF  | RDS instance is not encrypted at rest
    TF  | CloudTrail logging is disabled
    TF  | IAM policy allows wildcard actions
    K8S | Container is running in privileged mode
    K8S | Container does not drop all default capabilities
    K8S | Memory limits are not set
    K8S | Container is running as root
    AWS | SQS queue is not encrypted
    AWS | S3 bucket versioning is disabled
    AWS | EBS volume is not encrypted
    """
)
_IAC_FAMILIES = ("TF", "K8S", "AWS")
_FIRST_IAC_ECOSYSTEM = len(_ECOSYSTEMS)
_ECOSYSTEM_COUNT = len(_ECOSYSTEMS) + len(_IAC_FAMILIES)
_ECOSYSTEM_TOKENS = _strings([e.token for e in _ECOSYSTEMS] + list(_IAC_FAMILIES))


def _package_token(ecosystem: _Ecosystem, package: str) -> str:
    """The package part of a Snyk vulnerability id, e.g. ANGULARCORE."""
    source = package.split(":")[0]
    if ecosystem.version_suffix:
        source = source.split("/")[0]
    return "".join(ch for ch in source if ch.isalnum()).upper()


_PACKAGES = _strings([p for e in _ECOSYSTEMS for p in e.packages])
_PACKAGE_TOKENS = _strings(
    [_package_token(e, p) for e in _ECOSYSTEMS for p in e.packages]
)
_PACKAGE_COUNT = np.array([len(e.packages) for e in _ECOSYSTEMS], dtype=np.int64)
_PACKAGE_START = _offsets(list(_PACKAGE_COUNT))
_VERSION_SUFFIXES = _strings([e.version_suffix for e in _ECOSYSTEMS])
_RANGE_OPEN = _strings([e.range_open for e in _ECOSYSTEMS])
_RANGE_CLOSE = _strings([e.range_close for e in _ECOSYSTEMS])
_PURL_TYPES = _strings([e.purl_type for e in _ECOSYSTEMS])
_IAC_TITLES = _strings([r[1] for r in _IAC_RULES])
_IAC_TITLE_COUNT = np.array(
    [sum(r[0] == f for r in _IAC_RULES) for f in _IAC_FAMILIES], dtype=np.int64
)
_IAC_TITLE_START = _offsets(list(_IAC_TITLE_COUNT))

# title | CWE
_VULNERABILITY_TITLES = _table(
    """
    Prototype Pollution                              | CWE-1321
    Regular Expression Denial of Service (ReDoS)     | CWE-1333
    Cross-site Scripting (XSS)                       | CWE-79
    Remote Code Execution (RCE)                      | CWE-94
    Improper Input Validation                        | CWE-20
    Directory Traversal                              | CWE-22
    Denial of Service (DoS)                          | CWE-400
    Information Exposure                             | CWE-200
    Server-side Request Forgery (SSRF)               | CWE-918
    Improper Verification of Cryptographic Signature | CWE-347
    Deserialization of Untrusted Data                | CWE-502
    SQL Injection                                    | CWE-89
    Out-of-bounds Write                              | CWE-787
    Out-of-bounds Read                               | CWE-125
    Use After Free                                   | CWE-416
    NULL Pointer Dereference                         | CWE-476
    Integer Overflow or Wraparound                   | CWE-190
    Open Redirect                                    | CWE-601
    Improper Certificate Validation                  | CWE-295
    HTTP Request Smuggling                           | CWE-444
    """
)
# Rare titles that exercise CSV quoting: a quote, a comma, non-ASCII, a newline.
_ODD_TITLES = [
    ['Cross-site Scripting (XSS) via "résumé" uploads, in file names', "CWE-79"],
    ["Improper Neutralization of CRLF Sequences\nin HTTP Headers", "CWE-93"],
]
_ODD_TITLE_SHARE = 0.004
_TITLES = _strings([t for t, _ in _VULNERABILITY_TITLES + _ODD_TITLES])
_TITLE_CWES = _strings([c for _, c in _VULNERABILITY_TITLES + _ODD_TITLES])

_LICENSES = _strings(
    _words("GPL-3.0 AGPL-3.0 GPL-2.0 LGPL-2.1 MPL-2.0 EPL-1.0 CDDL-1.0")
)
_LICENSE_SEVERITY = np.array([1, 1, 1, 2, 2, 3, 3], dtype=np.int64)

_CODE_LANGUAGES = ("javascript", "python", "java", "go")
# rule id (language/name) | title | severity (index into _SEVERITIES) | CWE
_CODE_RULES = _table(
    """
javascript/Sqli                     | SQL Injection                       | 1 | CWE-89
javascript/DOMXSS                   | Cross-site Scripting (XSS)          | 2 | CWE-79
javascript/PT                       | Path Traversal                      | 1 | CWE-23
javascript/HardcodedNonCryptoSecret | Hardcoded Secret                    | 3 | CWE-547
javascript/OR                       | Open Redirect                       | 2 | CWE-601
python/Sqli                         | SQL Injection                       | 1 | CWE-89
python/PT                           | Path Traversal                      | 1 | CWE-23
python/CommandInjection             | Command Injection                   | 1 | CWE-78
python/InsecureHash                 | Use of a Weak Hash                  | 3 | CWE-916
python/Ssrf                         | Server-Side Request Forgery (SSRF)  | 2 | CWE-918
java/Sqli                           | SQL Injection                       | 1 | CWE-89
java/XXE                            | XML External Entity (XXE) Injection | 1 | CWE-611
java/Deserialization                | Deserialization of Untrusted Data   | 1 | CWE-502
java/InsecureCipher                 | Use of a Broken Crypto Algorithm    | 2 | CWE-327
java/LogInjection                   | Log Injection                       | 3 | CWE-117
go/CommandInjection                 | Command Injection                   | 1 | CWE-78
go/Sqli                             | SQL Injection                       | 1 | CWE-89
go/HardcodedCredentials             | Use of Hardcoded Credentials        | 2 | CWE-798
go/TooPermissiveFileMode            | Incorrect Permission Assignment     | 3 | CWE-732
"""
)
_CODE_FILES = {
    "javascript": """src/routes/login.js src/routes/users.js src/routes/search.js
        src/controllers/upload.js src/controllers/orders.ts server/api/index.js""",
    "python": """app/auth.py app/views/reports.py app/views/search.py services/tasks.py
        services/export.py""",
    "java": """src/main/java/com/acme/web/LoginController.java
        src/main/java/com/acme/core/ReportService.java
        src/main/java/com/acme/core/XmlImporter.java""",
    "go": "cmd/server/main.go internal/handlers/handlers.go internal/store/storage.go",
}
_RULE_IDS = _strings([r[0] for r in _CODE_RULES])
_RULE_TITLES = _strings([r[1] for r in _CODE_RULES])
_RULE_SEVERITY = np.array([int(r[2]) for r in _CODE_RULES], dtype=np.int64)
_RULE_CWES = _strings([r[3] for r in _CODE_RULES])
_RULE_LANGUAGES = [r[0].split("/")[0] for r in _CODE_RULES]
_RULE_COUNT = np.array(
    [_RULE_LANGUAGES.count(lang) for lang in _CODE_LANGUAGES], dtype=np.int64
)
_RULE_START = _offsets(list(_RULE_COUNT))
_FILE_PATHS = _strings(
    [p for lang in _CODE_LANGUAGES for p in _CODE_FILES[lang].split()]
)
_FILE_COUNT = np.array(
    [len(_CODE_FILES[lang].split()) for lang in _CODE_LANGUAGES], dtype=np.int64
)
_FILE_START = _offsets(list(_FILE_COUNT))


_ORG_NAMES = (
    "Payments",
    "Platform",
    "Mobile",
    "Data Science",
    "Identity",
    "Storefront",
)


def build_tenant(seed: int = 7, orgs: int = 4) -> DemoTenant:
    """The demo group "Acme Corp" with ``orgs`` organizations (at least 3)."""
    if orgs < 3:
        raise ValueError("a demo tenant has at least 3 orgs")

    ids = _uuids(_rng(seed, "tenant"), orgs + 1).to_pylist()
    names = [
        _ORG_NAMES[k] if k < len(_ORG_NAMES) else f"Team {k + 1}" for k in range(orgs)
    ]
    members = tuple(
        DemoOrg(id=ids[k + 1], name=name, slug=name.lower().replace(" ", "-"))
        for k, name in enumerate(names)
    )
    return DemoTenant(
        group_id=ids[0], group_name="Acme Corp", group_slug="acme-corp", orgs=members
    )


def _org_columns(tenant: DemoTenant) -> dict[str, pa.Array]:
    """Organization and group columns, one entry per org."""
    count = len(tenant.orgs)
    return {
        "ORG_PUBLIC_ID": _strings([o.id for o in tenant.orgs]),
        "ORG_SLUG": _strings([o.slug for o in tenant.orgs]),
        "ORG_DISPLAY_NAME": _strings([o.name for o in tenant.orgs]),
        "GROUP_PUBLIC_ID": _strings([tenant.group_id] * count),
        "GROUP_DISPLAY_NAME": _strings([tenant.group_name] * count),
        "GROUP_SLUG": _strings([tenant.group_slug] * count),
    }


def _take(columns: Mapping[str, pa.Array], index: IntArray) -> dict[str, pa.Array]:
    positions = pa.array(index)
    return {name: values.take(positions) for name, values in columns.items()}


# SOURCE_TYPE | PROJECT_ORIGIN | host | pull request path | pull ref: refs/<x>/N<y>
_SOURCES = _table(
    """
github    | github          | github.com    | pull             | pull           | /head
gitlab    | gitlab          | gitlab.com    | -/merge_requests | merge-requests | /head
bitbucket | bitbucket-cloud | bitbucket.org | pull-requests    | pr             | -
"""
)
_SOURCE_SHARES = (0.65, 0.22, 0.13)


@dataclass(frozen=True)
class _Integrations:
    ids: list[str]
    org: IntArray
    source: IntArray
    created_ms: IntArray
    deleted_ms: IntArray  # -1 while the integration exists

    def live_in(self, org: int) -> list[int]:
        return [
            k
            for k in range(len(self.ids))
            if self.org[k] == org and self.deleted_ms[k] < 0
        ]


def _build_integrations(
    rng: np.random.Generator, tenant: DemoTenant, count: int, window: _Window
) -> _Integrations:
    ids = _uuids(rng, count).to_pylist()
    org = np.arange(count, dtype=np.int64) % len(tenant.orgs)
    source = _draw(rng, _SOURCE_SHARES, count)
    source[0] = 0
    created = window.start_ms + (rng.random(count) * 365 * _DAY_MS).astype(np.int64)
    # The first integration of each org stays, so every org can import from SCM;
    # the last one goes whenever it can, so deleted integrations always show.
    deleted = (rng.random(count) < 0.12) | (np.arange(count) == count - 1)
    deleted &= np.arange(count) >= len(tenant.orgs)
    deleted_at = _between(rng, created + 30 * _DAY_MS, np.full(count, window.now_ms))
    return _Integrations(ids, org, source, created, np.where(deleted, deleted_at, -1))


# display name | e-mail local part
_PEOPLE = _table(
    """
Ana Lima       | ana.lima
José Álvarez   | jose.alvarez
Priya Raman    | priya.raman
Chen Wei       | chen.wei
Fatima Zahra   | fatima.zahra
Lukas Müller   | lukas.mueller
Olivia Brown   | olivia.brown
Kwame Mensah   | kwame.mensah
Sofia Rossi    | sofia.rossi
Hiroshi Tanaka | hiroshi.tanaka
Emma Dubois    | emma.dubois
Noah Wilson    | noah.wilson
Zoë van Dijk   | zoe.vandijk
Mateo García   | mateo.garcia
Aisha Khan     | aisha.khan
Liam O'Connor  | liam.oconnor
Ingrid Nilsen  | ingrid.nilsen
Rahul Gupta    | rahul.gupta
Yara Haddad    | yara.haddad
Tomás Novák    | tomas.novak
"""
)


@dataclass(frozen=True)
class _Users:
    names: list[str]
    logins: list[str]
    emails: list[str]
    org: IntArray
    platform: IntArray  # index into _PLATFORMS
    ide: IntArray  # index into _CLIENTS
    activity: FloatArray


def _build_users(rng: np.random.Generator, tenant: DemoTenant) -> _Users:
    count = max(len(_PEOPLE), 3 * len(tenant.orgs))
    names, logins = [], []
    for k in range(count):
        name, login = _PEOPLE[k % len(_PEOPLE)]
        suffix = "" if k < len(_PEOPLE) else str(k // len(_PEOPLE) + 1)
        names.append(f"{name} {suffix}".strip())
        logins.append(f"{login}{suffix}")
    return _Users(
        names=names,
        logins=logins,
        emails=[f"{login}@{tenant.group_slug}.example" for login in logins],
        org=np.arange(count, dtype=np.int64) % len(tenant.orgs),
        platform=_draw(rng, (0.5, 0.3, 0.2), count),
        ide=1 + _draw(rng, (0.45, 0.2, 0.12, 0.1, 0.08, 0.05), count),
        activity=rng.pareto(1.5, count) + 0.2,
    )


@dataclass(frozen=True)
class _Window:
    start_ms: int
    now_ms: int


def _epoch_ms(moment: datetime.datetime) -> int:
    """Milliseconds since the epoch; a naive ``moment`` is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return (moment - datetime.datetime(1970, 1, 1)) // datetime.timedelta(
        milliseconds=1
    )


@dataclass
class _Target:
    """A repository, CLI workspace or container image that projects belong to."""

    org: int
    integration: int
    kind: str  # "repo", "cli" or "image"
    display_name: str
    upstream_url: str | None
    ref: str | None
    asset_id: str
    asset_class: str
    freshness: str | None
    catalog: tuple[str, str, str, str, str] | None
    asset_tags: list[str]
    types: set[int] = field(default_factory=set)


_REPO_BASES = _words(
    """api web worker gateway checkout billing auth-service mobile-app search
    notifications reporting admin-portal ledger catalog scheduler etl-jobs"""
)
_BRANCHES = ("main", "master", "develop", "release/2024.1")
_BRANCH_SHARES = (0.7, 0.15, 0.1, 0.05)


class _Targets:
    """Creates targets and reuses them, so several projects share a repository."""

    def __init__(
        self, rng: np.random.Generator, tenant: DemoTenant, integrations: _Integrations
    ) -> None:
        self._rng = rng
        self._tenant = tenant
        self._integrations = integrations
        self._by_org: dict[int, list[_Target]] = {}

    def pick(self, org: int, integration: int, kind: str, type_index: int) -> _Target:
        candidates = [
            t
            for t in self._by_org.get(org, [])
            if t.kind == kind
            and t.integration == integration
            and type_index not in t.types
        ]
        if kind != "image" and candidates and self._rng.random() < 0.6:
            target = candidates[int(self._rng.integers(len(candidates)))]
        else:
            target = self._create(org, integration, kind)
        target.types.add(type_index)
        return target

    def _create(self, org: int, integration: int, kind: str) -> _Target:
        siblings = self._by_org.setdefault(org, [])
        number = len(siblings)
        base = _REPO_BASES[number % len(_REPO_BASES)]
        suffix = "" if number < len(_REPO_BASES) else f"-{number // len(_REPO_BASES)}"
        repo = f"{self._tenant.orgs[org].slug}-{base}{suffix}"
        target = self._describe(org, integration, kind, repo)
        siblings.append(target)
        return target

    def _describe(self, org: int, integration: int, kind: str, repo: str) -> _Target:
        rng = self._rng
        owner = self._tenant.group_slug
        slug = self._tenant.orgs[org].slug
        display, url, ref = f"{owner}/{repo}", None, None
        if kind == "repo":
            host = _SOURCES[int(self._integrations.source[integration])][2]
            url = f"https://{host}/{owner}/{repo}"
            ref = _pick(rng, _BRANCHES, _BRANCH_SHARES)
        elif kind == "image":
            display = f"{slug}/{repo.removeprefix(slug + '-')}"
            ref = f"1.{rng.integers(12)}.{rng.integers(9)}"
            ref = "latest" if rng.random() < 0.3 else ref
        freshness = _pick(rng, ("Active", "Inactive", "Dormant"), (7, 2, 1))
        return _Target(
            org=org,
            integration=integration,
            kind=kind,
            display_name=display,
            upstream_url=url,
            ref=ref,
            asset_id=_uuids(rng, 1).to_pylist()[0],
            asset_class=_pick(rng, ("A", "B", "C", "D"), (0.15, 0.3, 0.35, 0.2)),
            freshness=freshness if kind == "repo" else None,
            catalog=_catalog_entry(rng, repo, slug) if rng.random() < 0.4 else None,
            asset_tags=[f"source:{kind}", f"team:{slug}"],
        )


def _catalog_entry(
    rng: np.random.Generator, repo: str, org_slug: str
) -> tuple[str, str, str, str, str]:
    """An external catalog's record: name, application, owner, category, lifecycle."""
    return (
        _pick(rng, ("ServiceNow", "DataDog", "Backstage"), (1, 1, 1)),
        repo,
        f"team-{org_slug}",
        _pick(rng, ("service", "library", "website"), (1, 1, 1)),
        _pick(rng, ("production", "experimental", "deprecated"), (8, 3, 1)),
    )


@dataclass
class _Project:
    """One project of the world, before it becomes columns."""

    id: str
    org: int
    type_index: int
    integration: int
    origin: str
    target: _Target
    created_ms: int
    deleted_ms: int | None
    target_deleted: bool
    monitored: bool
    owner: int | None
    own_asset_id: str
    commit_id: str
    code_language: int
    tags: list[str] | None
    environments: list[str]
    lifecycles: list[str]
    criticalities: list[str]
    collections: list[str]
    test_frequency: str
    private: bool

    @property
    def kind(self) -> _ProjectType:
        return _PROJECT_TYPES[self.type_index]

    @property
    def target_file(self) -> str | None:
        return None if self.target.kind == "image" else self.kind.target_file

    @property
    def name(self) -> str:
        if self.target.kind == "image":
            return f"{self.target.display_name}:{self.target.ref}"
        if self.target_file is None:
            return self.target.display_name
        return f"{self.target.display_name}:{self.target_file}"


def _project_types(rng: np.random.Generator, count: int) -> IntArray:
    names = [t.name for t in _PROJECT_TYPES]
    first = [names.index(name) for name in _FIRST_TYPES]
    drawn = _draw(rng, [t.share for t in _PROJECT_TYPES], count)
    drawn[: len(first)] = first[:count]
    return drawn


def _project_origin(
    rng: np.random.Generator,
    kind: _ProjectType,
    org: int,
    integrations: _Integrations,
    forced_scm: bool,
) -> tuple[int, str, str]:
    """The integration index (-1 for none), PROJECT_ORIGIN and target kind."""
    live = integrations.live_in(org)
    if not kind.from_scm:
        return -1, _pick(rng, ("kubernetes", "docker-hub", "cli"), (4, 3, 3)), "image"
    if live and (forced_scm or rng.random() < 0.85):
        integration = live[int(rng.integers(len(live)))]
        return integration, _SOURCES[int(integrations.source[integration])][1], "repo"
    return -1, "cli", "cli"


def _project_org(
    rng: np.random.Generator, index: int, orgs: int, integrations: _Integrations
) -> int:
    if index >= len(_FIRST_TYPES):
        return int(_draw(rng, [1.0 / (1 + 0.25 * k) for k in range(orgs)], 1)[0])
    with_scm = sorted({int(o) for o in integrations.org[integrations.deleted_ms < 0]})
    return with_scm[index % len(with_scm)]


@dataclass(frozen=True)
class _Setting:
    """What projects are drafted into: the tenant, its integrations and users."""

    tenant: DemoTenant
    integrations: _Integrations
    users: _Users
    window: _Window


def _draft_projects(
    rng: np.random.Generator, setting: _Setting, count: int
) -> list[_Project]:
    identities = zip(
        _uuids(rng, count).to_pylist(),
        _uuids(rng, count).to_pylist(),
        _shas(rng, count).to_pylist(),
        strict=True,
    )
    types = _project_types(rng, count)
    targets = _Targets(rng, setting.tenant, setting.integrations)
    projects = [
        _draft_project(rng, setting, targets, index, int(types[index]), identity)
        for index, identity in enumerate(identities)
    ]
    _retire_some(rng, projects, setting.window)
    return projects


def _draft_project(
    rng: np.random.Generator,
    setting: _Setting,
    targets: _Targets,
    index: int,
    type_index: int,
    identity: tuple[str, str, str],
) -> _Project:
    """Project ``index`` of the world; ``identity`` is its id, asset id and commit."""
    kind, integrations = _PROJECT_TYPES[type_index], setting.integrations
    org = _project_org(rng, index, len(setting.tenant.orgs), integrations)
    forced = index < len(_FIRST_TYPES)
    integration, origin, target_kind = _project_origin(
        rng, kind, org, integrations, forced
    )
    target = targets.pick(org, integration, target_kind, type_index)
    lower = setting.window.start_ms
    if integration >= 0:
        lower = int(integrations.created_ms[integration])
    latest = setting.window.now_ms - 30 * _DAY_MS
    return _Project(
        id=identity[0],
        org=org,
        type_index=type_index,
        integration=integration,
        origin=origin,
        target=target,
        created_ms=lower + int(rng.random() * (latest - lower)),
        deleted_ms=None,
        target_deleted=False,
        monitored=True,
        owner=_project_owner(rng, org, setting.users),
        own_asset_id=identity[1],
        commit_id=identity[2],
        code_language=int(rng.integers(len(_CODE_LANGUAGES))),
        test_frequency="Daily" if rng.random() < 0.8 else "Weekly",
        private=bool(rng.random() < 0.85),
        **_project_attributes(rng, setting.tenant.orgs[org].slug, origin),
    )


def _project_owner(rng: np.random.Generator, org: int, users: _Users) -> int | None:
    members = np.flatnonzero(users.org == org)
    if len(members) == 0 or rng.random() < 0.2:
        return None
    return int(members[rng.integers(len(members))])


def _project_attributes(
    rng: np.random.Generator, org_slug: str, origin: str
) -> dict[str, Any]:
    """Tags, attributes and collections of one project."""
    candidates = [f"team:{org_slug}", "scanType:CSS", "env:prod", "tier:1", "pci:yes"]
    if origin == "cli":
        candidates.append("user:CLI-user")
    roll = rng.random()
    tags: list[str] | None = None if roll < 0.15 else []
    if roll >= 0.4:
        size = int(rng.integers(1, 4))
        tags = sorted(rng.choice(candidates, size=size, replace=False).tolist())
    environments = ["frontend", "backend", "internal", "external", "mobile", "saas"]
    environments += ["onprem", "hosted", "distributed"]
    return {
        "tags": tags,
        "environments": _some(rng, environments, 0.3, 2),
        "lifecycles": _some(rng, ["production", "development", "sandbox"], 0.3, 1),
        "criticalities": _some(rng, ["critical", "high", "medium", "low"], 0.35, 1),
        "collections": _some(
            rng, ["Critical services", "Customer facing", "Legacy", "PCI scope"], 0.6, 1
        ),
    }


def _some(
    rng: np.random.Generator, values: list[str], empty_share: float, most: int
) -> list[str]:
    if rng.random() < empty_share:
        return []
    size = int(rng.integers(1, most + 1))
    return [str(v) for v in rng.choice(values, size=size, replace=False)]


def _retire_some(
    rng: np.random.Generator, projects: list[_Project], window: _Window
) -> None:
    """Delete about 6% of the projects and deactivate about 8%, at least one each."""
    for index, project in enumerate(projects):
        if index < len(_FIRST_TYPES):
            continue
        project.monitored = bool(rng.random() >= 0.08) and index != len(_FIRST_TYPES)
        if rng.random() < 0.06 or index == len(projects) - 1:
            low = project.created_ms + _DAY_MS
            project.deleted_ms = low + int(rng.random() * (window.now_ms - low))
            project.target_deleted = bool(rng.random() < 0.5)


@dataclass(frozen=True)
class _Projects:
    """The projects of the world as arrays, one entry per project."""

    columns: dict[str, pa.Array]  # keyed by export column name
    org: IntArray
    product: IntArray
    ecosystem: IntArray
    integration: IntArray
    created_ms: IntArray
    end_ms: IntArray  # deletion time, or now
    deleted: BoolArray
    monitored: BoolArray
    code_language: IntArray
    pull_path: pa.Array
    pull_ref: pa.Array  # refs/... prefix of a pull request
    pull_ref_suffix: pa.Array
    purl: pa.Array


def _tabulate_projects(
    projects: list[_Project],
    tenant: DemoTenant,
    users: _Users,
    integrations: _Integrations,
    window: _Window,
) -> _Projects:
    org = np.array([p.org for p in projects], dtype=np.int64)
    deleted_ms = np.array(
        [-1 if p.deleted_ms is None else p.deleted_ms for p in projects],
        dtype=np.int64,
    )
    integration = np.array([p.integration for p in projects], dtype=np.int64)
    sources = [_SOURCES[_source_index(p, integrations)] for p in projects]
    return _Projects(
        columns=_take(_org_columns(tenant), org)
        | _project_columns(projects, tenant, users, integrations, deleted_ms),
        org=org,
        product=np.array([p.kind.product for p in projects], dtype=np.int64),
        ecosystem=np.array([p.kind.ecosystem for p in projects], dtype=np.int64),
        integration=integration,
        created_ms=np.array([p.created_ms for p in projects], dtype=np.int64),
        end_ms=np.where(deleted_ms >= 0, deleted_ms, window.now_ms),
        deleted=deleted_ms >= 0,
        monitored=np.array([p.monitored for p in projects]),
        code_language=np.array([p.code_language for p in projects], dtype=np.int64),
        pull_path=_strings([f"/{s[3]}/" for s in sources]),
        pull_ref=_strings([f"refs/{s[4]}/" for s in sources]),
        pull_ref_suffix=_strings([_optional(s[5]) or "" for s in sources]),
        purl=_strings([_project_purl(p) for p in projects]),
    )


def _source_index(project: _Project, integrations: _Integrations) -> int:
    if project.integration < 0:
        return 0
    return int(integrations.source[project.integration])


def _project_purl(project: _Project) -> str:
    target = project.target
    if target.kind == "image":
        return f"pkg:docker/{target.display_name}@{target.ref}"
    purl_type = project.origin.removesuffix("-cloud")
    if target.kind == "cli":
        purl_type = "github"
    return f"pkg:{purl_type}/{target.display_name}@{target.ref or 'main'}"


def _project_columns(
    projects: list[_Project],
    tenant: DemoTenant,
    users: _Users,
    integrations: _Integrations,
    deleted_ms: IntArray,
) -> dict[str, pa.Array]:
    """Per-project values under the export column names that carry them."""
    created_ms = np.array([p.created_ms for p in projects], dtype=np.int64)
    target_deleted = np.array([p.target_deleted for p in projects])
    urls = [
        f"https://app.snyk.io/org/{tenant.orgs[p.org].slug}/project/{p.id}"
        for p in projects
    ]
    return {
        "PROJECT_PUBLIC_ID": _strings([p.id for p in projects]),
        "PROJECT_NAME": _strings([p.name for p in projects]),
        "PROJECT_URL": _strings(urls),
        "PROJECT_IS_MONITORED": pa.array([p.monitored for p in projects]),
        "IS_PROJECT_MONITORED": pa.array([p.monitored for p in projects]),
        "PROJECT_OWNER_USERNAME": _strings(
            [None if p.owner is None else users.logins[p.owner] for p in projects]
        ),
        "PROJECT_OWNER_EMAIL": _strings(
            [None if p.owner is None else users.emails[p.owner] for p in projects]
        ),
        "PROJECT_ORIGIN": _strings([p.origin for p in projects]),
        "PROJECT_CRITICALITIES": _lists([p.criticalities for p in projects]),
        "PROJECT_ENVIRONMENTS": _lists([p.environments for p in projects]),
        "PROJECT_LIFECYCLES": _lists([p.lifecycles for p in projects]),
        "PROJECT_TAGS": _lists([p.tags for p in projects]),
        "PROJECT_COLLECTIONS": _lists([p.collections for p in projects]),
        "PRODUCT_NAME": _strings([_PRODUCTS[p.kind.product] for p in projects]),
        "PROJECT_TYPE": _strings([p.kind.name for p in projects]),
        "PROJECT_TYPE_DISPLAY_NAME": _strings([p.kind.display_name for p in projects]),
        "PROJECT_TEST_FREQUENCY": _strings([p.test_frequency for p in projects]),
        "PROJECT_TARGET_RUNTIME": _strings([p.kind.runtime for p in projects]),
        "PROJECT_IS_PRIVATE_TARGET": pa.array([p.private for p in projects]),
        "PROJECT_TARGET_FILE": _strings([p.target_file for p in projects]),
        "PROJECT_DELETED_AT": _instants(deleted_ms, deleted_ms >= 0),
        "PROJECT_DELETED": _instants(deleted_ms, deleted_ms >= 0),
        "TARGET_DELETED": _instants(deleted_ms, target_deleted),
        "PROJECT_CREATED": _instants(created_ms),
        "COMMIT_ID": _strings(
            [p.commit_id if p.kind.product == _CODE else None for p in projects]
        ),
        "ORG_SOURCE_PUBLIC_ID": _strings(
            [
                None if p.integration < 0 else integrations.ids[p.integration]
                for p in projects
            ]
        ),
    } | _target_columns(projects)


def _target_columns(projects: list[_Project]) -> dict[str, pa.Array]:
    targets = [p.target for p in projects]
    sources = [_target_source(p) for p in projects]
    catalogs = [t.catalog or (None,) * 5 for t in targets]
    return {
        "PROJECT_TARGET_DISPLAY_NAME": _strings([t.display_name for t in targets]),
        "REPOSITORY_NAME": _strings([t.display_name for t in targets]),
        "PROJECT_TARGET_REF": _strings([t.ref for t in targets]),
        "PROJECT_TARGET_UPSTREAM_URL": _strings([t.upstream_url for t in targets]),
        "PROJECT_TARGET_SOURCE_TYPE": _strings([s[0] for s in sources]),
        "PROJECT_TARGET_SOURCE_TYPE_DISPLAY_VALUE": _strings([s[1] for s in sources]),
        "ASSET_CLASS": _strings([t.asset_class for t in targets]),
        "ASSET_TAGS": _lists([t.asset_tags for t in targets]),
        "REPOSITORY_FRESHNESS": _strings([t.freshness for t in targets]),
        "ASSET_CATALOG_NAME": _strings([c[0] for c in catalogs]),
        "ASSET_APPLICATION": _strings([c[1] for c in catalogs]),
        "ASSET_OWNER": _strings([c[2] for c in catalogs]),
        "ASSET_CATEGORY": _strings([c[3] for c in catalogs]),
        "ASSET_LIFECYCLE": _strings([c[4] for c in catalogs]),
    } | _asset_columns(projects)


def _target_source(project: _Project) -> tuple[str, str]:
    """PROJECT_TARGET_SOURCE_TYPE and its display value."""
    if project.target.kind == "repo":
        return project.origin, "Source Control"
    if project.target.kind == "image":
        return project.origin, "Container Registry"
    return "cli", "CLI"


def _asset_columns(projects: list[_Project]) -> dict[str, pa.Array]:
    """The asset of each project and the repository it sits in, if any."""
    rows: list[tuple[str, str, str, str | None, str | None]] = []
    for p in projects:
        target = p.target
        if target.kind == "image":
            rows.append((target.asset_id, "Container Image", p.name, None, None))
        elif target.kind == "cli":
            rows.append((p.own_asset_id, "Scanned Artifact", p.name, None, None))
        elif p.kind.product == _OPEN_SOURCE:
            parent = (target.asset_id, target.display_name)
            rows.append((p.own_asset_id, "Package", p.name, *parent))
        else:
            rows.append(
                (target.asset_id, "Repository", target.display_name, None, None)
            )
    return {
        "ASSET_ID": _strings([r[0] for r in rows]),
        "ASSET_TYPE": _strings([r[1] for r in rows]),
        "ASSET_NAME": _strings([r[2] for r in rows]),
        "PARENT_ASSET_ID": _strings([r[3] for r in rows]),
        "PARENT_ASSET_NAME": _strings([r[4] for r in rows]),
    }


def _histories(
    rng: np.random.Generator,
    counts: IntArray,
    start_ms: IntArray,
    end_ms: IntArray,
    closed: BoolArray,
) -> tuple[IntArray, IntArray, IntArray]:
    """Consecutive settings periods: owner, EFFECTIVE_AT and ENDS_AT (-1 if current).

    Owner k gets counts[k] periods; the first starts at start_ms[k] and, when
    closed[k] (a deletion), the last starts at end_ms[k]. Starts strictly
    increase and each period ends where the next one starts.
    """
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    position = np.arange(len(owner)) - np.repeat(_offsets(list(counts)), counts)
    changes = _between(rng, start_ms[owner] + 1, end_ms[owner] - 10)
    effective = np.where(position == 0, start_ms[owner], changes)
    # Sorting within each owner keeps the owners' blocks and their positions.
    effective = effective[np.lexsort((effective, owner))] + position

    last = position == counts[owner] - 1
    effective = np.where(
        last & closed[owner] & (position > 0), end_ms[owner], effective
    )
    followed = np.append(owner[1:] == owner[:-1], False)
    ends = np.where(followed, np.append(effective[1:], -1), -1)
    return owner, effective, ends


@dataclass(frozen=True)
class _Periods:
    """Settings periods of the PR-checked projects, by project, then in time order."""

    project: IntArray
    effective_ms: IntArray
    ends_ms: IntArray  # -1 for the current period
    monitored: BoolArray
    deleted: BoolArray
    test_pull_requests: IntArray  # 1 true, 0 false, -1 inherited (NULL)
    policy: IntArray  # index into _POLICIES, -1 inherited
    threshold: IntArray  # index into _THRESHOLDS, -1 inherited
    fail_only_fixable: IntArray  # 1, 0 or -1 as test_pull_requests


def _build_periods(rng: np.random.Generator, projects: _Projects) -> _Periods:
    checked = np.flatnonzero((projects.integration >= 0) & (projects.product <= _CODE))
    deleted = projects.deleted[checked]
    counts = rng.integers(1, 6, len(checked))
    counts = np.where(deleted, np.maximum(counts, 2), counts)
    owner, effective, ends = _histories(
        rng, counts, projects.created_ms[checked], projects.end_ms[checked], deleted
    )

    project = checked[owner]
    current = ends < 0
    size = len(owner)
    return _Periods(
        project=project,
        effective_ms=effective,
        ends_ms=ends,
        monitored=~(current & ~projects.monitored[project]),
        deleted=current & projects.deleted[project],
        test_pull_requests=np.array([-1, 1, 0])[_draw(rng, (0.3, 0.55, 0.15), size)],
        policy=np.array([-1, 0, 1])[_draw(rng, (0.35, 0.45, 0.2), size)],
        threshold=_draw(rng, (0.4, 0.15, 0.2, 0.2, 0.05), size) - 1,
        fail_only_fixable=np.array([-1, 1, 0])[_draw(rng, (0.4, 0.3, 0.3), size)],
    )


@dataclass(frozen=True)
class _World:
    """Everything the datasets share, derived from the seed, ``now`` and the sizes."""

    seed: int
    tenant: DemoTenant
    window: _Window
    integrations: _Integrations
    users: _Users
    projects: _Projects
    periods: _Periods

    @property
    def today(self) -> int:
        """Days since the epoch."""
        return self.window.now_ms // _DAY_MS


def _build_world(
    tenant: DemoTenant, sizes: DemoSizes, seed: int, now: datetime.datetime
) -> _World:
    rng = _rng(seed, "world")
    now_ms = _epoch_ms(now)
    window = _Window(now_ms - _WINDOW_DAYS * _DAY_MS, now_ms)
    integrations = _build_integrations(rng, tenant, sizes.integrations, window)
    users = _build_users(rng, tenant)
    setting = _Setting(tenant, integrations, users, window)
    drafts = _draft_projects(rng, setting, sizes.projects)
    projects = _tabulate_projects(drafts, tenant, users, integrations, window)
    periods = _build_periods(rng, projects)
    return _World(seed, tenant, window, integrations, users, projects, periods)


def _fill(
    columns: Mapping[str, pa.Array], dataset: str, index: IntArray
) -> dict[str, pa.Array]:
    """The entries of ``columns`` that ``dataset`` exports, taken at ``index``."""
    positions = pa.array(index)
    names = [name for name in arrow_schema(dataset).names if name in columns]
    return {name: columns[name].take(positions) for name in names}


_STATUS_SHARES = (0.55, 0.33, 0.12)
_STATUSES = _strings(["Open", "Resolved", "Ignored"])
_SEVERITY_NAMES = _strings(list(_SEVERITIES))
_EXPLOIT_SHARES = (0.03, 0.12, 0.70, 0.15)
_EXPLOITS = _strings(["Mature", "Proof of Concept", "No Known Exploit", "No Data"])
_EXPLOITS_V4 = _strings(["Attacked", "POC", "Not Defined", "Not Defined"])
_NO_EXPLOIT_DATA = 3
_FIXABILITY = _strings(["Fixable", "Partially Fixable", "No Fix Supported"])
_INTRODUCTIONS = _strings(
    ["Baseline Issue", "Preventable Issue", "Non Preventable Issue", "Other New Issue"]
)
_REACHABILITY = _strings(["Reachable", "No path found", "Not applicable"])
_CVSS_BANDS = np.array([[9.0, 10.0], [7.0, 8.9], [4.0, 6.9], [0.1, 3.9]])
_CVSS_VECTORS = _strings(
    [
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N",
        "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N",
        "CVSS:4.0/AV:N/AC:H/AT:N/PR:N/UI:P/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N",
        "CVSS:4.0/AV:L/AC:H/AT:N/PR:H/UI:P/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
    ]
)
_SCORE_BASE = np.array([820.0, 640.0, 420.0, 230.0])
_SCORE_EXPLOIT_BONUS = np.array([130.0, 70.0, 0.0, 0.0])


@dataclass(frozen=True)
class _IssuePlan:
    """Which project and problem each issue row is, so keys never repeat.

    Rows cycle through weighted project slots; the n-th row of a project walks
    its ecosystem's problem space with an odd step, which visits each problem
    at most once per project because the space is a power of two larger than
    any project's row count.
    """

    slots: IntArray  # project of each slot
    ranks: IntArray  # rank of each slot among its project's slots
    weights: IntArray  # slots per project
    offsets: IntArray  # start of each project's walk
    space: IntArray  # problem-space size per ecosystem
    steps: IntArray  # walk step per ecosystem
    licences: IntArray  # problems below this number are licence issues

    def locate(self, rows: IntArray) -> tuple[IntArray, IntArray]:
        """The project and problem number of each row."""
        slot = rows % len(self.slots)
        project = self.slots[slot]
        ordinal = (rows // len(self.slots)) * self.weights[project]
        ordinal += self.ranks[slot]
        return project, ordinal


_ISSUE_WEIGHTS = np.array([[2, 12], [1, 5], [3, 14], [1, 3]])  # per product: low, high


def _plan_issues(
    rng: np.random.Generator, projects: _Projects, total: int
) -> _IssuePlan:
    bounds = _ISSUE_WEIGHTS[projects.product]
    weights = rng.integers(bounds[:, 0], bounds[:, 1] + 1)
    slots = _issue_slots(rng, weights)
    laps = max(1, -(-total // len(slots)))
    space = np.full(_ECOSYSTEM_COUNT, 256, dtype=np.int64)
    for ecosystem in range(_ECOSYSTEM_COUNT):
        members = weights[projects.ecosystem == ecosystem]
        if members.size:
            space[ecosystem] = max(256, 1 << math.ceil(math.log2(laps * members.max())))
    licences = np.zeros(_ECOSYSTEM_COUNT, dtype=np.int64)
    licensed = slice(0, _LICENSED_ECOSYSTEMS)
    licences[licensed] = np.minimum(
        _PACKAGE_COUNT[licensed] * len(_LICENSES), space[licensed] // 8
    )
    home = space[np.maximum(projects.ecosystem, 0)]
    return _IssuePlan(
        slots=slots,
        ranks=_slot_ranks(slots, len(weights)),
        weights=weights,
        offsets=(rng.random(len(weights)) * home).astype(np.int64),
        space=space,
        steps=(space * 0.6180339887).astype(np.int64) | 1,
        licences=licences,
    )


def _issue_slots(rng: np.random.Generator, weights: IntArray) -> IntArray:
    """Project slots, shuffled, with one slot of each first project up front."""
    slots = np.repeat(np.arange(len(weights), dtype=np.int64), weights)
    first = len(_FIRST_TYPES)
    rest = np.delete(slots, _offsets(list(weights))[:first])
    rng.shuffle(rest)
    return np.concatenate([np.arange(first, dtype=np.int64), rest])


def _slot_ranks(slots: IntArray, projects: int) -> IntArray:
    order = np.argsort(slots, kind="stable")
    starts = _offsets(list(np.bincount(slots, minlength=projects)))
    ranks = np.empty_like(slots)
    ranks[order] = np.arange(len(slots)) - starts[slots[order]]
    return ranks


@dataclass(frozen=True)
class _IssueRows:
    """Issue rows of one chunk, or the subset of them with one kind of finding."""

    world: _World
    rng: np.random.Generator
    rows: IntArray
    project: IntArray
    problem: IntArray
    ecosystem: IntArray

    @property
    def count(self) -> int:
        return len(self.rows)

    def traits(self) -> _Traits:
        return _Traits(self.world.seed, self.ecosystem, self.problem)

    def subset(self, picked: IntArray) -> _IssueRows:
        return _IssueRows(
            self.world,
            self.rng,
            self.rows[picked],
            self.project[picked],
            self.problem[picked],
            self.ecosystem[picked],
        )


@dataclass(frozen=True)
class _Findings:
    """Product-specific issue columns plus what the priority score needs."""

    columns: dict[str, pa.Array]
    severity: IntArray
    exploit: IntArray


def _issue_chunks(
    world: _World, sizes: DemoSizes, seed: int
) -> Iterator[pa.RecordBatch]:
    plan = _plan_issues(_rng(seed, "issues"), world.projects, sizes.issues)
    for chunk, start in enumerate(range(0, sizes.issues, _CHUNK_ROWS)):
        stop = min(start + _CHUNK_ROWS, sizes.issues)
        rows = np.arange(start, stop, dtype=np.int64)
        yield _issue_batch(world, plan, rows, _rng(seed, "issues", chunk + 1))


def _issue_batch(
    world: _World, plan: _IssuePlan, rows: IntArray, rng: np.random.Generator
) -> pa.RecordBatch:
    project, ordinal = plan.locate(rows)
    ecosystem = world.projects.ecosystem[project]
    home = np.maximum(ecosystem, 0)
    problem = (plan.offsets[project] + ordinal * plan.steps[home]) % plan.space[home]
    product = world.projects.product[project]
    licence = (product == _OPEN_SOURCE) & (problem < plan.licences[home])
    kind = np.where(licence, 1, np.array([0, 3, 2, 4])[product])
    everything = _IssueRows(world, rng, rows, project, problem, ecosystem)

    parts = []
    for index, builder in enumerate(_FINDING_BUILDERS):
        picked = np.flatnonzero(kind == index)
        if len(picked):
            parts.append((picked, builder(everything.subset(picked))))
    findings = _scatter(parts, len(rows))
    return _record_batch(
        "issues",
        len(rows),
        _fill(world.projects.columns, "issues", project),
        _issue_lifecycle(everything, findings),
        findings.columns,
    )


def _scatter(parts: list[tuple[IntArray, _Findings]], count: int) -> _Findings:
    """Put the findings of each kind back at their rows; missing columns are NULL."""
    inverse = np.empty(count, dtype=np.int64)
    inverse[np.concatenate([rows for rows, _ in parts])] = np.arange(count)
    positions = pa.array(inverse)
    names = list(dict.fromkeys(name for _, f in parts for name in f.columns))
    columns = {}
    for name in names:
        type_ = next(f.columns[name].type for _, f in parts if name in f.columns)
        pieces = [f.columns.get(name, pa.nulls(len(rows), type_)) for rows, f in parts]
        columns[name] = pa.concat_arrays(pieces).take(positions)
    severity = np.concatenate([f.severity for _, f in parts])[inverse]
    exploit = np.concatenate([f.exploit for _, f in parts])[inverse]
    return _Findings(columns, severity, exploit)


def _issue_lifecycle(rows: _IssueRows, findings: _Findings) -> dict[str, pa.Array]:
    """Status, timestamps, score, Jira links and URL: what every finding has."""
    rng, count, projects = rows.rng, rows.count, rows.world.projects
    end = projects.end_ms[rows.project]
    first = _between(rng, projects.created_ms[rows.project], end)
    last = np.where(rng.random(count) < 0.3, _between(rng, first, end), first)
    status = _draw(rng, _STATUS_SHARES, count)
    # The very first rows take every status, so even tiny exports show all three.
    status = np.where(rows.rows < 3, rows.rows, status)
    settled = np.where(status > 0, _between(rng, last, end), last)
    deleted = rng.random(count) < 0.03
    deleted_at = _between(rng, settled, end)
    updated = _between(rng, np.where(deleted, deleted_at, settled), end, power=2.0)

    score = _SCORE_BASE[findings.severity] + _SCORE_EXPLOIT_BONUS[findings.exploit]
    score = np.clip(np.round(score + rng.normal(0.0, 60.0, count)), 0.0, 1000.0)
    url = projects.columns["PROJECT_URL"].take(pa.array(rows.project))
    return {
        "ISSUE_STATUS": _STATUSES.take(status),
        "FIRST_INTRODUCED": _instants(first),
        "LAST_INTRODUCED": _instants(last),
        "LAST_RESOLVED": _instants(settled, status == 1),
        "LAST_IGNORED": _instants(settled, status == 2),
        "ISSUE_DELETED_AT": _instants(deleted_at, deleted),
        "UPDATED_AT": _instants(updated),
        "SCORE": _numbers(score),
        "INTRODUCTION_CATEGORY": _INTRODUCTIONS.take(
            _draw(rng, (0.55, 0.2, 0.15, 0.1), count)
        ),
        "ISSUE_URL": _join(url, "#issue-", findings.columns["PROBLEM_ID"]),
    } | _jira_links(rng, count)


def _jira_links(rng: np.random.Generator, count: int) -> dict[str, pa.Array]:
    tickets = np.where(rng.random(count) < 0.06, 1 + (rng.random(count) < 0.25), 0)
    number = rng.integers(100, 9000, count)
    first = _join("SEC-", _text(number))
    second = _join("SEC-", _text(number + rng.integers(1, 50, count)))
    latest = _where(tickets == 2, second, first)
    return {
        "JIRA_ISSUES": _list_of([first, second], tickets.astype(np.int64)),
        "HAS_JIRA_ISSUE_ASSIGNED": pa.array(tickets > 0),
        "LATEST_JIRA_ISSUE": _only(latest, tickets > 0),
    }


def _no_exploit(count: int) -> dict[str, pa.Array]:
    """Exploit, fixability and reachability of findings that are not package vulns."""
    return {
        "EXPLOIT_MATURITY": _repeat("No Data", count),
        "EXPLOIT_MATURITY_CVSS_V4": _repeat("Not Defined", count),
        "COMPUTED_FIXABILITY": _repeat("Not Applicable", count),
        "REACHABILITY": _repeat("Not applicable", count),
        "CVE": _empty_lists(count),
    }


def _package_vulnerabilities(rows: _IssueRows) -> _Findings:
    """Open Source and Container vulnerabilities in a dependency."""
    traits, count, eco = rows.traits(), rows.count, rows.ecosystem
    container = rows.world.projects.product[rows.project] == _CONTAINER
    package = _PACKAGE_START[eco] + traits.integers(1, _PACKAGE_COUNT[eco])
    number = 1_000_000 + rows.problem * 9 + traits.integers(2, 9)
    problem_id = _join(
        "SNYK-", _ECOSYSTEM_TOKENS.take(eco), "-", _PACKAGE_TOKENS.take(package), "-"
    )
    problem_id = _join(problem_id, _text(number))
    severity = _bucket(traits.unit(3), _SEVERITY_SHARES)
    exploit = _bucket(traits.unit(4), _EXPLOIT_SHARES)
    title = _vulnerability_title(traits)
    published = rows.world.today - 30 - traits.integers(6, 7 * 365)
    has_cve = traits.unit(7) < np.where(container, 0.97, 0.8)
    versions, available = _package_versions(traits, eco, package)
    columns = {
        "PROBLEM_ID": problem_id,
        "PROBLEM_TITLE": _TITLES.take(title),
        "CWE": _list_of([_TITLE_CWES.take(title)], np.ones(count, dtype=np.int64)),
        "CVE": _cves(traits, published, has_cve),
        "VULN_DB_URL": _join("https://security.snyk.io/vuln/", problem_id),
        "ISSUE_SEVERITY": _SEVERITY_NAMES.take(severity),
        "EXPLOIT_MATURITY": _EXPLOITS.take(exploit),
        "EXPLOIT_MATURITY_CVSS_V4": _EXPLOITS_V4.take(exploit),
        "ISSUE_TYPE": _repeat("Vulnerability", count),
        "ISSUE_SUB_TYPE": _repeat("package_vulnerability", count),
        "VULNERABILITY_PUBLICATION_DATE": pa.array(
            published.astype(np.int32), type=pa.date32()
        ),
    }
    columns |= _scores(traits, severity, has_cve) | versions
    columns |= _dependency_context(rows, available, container)
    return _Findings(columns, severity, exploit)


def _vulnerability_title(traits: _Traits) -> IntArray:
    regular = len(_VULNERABILITY_TITLES)
    odd = traits.unit(8) < _ODD_TITLE_SHARE
    return np.where(
        odd, regular + traits.integers(9, len(_ODD_TITLES)), traits.integers(5, regular)
    )


def _cves(traits: _Traits, published_days: IntArray, has_cve: BoolArray) -> pa.Array:
    days = published_days.astype("datetime64[D]")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    number = 1000 + traits.integers(15, 52_000)
    first = _join("CVE-", _text(year), "-", _text(number))
    second = _join("CVE-", _text(year), "-", _text(number + 1))
    counts = has_cve.astype(np.int64) + (has_cve & (traits.unit(16) < 0.1))
    return _list_of([first, second], counts)


def _scores(
    traits: _Traits, severity: IntArray, has_cve: BoolArray
) -> dict[str, pa.Array]:
    """CVSS, NVD and EPSS figures consistent with the severity."""
    band = _CVSS_BANDS[severity]
    cvss = np.round(band[:, 0] + traits.unit(10) * (band[:, 1] - band[:, 0]), 1)
    version4 = (traits.unit(11) < 0.25).astype(np.int64)
    has_nvd = has_cve & (traits.unit(12) < 0.9)
    nvd = np.clip(np.round(cvss + (traits.unit(13) - 0.5) * 1.6, 1), 0.1, 10.0)
    nvd_severity = 3 - np.searchsorted([4.0, 7.0, 9.0], nvd, side="right")
    epss = np.clip(np.round(10 ** (-4.5 + 4.4 * traits.unit(14) ** 2.2), 5), 1e-5, 0.97)
    percentile = np.round(1.0 / (1.0 + np.exp(-2.6 * (np.log10(epss) + 2.6))), 5)
    return {
        "SNYK_CVSS_SCORE": _numbers(cvss),
        "SNYK_CVSS_VECTOR": _CVSS_VECTORS.take(severity + 4 * version4),
        "NVD_SCORE": _numbers(nvd, has_nvd),
        "NVD_SEVERITY": _only(_SEVERITY_NAMES.take(nvd_severity), has_nvd),
        "EPSS_SCORE": _numbers(epss, has_cve),
        "EPSS_PERCENTILE": _numbers(percentile, has_cve),
    }


def _package_versions(
    traits: _Traits, eco: IntArray, package: IntArray
) -> tuple[dict[str, pa.Array], BoolArray]:
    """The vulnerable version, its fix and range; and whether a fix exists."""
    major = _text(1 + traits.integers(20, 8))
    minor = _text(traits.integers(21, 20))
    patch = traits.integers(22, 15)
    suffix = _VERSION_SUFFIXES.take(eco)
    version = _join(major, ".", minor, ".", _text(patch), suffix)
    fixed = _join(
        major, ".", minor, ".", _text(patch + 1 + traits.integers(23, 3)), suffix
    )
    available = traits.unit(24) < 0.75
    vulnerable = _join(_RANGE_OPEN.take(eco), fixed, _RANGE_CLOSE.take(eco))
    everything = np.ones(len(eco), dtype=np.int64)
    return {
        "PACKAGE_NAME_AND_VERSION": _join(_PACKAGES.take(package), "@", version),
        "FIXED_IN_AVAILABLE": pa.array(available),
        "FIXED_IN_VERSION": _list_of([fixed], available.astype(np.int64)),
        "SEMVER_VULNERABLE_RANGE": _list_of(
            [_where(available, vulnerable, "*")], everything
        ),
    }, available


def _dependency_context(
    rows: _IssueRows, available: BoolArray, container: BoolArray
) -> dict[str, pa.Array]:
    """Row-level facts of a vulnerable dependency in one project."""
    rng, count = rows.rng, rows.count
    partial = (rng.random(count) < 0.25) & ~container
    fixability = np.where(available, partial.astype(np.int64), 2)
    reachable_ecosystem = np.isin(rows.ecosystem, (0, 2)) & ~container
    reachability = np.where(
        reachable_ecosystem, _draw(rng, (0.12, 0.48, 0.4), count), 2
    )
    return {
        "COMPUTED_FIXABILITY": _FIXABILITY.take(fixability),
        "REACHABILITY": _REACHABILITY.take(reachability),
        "EXISTS_IN_DIRECT_DEPENDENCY": pa.array((rng.random(count) < 0.3) & ~container),
    }


def _licences(rows: _IssueRows) -> _Findings:
    """Open Source licence issues: one per package and licence."""
    traits, count, eco = rows.traits(), rows.count, rows.ecosystem
    packages = _PACKAGE_COUNT[eco]
    package = _PACKAGE_START[eco] + rows.problem % packages
    licence = (rows.problem // packages) % len(_LICENSES)
    name = _LICENSES.take(licence)
    problem_id = _join(
        "snyk:lic:", _PURL_TYPES.take(eco), ":", _PACKAGES.take(package), ":", name
    )
    versions, _ = _package_versions(traits, eco, package)
    severity = _LICENSE_SEVERITY[licence]
    columns = _no_exploit(count) | {
        "PROBLEM_ID": problem_id,
        "PROBLEM_TITLE": _join(name, " license"),
        "CWE": _empty_lists(count),
        "ISSUE_SEVERITY": _SEVERITY_NAMES.take(severity),
        "ISSUE_TYPE": _repeat("License", count),
        "ISSUE_SUB_TYPE": _repeat("license", count),
        "PACKAGE_NAME_AND_VERSION": versions["PACKAGE_NAME_AND_VERSION"],
        "FIXED_IN_AVAILABLE": pa.array(np.zeros(count, dtype=np.bool_)),
        "FIXED_IN_VERSION": _empty_lists(count),
        "EXISTS_IN_DIRECT_DEPENDENCY": pa.array(rows.rng.random(count) < 0.4),
    }
    return _Findings(columns, severity, np.full(count, _NO_EXPLOIT_DATA))


def _code_findings(rows: _IssueRows) -> _Findings:
    """Snyk Code findings: a rule hit at a place in a source file."""
    rng, count = rows.rng, rows.count
    language = rows.world.projects.code_language[rows.project]
    rule = _RULE_START[language] + (rng.random(count) * _RULE_COUNT[language]).astype(
        np.int64
    )
    path = _FILE_START[language] + (rng.random(count) * _FILE_COUNT[language]).astype(
        np.int64
    )
    severity = _RULE_SEVERITY[rule]
    columns = (
        _no_exploit(count)
        | {
            "PROBLEM_ID": _RULE_IDS.take(rule),
            "PROBLEM_TITLE": _RULE_TITLES.take(rule),
            "CWE": _list_of([_RULE_CWES.take(rule)], np.ones(count, dtype=np.int64)),
            "ISSUE_SEVERITY": _SEVERITY_NAMES.take(severity),
            "ISSUE_TYPE": _repeat("Vulnerability", count),
            "ISSUE_SUB_TYPE": _repeat("code", count),
            "FILE_PATH": _FILE_PATHS.take(path),
            "ASSET_FINDING_ID": _uuids(rng, count),
        }
        | _code_regions(rng, count)
    )
    return _Findings(columns, severity, np.full(count, _NO_EXPLOIT_DATA))


def _code_regions(rng: np.random.Generator, count: int) -> dict[str, pa.Array]:
    line = _text(rng.integers(1, 400, count))
    column = rng.integers(1, 40, count)
    end_line = pc.add(
        pc.cast(line, pa.int64()), pa.array(_draw(rng, (6, 2, 1, 1), count))
    )
    end_line = pc.cast(end_line, pa.string())
    end_column = _text(column + rng.integers(1, 60, count))
    start = _join('{"start":{"line":', line, ',"column":', _text(column), "}")
    end = _join('"end":{"line":', end_line, ',"column":', end_column, "}}")
    return {
        "CODE_REGION": _join(start, ",", end),
        "CODE_REGION_DISPLAY_VALUE": _join(
            line, ":", _text(column), "-", end_line, ":", end_column
        ),
    }


def _configurations(rows: _IssueRows) -> _Findings:
    """Snyk IaC misconfigurations of a rule family (Terraform, Kubernetes, AWS)."""
    traits, count = rows.traits(), rows.count
    family = rows.ecosystem - _FIRST_IAC_ECOSYSTEM
    title = _IAC_TITLE_START[family] + traits.integers(30, _IAC_TITLE_COUNT[family])
    severity = _bucket(traits.unit(31), (0.03, 0.3, 0.5, 0.17))
    problem_id = _join(
        "SNYK-CC-", _ECOSYSTEM_TOKENS.take(rows.ecosystem), "-", _text(rows.problem + 1)
    )
    columns = _no_exploit(count) | {
        "PROBLEM_ID": problem_id,
        "PROBLEM_TITLE": _IAC_TITLES.take(title),
        "CWE": _empty_lists(count),
        "VULN_DB_URL": _join("https://security.snyk.io/rules/cloud/", problem_id),
        "ISSUE_SEVERITY": _SEVERITY_NAMES.take(severity),
        "ISSUE_TYPE": _repeat("Configuration", count),
        "ISSUE_SUB_TYPE": _repeat("config", count),
    }
    return _Findings(columns, severity, np.full(count, _NO_EXPLOIT_DATA))


# Index = finding kind: 0 Open Source vulnerability, 1 licence, 2 Container
# vulnerability, 3 Code, 4 IaC.
_FINDING_BUILDERS: tuple[Callable[[_IssueRows], _Findings], ...] = (
    _package_vulnerabilities,
    _licences,
    _package_vulnerabilities,
    _code_findings,
    _configurations,
)


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
            prefix=_strings([r[0] for r in rows]),
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
        return _join(self.prefix.take(client), _text(number), ".", _text(patch))


# Tools that report interactions. Versions: prefix, number at start, increase per
# year, lowest and highest patch. RUNTIME_INTEGRATION_NAME derives from the label.
# application | ENVIRONMENT_DISPLAY_NAME | environment | version | environment version
_CLIENTS = _table(
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
_CLIENT_APPLICATIONS = _strings([c[0] for c in _CLIENTS])
_CLIENT_LABELS = _strings([c[1] for c in _CLIENTS])
_CLIENT_ENVIRONMENTS = _strings([_optional(c[2]) for c in _CLIENTS])
_CLIENT_INTEGRATIONS = _strings([c[1].upper().replace(" ", "_") for c in _CLIENTS])
_CLIENT_VERSIONS = _Versions.parse([c[3] for c in _CLIENTS])
_ENVIRONMENT_VERSIONS = _Versions.parse(
    [c[3] if c[4] == "-" else c[4] for c in _CLIENTS]
)
_CI_SYSTEMS = _strings(
    ["GitHub Actions", "Jenkins", "GitLab CI", "Azure Pipelines", "CircleCI"]
)
_CI_INTEGRATIONS = pc.utf8_upper(pc.replace_substring(_CI_SYSTEMS, " ", "_"))
# Interaction kinds: IDE, CLI on a laptop, CLI in CI, PR check, unknown.
_KIND_SHARES = (0.42, 0.25, 0.27, 0.03, 0.03)
_KIND_STAGES = _strings(["dev", "dev", "cicd", "prchecks", "unknown"])
_PLATFORMS = _strings(["darwin", "windows", "linux"])
_LINUX = 2
_ARCHITECTURES = _strings(["AMD64", "ARM64", "386", "ALPINE"])
_ARCHITECTURE_SHARES = ((0.2, 0.8, 0, 0), (0.97, 0, 0.03, 0), (0.85, 0.1, 0, 0.05))
_USAGE_PRODUCT_SHARES = (0.5, 0.22, 0.15, 0.13)
_CATEGORIES = _lists(
    [
        ["oss", "test"],
        ["code", "test"],
        ["container", "test"],
        ["iac", "test"],
        ["oss", "monitor"],
        ["container", "monitor"],
    ]
)


def _package_purl(ecosystem: _Ecosystem, package: str, number: int) -> str:
    version = f"{1 + number % 12}.{(number * 7) % 10}.{(number * 3) % 9}"
    if ecosystem.purl_type == "npm":
        return f"pkg:npm/{package.replace('@', '%40')}@{version}"
    purl_type = {"pip": "pypi", "maven": "maven"}.get(ecosystem.purl_type)
    return (
        f"pkg:{purl_type or ecosystem.purl_type}/{package.replace(':', '/')}@{version}"
    )


_PACKAGE_PURLS = _strings(
    [_package_purl(e, p, k) for e in _ECOSYSTEMS[:5] for k, p in enumerate(e.packages)]
)


def _usage_chunks(
    world: _World, sizes: DemoSizes, seed: int
) -> Iterator[pa.RecordBatch]:
    for chunk, start in enumerate(range(0, sizes.usage, _CHUNK_ROWS)):
        count = min(_CHUNK_ROWS, sizes.usage - start)
        yield _usage_batch(world, count, _rng(seed, "usage", chunk + 1))


def _usage_batch(world: _World, count: int, rng: np.random.Generator) -> pa.RecordBatch:
    users = world.users
    user = _draw(rng, list(users.activity), count)
    kind = _draw(rng, _KIND_SHARES, count)
    client = np.where(kind == 0, users.ide[user], 0)
    product = _draw(rng, _USAGE_PRODUCT_SHARES, count)
    age = (rng.random(count) ** 1.6 * _WINDOW_DAYS * _DAY_MS).astype(np.int64)
    started = world.window.now_ms - age
    success = rng.random(count) < 0.94
    exit_code = np.where(success, _draw(rng, (0.45, 0.55), count), 2)
    monitor = (
        np.isin(kind, (1, 2)) & np.isin(product, (0, 2)) & (rng.random(count) < 0.2)
    )
    columns = {
        "ID": _join("urn:snyk:interaction:", _uuids(rng, count)),
        "PRODUCT_DISPLAY_NAME": _strings(list(_PRODUCTS)).take(product),
        "INTERACTION_TYPE": _repeat("Scan done", count),
        "INTERACTION_CATEGORIES": _CATEGORIES.take(
            np.where(monitor, 4 + (product == 2), product)
        ),
        "INTERACTION_TIMESTAMP": _instants(started),
        "INTERACTION_STATUS": _where(success, "success", "failure"),
        "INTERACTION_STAGE": _KIND_STAGES.take(kind),
        "INTERACTION_EXIT_CODE": pa.array(exit_code.astype(np.int64)),
        "INTERACTION_TARGET_ID": _interaction_targets(world, user, product, rng),
        "RUNTIME_APPLICATION_DATA_SCHEMA_VERSION": _repeat("v2", count),
        "RUNTIME_PERFORMANCE_DURATION_MS": _numbers(
            np.round(np.exp(rng.normal(8.6, 0.9, count)) * (1.0 + (product == _CODE)))
        ),
        "USER_NAME": _strings(users.names).take(user),
        "USER_EMAIL": _strings(users.emails).take(user),
        "UPDATED_AT": _instants(
            np.minimum(
                started + rng.integers(1_000, 6 * _HOUR_MS, count), world.window.now_ms
            )
        ),
    }
    columns |= _runtime(world, rng, user, kind, client, started)
    return _record_batch(
        "usage",
        count,
        _fill(_org_columns(world.tenant), "usage", users.org[user]),
        columns,
    )


def _runtime(
    world: _World,
    rng: np.random.Generator,
    user: IntArray,
    kind: IntArray,
    client: IntArray,
    started: IntArray,
) -> dict[str, pa.Array]:
    """The RUNTIME_* and ENVIRONMENT_* columns of each interaction."""
    years = (started - world.window.start_ms) / (365 * _DAY_MS)
    in_ci = np.isin(kind, (2, 3))
    platform = np.where(in_ci, _LINUX, world.users.platform[user])
    ci = _draw(rng, (0.5, 0.2, 0.15, 0.1, 0.05), len(kind))
    version = _CLIENT_VERSIONS.at(rng, client, years)
    ide = kind == 0
    integration = _where(
        in_ci, _CI_INTEGRATIONS.take(ci), _CLIENT_INTEGRATIONS.take(client)
    )
    return {
        "RUNTIME_APPLICATION_NAME": _CLIENT_APPLICATIONS.take(client),
        "RUNTIME_APPLICATION_VERSION": version,
        "RUNTIME_PLATFORM_OS": _PLATFORMS.take(platform),
        "RUNTIME_PLATFORM_ARCH": _ARCHITECTURES.take(_architectures(rng, platform)),
        "RUNTIME_ENVIRONMENT_NAME": _where(
            in_ci, _CI_SYSTEMS.take(ci), _CLIENT_ENVIRONMENTS.take(client)
        ),
        "ENVIRONMENT_DISPLAY_NAME": _CLIENT_LABELS.take(client),
        "RUNTIME_ENVIRONMENT_VERSION": _only(
            _ENVIRONMENT_VERSIONS.at(rng, client, years), ide
        ),
        "RUNTIME_INTEGRATION_NAME": _only(integration, kind != 4),
        "RUNTIME_INTEGRATION_VERSION": _only(version, ide | (kind == 1)),
    }


def _architectures(rng: np.random.Generator, platform: IntArray) -> IntArray:
    unit = rng.random(len(platform))
    architecture = np.zeros(len(platform), dtype=np.int64)
    for index, shares in enumerate(_ARCHITECTURE_SHARES):
        on_platform = platform == index
        architecture[on_platform] = _bucket(unit[on_platform], shares)
    return architecture


def _interaction_targets(
    world: _World, user: IntArray, product: IntArray, rng: np.random.Generator
) -> pa.Array:
    """Package URLs of what each interaction scanned.

    Half the Open Source scans test a dependency; the rest scan a project of the
    user's org that the same product covers.
    """
    count = len(user)
    projects = world.projects
    shelves = len(world.tenant.orgs) * len(_PRODUCTS)
    shelf = projects.org * len(_PRODUCTS) + projects.product
    stocked = np.bincount(shelf, minlength=shelves)
    wanted = world.users.org[user] * len(_PRODUCTS) + product
    pick = _offsets(list(stocked))[wanted]
    pick += (rng.random(count) * stocked[wanted]).astype(np.int64)
    by_shelf = np.argsort(shelf, kind="stable")
    own = projects.purl.take(pa.array(by_shelf[np.minimum(pick, len(by_shelf) - 1)]))
    package = _PACKAGE_PURLS.take(
        pa.array((rng.random(count) * len(_PACKAGE_PURLS)).astype(np.int64))
    )
    by_package = (product == _OPEN_SOURCE) & (rng.random(count) < 0.5)
    return _where(by_package | (stocked[wanted] == 0), package, own)


_CHECK_SHARES = (0.58, 0.27, 0.05, 0.10)  # success, failure, error, skipped
_CHECK_STATES = _strings(["success", "failure", "error", "skipped"])
_GROUP_STATES = _strings(["success", "failure", "error"])
_CHECK_GROUP_RANK = np.array([0, 1, 2, 0])
_ERROR = 2
_CHECK_DESCRIPTIONS = _strings(
    [
        "No new issues found",
        "",
        "The check could not be completed",
        "Skipped: no supported manifest files changed",
    ]
)
# ERROR_MESSAGE | ERROR_STATUS | ERROR_CLASSIFICATION, for SNYK-PR-CHECK-0001 on
_PR_ERRORS = _table(
    """
Pull request check failed to start                    | 500 | UNEXPECTED
No supported manifest files were found                | 422 | UNSUPPORTED
The SCM integration token has expired                 | 401 | ACTIONABLE
The repository is too large to test                   | 413 | UNSUPPORTED
Dependencies of the manifest could not be resolved    | 422 | ACTIONABLE
The test timed out                                    | 504 | UNEXPECTED
The SCM provider rate limit was exceeded              | 429 | ACTIONABLE
The branch or commit was not found                    | 404 | ACTIONABLE
Failed to run the check                               | 500 | UNEXPECTED
Snyk Code is not enabled for the organization         | 403 | ACTIONABLE
The project type does not support pull request checks | 400 | UNSUPPORTED
"""
)
_ERROR_CODES = _strings([f"SNYK-PR-CHECK-{k + 1:04d}" for k in range(len(_PR_ERRORS))])
_ERROR_URLS = _strings(
    [
        f"https://docs.snyk.io/scan-with-snyk/error-catalog#snyk-pr-check-{k + 1:04d}"
        for k in range(len(_PR_ERRORS))
    ]
)
_ERROR_MESSAGES = _strings([e[0] for e in _PR_ERRORS])
_ERROR_STATUSES = np.array([int(e[1]) for e in _PR_ERRORS], dtype=np.int64)
_ERROR_CLASSES = _strings([e[2] for e in _PR_ERRORS])
_KEY_SPAN = 1 << 43  # above any millisecond timestamp until the year 2248
_MINUTE_MS = 60_000


def _pr_check_chunks(
    world: _World, sizes: DemoSizes, seed: int
) -> Iterator[pa.RecordBatch]:
    candidates = np.unique(world.periods.project)
    weights = 1.0 + _rng(seed, "pr_checks").pareto(1.2, len(candidates))
    for chunk, start in enumerate(range(0, sizes.pr_checks, _CHUNK_ROWS)):
        count = min(_CHUNK_ROWS, sizes.pr_checks - start)
        rng = _rng(seed, "pr_checks", chunk + 1)
        yield _pr_check_batch(world, candidates, weights, count, rng)


def _pr_check_batch(
    world: _World,
    candidates: IntArray,
    weights: FloatArray,
    count: int,
    rng: np.random.Generator,
) -> pa.RecordBatch:
    # Checks of one group (one pull request run) are consecutive rows.
    opens = rng.random(count) < 0.7
    opens[0] = True
    heads = np.flatnonzero(opens)
    group = np.cumsum(opens) - 1
    project = candidates[_draw(rng, list(weights), len(heads))][group]

    times, created_ms = _check_times(rng, world.projects, project, heads, group)
    state = _draw(rng, _CHECK_SHARES, count)
    group_state = np.maximum.reduceat(_CHECK_GROUP_RANK[state], heads)
    columns = times | {
        "PUBLIC_ID": _uuids(rng, count),
        "PR_CHECK_GROUP_ID": _uuids(rng, len(heads)).take(pa.array(group)),
        "TEST_ID": _uuids(rng, count),
        "PR_CHECK_STATE": _CHECK_STATES.take(state),
        "PR_CHECK_GROUP_STATE": _GROUP_STATES.take(group_state[group]),
        "MARKED_AS_SUCCESS": pa.array((state == 1) & (rng.random(count) < 0.08)),
        "PR_CHECK_RESULT_DESCRIPTION": _check_descriptions(rng, state),
    }
    columns |= _pull_requests(rng, world.projects, project, heads, group)
    columns |= _check_errors(rng, state) | _check_settings(world, project, created_ms)
    projects = _fill(world.projects.columns, "pr_checks", project)
    return _record_batch("pr_checks", count, projects, columns)


def _check_times(
    rng: np.random.Generator,
    projects: _Projects,
    project: IntArray,
    heads: IntArray,
    group: IntArray,
) -> tuple[dict[str, pa.Array], IntArray]:
    """Creation and modification times of checks and groups; and each creation."""
    created = projects.created_ms[project[heads]]
    latest = np.maximum(projects.end_ms[project[heads]] - 2 * _HOUR_MS, created)
    group_created = _between(rng, created, latest)
    position = np.minimum(np.arange(len(project)) - heads[group], 6)
    check_created = group_created[group] + position * 5 * _MINUTE_MS
    check_created += rng.integers(0, _MINUTE_MS, len(project))
    check_modified = check_created + rng.integers(5_000, 10 * _MINUTE_MS, len(project))
    group_modified = np.maximum.reduceat(check_modified, heads)
    return {
        "PR_CHECK_CREATED_AT": _instants(check_created),
        "PR_CHECK_MODIFIED_AT": _instants(check_modified),
        "CHECK_GROUP_CREATED_AT": _instants(group_created[group]),
        "CHECK_GROUP_MODIFIED_AT": _instants(group_modified[group]),
        "UPDATED_AT": _instants(group_modified[group]),
    }, check_created


def _pull_requests(
    rng: np.random.Generator,
    projects: _Projects,
    project: IntArray,
    heads: IntArray,
    group: IntArray,
) -> dict[str, pa.Array]:
    """The pull request and commits each check group ran on."""
    shas = [_shas(rng, len(heads)).take(pa.array(group)) for _ in range(3)]
    number = _text(rng.integers(1, 2500, len(heads))[group])
    positions = pa.array(project)
    repository = projects.columns["PROJECT_TARGET_UPSTREAM_URL"].take(positions)
    return {
        "PULL_REQUEST": _join(repository, projects.pull_path.take(positions), number),
        "PULL_DATA_REF": _join(
            projects.pull_ref.take(positions),
            number,
            projects.pull_ref_suffix.take(positions),
        ),
        "OLD_VERSION_SHA": shas[0],
        "NEW_VERSION_SHA": shas[1],
        "MERGE_BASE_VERSION_SHA": shas[2],
    }


def _check_descriptions(rng: np.random.Generator, state: IntArray) -> pa.Array:
    count = len(state)
    found = rng.integers(1, 9, count)
    failed = _join("Security check failed: ", _text(found), " new issues found")
    # A rare multi-line description, to exercise quoting in CSV output.
    multiline = _join(
        "Security check failed:\n",
        _text(found),
        " new issues, ",
        _text(found - 1),
        " fixable",
    )
    failed = _where(rng.random(count) < 0.004, multiline, failed)
    return _where(state == 1, failed, _CHECK_DESCRIPTIONS.take(state))


def _check_errors(rng: np.random.Generator, state: IntArray) -> dict[str, pa.Array]:
    count = len(state)
    code = rng.integers(0, len(_PR_ERRORS), count)
    errored = state == _ERROR
    positions = pa.array(code)
    return {
        "ERROR_MESSAGE": _only(_ERROR_MESSAGES.take(positions), errored),
        "ERROR_CODE": _only(_ERROR_CODES.take(positions), errored),
        "ERROR_STATUS": pa.array(_ERROR_STATUSES[code], mask=~errored),
        "ERROR_CATALOG_URL": _only(_ERROR_URLS.take(positions), errored),
        "ERROR_CLASSIFICATION": _only(_ERROR_CLASSES.take(positions), errored),
    }


def _check_settings(
    world: _World, project: IntArray, created_ms: IntArray
) -> dict[str, pa.Array]:
    """The settings in force when each check ran, inherited ones at their defaults."""
    periods = world.periods
    starts = periods.project * _KEY_SPAN + periods.effective_ms
    period = np.searchsorted(starts, project * _KEY_SPAN + created_ms, side="right") - 1
    policy = np.maximum(periods.policy[period], 0)
    threshold = np.maximum(periods.threshold[period], 0)
    return {
        "SETTINGS_POLICY": _strings(list(_POLICIES)).take(policy),
        "SETTINGS_SEVERITY_THRESHOLD": _strings(list(_THRESHOLDS)).take(threshold),
        "IS_SETTINGS_FAIL_ONLY_FIXABLE": pa.array(
            periods.fail_only_fixable[period] == 1
        ),
    }


def _history_columns(effective_ms: IntArray, ends_ms: IntArray) -> dict[str, pa.Array]:
    current = ends_ms < 0
    return {
        "EFFECTIVE_AT": _instants(effective_ms),
        "ENDS_AT": _instants(ends_ms, ~current),
        "IS_CURRENT_SETTINGS": pa.array(current),
        "SOURCE_INTEGRATION_TYPE": _repeat("scm", len(effective_ms)),
        "UPDATED_AT": _instants(np.where(current, effective_ms, ends_ms)),
    }


def _project_adoption_chunks(
    world: _World, sizes: DemoSizes, seed: int
) -> Iterator[pa.RecordBatch]:
    dataset = "pr_checks_project_adoption"
    rng = _rng(seed, dataset)
    periods = world.periods
    count = len(periods.project)
    columns = _history_columns(periods.effective_ms, periods.ends_ms) | {
        "PR_CHECKS_PROJECT_ADOPTION_ID": _uuids(rng, count),
        "IS_PROJECT_MONITORED_HISTORICAL": pa.array(periods.monitored),
        "PROJECT_DELETED_HISTORICAL": pa.array(periods.deleted),
        "TEST_PULL_REQUESTS": _flags(periods.test_pull_requests),
        "PULL_REQUESTS_POLICY": _coded(_strings(list(_POLICIES)), periods.policy),
        "PULL_REQUESTS_SEVERITY_THRESHOLD": _coded(
            _strings(list(_THRESHOLDS)), periods.threshold
        ),
        "IS_PULL_REQUEST_FAIL_ONLY_FOR_ISSUES_WITH_FIX": _flags(
            periods.fail_only_fixable
        ),
    }
    project_columns = _fill(world.projects.columns, dataset, periods.project)
    yield _record_batch(dataset, count, project_columns, columns)


def _integration_adoption_chunks(
    world: _World, sizes: DemoSizes, seed: int
) -> Iterator[pa.RecordBatch]:
    dataset = "pr_checks_integration_adoption"
    rng = _rng(seed, dataset)
    integrations = world.integrations
    deleted = integrations.deleted_ms >= 0
    counts = rng.integers(1, 6, len(deleted))
    counts = np.where(deleted, np.maximum(counts, 2), counts)
    end = np.where(deleted, integrations.deleted_ms, world.window.now_ms)
    owner, effective, ends = _histories(
        rng, counts, integrations.created_ms, end, deleted
    )
    count = len(owner)
    columns = _history_columns(effective, ends) | {
        "PR_CHECKS_INTEGRATION_ADOPTION_ID": _uuids(rng, count),
        "ORG_SOURCE_PUBLIC_ID": _strings(integrations.ids).take(pa.array(owner)),
        "SOURCE_TYPE": _strings([s[0] for s in _SOURCES]).take(
            pa.array(integrations.source[owner])
        ),
        "ORG_SOURCE_CREATED": _instants(integrations.created_ms[owner]),
        "ORG_SOURCE_DELETED": _instants(integrations.deleted_ms[owner], deleted[owner]),
        "ORG_SOURCE_DELETED_HISTORICAL": pa.array((ends < 0) & deleted[owner]),
    }
    columns |= _integration_settings(rng, count)
    org_columns = _fill(_org_columns(world.tenant), dataset, integrations.org[owner])
    yield _record_batch(dataset, count, org_columns, columns)


def _integration_settings(rng: np.random.Generator, count: int) -> dict[str, pa.Array]:
    """The PR-check switches of an integration during each settings period."""
    prefix = "IS_PULL_REQUEST_CHECK_OPEN_SOURCE_FAIL_"
    code = rng.random(count) < 0.5
    severity = np.where(code, _draw(rng, (0.3, 0.3, 0.3, 0.1), count), -1)
    return {
        "IS_PULL_REQUEST_TEST_OPEN_SOURCE_ENABLED": pa.array(rng.random(count) < 0.8),
        f"{prefix}ON_ANY_VULNS": pa.array(rng.random(count) < 0.3),
        f"{prefix}ONLY_FOR_HIGH_OR_CRITICAL_SEVERITY": pa.array(
            rng.random(count) < 0.4
        ),
        f"{prefix}ONLY_FOR_ISSUES_WITH_FIX": pa.array(rng.random(count) < 0.3),
        "IS_PULL_REQUEST_TEST_CODE_ENABLED": pa.array(code),
        "PULL_REQUEST_CHECK_CODE_SEVERITY": _coded(
            _strings(list(_THRESHOLDS)), severity
        ),
    }


_GENERATORS: dict[str, Callable[[_World, DemoSizes, int], Iterator[pa.RecordBatch]]] = {
    "issues": _issue_chunks,
    "usage": _usage_chunks,
    "pr_checks": _pr_check_chunks,
    "pr_checks_project_adoption": _project_adoption_chunks,
    "pr_checks_integration_adoption": _integration_adoption_chunks,
}


def _check_sizes(sizes: DemoSizes) -> None:
    if min(sizes.issues, sizes.usage, sizes.pr_checks) < 0:
        raise ValueError("demo sizes cannot be negative")
    if sizes.projects < _MIN_PROJECTS:
        raise ValueError(f"a demo world needs at least {_MIN_PROJECTS} projects")
    if sizes.integrations < 1:
        raise ValueError("a demo world needs at least one integration")


def generate(
    dataset: str,
    tenant: DemoTenant,
    sizes: DemoSizes,
    *,
    seed: int = 7,
    now: datetime.datetime,
    batch_rows: int = 65_536,
) -> Iterator[pa.RecordBatch]:
    """Stream the rows of ``dataset`` for ``tenant`` as batches of ``batch_rows``.

    The batches have ``arrow_schema(dataset)``. The same seed, ``now`` and sizes
    always give the same rows, whatever ``batch_rows``. Issues, usage and PR
    checks have exactly the requested number of rows; the adoption datasets
    hold one settings history (1 to 5 periods) per PR-checked project (SCM
    imported Open Source and Code projects) or per integration. A dataset with
    no rows yields no batches. Timestamps lie in the four years before ``now``
    (a naive ``now`` means UTC).
    """
    generator = _GENERATORS.get(dataset)
    if generator is None:
        raise ValueError(f"unknown dataset {dataset!r}")
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    _check_sizes(sizes)

    world = _build_world(tenant, sizes, seed, now)
    return _rebatch(generator(world, sizes, seed), batch_rows)
