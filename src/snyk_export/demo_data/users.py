"""The tenant's users, who own projects and report usage."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snyk_export.demo_data.arrays import FloatArray, IntArray
from snyk_export.demo_data.draws import draw
from snyk_export.demo_data.tenant import DemoTenant
from snyk_export.demo_data.vocabulary import table

# display name | e-mail local part
_PEOPLE = table(
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
class Users:
    """The users of the world, one entry per user."""

    names: list[str]
    logins: list[str]
    emails: list[str]
    org: IntArray
    platform: IntArray  # index into usage._PLATFORMS
    ide: IntArray  # index into usage._CLIENTS
    activity: FloatArray


def build_users(rng: np.random.Generator, tenant: DemoTenant) -> Users:
    count = max(len(_PEOPLE), 3 * len(tenant.orgs))
    names, logins = [], []
    for k in range(count):
        name, login = _PEOPLE[k % len(_PEOPLE)]
        suffix = "" if k < len(_PEOPLE) else str(k // len(_PEOPLE) + 1)
        names.append(f"{name} {suffix}".strip())
        logins.append(f"{login}{suffix}")
    return Users(
        names=names,
        logins=logins,
        emails=[f"{login}@{tenant.group_slug}.example" for login in logins],
        org=np.arange(count, dtype=np.int64) % len(tenant.orgs),
        platform=draw(rng, (0.5, 0.3, 0.2), count),
        ide=1 + draw(rng, (0.45, 0.2, 0.12, 0.1, 0.08, 0.05), count),
        activity=rng.pareto(1.5, count) + 0.2,
    )
