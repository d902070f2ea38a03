"""A rate-limited request starts no thread (issue 18 item 9: found profiling the command
benchmark). limits' MemoryStorage started a new expiry thread on a hit whenever its last
one (a 10 ms timer) had ended, so at tens of requests per second nearly every request
started one, and ``Thread.start`` blocks the event loop until the new thread runs: on a
loaded machine milliseconds each (4.5 s of 40 s in a profiled run)."""

from __future__ import annotations

import threading
import time

import pytest

from tracegraph.api.rate_limit import RateLimited, RateLimits
from tracegraph.auth import Principal, Role
from tracegraph.settings import Settings

ALICE = Principal(actor="key:alice", roles=frozenset({Role.VIEWER}), kind="api_key", subject="a")


def _threads_made() -> int:
    """How many Thread objects were made so far (their default names count them)."""
    return int(threading.Thread().name.removeprefix("Thread-").split(" ")[0])


def test_hits_spaced_past_the_expiry_timer_start_no_thread() -> None:
    limits = RateLimits(Settings(rate_limit="1000/minute"))
    limits.hit("read", ALICE)
    before = _threads_made()
    for _ in range(5):
        time.sleep(0.03)  # past the storage's 10 ms timer: it started a thread here
        limits.hit("read", ALICE)
    assert _threads_made() == before + 1  # only _threads_made's own


def test_the_limit_still_holds_and_its_window_moves_on() -> None:
    limits = RateLimits(Settings(rate_limit="3/second"))
    for _ in range(3):
        limits.hit("read", ALICE)
    with pytest.raises(RateLimited):
        limits.hit("read", ALICE)
    deadline = time.monotonic() + 5
    while True:  # the window moves on: allowed again within a second or so
        try:
            limits.hit("read", ALICE)
            break
        except RateLimited:
            assert time.monotonic() < deadline, "the window never moved on"
            time.sleep(0.05)
