"""Result files in an S3-compatible object store.

Clients download them through the app (links on ``public_base_url``, exactly as
the contract describes them), or, if the operator chooses, straight from the
store through presigned links.

Each attempt of a job writes under its own key prefix,
``PREFIX/<export_id>/<attempt>/<name>``, so a worker taken for dead can never
overwrite the files of a newer attempt. An object appears only once its upload
completes, so there is nothing to rename when parts are published: the job
record, not the store, decides what clients can see.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from snyk_export.errors import (
    ConfigurationError,
    ExportError,
    Unavailable,
)
from snyk_export.jobs import Export, Part

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
CHUNK_BYTES = 8 * MIB
# S3 refuses multipart chunks under 5 MiB, except the last one.
MIN_CHUNK_BYTES = 5 * MIB
# A SigV4 presigned URL lives at most a week.
MAX_LINK_SECONDS = 7 * 24 * 3600
CONTENT_TYPE = "text/csv; charset=utf-8"
DELETE_BATCH = 1000

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TRANSFER_CONFIG = Config(
    signature_version="s3v4",
    connect_timeout=10,
    read_timeout=60,
    retries={"mode": "standard", "max_attempts": 5},
)
# A readiness probe answers quickly rather than retrying.
_PROBE_CONFIG = _TRANSFER_CONFIG.merge(
    Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 1})
)
_PATH_STYLE = Config(s3={"addressing_style": "path"})


def _disposition(name: str) -> str:
    return f'attachment; filename="{name}"'


def parse_storage_url(url: str) -> tuple[str, str]:
    """The bucket and the key prefix (maybe empty) of ``s3://BUCKET/PREFIX``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigurationError(f"storage URL must be s3://BUCKET/PREFIX, not {url!r}")
    return parts.netloc, parts.path.strip("/")


def _connect(
    session: boto3.session.Session,
    config: Config,
    endpoint_url: str | None = None,
    region_name: str | None = None,
) -> S3Client:
    """A client; path-style when the endpoint is not AWS's (MinIO, moto, Ceph)."""
    client = session.client(
        "s3", endpoint_url=endpoint_url, region_name=region_name, config=config
    )
    host = urlsplit(client.meta.endpoint_url).hostname or ""
    if host.endswith((".amazonaws.com", ".amazonaws.com.cn")):
        return client
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region_name,
        config=config.merge(_PATH_STYLE),
    )


def _segment(value: str) -> str:
    if not _SEGMENT.fullmatch(value):
        raise ValueError(f"{value!r} cannot be part of a storage key")
    return value


class S3PartWriter:
    """Uploads one part in chunks of bounded size, measuring it on the way.

    A part no larger than one chunk is a single PUT; a larger one is a multipart
    upload, aborted on any failure. Nothing is visible until ``close`` returns.
    """

    def __init__(
        self, client: S3Client, bucket: str, key: str, name: str, chunk_bytes: int
    ) -> None:
        self.name = name
        self.key = key
        self._client = client
        self._bucket = bucket
        self._chunk_bytes = chunk_bytes
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._uploaded: list[CompletedPartTypeDef] = []
        self._hash = hashlib.sha256()
        self._size = 0
        self._finished = False

    @property
    def buffered_bytes(self) -> int:
        """Bytes held in memory, never more than one chunk."""
        return len(self._buffer)

    def write(self, data: bytes | memoryview) -> None:
        if self._finished:
            raise ValueError(f"part {self.name} is already closed")
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._size += view.nbytes

        try:
            while view:
                # A full chunk goes out only once more data follows, so the last
                # chunk is never empty and a part of exactly one chunk is one PUT.
                if len(self._buffer) == self._chunk_bytes:
                    self._upload_chunk()
                room = self._chunk_bytes - len(self._buffer)
                self._buffer += view[:room]
                view = view[room:]
        except Exception:
            self.abort()
            raise

    def close(self, row_count: int) -> Part:
        if self._finished:
            raise ValueError(f"part {self.name} is already closed")

        try:
            if self._upload_id is None:
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=self.key,
                    Body=bytes(self._buffer),
                    ContentType=CONTENT_TYPE,
                    ContentDisposition=_disposition(self.name),
                )
            else:
                self._upload_chunk()
                self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._uploaded},
                )
        except Exception:
            self.abort()
            raise

        self._finished = True
        self._buffer = bytearray()
        return Part(self.name, self._size, row_count, self._hash.hexdigest())

    def abort(self) -> None:
        """Give the part up, leaving nothing of it in the store."""
        self._finished = True
        self._buffer = bytearray()
        if self._upload_id is None:
            return

        upload_id, self._upload_id = self._upload_id, None
        try:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self.key, UploadId=upload_id
            )
        except (BotoCoreError, ClientError):
            # The failure that brought us here matters more; discard() aborts
            # what is left under the attempt's prefix.
            logger.warning("Could not abort the upload of %s", self.key, exc_info=True)

    def _upload_chunk(self) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self._bucket,
                Key=self.key,
                ContentType=CONTENT_TYPE,
                ContentDisposition=_disposition(self.name),
            )
            self._upload_id = created["UploadId"]
        number = len(self._uploaded) + 1
        response = self._client.upload_part(
            Bucket=self._bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=bytes(self._buffer),
        )
        self._uploaded.append({"ETag": response["ETag"], "PartNumber": number})
        self._buffer.clear()


