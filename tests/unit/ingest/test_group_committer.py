"""The group committer's own rules, against an in-memory writer (no database).

``FakeWriter`` has :meth:`EventWriter.write`'s signature and does what the committer
relies on: numbers events in commit order and answers one result per unit. A gate lets
a test hold a batch "in flight" to queue requests behind it. What the graph becomes is
tested against Neo4j in tests/integration/test_group_commit.py; here it is batching,
turns between principals, deadlines, failures and the writer's restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from neo4j.exceptions import CypherTypeError, ServiceUnavailable

from tests.support.eventually import eventually_async
from tracegraph.events.records import (
    BatchResult,
    PendingEvent,
    QuarantineEntry,
    SequencedEvent,
    UnitResult,
    WriteUnit,
)
from tracegraph.ingest.errors import DatabaseUnavailable, Overloaded
from tracegraph.ingest.group_commit import GroupCommitter


class FakeWriter:
    """Commits in memory: each event of each unit gets the next seq."""

    def __init__(self) -> None:
        self.batches: list[list[WriteUnit]] = []  # every write call, in order
        self.seq = 0
        self.gate = asyncio.Event()
        self.gate.set()  # open: writes complete at once
        self.failures: list[BaseException] = []  # raised by the next writes, in turn
        self.refuse_principal: str | None = None  # a batch holding its events is refused
        self.answer_units: int | None = None  # answer this many results (a writer bug)
        self.replan_attempts = 0
        self.replan_gate = asyncio.Event()
        self.replan_gate.set()
        self.replan_failures: list[BaseException] = []
        # Events logged first (``derive=False``, or behind others logged first), in seq
        # order, until derive_underived takes them; each call's limit, in order.
        self.underived: list[SequencedEvent] = []
        self.derive_limits: list[int] = []
        self.logged_first: list[list[WriteUnit]] = []

    async def write(self, units: Sequence[WriteUnit], derive: bool = True) -> BatchResult:
        self.batches.append(list(units))
        await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        if any(u.principal == self.refuse_principal and u.events for u in units):
            raise CypherTypeError("a statement the database refuses")
        logged_first = not derive or bool(self.underived)
        results = [self._commit(u) for u in units]
        if self.answer_units is not None:
            results = results[: self.answer_units]
        if logged_first:
            self.logged_first.append(list(units))
            self.underived.extend(ev for r in results for ev in r.committed)
        return BatchResult(results, self.seq, derived=not logged_first)

    async def derive_underived(self, limit: int) -> list[SequencedEvent]:
        self.derive_limits.append(limit)
        taken, self.underived = self.underived[:limit], self.underived[limit:]
        return taken

    def _commit(self, unit: WriteUnit) -> UnitResult:
        committed = []
        for ev in unit.events:
            self.seq += 1
            committed.append(SequencedEvent(self.seq, ev.payload, ev.fingerprint, _NOW))
        return UnitResult(len(committed), 0, list(unit.rejected), committed)

    async def plan_ahead(self, units: Sequence[WriteUnit], timeout_s: float | None = None) -> None:
        return None

    async def replan(self, unit: WriteUnit, timeout_s: float | None = None) -> None:
        """The planning after an outage: counted, held by ``replan_gate``, and failing
        with ``replan_failures`` in turn."""
        self.replan_attempts += 1
        await self.replan_gate.wait()
        if self.replan_failures:
            raise self.replan_failures.pop(0)

    def written_principals(self) -> list[list[str | None]]:
        return [[u.principal for u in batch] for batch in self.batches]


_NOW = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[dict[str, Any]]]:
    """The committer's log entries, captured (rendering tracebacks costs seconds)."""
    with structlog.testing.capture_logs() as captured:
        yield captured


def unit(principal: str, n: int, tag: str = "") -> WriteUnit:
    events = [
        PendingEvent(i, {"id": f"{principal}{tag}-{i}", "type": "log"}, f"fp-{principal}{tag}-{i}")
        for i in range(n)
    ]
    return WriteUnit(events=events, rejected=[], received_at=_NOW, principal=principal)


