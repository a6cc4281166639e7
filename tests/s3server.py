"""An S3-compatible server on a random local port, for tests.

No real object store (AWS S3, MinIO, Ceph) runs on this machine, so moto's
server mode stands in for one: a real S3 implementation in this process,
answering over real HTTP on 127.0.0.1. It does not check signatures or the
expiry of presigned URLs, and keeps every object in memory.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"
ACCESS_KEY_ID = "testing-access-key"
SECRET_ACCESS_KEY = "testing-secret-key"
DEFAULT_BUCKET = "snyk-export"


@dataclass
class S3Server:
    """A moto server and the fake credentials that reach it."""

    endpoint: str
    bucket: str
    _server: ThreadedMotoServer

    @property
    def port(self) -> int:
        return int(self.endpoint.rpartition(":")[2])

    def environment(self) -> dict[str, str]:
        """AWS settings that point any boto3 client at this server, and only it."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            # Keep ~/.aws and any real profile out of the tests.
            "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        }

    def client(self, endpoint_url: str | None = None) -> S3Client:
        """A client of the server with explicit fake credentials."""
        return boto3.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket, by default with a fresh name, and return its name."""
        name = name or f"test-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def delete_bucket(self, name: str) -> None:
        """Delete a bucket with its objects and unfinished uploads."""
        client = self.client()
        uploads = client.list_multipart_uploads(Bucket=name).get("Uploads", [])
        for upload in uploads:
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=item["Key"])
        client.delete_bucket(Bucket=name)

    def stop(self) -> None:
        self._server.stop()


def start_s3_server(bucket: str = DEFAULT_BUCKET) -> S3Server:
    """Start moto on a free port of 127.0.0.1, with ``bucket`` created."""
    # One line per request on stderr otherwise.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Server(f"http://{host}:{port}", bucket, server)
    s3.create_bucket(bucket)
    return s3
