"""What the client reports while it works, and a one-line terminal display."""

from __future__ import annotations

import threading
import time
from typing import Protocol, TextIO

REDRAW_SECONDS = 0.1
TICK_SECONDS = 1.0


class Progress(Protocol):
    """Receives the client's progress; every method may be called from any thread."""

    def waiting(self, export_id: str, status: str) -> None: ...

    def downloading(self, total_bytes: int, total_parts: int) -> None: ...

    def advanced(self, byte_count: int) -> None: ...

    def part_done(self) -> None: ...

    def writing(self) -> None: ...

    def done(self) -> None: ...


class SilentProgress:
    """Reports nothing: for scripts and schedulers."""

    def waiting(self, export_id: str, status: str) -> None:
        pass

    def downloading(self, total_bytes: int, total_parts: int) -> None:
        pass

    def advanced(self, byte_count: int) -> None:
        pass

    def part_done(self) -> None:
        pass

    def writing(self) -> None:
        pass

    def done(self) -> None:
        pass


def format_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable: the last unit returns")


class TerminalProgress:
    """Redraws one status line on a terminal, at most ten times a second.

    While the job runs, a ticker redraws the status every second, so the
    elapsed time moves between polls that may be thirty seconds apart.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._line = ""
        self._total_bytes = 0
        self._total_parts = 0
        self._bytes = 0
        self._parts = 0
        self._job = ""
        self._ticking = threading.Event()

    def waiting(self, export_id: str, status: str) -> None:
        with self._lock:
            self._job = f"export {export_id[:8]} {status}"
        self._draw(self._waiting_line(), force=True)
        if not self._ticking.is_set():
            self._ticking.set()
            threading.Thread(target=self._tick, daemon=True).start()

    def _waiting_line(self) -> str:
        with self._lock:
            return f"{self._job}, {time.monotonic() - self._started:.0f}s"

    def _tick(self) -> None:
        while self._ticking.is_set():
            time.sleep(TICK_SECONDS)
            self._draw(self._waiting_line(), ticked=True)

    def downloading(self, total_bytes: int, total_parts: int) -> None:
        self._ticking.clear()
        with self._lock:
            self._total_bytes, self._total_parts = total_bytes, total_parts
        self._draw(self._download_line(), force=True)

    def advanced(self, byte_count: int) -> None:
        with self._lock:
            self._bytes += byte_count
        self._draw(self._download_line())

    def part_done(self) -> None:
        with self._lock:
            self._parts += 1
        self._draw(self._download_line(), force=True)

    def writing(self) -> None:
        self._draw(self._download_line() + ", writing output", force=True)

    def done(self) -> None:
        self._ticking.clear()
        with self._lock:
            if self._line:
                self.stream.write("\n")
                self.stream.flush()
            self._line = ""

    def _download_line(self) -> str:
        with self._lock:
            fraction = self._bytes / self._total_bytes if self._total_bytes else 1.0
            return (
                f"downloading {format_bytes(self._bytes)} of "
                f"{format_bytes(self._total_bytes)} ({fraction:.0%}), "
                f"parts {self._parts}/{self._total_parts}"
            )

    def _draw(self, line: str, *, force: bool = False, ticked: bool = False) -> None:
        with self._lock:
            if ticked and not self._ticking.is_set():
                return
            now = time.monotonic()
            if not force and now - self._drawn_at < REDRAW_SECONDS:
                return
            self._drawn_at = now
            self._line = line
            # Carriage return and erase-to-end-of-line: the line is replaced.
            self.stream.write("\r\x1b[K" + line)
            self.stream.flush()
