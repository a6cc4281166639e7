"""The example deployment (deploy/) names only commands, settings and probes
that exist, and starts its processes in a workable order.

Docker Compose itself is not on this machine, so the file is checked here
rather than started.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from snyk_export.cli import build_parser
from snyk_export.config import ENV_PREFIX, load_settings
from snyk_export.observability import PROBE_PATHS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image") == "snyk-export:latest"
    }


def test_every_process_of_ours_runs_a_real_command_with_valid_settings(
    compose: dict[str, Any],
) -> None:
    services = ours(compose)
    assert {"migrate", "api", "worker"} <= set(services)
    parser = build_parser()
    for name, service in services.items():
        parser.parse_args(service["command"])  # exits on an unknown command
        environment = {k: str(v) for k, v in service["environment"].items()}
        unknown = [
            key
            for key in environment
            if key.startswith(ENV_PREFIX)
            and key.removeprefix(ENV_PREFIX).lower()
            not in load_settings(environ={}).__dataclass_fields__
        ]
        assert unknown == [], f"{name} sets settings that do not exist"
        settings = load_settings(environ=environment)
        assert settings.queue == "procrastinate", name
        assert str(settings.storage_url).startswith("s3://"), name


def test_probes_ask_for_paths_the_processes_serve(compose: dict[str, Any]) -> None:
    for name in ("api", "worker"):
        test = " ".join(compose["services"][name]["healthcheck"]["test"])
        paths = re.findall(r"http://127\.0\.0\.1:\d+(/\w+)", test)
        assert paths, name
        assert set(paths) <= PROBE_PATHS
    worker_port = compose["services"]["worker"]["environment"][
        "SNYK_EXPORT_WORKER_PORT"
    ]
    assert f":{worker_port}/" in " ".join(
        compose["services"]["worker"]["healthcheck"]["test"]
    )


def test_schema_and_bucket_come_before_the_replicas_and_workers(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["bucket"]["condition"] == "service_completed_successfully"
    assert "migrate" not in services["migrate"]["depends_on"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == (
        "service_healthy"
    )
    # The bucket the processes write to is the one the setup job creates.
    bucket = services["api"]["environment"]["SNYK_EXPORT_STORAGE_URL"].split("/")[2]
    assert f"store/{bucket}" in " ".join(services["bucket"]["command"])


def test_the_image_installs_the_project_and_runs_the_command() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    root = DEPLOY.parent
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in shlex.split(line)[1:-1]:
                assert (root / source).exists(), source
    assert 'ENTRYPOINT ["snyk-export"]' in dockerfile
