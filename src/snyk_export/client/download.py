"""Downloading result parts in parallel, verified, with links renewed on expiry.

Links expire (Snyk's are presigned storage URLs, this server's carry an
``expires`` and a signature). A 403 on a download is taken for an expired link:
the results endpoint is asked once for fresh links, shared by every worker, and
the part is fetched again from the start.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import httpx

from snyk_export.client.api import (
    DEFAULT_RETRY,
    Deadline,
    ResultPart,
    RetryPolicy,
    retry_after_seconds,
)
from snyk_export.client.errors import (
    REQUEST_ID_HEADER,
    DeadlineExceeded,
    DownloadFailed,
)

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
MAX_LINK_RENEWALS = 5


@dataclass(frozen=True)
class DownloadedPart:
    """A part on disk whose size and row count matched the results listing."""

    index: int
    path: Path
    file_size: int
    row_count: int


class RecordCounter:
    """Counts CSV records: line feeds outside quoted fields (RFC 4180)."""

    def __init__(self) -> None:
        self.records = 0
        self._quoted = False

    def feed(self, chunk: bytes) -> None:
        # A doubled quote inside a field flips the state twice, so parity alone
        # tells whether a line feed ends a record or belongs to a value.
        pieces = chunk.split(b'"')
        last = len(pieces) - 1
        for position, piece in enumerate(pieces):
            if not self._quoted:
                self.records += piece.count(b"\n")
            if position < last:
                self._quoted = not self._quoted


class LinkBook:
    """The current links of an export's parts, renewed once per expiry."""

    def __init__(
        self,
        parts: Sequence[ResultPart],
        renew: Callable[[], Sequence[ResultPart]],
    ) -> None:
        self._parts = tuple(parts)
        self._renew = renew
        self._generation = 0
        self._lock = threading.Lock()
        self.renewals = 0

    def current(self, index: int) -> tuple[ResultPart, int]:
        with self._lock:
            return self._parts[index], self._generation

    def renew(self, seen_generation: int) -> None:
        """Fresh links, unless another worker renewed them since ``seen_generation``."""
        with self._lock:
            if self._generation != seen_generation:
                return
            fresh = tuple(self._renew())
            listed = [(p.file_size, p.row_count) for p in self._parts]
            if [(p.file_size, p.row_count) for p in fresh] != listed:
                raise DownloadFailed("the export's parts changed while downloading")
            self._parts = fresh
            self._generation += 1
            self.renewals += 1


class _LinkExpired(Exception):
    pass


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PartDownloader:
    """Fetches every part of an export into a directory, verifying each."""

    def __init__(
        self,
        http: httpx.Client,
        links: LinkBook,
        directory: Path,
        deadline: Deadline,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        on_bytes: Callable[[int], None] = lambda count: None,
        on_part: Callable[[DownloadedPart], None] = lambda part: None,
    ) -> None:
        self.http = http
        self.links = links
        self.directory = directory
        self.deadline = deadline
        self.retry = retry
        self.on_bytes = on_bytes
        self.on_part = on_part
        self.retries = 0
        self._stopping = threading.Event()

    def fetch_all(self, count: int, workers: int) -> list[DownloadedPart]:
        """Every part, in results order; the first failure stops the others."""
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(self.fetch, index) for index in range(count)]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [future for future in done if future.exception()]
            if failed:
                self._stopping.set()
                failed[0].result()
            return [future.result() for future in futures]

    def fetch(self, index: int) -> DownloadedPart:
        """One part, retried on network and server failures, renewed on expiry."""
        renewals = failures = 0
        while True:
            self._check_running()
            part, generation = self.links.current(index)
            try:
                downloaded = self._attempt(index, part)
            except _LinkExpired:
                renewals += 1
                if renewals > MAX_LINK_RENEWALS:
                    raise DownloadFailed(
                        f"part {index}: links kept expiring ({renewals - 1} renewals)"
                    ) from None
                self.links.renew(generation)
                continue
            except _Transient as exc:
                failures += 1
                if failures > self.retry.max_retries:
                    raise DownloadFailed(f"part {index}: {exc}") from exc
                self._back_off(failures, exc)
                continue
            self.on_part(downloaded)
            return downloaded

    def _back_off(self, failures: int, exc: _Transient) -> None:
        self.retries += 1
        wait_seconds = exc.retry_after
        if wait_seconds is None:
            ceiling = self.retry.retry_initial_seconds * 2 ** (failures - 1)
            wait_seconds = random.uniform(0.5, 1.0) * min(
                ceiling, self.retry.retry_max_seconds
            )
        logger.debug("Retrying a part in %.1fs after %s", wait_seconds, exc)
        self.deadline.sleep(wait_seconds, f"to retry a download after {exc}")

    def _attempt(self, index: int, part: ResultPart) -> DownloadedPart:
        path = self.directory / f"part-{index:05d}.csv"
        timeout = min(300.0, max(1.0, self.deadline.remaining_seconds()))
        written = 0
        try:
            with self.http.stream("GET", part.url, timeout=timeout) as response:
                self._check_status(index, response)
                counter = RecordCounter()
                with path.open("wb") as handle:
                    for chunk in response.iter_bytes(CHUNK_BYTES):
                        self._check_running()
                        handle.write(chunk)
                        counter.feed(chunk)
                        written += len(chunk)
                        self.on_bytes(len(chunk))
        except httpx.TransportError as exc:
            self.on_bytes(-written)
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            self.on_bytes(-written)
            raise
        rows = max(0, counter.records - 1)
        if written != part.file_size or rows != part.row_count:
            self.on_bytes(-written)
            raise _Transient(
                f"got {written} bytes and {rows} rows, "
                f"expected {part.file_size} bytes and {part.row_count} rows"
            )
        return DownloadedPart(index, path, written, rows)

    def _check_status(self, index: int, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        response.read()
        request_id = response.headers.get(REQUEST_ID_HEADER)
        if status == 403:
            raise _LinkExpired()
        if status == 429 or status >= 500:
            raise _Transient(
                f"download answered {status}", retry_after_seconds(response)
            )
        raise DownloadFailed(
            f"part {index}: download answered {status}: {response.text[:200]}",
            request_id=request_id,
        )

    def _check_running(self) -> None:
        if self._stopping.is_set():
            raise DownloadFailed("stopped: another part failed")
        if self.deadline.remaining_seconds() <= 0:
            raise DeadlineExceeded("deadline reached while downloading")