def committer(writer: FakeWriter, **overrides: Any) -> GroupCommitter:
    options: dict[str, Any] = {
        "max_batch_events": 100,
        "max_pending_events": 1000,
        "retry_after_s": 1,
        "deadline_s": 10.0,
        "write_timeout_s": 10.0,
        "restart_delay_s": 0.05,
        **overrides,
    }
    return GroupCommitter(writer, **options)  # type: ignore[arg-type]


async def hold_first_batch(gc: GroupCommitter, writer: FakeWriter) -> asyncio.Task[Any]:
    """A first request whose batch stays in flight until ``writer.gate`` is set."""
    writer.gate.clear()
    first = asyncio.create_task(gc.submit(unit("first", 1)))
    await eventually_async(lambda: writer.batches, what="the first batch in flight")
    return first


async def test_requests_queued_behind_a_batch_share_the_next_transaction() -> None:
    writer = FakeWriter()
    gc = committer(writer)
    gc.start()
    try:
        first = await hold_first_batch(gc, writer)
        queued = [asyncio.create_task(gc.submit(unit(p, 2))) for p in ("a", "b", "c")]
        await eventually_async(lambda: gc.pending_events == 1 + 6, what="all queued")
        writer.gate.set()
        results = await asyncio.gather(*queued)
        await first
    finally:
        await gc.stop()
    assert writer.written_principals() == [["first"], ["a", "b", "c"]]  # two transactions
    # Each request gets its own result, and the batch's last seq.
    assert [[e.seq for e in r.committed] for r, _ in results] == [[2, 3], [4, 5], [6, 7]]
    assert {last for _, last in results} == {7}
    assert gc.pending_events == 0 and gc.batches_committed == 2


async def test_a_batch_stops_at_max_events_and_never_splits_a_request() -> None:
    writer = FakeWriter()
    gc = committer(writer, max_batch_events=5)
    gc.start()
    try:
        first = await hold_first_batch(gc, writer)
        sizes = {"a": 3, "b": 3, "c": 2}
        queued = [asyncio.create_task(gc.submit(unit(p, n))) for p, n in sizes.items()]
        await eventually_async(lambda: gc.pending_events == 1 + 8, what="all queued")
        writer.gate.set()
        await asyncio.gather(first, *queued)
    finally:
        await gc.stop()
    # a (3) + b (3) is over 5: b goes whole into the next batch, with c.
    assert writer.written_principals() == [["first"], ["a"], ["b", "c"]]
    assert [sum(len(u.events) for u in batch) for batch in writer.batches] == [1, 3, 5]


async def test_principals_take_turns_so_a_flood_does_not_delay_a_single_post() -> None:
    writer = FakeWriter()
    gc = committer(writer, max_batch_events=4)  # one flood request fills a batch
    gc.start()
    try:
        first = await hold_first_batch(gc, writer)
        flood = [asyncio.create_task(gc.submit(unit("flood", 4, f"-{i}"))) for i in range(4)]
        await eventually_async(lambda: gc.pending_events == 1 + 16, what="the flood queued")
        single = asyncio.create_task(gc.submit(unit("single", 1)))
        await eventually_async(lambda: gc.pending_events == 1 + 17, what="the single queued")
        writer.gate.set()
        await asyncio.gather(first, single, *flood)
    finally:
        await gc.stop()
    written = writer.written_principals()
    # The single post goes right after the flood's first request, not after all four;
    # the flood's own requests keep their order.
    assert written[:3] == [["first"], ["flood"], ["single"]]
    flood_ids = [b[0].events[0].payload["id"] for b in writer.batches if b[0].principal == "flood"]
    assert flood_ids == [f"flood-{i}-0" for i in range(4)]


async def test_a_request_that_gives_up_before_its_batch_starts_is_never_written() -> None:
    writer = FakeWriter()
    gc = committer(writer, deadline_s=0.2)
    gc.start()
    try:
        first = await hold_first_batch(gc, writer)
        with pytest.raises(DatabaseUnavailable, match="did not commit in time") as late:
            await gc.submit(unit("late", 3))
        assert late.value.retry_after_s == 1 and late.value.status == 503
        assert gc.pending_events == 1  # the late request no longer counts
        writer.gate.set()
        with pytest.raises(DatabaseUnavailable):
            await first  # it too waited past 0.2 s, but its batch was already written
        after = await gc.submit(unit("after", 1))
    finally:
        await gc.stop()
    assert writer.written_principals() == [["first"], ["after"]]  # "late" never
    assert [e.seq for e in after[0].committed] == [2]  # "first" did commit: seq 1
    assert gc.pending_events == 0


