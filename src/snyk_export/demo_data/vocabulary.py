"""Vocabulary the datasets share, kept as readable text tables.

Products, severities and PR-check settings; project types; package ecosystems;
and the problems findings are drawn from: vulnerability titles, licences, Snyk
Code rules and IaC rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snyk_export.demo_data.arrays import offsets, strings

OPEN_SOURCE, CODE, CONTAINER, IAC = range(4)
PRODUCTS = ("Snyk Open Source", "Snyk Code", "Snyk Container", "Snyk IaC")
SEVERITIES = ("Critical", "High", "Medium", "Low")
SEVERITY_SHARES = (0.08, 0.27, 0.45, 0.20)
THRESHOLDS = ("low", "medium", "high", "critical")
POLICIES = ("only_new", "all")


def table(text: str) -> list[list[str]]:
    """The rows of a ``|``-separated text table, cells stripped."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return [[cell.strip() for cell in line.split("|")] for line in lines]


def words(text: str) -> list[str]:
    return text.split()


def optional(cell: str) -> str | None:
    return None if cell == "-" else cell


@dataclass(frozen=True)
class ProjectType:
    """A kind of project: what it scans, its product and its problem space."""

    name: str
    display_name: str
    product: int
    ecosystem: int  # problem space of its findings; -1 for Code
    target_file: str | None
    runtime: str | None
    share: float
    from_scm: bool  # imported from a repository, else scanned as a container image


# name | display name | product | ecosystem | target file | runtime | share | source
PROJECT_TYPES = tuple(
    ProjectType(
        name=r[0],
        display_name=r[1],
        product=int(r[2]),
        ecosystem=int(r[3]),
        target_file=optional(r[4]),
        runtime=optional(r[5]),
        share=float(r[6]),
        from_scm=r[7] == "scm",
    )
    for r in table(
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
FIRST_TYPES = ("npm", "sast", "deb", "terraform")


@dataclass(frozen=True)
class Ecosystem:
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
ECOSYSTEMS = tuple(
    Ecosystem(
        token=r[0],
        purl_type=r[1],
        version_suffix=optional(r[2]) or "",
        range_open=r[3],
        range_close=optional(r[4]) or "",
        packages=tuple(_PACKAGES_BY_TOKEN[r[0]].split()),
    )
    for r in table(
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
LICENSED_ECOSYSTEMS = 5  # the Open Source ones, first in ECOSYSTEMS
# IaC rule families: token | title of each rule
_IAC_RULES = table(
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
FIRST_IAC_ECOSYSTEM = len(ECOSYSTEMS)
ECOSYSTEM_COUNT = len(ECOSYSTEMS) + len(_IAC_FAMILIES)
ECOSYSTEM_TOKENS = strings([e.token for e in ECOSYSTEMS] + list(_IAC_FAMILIES))


def _package_token(ecosystem: Ecosystem, package: str) -> str:
    """The package part of a Snyk vulnerability id, e.g. ANGULARCORE."""
    source = package.split(":")[0]
    if ecosystem.version_suffix:
        source = source.split("/")[0]
    return "".join(ch for ch in source if ch.isalnum()).upper()


PACKAGES = strings([p for e in ECOSYSTEMS for p in e.packages])
PACKAGE_TOKENS = strings([_package_token(e, p) for e in ECOSYSTEMS for p in e.packages])
PACKAGE_COUNT = np.array([len(e.packages) for e in ECOSYSTEMS], dtype=np.int64)
PACKAGE_START = offsets(list(PACKAGE_COUNT))
VERSION_SUFFIXES = strings([e.version_suffix for e in ECOSYSTEMS])
RANGE_OPEN = strings([e.range_open for e in ECOSYSTEMS])
RANGE_CLOSE = strings([e.range_close for e in ECOSYSTEMS])
PURL_TYPES = strings([e.purl_type for e in ECOSYSTEMS])
IAC_TITLES = strings([r[1] for r in _IAC_RULES])
IAC_TITLE_COUNT = np.array(
    [sum(r[0] == f for r in _IAC_RULES) for f in _IAC_FAMILIES], dtype=np.int64
)
IAC_TITLE_START = offsets(list(IAC_TITLE_COUNT))

# title | CWE
VULNERABILITY_TITLES = table(
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
ODD_TITLES = [
    ['Cross-site Scripting (XSS) via "résumé" uploads, in file names', "CWE-79"],
    ["Improper Neutralization of CRLF Sequences\nin HTTP Headers", "CWE-93"],
]
ODD_TITLE_SHARE = 0.004
TITLES = strings([t for t, _ in VULNERABILITY_TITLES + ODD_TITLES])
TITLE_CWES = strings([c for _, c in VULNERABILITY_TITLES + ODD_TITLES])

LICENSES = strings(words("GPL-3.0 AGPL-3.0 GPL-2.0 LGPL-2.1 MPL-2.0 EPL-1.0 CDDL-1.0"))
LICENSE_SEVERITY = np.array([1, 1, 1, 2, 2, 3, 3], dtype=np.int64)

CODE_LANGUAGES = ("javascript", "python", "java", "go")
# rule id (language/name) | title | severity (index into SEVERITIES) | CWE
_CODE_RULES = table(
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
RULE_IDS = strings([r[0] for r in _CODE_RULES])
RULE_TITLES = strings([r[1] for r in _CODE_RULES])
RULE_SEVERITY = np.array([int(r[2]) for r in _CODE_RULES], dtype=np.int64)
RULE_CWES = strings([r[3] for r in _CODE_RULES])
_RULE_LANGUAGES = [r[0].split("/")[0] for r in _CODE_RULES]
RULE_COUNT = np.array(
    [_RULE_LANGUAGES.count(lang) for lang in CODE_LANGUAGES], dtype=np.int64
)
RULE_START = offsets(list(RULE_COUNT))
FILE_PATHS = strings([p for lang in CODE_LANGUAGES for p in _CODE_FILES[lang].split()])
FILE_COUNT = np.array(
    [len(_CODE_FILES[lang].split()) for lang in CODE_LANGUAGES], dtype=np.int64
)
FILE_START = offsets(list(FILE_COUNT))
