"""The demo's workload (``tracegraph demo``'s event stream and its SDK executor, which
honours commands) streaming into a test service from a thread of its own."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from tests.conftest import RunningService
from tracegraph.cli.demo_command import _emit, _Stats


@contextlib.contextmanager
def demo_workload(service: RunningService, speed: float, seconds: float = 600) -> Iterator[None]:
    """Run the demo workload against ``service`` at ``speed`` (runs last 20-90 s / speed)
    until the block ends; its executor is closed and its last events sent on the way out."""
    loop = asyncio.new_event_loop()
    task: asyncio.Task[None] | None = None
    started = threading.Event()

    def run() -> None:
        nonlocal task
        asyncio.set_event_loop(loop)
        task = loop.create_task(
            _emit(service.base_url, service.key("executor"), speed, _Stats(), seconds)
        )
        started.set()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=run, name="demo-workload", daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(lambda: task.cancel() if task else None)
        thread.join(30)
        loop.close()