class S3Storage:
    """Parts kept in ``s3://BUCKET/PREFIX``; links from ``proxy_links`` or presigned.

    Without ``client``, the endpoint, region and credentials come from the usual
    AWS settings (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, profiles...).
    Links are signed for ``public_endpoint_url`` when clients reach the store at
    another address than this process, or by ``public_client`` if given; a
    client built for ``public_endpoint_url`` takes its credentials from the
    usual AWS settings too.
    """

    def __init__(
        self,
        url: str,
        *,
        public_endpoint_url: str | None = None,
        client: S3Client | None = None,
        public_client: S3Client | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        proxy_links: Callable[[Export, Part, int], str] | None = None,
    ) -> None:
        self.bucket, self.prefix = parse_storage_url(url)
        self.proxy_links = proxy_links
        if chunk_bytes < MIN_CHUNK_BYTES:
            raise ConfigurationError(
                f"chunk_bytes must be at least {MIN_CHUNK_BYTES}, the S3 minimum"
            )
        self.chunk_bytes = chunk_bytes
        self._root = f"{self.prefix}/" if self.prefix else ""

        session = boto3.session.Session()
        self.client = client or _connect(session, _TRANSFER_CONFIG)
        self._probe_client = client or _connect(session, _PROBE_CONFIG)
        if public_client is None and public_endpoint_url:
            public_client = _connect(
                session,
                _TRANSFER_CONFIG,
                public_endpoint_url,
                self.client.meta.region_name,
            )
        self.public_client = public_client or self.client

    def _attempt_prefix(self, export_id: str, attempt: int) -> str:
        return f"{self._root}{_segment(export_id)}/{attempt}/"

    def _key(self, export: Export, name: str) -> str:
        return self._attempt_prefix(export.id, export.attempts) + _segment(name)

    def open_part(self, export: Export, name: str) -> S3PartWriter:
        key = self._key(export, name)
        return S3PartWriter(self.client, self.bucket, key, name, self.chunk_bytes)

    def publish(self, export: Export, parts: list[Part]) -> None:
        """Check that every part is stored whole; uploads are already visible."""
        if not parts:
            return

        expected = {self._key(export, part.name): part.file_size for part in parts}
        prefix = self._attempt_prefix(export.id, export.attempts)
        found = dict(self._objects(prefix))
        wrong = sorted(key for key, size in expected.items() if found.get(key) != size)

        if wrong:
            # Not ExportFailed: a store that lost a write is worth another run.
            raise ExportError(
                f"{len(wrong)} of {len(parts)} parts of export {export.id} are "
                f"missing or of the wrong size in storage, first {wrong[0]}"
            )

    def link(self, export: Export, part: Part, expires: int) -> str:
        """A link served by the app (``proxy_links``), or a presigned URL.

        A presigned URL carries no response overrides (the object keeps its
        own Content-Disposition), and the slashes of its credential scope are
        left unescaped, so it holds no ``%`` that a decoding client could undo.
        """
        if self.proxy_links is not None:
            return self.proxy_links(export, part, expires)
        seconds = min(max(1, expires - int(time.time())), MAX_LINK_SECONDS)
        url = self.public_client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(export, part.name)},
            ExpiresIn=seconds,
        )
        return url.replace("%2F", "/")

    def published(self, export: Export, name: str) -> Iterator[bytes] | None:
        """The bytes of a published part in chunks, or None if it is not stored.

        Only the object's existence is checked here; its body is fetched once
        the chunks are first asked for (a HEAD request never fetches it).
        """
        key = self._key(export, name)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise Unavailable("the result store is unreachable; retry shortly") from exc
        except BotoCoreError as exc:
            raise Unavailable("the result store is unreachable; retry shortly") from exc
        return self._chunks(key)

    def _chunks(self, key: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            yield from body.iter_chunks(MIB)
        finally:
            body.close()

    def discard(self, export_id: str, attempt: int | None = None) -> None:
        if attempt is None:
            prefix = f"{self._root}{_segment(export_id)}/"
        else:
            prefix = self._attempt_prefix(export_id, attempt)
        # Uploads first: one still running could otherwise complete after the
        # objects are gone.
        self._abort_uploads(prefix)
        self._delete_objects(prefix)

    def stored(self) -> dict[str, set[int]]:
        """Attempts of each export with an object or an unfinished upload stored."""
        objects = (key for key, _ in self._objects(self._root))
        uploads = (key for key, _ in self._uploads(self._root))
        stored: dict[str, set[int]] = {}
        for key in itertools.chain(objects, uploads):
            segments = key[len(self._root) :].split("/")
            if len(segments) != 3 or not all(map(_SEGMENT.fullmatch, segments)):
                continue
            export_id, attempt, _ = segments
            if attempt.isdecimal():
                stored.setdefault(export_id, set()).add(int(attempt))
        return stored

    def check(self) -> None:
        host = urlsplit(self.client.meta.endpoint_url).netloc.rpartition("@")[2]
        try:
            self._probe_client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "unknown")
            raise Unavailable(
                f"S3 bucket {self.bucket} at {host} cannot be used: error {code}"
            ) from exc
        except BotoCoreError as exc:
            raise Unavailable(
                f"S3 bucket {self.bucket} at {host} is unreachable: "
                f"{type(exc).__name__}"
            ) from exc

    def _objects(self, prefix: str) -> Iterator[tuple[str, int]]:
        """Key and size of every object under ``prefix``."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], item["Size"]

    def _uploads(self, prefix: str) -> Iterator[tuple[str, str]]:
        """Key and upload id of every unfinished multipart upload under ``prefix``."""
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                yield upload["Key"], upload["UploadId"]

    def _abort_uploads(self, prefix: str) -> None:
        for key, upload_id in list(self._uploads(prefix)):
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                    raise

    def _delete_objects(self, prefix: str) -> None:
        batch: list[str] = []
        for key, _ in self._objects(prefix):
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, keys: list[str]) -> None:
        response = self.client.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise ExportError(
                f"could not delete {len(errors)} objects from S3 bucket "
                f"{self.bucket}, first {first.get('Key')}: {first.get('Code')}"
            )
