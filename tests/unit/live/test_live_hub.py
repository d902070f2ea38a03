"""The hub's ordering rules in isolation (a fake log instead of Neo4j, no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.eventually import eventually_async
from tracegraph.events.records import SequencedEvent
from tracegraph.live.hub import EventFilter, LiveHub, RunFilter, SubscriberClosed
from tracegraph.store.live_reads import TailPage


def _ev(seq: int, pipeline: str = "p", run: str | None = "r", type_: str = "log") -> SequencedEvent:
    payload = {"id": f"e{seq}", "type": type_, "time": "2026-01-01T00:00:00Z", "pipeline": pipeline}
    if run:
        payload["run"] = run
    return SequencedEvent(seq, payload, "fp", datetime.now(UTC))


class FakeLog:
    """The stored log; each read yields to the loop so commits can land mid-replay."""

    def __init__(self, hub_ref: list[LiveHub]) -> None:
        self.events: list[SequencedEvent] = []
        self.hub_ref = hub_ref
        self.on_read: list[Any] = []

    def commit(self, *events: SequencedEvent) -> None:
        self.events.extend(events)
        self.hub_ref[0].publish(events)

    async def events_after(
        self,
        after_seq: int,
        *,
        pipeline: str | None = None,
        run: str | None = None,
        types: Collection[str] | None = None,
        limit: int = 1000,
    ) -> list[SequencedEvent]:
        await asyncio.sleep(0)  # a real read yields to the loop: commits may land meanwhile
        flt = EventFilter.of(pipeline, run, types)
        page = [e for e in self.events if e.seq > after_seq and flt.matches(e.payload)][:limit]
        if self.on_read:
            self.on_read.pop(0)()
        return page

    async def runs_by_ids(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {i: {"id": i, "pipeline": "p", "status": "running"} for i in ids}


def _hub(queue_size: int = 5, page_size: int = 3) -> tuple[LiveHub, FakeLog]:
    ref: list[LiveHub] = []
    log = FakeLog(ref)
    hub = LiveHub(log, queue_size=queue_size, page_size=page_size)
    ref.append(hub)
    return hub, log


async def _collect(stream: Any, n: int) -> list[int]:
    out = []
    async for item in stream:
        out.append(item.seq)
        if len(out) == n:
            break
    await stream.aclose()
    return out


async def test_commits_during_replay_overflowing_the_buffer_are_read_again() -> None:
    hub, log = _hub(queue_size=2, page_size=3)
    log.commit(*(_ev(s) for s in range(1, 8)))
    # During the first two page reads, 4 commits land each: the live buffer (2) overflows.
    seq = iter(range(8, 100))
    log.on_read = [lambda: log.commit(*(_ev(next(seq)) for _ in range(4)))] * 2
    stream = hub.events(EventFilter.of(pipeline="p"), after_seq=0)
    got = await asyncio.wait_for(_collect(stream, 15), 5)
    assert got == list(range(1, 16))


async def test_live_items_at_or_below_the_replay_end_are_dropped() -> None:
    hub, log = _hub(queue_size=100)
    log.commit(*(_ev(s) for s in range(1, 4)))
    log.on_read = [lambda: log.commit(_ev(4), _ev(5))]  # committed as the replay reads
    stream = hub.events(EventFilter.of(), after_seq=1)
    task = asyncio.create_task(_collect(stream, 5))
    await eventually_async(lambda: not log.on_read, what="the replay's first read")
    log.commit(_ev(6))
    assert await asyncio.wait_for(task, 5) == [2, 3, 4, 5, 6]


async def test_topics_route_by_run_pipeline_and_type() -> None:
    hub, log = _hub(queue_size=100)
    streams = {
        "run": hub.events(EventFilter.of(run="r1")),
        "pipe": hub.events(EventFilter.of(pipeline="p2")),
        "types": hub.events(EventFilter.of(types=["response.chunk"])),
    }
    tasks = {k: asyncio.create_task(_collect(s, 2)) for k, s in streams.items()}
    await eventually_async(lambda: hub.subscriber_count == 3, what="three subscribers")
    log.commit(
        _ev(1, "p1", "r1"),
        _ev(2, "p2", "r2"),
        _ev(3, "p1", "r2", "response.chunk"),
        _ev(4, "p2", "r1", "response.chunk"),
    )
    got = {k: await asyncio.wait_for(t, 5) for k, t in tasks.items()}
    assert got == {"run": [1, 4], "pipe": [2, 4], "types": [3, 4]}
    assert hub.subscriber_count == 0  # closed streams unregister


async def test_a_subscriber_behind_by_more_than_the_queue_is_closed_with_resume_point() -> None:
    hub, log = _hub(queue_size=3)
    stream = hub.events(EventFilter.of())
    first = asyncio.create_task(stream.__anext__())
    await eventually_async(lambda: hub.subscriber_count == 1, what="the subscriber")
    log.commit(_ev(1))
    assert (await first).seq == 1
    # One commit bigger than the queue is taken whole when the queue is empty...
    log.commit(*(_ev(s) for s in range(2, 7)))
    assert (await stream.__anext__()).seq == 2
    # ...but a further commit while 4 are still undelivered closes the subscriber.
    log.commit(_ev(7))
    with pytest.raises(SubscriberClosed) as info:
        await stream.__anext__()
    assert str(info.value) == "subscriber fell more than 3 events behind; resume with afterSeq=2"
    assert info.value.resume_after_seq == 2
    assert hub.subscriber_count == 0
    assert hub.dropped_subscribers == 1


async def test_run_updates_read_touched_runs_once_per_round() -> None:
    hub, log = _hub(queue_size=10)
    reads: list[list[str]] = []
    orig = log.runs_by_ids

    async def counting(ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        reads.append(list(ids))
        return await orig(ids)

    log.runs_by_ids = counting  # type: ignore[method-assign]
    hub.start()
    try:
        log.commit(_ev(1, run="r0"))  # nobody subscribed: not even noted (publish is sync)
        stream = hub.run_updates(RunFilter.of(pipeline="p"))
        task = asyncio.create_task(stream.__anext__())
        await eventually_async(lambda: hub.subscriber_count == 1, what="the subscriber")
        log.commit(_ev(2, run="r1"), _ev(3, run="r1"), _ev(4, run="r2"))
        update = await asyncio.wait_for(task, 5)
        assert update.run_id in {"r1", "r2"}
        assert reads == [["r1", "r2"]]
        await stream.aclose()
    finally:
        await hub.close()


class SlowStartLog(FakeLog):
    """A log whose tailer reads wait until released (a cold server planning the read);
    it records each read's answer timeout."""

    def __init__(self, hub_ref: list[LiveHub]) -> None:
        super().__init__(hub_ref)
        self.released = asyncio.Event()
        self.timeouts: list[float | None] = []

    async def tail(
        self, after_seq: int, after_note: int, limit: int, timeout_s: float | None = None
    ) -> TailPage:
        self.timeouts.append(timeout_s)
        await self.released.wait()
        last = self.events[-1].seq if self.events else 0
        return TailPage(last, 0, [e for e in self.events if e.seq > after_seq][:limit], [])

    async def write_note(self, origin: str, breaches: Sequence[str], alerts: Sequence[str]) -> None:
        return None


