"""Give the memory of an ingest burst back to the operating system once it is over.

A burst's bodies, decoded events and rows are freed when its requests are answered, but
glibc keeps the freed pages in its heaps (one per thread that allocated, up to 8 per
core) for reuse, so the process's RSS stayed at its peak for good. ``malloc_trim(0)``
returns every free page; it is called (in a worker thread: it walks the heaps) once
ingestion has been idle for ``delay_s`` after at least ``min_bytes`` of request bodies
were admitted, so quiet traffic never pays for it. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import time
from collections.abc import Callable

import structlog

from tracegraph.background import BackgroundTask

log = structlog.get_logger(__name__)


def _load_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _load_malloc_trim()


def trim_heap() -> bool:
    """Return the C heap's free pages to the OS; False where that is not possible."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True


class HeapTrimmer:
    """Trims after a burst: requests report :meth:`started` and :meth:`finished` (with
    their body's size); the trim follows ``delay_s`` with nothing in flight."""

    def __init__(self, *, delay_s: float, min_bytes: int) -> None:
        self._delay_s = delay_s
        self._min_bytes = min_bytes
        self._since_trim = 0
        self._busy = 0
        self._idle_since = time.monotonic()
        self._wake = asyncio.Event()
        self._task = BackgroundTask("tracegraph-heap-trim", self._run)
        self.trims = 0

    @property
    def enabled(self) -> bool:
        return self._delay_s > 0 and _MALLOC_TRIM is not None

    def start(self) -> None:
        if self.enabled:
            self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    def started(self) -> None:
        self._busy += 1

    def finished(self, nbytes: int) -> None:
        self._since_trim += nbytes
        self._busy -= 1
        if not self._busy:
            self._idle_since = time.monotonic()
            if self._since_trim >= self._min_bytes:
                self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            # Idle for delay_s without interruption, or wait again.
            while True:
                quiet_for = time.monotonic() - self._idle_since
                if not self._busy and quiet_for >= self._delay_s:
                    break
                await asyncio.sleep(max(self._delay_s - quiet_for, 0.05))
            self._wake.clear()
            self._since_trim = 0
            started = time.perf_counter()
            # The burst's reference cycles first: the service collects its oldest generation
            # rarely (serve's GC tuning), and what they hold would pin the pages.
            gc.collect()
            await asyncio.to_thread(trim_heap)
            self.trims += 1
            log.debug("heap trimmed after ingest", seconds=round(time.perf_counter() - started, 4))
