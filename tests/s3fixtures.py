"""Fixtures for tests that need an S3-compatible store (moto, see s3server).

``tests/conftest.py`` imports them, so any test can ask for ``s3_server`` or
``s3_bucket``; elsewhere, import them with::

    from s3fixtures import s3_bucket, s3_server  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from s3server import S3Server, start_s3_server


@dataclass(frozen=True)
class S3Bucket:
    """A fresh, empty bucket on the test server."""

    server: S3Server
    name: str

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def url(self, prefix: str = "") -> str:
        """The ``storage_url`` of this bucket, with an optional key prefix."""
        return f"s3://{self.name}/{prefix}".rstrip("/")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One moto server for the whole session."""
    server = start_s3_server()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Iterator[S3Bucket]:
    """A bucket of its own for the test, the AWS settings of the process pointing
    at the server; deleted afterwards."""
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    bucket = S3Bucket(s3_server, s3_server.create_bucket())
    yield bucket
    s3_server.delete_bucket(bucket.name)
