"""Alert webhooks: each alert is POSTed as JSON to every configured URL.

Delivery runs in background tasks fed by a bounded queue: enqueueing never waits (a full
queue drops the alert and counts it), and a slow or failing receiver is retried with
exponential backoff without holding up ingestion or other deliveries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import partial
from typing import Any

import httpx
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from tracegraph.background import BackgroundTask

log = structlog.get_logger(__name__)

# Worth retrying: the receiver may recover. Other 4xx answers will not change.
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class _RetryableAnswer(Exception):
    """The receiver answered with a status in ``RETRY_STATUS``; ``str()`` says which."""


class _LeaseLost(Exception):
    """This replica no longer holds the SLA lease: the alert is the new holder's."""


def json_safe(value: Any) -> Any:
    """Driver temporal values and datetimes as RFC 3339 strings, recursively."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


class WebhookSender:
    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout_s: float = 5.0,
        max_attempts: int = 5,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        queue_size: int = 1000,
        concurrency: int = 8,
    ) -> None:
        self.urls = list(urls)
        self._timeout = timeout_s
        self._attempts = max(1, max_attempts)
        self._backoff = backoff_s
        self._backoff_max = backoff_max_s
        # (payload, whether it is the SLA lease holder's to send)
        self._queue: asyncio.Queue[tuple[dict[str, Any], bool]] = asyncio.Queue(maxsize=queue_size)
        self._slots = asyncio.Semaphore(concurrency)
        self._task = BackgroundTask("tracegraph-webhooks", self._run)
        self._inflight: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        # False while this replica does not hold the SLA lease (issue 20): alerts are
        # sent by the lease holder only, so a paused old holder sends none.
        self.may_send: Callable[[], bool] = lambda: True

    def enqueue(self, payload: dict[str, Any], *, leased: bool = True) -> bool:
        """Queue ``payload`` for every URL. ``leased``: an SLA timer's alert, sent only
        while this replica holds the SLA lease; a change request's notice (sent once, by
        the replica that handled the mutation) is not."""
        if not self.urls:
            return False
        try:
            self._queue.put_nowait((json_safe(payload), leased))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("webhook queue full; alert not delivered", dropped=self.dropped)
            return False
        return True

    def start(self) -> None:
        if self.urls and not self._task.started:
            self._client = httpx.AsyncClient(timeout=self._timeout)
            self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        for task in list(self._inflight):
            task.cancel()
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            payload, leased = await self._queue.get()
            if leased and not self.may_send():
                self.dropped += 1
                log.warning("SLA lease lost: webhook not sent (the new holder alerts)")
                continue
            for url in self.urls:
                await self._slots.acquire()
                task = asyncio.create_task(self._deliver(url, payload, leased))
                self._inflight.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()

    async def _deliver(self, url: str, payload: dict[str, Any], leased: bool) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            # backoff_s, then twice that, and so on, capped at backoff_max_s; no wait after the
            # last attempt.
            wait=wait_exponential(multiplier=self._backoff, max=self._backoff_max),
            retry=retry_if_exception_type((_RetryableAnswer, httpx.HTTPError)),
            before_sleep=partial(_log_retry, url),
            reraise=True,
        )
        try:
            status: int = await retrying(self._post, url, payload, leased)
        except _LeaseLost:
            self.dropped += 1
            log.warning("SLA lease lost: webhook not retried", url=url)
            return
        except (_RetryableAnswer, httpx.HTTPError):
            self.failed += 1
            log.warning("webhook gave up", url=url, attempts=self._attempts)
            return
        if status < 300:
            self.delivered += 1
        else:
            self.failed += 1
            log.warning("webhook refused", url=url, status=status)

    async def _post(self, url: str, payload: dict[str, Any], leased: bool) -> int:
        """One attempt: the answer's status, unless it is worth retrying (raises)."""
        assert self._client is not None
        if leased and not self.may_send():
            raise _LeaseLost("the SLA lease was lost")
        resp = await self._client.post(url, json=payload)
        if resp.status_code in RETRY_STATUS:
            raise _RetryableAnswer(f"status {resp.status_code}")
        return resp.status_code


def _log_retry(url: str, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    reason = str(exc) if isinstance(exc, _RetryableAnswer) else f"{type(exc).__name__}: {exc}"
    delay = state.next_action.sleep if state.next_action else 0.0
    log.info("webhook retry", url=url, attempt=state.attempt_number, delay_s=delay, reason=reason)
