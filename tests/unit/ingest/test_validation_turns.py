"""Concurrent requests validate in turns, in arrival order, still yielding to the loop
between slices (so the writer's round trips are never held up by a whole request)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from tracegraph.auth.scopes import WriteScope
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.events.records import WriteUnit
from tracegraph.ingest import service as service_module
from tracegraph.ingest.service import IngestService


class RecordingService(IngestService):
    """Notes which request each validated slice belonged to."""

    def __init__(self) -> None:
        super().__init__(None, None)  # type: ignore[arg-type]
        self.slices: list[str | None] = []

    def _prepare_into(
        self,
        unit: WriteUnit,
        raw_events: Sequence[Any],
        offset: int,
        scope: WriteScope | None = None,
    ) -> None:
        self.slices.append(unit.principal)
        super()._prepare_into(unit, raw_events, offset, scope)


async def test_concurrent_requests_validate_in_turns_in_arrival_order() -> None:
    events = WorkloadGenerator(seed=4).events(3 * 4 * service_module.PREPARE_SLICE)
    requests = {name: events[i::3] for i, name in enumerate(("first", "second", "third"))}
    service = RecordingService()
    loop_turns = 0

    async def ticker() -> None:
        nonlocal loop_turns
        while True:
            loop_turns += 1
            await asyncio.sleep(0)  # the behaviour measured: one turn of the event loop

    tick = asyncio.create_task(ticker())
    try:
        units = await asyncio.gather(
            *(service.prepare_cooperatively(evs, principal=name) for name, evs in requests.items())
        )
    finally:
        tick.cancel()

    # Each request whole, one after another, in the order they arrived.
    assert service.slices == ["first"] * 4 + ["second"] * 4 + ["third"] * 4
    assert [len(u.events) for u in units] == [len(evs) for evs in requests.values()]
    assert [u.events[-1].index for u in units] == [len(evs) - 1 for evs in requests.values()]
    # ...and the loop ran other work between slices all along.
    assert loop_turns >= len(service.slices) - 1


async def test_principals_take_validation_turns_round_robin() -> None:
    # One principal's backlog of requests does not validate ahead of another's request.
    events = WorkloadGenerator(seed=5).events(2 * service_module.PREPARE_SLICE)
    service = RecordingService()
    arrivals = ["flood", "flood", "flood", "other"]
    await asyncio.gather(
        *(service.prepare_cooperatively(events, principal=name) for name in arrivals)
    )
    # Two slices per request; "other" comes right after the request in progress.
    assert service.slices == ["flood"] * 2 + ["other"] * 2 + ["flood"] * 4
