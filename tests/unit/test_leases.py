"""DutyLease (issue 20): the duty runs exactly while the lease is held; fences follow."""

from __future__ import annotations

import asyncio

from tests.support.eventually import eventually_async
from tracegraph.leases import DutyLease


class Backend:
    """The lease table of one database, in memory: ``owner`` may be changed by a test."""

    def __init__(self) -> None:
        self.owner: str | None = None
        self.token = 0
        self.reachable = True

    async def acquire(self, name: str, holder: str, token: int | None, ttl_s: float) -> int | None:
        if not self.reachable:
            raise ConnectionError("down")
        if self.owner is None:
            self.owner, self.token = holder, self.token + 1
        return self.token if self.owner == holder else None

    async def release(self, name: str, holder: str, token: int) -> None:
        if self.owner == holder and self.token == token:
            self.owner = None


def test_the_duty_runs_while_held_and_stops_when_lost_or_unrenewable() -> None:
    async def scenario() -> None:
        backend, events = Backend(), []
        lease = DutyLease(
            backend,
            "sla",
            ttl_s=0.3,
            on_gain=lambda: events.append("gain"),
            on_loss=lambda: events.append("loss"),
        )
        lease.start()
        await eventually_async(lambda: lease.held, what="the lease taken")
        assert events == ["gain"] and lease.fence()["token"] == 1
        backend.reachable = False  # renewals fail: held only until the local deadline
        await eventually_async(lambda: events == ["gain", "loss"], what="the duty stopped")
        assert lease.fence()["token"] == -1  # its fenced writes are refused
        backend.reachable, backend.owner = True, "other"
        await asyncio.sleep(0)
        assert not lease.held
        backend.owner = None  # the other replica released it
        await eventually_async(lambda: lease.held, what="the lease taken again")
        assert events == ["gain", "loss", "gain"] and lease.fence()["token"] == 2
        await lease.stop()
        assert backend.owner is None and events[-1] == "loss"

    asyncio.run(scenario())


def test_replica_settings_out_of_bounds_stop_the_start() -> None:
    import pytest
    from pydantic import ValidationError

    from tracegraph.settings import Settings

    for bad in ({"lease_ttl_s": 0.5}, {"live_tail_interval_s": 0}, {"live_gap_hold_s": -1}):
        with pytest.raises(ValidationError, match=next(iter(bad))):
            Settings(**bad)