async def test_an_unavailable_database_fails_the_whole_batch_with_503() -> None:
    writer = FakeWriter()
    gc = committer(writer)
    gc.start()
    try:
        first = await hold_first_batch(gc, writer)
        queued = [asyncio.create_task(gc.submit(unit(p, 2))) for p in ("a", "b")]
        await eventually_async(lambda: gc.pending_events == 5, what="both queued")
        writer.failures = [ServiceUnavailable("down"), ServiceUnavailable("still down")]
        writer.gate.set()
        outcomes = await asyncio.gather(first, *queued, return_exceptions=True)
        recovered = await gc.submit(unit("later", 1))
        assert gc.pending_events == 0 and gc.healthy  # an outage is no writer failure
    finally:
        await gc.stop()
    assert all(isinstance(o, DatabaseUnavailable) for o in outcomes), outcomes
    assert "unavailable (ServiceUnavailable); nothing was stored" in str(outcomes[1])
    assert writer.written_principals() == [["first"], ["a", "b"], ["later"]]
    assert [e.seq for e in recovered[0].committed] == [1]  # nothing was committed before


async def test_a_refused_request_is_quarantined_and_its_batch_mates_are_stored() -> None:
    writer = FakeWriter()
    writer.refuse_principal = "bad"
    gc = committer(writer)
    gc.start()
    try:
        first = await hold_first_batch(gc, writer)
        queued = {p: asyncio.create_task(gc.submit(unit(p, 2))) for p in ("ok1", "bad", "ok2")}
        await eventually_async(lambda: gc.pending_events == 7, what="all queued")
        writer.gate.set()
        await first
        results = {p: (await t)[0] for p, t in queued.items()}
    finally:
        await gc.stop()
    # The shared batch was refused, then each request was written alone; the bad one's
    # events went to the quarantine (a unit with no events), with the database's code.
    assert writer.written_principals() == [
        ["first"],
        ["ok1", "bad", "ok2"],
        ["ok1"],
        ["bad"],
        ["bad"],
        ["ok2"],
    ]
    moved = writer.batches[4][0]
    assert moved.events == []
    assert [q.event_id for q in moved.rejected] == ["bad-0", "bad-1"]
    assert all("refused the batch (CypherTypeError)" in q.reason for q in moved.rejected)
    assert results["bad"].accepted == 0 and len(results["bad"].rejected) == 2
    assert results["ok1"].accepted == 2 and results["ok2"].accepted == 2


async def test_over_the_pending_limit_is_429_and_nothing_is_queued() -> None:
    writer = FakeWriter()
    gc = committer(writer, max_pending_events=5)
    gc.start()
    try:
        first = await hold_first_batch(gc, writer)
        queued = asyncio.create_task(gc.submit(unit("a", 4)))
        await eventually_async(lambda: gc.pending_events == 5, what="the limit reached")
        with pytest.raises(Overloaded, match=r"queue is full \(5 events waiting\)") as over:
            await gc.submit(unit("b", 1))
        assert over.value.status == 429 and over.value.retry_after_s == 1
        writer.gate.set()
        await asyncio.gather(first, queued)
    finally:
        await gc.stop()
    assert writer.written_principals() == [["first"], ["a"]]


async def test_a_dead_writer_fails_what_it_held_then_restarts(logs: list[dict[str, Any]]) -> None:
    writer = FakeWriter()
    gc = committer(writer, restart_delay_s=2.0)
    gc.start()
    try:
        first = await hold_first_batch(gc, writer)
        queued = asyncio.create_task(gc.submit(unit("queued", 1)))
        await eventually_async(lambda: gc.pending_events == 2, what="one queued")
        writer.answer_units = 0  # a result per unit missing: settling the batch raises
        writer.gate.set()
        outcomes = await asyncio.gather(first, queued, return_exceptions=True)
        # Both at once (not at their deadline): the one in flight and the one queued.
        assert [str(o) for o in outcomes] == ["the writer failed; nothing was stored"] * 2
        assert gc.restarts == 1 and gc.pending_events == 0
        # While it waits to restart: not ready, and a request is refused at once.
        assert not gc.healthy
        with pytest.raises(DatabaseUnavailable, match="the writer is restarting"):
            await gc.submit(unit("meanwhile", 1))
        writer.answer_units = None
        await eventually_async(lambda: gc.healthy, what="the writer restarted")
        result, _ = await gc.submit(unit("after", 1))
    finally:
        await gc.stop()
    assert result.accepted == 1
    assert writer.written_principals()[-1] == ["after"]
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "group-commit writer died; restarting"
    ]


