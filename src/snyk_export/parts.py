"""Splitting a stream of rendered CSV records into result parts.

Records arrive as Arrow string arrays whose value buffer holds the finished
bytes back to back; the offsets buffer tells where each record ends. Parts are
cut on record boundaries with vectorised arithmetic, and bytes move from
Arrow's buffers to the file without being copied into Python objects.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from snyk_export.jobs import Part
from snyk_export.storage.base import PartWriter

IN_FLIGHT_BATCHES = 2


@dataclass(frozen=True)
class PartLimits:
    """When a part is full."""

    max_rows: int
    max_bytes: int


def part_name(index: int) -> str:
    return f"data_{index}_0_0.csv"


def _record_buffers(array: pa.Array) -> tuple[np.ndarray, memoryview]:
    if array.null_count:
        raise ValueError("a rendered record is NULL")
    _, offsets_buffer, data_buffer = array.buffers()
    width = 8 if pa.types.is_large_string(array.type) else 4
    offsets = np.frombuffer(
        offsets_buffer,
        dtype=np.int64 if width == 8 else np.int32,
        count=len(array) + 1,
        offset=array.offset * width,
    ).astype(np.int64)
    data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
    return offsets, data


class PartSplitter:
    """Writes records into consecutive parts, each starting with the header."""

    def __init__(
        self,
        header: bytes,
        limits: PartLimits,
        open_part: Callable[[str], PartWriter],
    ) -> None:
        self.header = header
        self.limits = limits
        self._open_part = open_part
        self._writer: PartWriter | None = None
        self._rows = 0
        self._bytes = 0
        self.parts: list[Part] = []

    def _open(self) -> PartWriter:
        writer = self._open_part(part_name(len(self.parts)))
        writer.write(self.header)
        self._writer, self._rows, self._bytes = writer, 0, len(self.header)
        return writer

    def _close(self) -> None:
        if self._writer is not None:
            self.parts.append(self._writer.close(self._rows))
            self._writer = None

    def write_records(self, array: pa.Array) -> None:
        """Append a batch of records, opening new parts as the limits require."""
        if len(array) == 0:
            return  # an empty array may come without an offsets buffer to read
        offsets, data = _record_buffers(array)
        position, count = 0, len(array)
        while position < count:
            writer = self._writer or self._open()
            room_rows = self.limits.max_rows - self._rows
            room_bytes = self.limits.max_bytes - self._bytes
            window = (
                offsets[position + 1 : position + 1 + room_rows] - offsets[position]
            )
            take = int(np.searchsorted(window, room_bytes, side="right"))
            if take == 0 and self._rows == 0:
                take = 1  # a record is never split, even one larger than a part
            if take == 0:
                self._close()
                continue
            start, end = int(offsets[position]), int(offsets[position + take])
            writer.write(data[start:end])
            self._rows += take
            self._bytes += end - start
            position += take
            if self._rows >= self.limits.max_rows or position < count:
                self._close()

    def abort(self) -> None:
        """Give up the part being written, releasing what it holds."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.abort()

    def finish(self, empty_file: bool) -> list[Part]:
        """Close the last part; an empty export gets one header-only part if asked."""
        if not self.parts and self._writer is None and empty_file:
            self._open()
        self._close()
        return self.parts


def split_records(
    batches: Iterable[pa.Array],
    header: bytes,
    limits: PartLimits,
    open_part: Callable[[str], PartWriter],
    *,
    empty_file: bool = False,
) -> list[Part]:
    """Write every batch into parts and return them in order.

    Batches are written on a second thread, so the engine renders the next
    batches while earlier ones are written and made durable; the queue between
    the two bounds the memory held in flight.
    """
    splitter = PartSplitter(header, limits, open_part)
    pending: queue.Queue[pa.Array | None] = queue.Queue(maxsize=IN_FLIGHT_BATCHES)
    failure: list[BaseException] = []

    def write_all() -> None:
        try:
            while (batch := pending.get()) is not None:
                splitter.write_records(batch)
        except BaseException as exc:
            failure.append(exc)
            while pending.get() is not None:
                pass

    writer = threading.Thread(target=write_all, name="part-writer", daemon=True)
    writer.start()
    try:
        for batch in batches:
            if failure:
                break
            pending.put(batch)
    finally:
        pending.put(None)
        writer.join()
    if failure:
        splitter.abort()
        raise failure.pop()
    return splitter.finish(empty_file)
