"""The SDK with no service listening: emitting never raises nor waits, drops are counted."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import free_port
from tracegraph.sdk import Tracegraph


def test_closed_port_never_raises_and_counts_drops(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    tg = Tracegraph(url=url, max_buffer=20, batch_size=5, flush_interval_s=0.01)
    started = time.monotonic()
    with tg.run("sdk-down") as run:
        for i in range(20):
            with run.step(f"s{i}") as step:
                step.progress(i)
                step.llm_call("openai", "gpt-4o", prompt="p", response="r")
    elapsed = time.monotonic() - started
    assert elapsed < 2, "emitting must not wait for the service"
    tg.close(timeout_s=1)
    assert time.monotonic() - started < 15
    stats = tg.stats
    assert stats.emitted == 2 + 20 * 5
    assert stats.sent == 0
    assert stats.dropped == stats.emitted  # nothing could go anywhere: all counted
    assert stats.retries >= 1
    tg.emit("log", data={"level": "info", "message": "after close"})  # still no exception
    assert tg.stats.dropped == stats.emitted