async def test_listeners_get_each_commit_in_seq_order_and_a_broken_one_is_ignored(
    logs: list[dict[str, Any]],
) -> None:
    writer = FakeWriter()
    gc = committer(writer)
    seen: list[list[int]] = []

    def broken(events: Sequence[SequencedEvent]) -> None:
        raise RuntimeError("listener bug")

    async def recording(events: Sequence[SequencedEvent]) -> None:
        seen.append([e.seq for e in events])

    gc.add_listener(broken)
    gc.add_listener(recording)
    gc.start()
    try:
        await eventually_async(lambda: gc.healthy, what="the writer up")  # as /readyz waits
        await gc.submit(unit("a", 3))
        await gc.submit(unit("b", 2))
        rejected_only = WriteUnit(
            events=[],
            rejected=[QuarantineEntry(0, "x", "{}", "bad event")],
            received_at=_NOW,
            principal="c",
        )
        await gc.submit(rejected_only)  # nothing committed: no notification
    finally:
        await gc.stop()
    assert seen == [[1, 2, 3], [4, 5]]
    assert [e["event"] for e in logs] == ["commit listener failed"] * 2


async def test_exclusive_work_runs_between_batches_never_during_one() -> None:
    writer = FakeWriter()
    gc = committer(writer)
    gc.start()
    ran_during: list[int] = []
    try:
        first = await hold_first_batch(gc, writer)

        async def exclusive() -> str:
            ran_during.append(len(writer.batches))
            return "done"

        work = asyncio.create_task(gc.run_exclusive(exclusive))
        queued = asyncio.create_task(gc.submit(unit("after", 1)))
        await eventually_async(lambda: gc.pending_events == 2, what="the request queued")
        assert ran_during == []  # the batch is still in flight
        writer.gate.set()
        assert await work == "done"
        await asyncio.gather(first, queued)
    finally:
        await gc.stop()
    # It ran after the first batch and before the request queued behind it.
    assert ran_during == [1]
    assert writer.written_principals() == [["first"], ["after"]]


async def outage(gc: GroupCommitter, writer: FakeWriter) -> None:
    """A started committer that knows what to plan after an outage, and one batch that
    met an unavailable database (answered 503)."""
    await gc.plan_ahead(unit("warmup", 1), replan_unit=unit("replan", 1))
    gc.start()
    await eventually_async(lambda: gc.healthy, what="the writer running")
    writer.failures = [ServiceUnavailable("down")]
    with pytest.raises(DatabaseUnavailable, match=r"unavailable \(ServiceUnavailable\)"):
        await gc.submit(unit("during", 1))


async def test_after_an_outage_planning_starts_at_once_and_is_retried_until_it_succeeds() -> None:
    # It used to start with the next batch, i.e. once a request had got through
    # authentication (a cold key lookup) to the writer: seconds after Neo4j was back.
    writer = FakeWriter()
    writer.replan_failures = [ServiceUnavailable("down"), ServiceUnavailable("still down")]
    gc = committer(writer, recovery_probe_s=0.01)
    try:
        await outage(gc, writer)
        # No request after the failed one: the planning runs and is retried on its own.
        await eventually_async(lambda: gc.replans == 1, what="planned again")
        assert writer.replan_attempts == 3
        after = await gc.submit(unit("after", 1))
    finally:
        await gc.stop()
    assert writer.replan_attempts == 3  # not again for the batch after it
    assert [e.seq for e in after[0].committed] == [1]


