"""WebhookSender's delivery policy against a real local HTTP receiver; no database needed.

Retryable answers (503, connection errors) are retried with capped exponential backoff up
to ``max_attempts``; other refusals are not retried. The backoff schedule is read from the
"webhook retry" log lines, not timed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from structlog.testing import capture_logs

from tracegraph.slas.webhooks import WebhookSender


class Receiver:
    """Answers POSTs with the scripted statuses (the last one repeats); counts them."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.answered: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                n = len(receiver.answered)
                status = receiver.statuses[min(n, len(receiver.statuses) - 1)]
                receiver.answered.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    found = Receiver(request.param)
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def _closed_port_url() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}/hook"


async def _settled(sender: WebhookSender) -> None:
    """Poll until the one alert was delivered or given up (at most 20 s)."""
    for _ in range(2000):
        if sender.delivered + sender.failed:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no outcome after 20 s: {vars(sender)}")


async def _send(url: str, **options: Any) -> tuple[WebhookSender, list[float]]:
    sender = WebhookSender([url], timeout_s=2.0, **options)
    with capture_logs() as logs:
        sender.start()
        try:
            assert sender.enqueue({"type": "sla.breach", "id": "b-1"})
            await _settled(sender)
        finally:
            await sender.stop()
    delays = [e["delay_s"] for e in logs if e["event"] == "webhook retry"]
    return sender, delays


@pytest.mark.parametrize("receiver", [[503, 503, 200]], indirect=True)
async def test_retryable_answers_are_retried_with_doubling_backoff(receiver: Receiver) -> None:
    sender, delays = await _send(receiver.url, max_attempts=5, backoff_s=0.01)
    assert (sender.delivered, sender.failed) == (1, 0)
    assert receiver.answered == [503, 503, 200]
    assert delays == pytest.approx([0.01, 0.02])


@pytest.mark.parametrize("receiver", [[503]], indirect=True)
async def test_gives_up_after_max_attempts_without_a_last_wait(receiver: Receiver) -> None:
    sender, delays = await _send(receiver.url, max_attempts=5, backoff_s=0.01, backoff_max_s=0.025)
    assert (sender.delivered, sender.failed) == (0, 1)
    assert receiver.answered == [503] * 5
    assert delays == pytest.approx([0.01, 0.02, 0.025, 0.025]), "capped at backoff_max_s"


@pytest.mark.parametrize("receiver", [[400, 200]], indirect=True)
async def test_a_refusal_is_not_retried(receiver: Receiver) -> None:
    sender, delays = await _send(receiver.url, max_attempts=5, backoff_s=0.01)
    assert (sender.delivered, sender.failed) == (0, 1)
    assert receiver.answered == [400]
    assert delays == []


async def test_connection_errors_are_retried() -> None:
    sender, delays = await _send(_closed_port_url(), max_attempts=3, backoff_s=0.01)
    assert (sender.delivered, sender.failed) == (0, 1)
    assert delays == pytest.approx([0.01, 0.02])


@pytest.mark.parametrize("receiver", [[200, 200]], indirect=True)
async def test_without_the_sla_lease_only_unleased_notices_are_sent(receiver: Receiver) -> None:
    # Issue 20: the SLA timer's alerts belong to the lease holder; a change request's
    # notice is sent by the replica that handled the mutation, lease or not.
    sender = WebhookSender([receiver.url], timeout_s=2.0)
    sender.may_send = lambda: False
    sender.start()
    try:
        assert sender.enqueue({"type": "sla.breach", "id": "b-1"})
        assert sender.enqueue({"type": "change.request", "id": "cr-1"}, leased=False)
        await _settled(sender)
    finally:
        await sender.stop()
    assert (sender.delivered, sender.dropped) == (1, 1)
    assert receiver.answered == [200]