async def test_the_tailer_is_ready_after_its_first_read_and_reads_with_the_long_timeout() -> None:
    ref: list[LiveHub] = []
    log = SlowStartLog(ref)
    hub = LiveHub(log, tail_interval_s=0.01, tail_timeout_s=42.0)
    ref.append(hub)
    log.events.extend(_ev(s) for s in range(1, 4))  # committed before this replica started
    hub.start()
    try:
        await eventually_async(lambda: log.timeouts, what="the first read under way")
        await asyncio.sleep(0.05)
        # The read has not answered: not ready (/readyz says 503), however long it takes.
        assert not hub.tail_ready
        assert log.timeouts == [42.0]  # not a request's answer timeout (3 s)
        log.released.set()
        await eventually_async(lambda: hub.tail_ready, what="the tailer following the log")
        # It follows from where the log ended: a later commit of another replica reaches
        # a subscriber; every tick gets the long timeout too (nobody waits on it).
        stream = hub.events(EventFilter.of(pipeline="p"))
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.05)
        log.events.append(_ev(4))
        assert (await asyncio.wait_for(first, 5)).seq == 4
        await stream.aclose()
        assert set(log.timeouts) == {42.0}
    finally:
        await hub.close()


async def test_a_hub_that_does_not_tail_is_ready_at_once() -> None:
    hub, _ = _hub()
    assert hub.tail_ready