async def test_while_the_database_refuses_a_batch_fails_at_once_with_its_error() -> None:
    # Not held until its deadline (10 s here) waiting for a planning that cannot run.
    writer = FakeWriter()
    writer.replan_failures = [ServiceUnavailable("down")] * 1000
    gc = committer(writer, recovery_probe_s=0.01)
    try:
        await outage(gc, writer)
        await eventually_async(lambda: writer.replan_attempts >= 2, what="planning retried")
        writer.failures = [ServiceUnavailable("still down")]  # the write is refused too
        with pytest.raises(DatabaseUnavailable, match=r"unavailable \(ServiceUnavailable\)"):
            await gc.submit(unit("still-during", 1))
    finally:
        await gc.stop()
    assert writer.written_principals() == [["during"], ["still-during"]]
    assert writer.logged_first == [] and gc.replans == 0


async def test_a_batch_during_the_planning_is_logged_first_and_published_once_derived() -> None:
    # It used to wait for the planning of apply_batch (6 s on a quiet restarted Neo4j,
    # 20-48 s under load) and get its 503 at its deadline.
    writer = FakeWriter()
    writer.replan_gate.clear()  # the database answers, and plans for a while
    gc = committer(writer, catch_up_page_events=2)
    published: list[int] = []
    gc.add_listener(lambda events: published.extend(e.seq for e in events))
    try:
        await outage(gc, writer)
        await eventually_async(lambda: writer.replan_attempts == 1, what="planning started")
        first = await gc.submit(unit("after", 3))  # acknowledged before the planning ends
        assert [e.seq for e in first[0].committed] == [1, 2, 3] and gc.replans == 0
        assert writer.logged_first == [[first_unit for first_unit in writer.batches[1]]]
        assert published == [] and writer.derive_limits == []  # nothing derived yet
        writer.replan_gate.set()
        await eventually_async(lambda: gc.derived_after_outage == 3, what="derived")
        # Then batches are derived in their own write again, and published after.
        later = await gc.submit(unit("later", 1))
    finally:
        await gc.stop()
    assert gc.replans == 1
    assert writer.derive_limits == [2, 2]  # bounded pages, one per turn of the writer
    assert [e.seq for e in later[0].committed] == [4] and len(writer.logged_first) == 1
    assert published == [1, 2, 3, 4]  # in seq order, each once


async def test_batches_behind_events_waiting_for_derivation_are_logged_first_too() -> None:
    # Derived events stay a prefix of the log (events(afterSeq) and versions rely on
    # seq order): a batch sequenced while older events wait is logged behind them.
    writer = FakeWriter()
    gc = committer(writer)
    published: list[int] = []
    gc.add_listener(lambda events: published.extend(e.seq for e in events))
    writer.underived = [SequencedEvent(1, {"id": "old", "type": "log"}, "fp", _NOW)]
    writer.seq = 1
    gc.start()
    try:
        await eventually_async(lambda: gc.healthy, what="the writer running")
        result = await gc.submit(unit("new", 1))
        assert [e.seq for e in result[0].committed] == [2]
        await eventually_async(lambda: published == [1, 2], what="derived and published")
    finally:
        await gc.stop()
    assert writer.underived == [] and len(writer.logged_first) == 1


async def test_the_statements_of_a_request_are_planned_alongside_the_writers() -> None:
    # Side by side, not one after the other: the writer's planning here only ends once
    # the other planning has started (one after the other, neither would ever end).
    writer = FakeWriter()
    writer.replan_gate.clear()
    gc = committer(writer)

    async def plan_key_lookup() -> None:
        writer.replan_gate.set()

    gc.replan_also(plan_key_lookup)
    try:
        await outage(gc, writer)
        await eventually_async(lambda: gc.replans == 1, what="planned again")
    finally:
        await gc.stop()


async def test_an_admin_change_is_not_logged_first_but_answered_503() -> None:
    # AdminChanges reads the change back once written (the stored policy): logged first,
    # it would not be there yet. It is asked again once the catch-up is done.
    writer = FakeWriter()
    writer.replan_gate.clear()
    gc = committer(writer)
    try:
        await outage(gc, writer)
        admin = unit("admin", 1)
        admin.events[0].payload["type"] = "pipeline.owner_set"
        with pytest.raises(DatabaseUnavailable, match="recovering from an outage"):
            await gc.submit(admin)
        writer.replan_gate.set()
        await eventually_async(lambda: gc.replans == 1, what="planned again")
        result = await gc.submit(unit("admin", 1))
    finally:
        await gc.stop()
    assert writer.written_principals() == [["during"], ["admin"]]
    assert result[0].accepted == 1 and writer.logged_first == []
