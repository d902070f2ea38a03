"""The background sender: batches events, posts them, retries, spools, never raises.

The user's threads only append to a bounded in-memory buffer (``enqueue`` never does
network I/O and never waits on the service). One daemon thread takes batches off the
buffer and posts them to ``/v1/events``:

* 200/207: done (207 rejections are logged; the service keeps them in its quarantine,
  so re-sending would not help).
* connection errors, timeouts, 429, 5xx: retryable. Without a spool the batch is retried
  with exponential backoff (at least ``Retry-After``) while new events pile up in the
  buffer; past ``max_buffer`` they are dropped and counted. With a spool the batch is
  written to disk at once and, for a backoff period, later batches go straight to disk
  too; the oldest spool file is the probe that tells when the service is back, and then
  the spool is drained.
* 401/403 (the API key is missing, wrong, revoked, or not an ingester's): not transient,
  so never retried. Logged once, loudly; from then on this client stops posting. With a
  spool every batch (and the spool itself) stays on disk for the next start-up with a
  valid key; without one they are counted as dropped.
* other 4xx (bad body): not retryable; logged and counted as dropped.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from tracegraph.sdk._spool import Spool, dumps

log = logging.getLogger("tracegraph.sdk")

_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
_AUTH_REFUSED = frozenset({401, 403})
_MAX_LOGGED_REJECTIONS = 10
# Spool files re-sent per loop turn, so fresh events are not starved by a long backlog.
_SPOOL_FILES_PER_TURN = 8


@dataclass
class SenderStats:
    """Counters of one client (read them from ``Tracegraph.stats``)."""

    emitted: int = 0  # events handed to the SDK
    sent: int = 0  # events the service acknowledged (200/207)
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0  # rejected by the service (in its quarantine)
    dropped: int = 0  # lost on the client: buffer full, unsendable, or closed
    spooled: int = 0  # written to the spool
    resent: int = 0  # re-sent from the spool and acknowledged
    retries: int = 0  # failed attempts that will be tried again
    auth_refused: bool = False  # the service refused the API key (401/403): sending stopped
    batches: int = 0  # acknowledged POSTs
    last_seq: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    retry: bool = False
    retry_after_s: float | None = None
    error: str | None = None
    auth: bool = False  # 401/403: the credential, not the service, is the problem


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class Sender:
    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_buffer: int = 10_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        timeout_s: float = 10.0,
        backoff_base_s: float = 0.5,
        max_backoff_s: float = 30.0,
        spool_dir: str | Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.stats = SenderStats()
        self._max_buffer = max(1, max_buffer)
        self._batch_size = max(1, batch_size)
        self._flush_interval = flush_interval_s
        self._backoff_base = backoff_base_s
        self._max_backoff = max_backoff_s
        self._spool = Spool(spool_dir) if spool_dir is not None else None
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            headers=dict(headers or {}),
            transport=transport,
        )
        self._buffer: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition()
        self._inflight = 0
        self._flush_waiters = 0
        self._closing = False
        self._closed = False
        self._abort = threading.Event()
        self._burst_dropped = 0
        # With a spool: until this monotonic time, batches go to disk without trying.
        self._down_until = 0.0
        self._down_backoff = backoff_base_s
        self._thread = threading.Thread(
            target=self._loop, name="tracegraph-sdk-sender", daemon=True
        )
        self._thread.start()

    # -- the user's side: never blocks on the network, never raises ----------------------

    def enqueue(self, events: Sequence[dict[str, Any]]) -> None:
        if not events:
            return
        overflow: list[dict[str, Any]] = []
        with self._cond:
            self.stats.emitted += len(events)
            if self._closed:
                self._count_drop(len(events), "the client is closed")
                return
            room = max(0, self._max_buffer - len(self._buffer))
            self._buffer.extend(events[:room])
            overflow = list(events[room:])
            if overflow and self._spool is None:
                self._count_drop(
                    len(overflow), f"the buffer is full (max_buffer={self._max_buffer})"
                )
                overflow = []
            elif not overflow and self._burst_dropped:
                log.warning(
                    "tracegraph: buffer has room again; %d events were dropped", self._burst_dropped
                )
                self._burst_dropped = 0
            if len(self._buffer) >= self._batch_size:
                self._cond.notify_all()
        if overflow:
            # Nothing may be lost when spooling: what does not fit goes straight to disk.
            self._to_spool(overflow)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every buffered event was sent (or spooled); False on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                while self._buffer or self._inflight:
                    if not self._thread.is_alive():
                        return False
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._cond.wait(0.1 if remaining is None else min(remaining, 0.1))
                return True
            finally:
                self._flush_waiters -= 1

    def close(self, timeout_s: float = 10.0) -> None:
        """Send what is left (within the timeout), spool or drop the rest, stop the thread."""
        with self._cond:
            if self._closed or self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            # Stuck retrying a down service without a spool: give up on the in-flight batch.
            self._abort.set()
            self._thread.join(5.0)
        with self._cond:
            leftover = list(self._buffer)
            self._buffer.clear()
            self._closed = True
            self._cond.notify_all()
        if leftover:
            if self._spool is not None:
                self._to_spool(leftover)
            else:
                self._count_drop(len(leftover), "the client closed before they could be sent")
        self._client.close()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def spooled_files(self) -> int:
        """Spool files waiting to be re-sent (0 without a spool)."""
        return len(self._spool.files()) if self._spool is not None else 0

    # -- the sender thread -------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            try:
                if not self._turn():
                    return
            except Exception:  # the thread must survive anything
                log.exception("tracegraph: sender error")
                if self._abort.wait(0.5):
                    return

    def _turn(self) -> bool:
        """One batch (or one spool drain); False when the thread should end."""
        with self._cond:
            deadline = time.monotonic() + self._flush_interval
            while (
                len(self._buffer) < self._batch_size
                and not self._closing
                and not self._flush_waiters
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            n = min(self._batch_size, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(n)]
            self._inflight = n
            closing = self._closing
        try:
            if batch:
                self._deliver(batch)
            if self._spool is not None and not self._abort.is_set():
                self._drain_spool(limit=_SPOOL_FILES_PER_TURN)
        finally:
            with self._cond:
                self._inflight = 0
                self._cond.notify_all()
                done = closing and not self._buffer
        return not (done or self._abort.is_set())

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        if self.stats.auth_refused:
            self._hold(batch)
            return
        if self._spool is not None and time.monotonic() < self._down_until:
            self._to_spool(batch)
            return
        attempt = 0
        while True:
            outcome = self._post(batch)
            if outcome.ok:
                self._service_up()
                return
            if outcome.auth:
                self._refused(outcome)
                self._hold(batch)
                return
            if not outcome.retry:
                self._count_drop(len(batch), f"the service refused them: {outcome.error}")
                return
            self.stats.retries += 1
            if self._spool is not None:
                self._service_down(outcome)
                self._to_spool(batch)
                return
            attempt += 1
            delay = self._backoff(attempt, outcome.retry_after_s)
            if attempt == 1:
                log.warning(
                    "tracegraph: cannot send events (%s); retrying with backoff", outcome.error
                )
            if self._abort.wait(delay):
                self._count_drop(len(batch), "the client closed while the service was down")
                return

    def _drain_spool(self, limit: int) -> None:
        assert self._spool is not None
        if time.monotonic() < self._down_until or self.stats.auth_refused:
            return
        for path in self._spool.files()[:limit]:
            events = self._spool.read(path)
            if events is None:
                continue
            outcome = self._post(events) if events else _Outcome(ok=True)
            if outcome.ok:
                self.stats.resent += len(events)
                self._spool.remove(path)
                self._service_up()
                continue
            if outcome.auth:
                self._refused(outcome)  # the file stays for a start-up with a valid key
                return
            if outcome.retry:
                self._service_down(outcome)
                return
            log.error("tracegraph: spool file %s refused (%s); removing it", path, outcome.error)
            self._count_drop(len(events), "the service refused them")
            self._spool.remove(path)

    def _refused(self, outcome: _Outcome) -> None:
        """The API key was refused: stop posting (retrying would be refused again)."""
        with self._cond:
            first = not self.stats.auth_refused
            self.stats.auth_refused = True
            self.stats.last_error = outcome.error
        if first:
            kept = (
                f"events are kept in the spool ({self._spool.directory}) for a restart "
                "with a valid key"
                if self._spool is not None
                else "events are dropped (configure spool_dir to keep them)"
            )
            log.error(
                "tracegraph: %s; sending stopped, %s. Set api_key= or TRACEGRAPH_API_KEY "
                "to an ingester key.",
                outcome.error,
                kept,
            )

    def _hold(self, batch: list[dict[str, Any]]) -> None:
        """A batch that cannot be sent with this client's key: spool it, else drop it."""
        if self._spool is not None:
            self._to_spool(batch)
        else:
            self._count_drop(len(batch), "the service refused the API key")

    def _service_up(self) -> None:
        if self._down_until:
            log.warning("tracegraph: the service answers again; sending the spool")
        self._down_until = 0.0
        self._down_backoff = self._backoff_base

    def _service_down(self, outcome: _Outcome) -> None:
        if not self._down_until:
            log.warning("tracegraph: cannot send events (%s); spooling to disk", outcome.error)
        self.stats.last_error = outcome.error
        delay = max(self._down_backoff, outcome.retry_after_s or 0.0)
        self._down_until = time.monotonic() + delay
        self._down_backoff = min(self._down_backoff * 2, self._max_backoff)

    def _backoff(self, attempt: int, retry_after_s: float | None) -> float:
        # Full jitter keeps many clients from retrying in lockstep after an outage.
        ceiling = min(self._max_backoff, self._backoff_base * 2 ** (attempt - 1))
        return max(retry_after_s or 0.0, random.uniform(ceiling / 2, ceiling))

    def _post(self, batch: list[dict[str, Any]]) -> _Outcome:
        body = b"[" + b",".join(dumps(ev) for ev in batch) + b"]"
        try:
            resp = self._client.post(
                "/v1/events", content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.stats.last_error = error
            return _Outcome(ok=False, retry=True, error=error)
        status = resp.status_code
        if status in (200, 207):
            self._record(batch, resp)
            return _Outcome(ok=True)
        if status == 413 and len(batch) > 1:
            # Over the service's size limits: halve until each part fits.
            mid = len(batch) // 2
            first = self._post(batch[:mid])
            if not first.ok:
                return first if first.retry else self._post(batch[mid:])
            return self._post(batch[mid:])
        if status in _AUTH_REFUSED:
            try:
                detail = str(resp.json().get("error") or resp.text)
            except (ValueError, AttributeError):
                detail = resp.text
            error = f"the service refused the API key ({status}): {detail[:200]}"
            self.stats.last_error = error
            return _Outcome(ok=False, retry=False, error=error, auth=True)
        error = f"HTTP {status}: {resp.text[:200]}"
        self.stats.last_error = error
        return _Outcome(
            ok=False,
            retry=status in _RETRYABLE,
            retry_after_s=_retry_after(resp.headers),
            error=error,
        )

    def _record(self, batch: list[dict[str, Any]], resp: httpx.Response) -> None:
        try:
            body = resp.json()
        except ValueError:
            body = {}
        rejected = body.get("rejected") or []
        with self._cond:
            self.stats.batches += 1
            self.stats.sent += len(batch)
            self.stats.accepted += int(body.get("accepted", 0))
            self.stats.duplicates += int(body.get("duplicates", 0))
            self.stats.rejected += len(rejected)
            self.stats.last_seq = max(self.stats.last_seq, int(body.get("last_seq", 0)))
        for r in rejected[:_MAX_LOGGED_REJECTIONS]:
            log.warning(
                "tracegraph: event %s rejected (kept in the service's quarantine): %s",
                r.get("id"),
                r.get("error"),
            )
        if len(rejected) > _MAX_LOGGED_REJECTIONS:
            log.warning(
                "tracegraph: %d more events rejected in the same batch",
                len(rejected) - _MAX_LOGGED_REJECTIONS,
            )

    def _to_spool(self, events: list[dict[str, Any]]) -> None:
        assert self._spool is not None
        try:
            self._spool.append(events)
        except OSError as exc:
            self._count_drop(len(events), f"the spool could not be written ({exc})")
            return
        with self._cond:
            self.stats.spooled += len(events)

    def _count_drop(self, n: int, why: str) -> None:
        # Logged once per burst: a down service must not flood the user's logs.
        with self._cond:  # an RLock: callers may already hold it
            self.stats.dropped += n
            if not self._burst_dropped:
                log.warning("tracegraph: dropping events: %s (stats.dropped counts them)", why)
            self._burst_dropped += n