class TailLog(FakeLog):
    """Another replica's commits, read only by the tailer: ``bad`` seqs are rows the
    read cannot decode (LiveReader.tail passes them back as skipped), ``missing`` seqs
    are not in the log (a seq taken by a transaction that rolled back: a hole)."""

    def __init__(self, hub_ref: list[LiveHub]) -> None:
        super().__init__(hub_ref)
        self.bad: set[int] = set()
        self.missing: set[int] = set()
        self.last = 0

    def add(self, *seqs: int) -> None:
        self.events.extend(_ev(s) for s in seqs if s not in self.missing)
        self.last = max(self.last, *seqs)

    async def tail(
        self, after_seq: int, after_note: int, limit: int, timeout_s: float | None = None
    ) -> TailPage:
        await asyncio.sleep(0)
        rows = [e for e in self.events if e.seq > after_seq][:limit]
        good = [e for e in rows if e.seq not in self.bad]
        skipped = tuple(e.seq for e in rows if e.seq in self.bad)
        return TailPage(self.last, 0, good, [], skipped)

    async def write_note(self, origin: str, breaches: Sequence[str], alerts: Sequence[str]) -> None:
        return None


def _tailing_hub(page_size: int = 3, gap_hold_s: float = 60.0) -> tuple[LiveHub, TailLog]:
    ref: list[LiveHub] = []
    log = TailLog(ref)
    hub = LiveHub(
        log, queue_size=100, page_size=page_size, tail_interval_s=0.01, gap_hold_s=gap_hold_s
    )
    ref.append(hub)
    return hub, log


async def test_the_tailer_passes_rows_it_cannot_decode_and_reads_on() -> None:
    hub, log = _tailing_hub(page_size=3)
    hub.start()
    try:
        await eventually_async(lambda: hub.tail_ready, what="the tailer following the log")
        stream = hub.events(EventFilter.of(pipeline="p"))
        task = asyncio.create_task(_collect(stream, 4))
        await eventually_async(lambda: hub.subscriber_count == 1, what="the subscriber")
        # A whole page (3 rows) of undecodable rows, then more: no hold (60 s) to wait.
        log.bad |= {1, 2, 3, 5}
        log.add(*range(1, 9))
        assert await asyncio.wait_for(task, 5) == [4, 6, 7, 8]
        # An undecodable last row: the hub has had the log up to it (read-your-writes).
        log.bad.add(9)
        log.add(9)
        assert await hub.caught_up(9, timeout_s=5)
    finally:
        await hub.close()


async def test_a_hole_followed_by_more_than_a_page_is_skipped_and_every_page_read() -> None:
    # Seq 2 was taken by a transaction that rolled back; more than a page follows it.
    # A full page is no proof that 2 is missing from all of the log, only from what it
    # covers: up to its last row, which is past the hole.
    hub, log = _tailing_hub(page_size=3, gap_hold_s=0.05)
    hub.start()
    try:
        await eventually_async(lambda: hub.tail_ready, what="the tailer following the log")
        stream = hub.events(EventFilter.of(pipeline="p"))
        task = asyncio.create_task(_collect(stream, 10))
        await eventually_async(lambda: hub.subscriber_count == 1, what="the subscriber")
        log.missing.add(2)
        log.add(*range(1, 12))
        assert await asyncio.wait_for(task, 5) == [1, *range(3, 12)]
    finally:
        await hub.close()


async def test_own_commits_after_a_hole_and_more_than_a_page_of_others_reach_subscribers() -> None:
    # The hole's replica-mates: this hub's own commits wait behind it too.
    hub, log = _tailing_hub(page_size=3, gap_hold_s=0.05)
    hub.start()
    try:
        await eventually_async(lambda: hub.tail_ready, what="the tailer following the log")
        stream = hub.events(EventFilter.of(pipeline="p"))
        task = asyncio.create_task(_collect(stream, 9))
        await eventually_async(lambda: hub.subscriber_count == 1, what="the subscriber")
        log.missing.add(1)
        log.add(*range(1, 9))  # another replica's, after the hole: more than two pages
        log.commit(_ev(9), _ev(10))  # then this replica's own
        log.last = 10
        assert await asyncio.wait_for(task, 5) == list(range(2, 11))
    finally:
        await hub.close()
