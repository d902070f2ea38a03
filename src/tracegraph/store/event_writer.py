"""One write transaction per batch: deduplicate, sequence, log and apply events.

The transaction function is re-run by the driver on transient errors (deadlocks,
leader changes), so it computes everything from what it reads inside the transaction.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from neo4j import AsyncDriver, AsyncManagedTransaction, AsyncTransaction, unit_of_work

from tracegraph.events import format_timestamp
from tracegraph.events.governance import is_governance
from tracegraph.events.records import (
    BatchResult,
    PendingEvent,
    QuarantineEntry,
    SequencedEvent,
    UnitResult,
    WriteUnit,
    raw_json,
)
from tracegraph.redaction import RedactionCount
from tracegraph.store.audit_store import definition_changes_in_tx, record_in_tx
from tracegraph.store.batch_params import RowList, batch_params
from tracegraph.store.cypher_files import cypher
from tracegraph.store.governance_store import apply_change_in_tx
from tracegraph.store.graph_rows import (
    event_log_rows,
    plan_statements,
    redaction_fields,
    stamp,
)
from tracegraph.store.rollups import Touched, update_rollups

# Where the planning after an outage numbers its sample events: above any real seq.
_REPLAN_SEQ = 10**15
# Marks the planning transactions (SHOW TRANSACTIONS shows it as their metadata).
PLANNING_METADATA = {"tracegraph": "planning"}


def stored_event(rec: Any) -> SequencedEvent:
    """An event as the log stores it (a record of ``event_log_page`` and alike)."""
    return SequencedEvent(
        seq=rec["seq"],
        payload=orjson.loads(rec["payload"]),
        fingerprint=rec["fingerprint"],
        received_at=rec["received_at"].to_native(),
        principal=rec["principal"],
        redactions=None
        if rec["redactions"] is None
        else RedactionCount(rec["redactions"], tuple(rec["redaction_kinds"] or ())),
    )


def _conflict(ev: PendingEvent) -> QuarantineEntry:
    return QuarantineEntry(
        index=ev.index,
        event_id=ev.id,
        raw=raw_json(ev.payload),
        reason=f"conflict: event id {ev.id!r} was already accepted with different content",
        redactions=ev.redactions,
    )


class EventWriter:
    """Writes batches of units in single transactions."""

    def __init__(
        self,
        driver: AsyncDriver,
        database: str,
        prices: dict[str, Any],
        transaction_timeout_s: float | None = None,
    ) -> None:
        self._driver = driver
        self._database = database
        self._prices = prices
        self._tx_timeout = transaction_timeout_s
        # Told the schema alerts (issue 22) a committed transaction of this writer
        # created: this replica is the one to send them (docs/columns.md).
        self.on_schema_alerts: Callable[[list[dict[str, Any]]], None] | None = None

    def _committed_alerts(self, alerts: list[dict[str, Any]]) -> None:
        if alerts and self.on_schema_alerts is not None:
            self.on_schema_alerts(alerts)

    async def write(self, units: Sequence[WriteUnit], derive: bool = True) -> BatchResult:
        """Write ``units`` in one transaction. ``derive=False`` (after an outage, while
        the batch apply is not planned again) logs their new events only, marked
        ``Underived``, as does any batch sequenced while such events wait: the result
        says so (``derived``), and :meth:`derive_underived` derives them later."""
        # The server ends a batch that runs too long, freeing its locks (the seq counter
        # above all) even when this client has given up on it: otherwise the abandoned
        # transaction would keep every later batch waiting for the counter.
        work = unit_of_work(timeout=self._tx_timeout)(self._write_tx)
        alerts: list[dict[str, Any]] = []
        async with self._driver.session(database=self._database) as session:
            result = await session.execute_write(work, units, derive, alerts)
        self._committed_alerts(alerts)
        return result

    async def derive_underived(self, limit: int) -> list[SequencedEvent]:
        """Derive the oldest ``limit`` events logged first (``write(derive=False)``), in
        seq order, as a replay does (links, versions, the derived graph) and clear their
        mark, in one transaction that holds the derivation's lock, so each is derived
        exactly once whichever replica runs this. Returns them (none: nothing waits)."""
        work = unit_of_work(timeout=self._tx_timeout)(self._derive_tx)
        alerts: list[dict[str, Any]] = []
        async with self._driver.session(database=self._database) as session:
            events: list[SequencedEvent] = await session.execute_write(work, limit, alerts)
        self._committed_alerts(alerts)
        return events

    async def _derive_tx(
        self, tx: AsyncManagedTransaction, limit: int, alerts: list[dict[str, Any]]
    ) -> list[SequencedEvent]:
        alerts.clear()  # a retried transaction function starts again
        result = await tx.run(cypher("underived_events_page"), limit=limit)
        events = [stored_event(rec) async for rec in result]
        if events:
            await self._derive(tx, events, alerts)
        return events

    async def plan_ahead(self, units: Sequence[WriteUnit], timeout_s: float | None = None) -> None:
        """Write ``units`` in a transaction that is rolled back: the database plans every
        write statement (claim, definitions, steps, batch, audit, quarantine) with the
        parameter shapes real batches have, and keeps the plans, so the first request
        does not wait for planning. On a cold server that takes several seconds, longer
        than the ingest deadline; nothing is committed."""
        async with self._driver.session(database=self._database) as session:
            tx = await session.begin_transaction(timeout=timeout_s or self._tx_timeout)
            try:
                await self._write_tx(tx, units)  # type: ignore[arg-type]
            finally:
                await tx.rollback()

    async def replan(self, unit: WriteUnit, timeout_s: float | None = None) -> None:
        """Plan the statements every batch runs — the claim and the batch apply, and
        those of logging first and of the catch-up after it — again,
        for a database that restarted: all at once, each in a transaction of its own
        that is rolled back. A restarted Neo4j plans cold, seconds per statement, and
        planned one after the other (as one write runs them) the waits add up; planned
        side by side the wait is the slowest statement's. Nothing is committed."""
        # Seqs no stored event has: rows are stamped (and the claim's reservation is
        # rolled back with its transaction).
        sequenced = [
            SequencedEvent(
                seq=_REPLAN_SEQ + offset,
                payload=ev.payload,
                fingerprint=ev.fingerprint,
                received_at=unit.received_at,
                principal=unit.principal,
                redactions=ev.redactions,
                rows=ev.rows,
            )
            for offset, ev in enumerate(unit.events)
        ]
        for ev in sequenced:
            if ev.rows is not None:
                stamp(ev.rows, ev.seq)
        ids = RowList(sorted(ev.id for ev in unit.events))

        async def claim(tx: AsyncTransaction) -> None:
            await (await tx.run(cypher("claim_events"), claim={"ids": ids})).consume()

        async def log_first_and_derive(tx: AsyncTransaction) -> None:
            # What a batch runs while apply_batch is still being planned (logged first),
            # and the catch-up after it, in the order they run. Other ids and seqs than
            # the batch apply's sample: the two transactions run side by side and would
            # wait for each other's locks on the same unique index entries.
            rows = [
                {**row, "id": f"{row['id']}#planning", "seq": row["seq"] + _REPLAN_SEQ}
                for row in event_log_rows(sequenced)
            ]
            await (await tx.run(cypher("underived_events_page"), limit=1)).consume()
            await (
                await tx.run(cypher("log_events_underived"), log={"rows": RowList(rows)})
            ).consume()
            links = [{"seq": r["seq"], "run": r["run"], "pipeline": r["pipeline"]} for r in rows]
            await (
                await tx.run(cypher("replay_event_links"), links={"rows": RowList(links)})
            ).consume()

        async def apply(tx: AsyncTransaction) -> None:
            # As in a write, the batch apply runs in a transaction that changed something.
            await (await tx.run(cypher("planning_tx_state"))).consume()
            await self._apply(tx, sequenced)  # type: ignore[arg-type]

        outcomes = await asyncio.gather(
            self._rolled_back(claim, timeout_s),
            self._rolled_back(apply, timeout_s),
            self._rolled_back(log_first_and_derive, timeout_s),
            return_exceptions=True,
        )
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        if failed:
            raise failed[0]

    async def _rolled_back(
        self, work: Callable[[AsyncTransaction], Awaitable[None]], timeout_s: float | None
    ) -> None:
        async with self._driver.session(database=self._database) as session:
            tx = await session.begin_transaction(
                timeout=timeout_s or self._tx_timeout, metadata=PLANNING_METADATA
            )
            try:
                await work(tx)
            finally:
                await tx.rollback()

    async def write_sequenced(self, events: Sequence[SequencedEvent]) -> None:
        """Write already-sequenced events, log and derived graph, in one transaction
        (no claim, no dedupe): the database's own cost of a batch, which
        ``bench/ingest.py`` measures the HTTP path against."""
        async with self._driver.session(database=self._database) as session:
            await session.execute_write(self._write_sequenced_tx, events)

    async def _write_sequenced_tx(
        self, tx: AsyncManagedTransaction, events: Sequence[SequencedEvent]
    ) -> None:
        if not events:
            return
        await self._apply(tx, events)
        await (await tx.run(cypher("advance_seq"), seq=max(e.seq for e in events))).consume()

    async def replay(self, events: Sequence[SequencedEvent]) -> None:
        """Apply stored events (read from the log, which stays as it is) to the derived
        graph, keeping their seq; the replay's progress moves in the same transaction."""
        alerts: list[dict[str, Any]] = []
        async with self._driver.session(database=self._database) as session:
            await session.execute_write(self._replay_tx, events, alerts)
        self._committed_alerts(alerts)

    async def _replay_tx(
        self,
        tx: AsyncManagedTransaction,
        events: Sequence[SequencedEvent],
        alerts: list[dict[str, Any]],
    ) -> None:
        alerts.clear()
        if not events:
            return
        await self._derive(tx, events, alerts)
        last = max(e.seq for e in events)
        await (await tx.run(cypher("advance_seq"), seq=last)).consume()
        await (await tx.run(cypher("replay_progress"), seq=last)).consume()

    async def _derive(
        self,
        tx: AsyncManagedTransaction,
        events: Sequence[SequencedEvent],
        alerts: list[dict[str, Any]] | None = None,
    ) -> None:
        """Apply logged events to the derived graph: link each to what it is about and
        count it in versions (unless it has its link: then it was counted already), as
        the events block of apply_batch does for a batch written whole, so versions come
        out the same."""
        links = [
            {"seq": e.seq, "run": e.payload.get("run"), "pipeline": e.payload.get("pipeline")}
            for e in events
        ]
        result = await tx.run(cypher("replay_event_links"), links={"rows": RowList(links)})
        # Events linked here are counted in versions; the others (ingested while the
        # replay ran) were counted when they were written.
        linked = {rec["seq"] async for rec in result}
        await self._apply(tx, events, log=False, counted=linked, alerts=alerts)

    async def _write_tx(
        self,
        tx: AsyncManagedTransaction,
        units: Sequence[WriteUnit],
        derive: bool = True,
        alerts: list[dict[str, Any]] | None = None,
    ) -> BatchResult:
        if alerts is not None:
            alerts.clear()  # a retried transaction function starts again
        ids = sorted({ev.id for unit in units for ev in unit.events})
        claim = await (await tx.run(cypher("claim_events"), claim={"ids": RowList(ids)})).single()
        assert claim is not None  # an aggregation always returns its row
        known: dict[str, str] = dict(claim["known"])
        last_seq = int(claim["last"])

        results: list[UnitResult] = []
        fresh: list[tuple[UnitResult, WriteUnit, PendingEvent]] = []
        unquarantined: set[int] = set()
        for unit in units:
            res = UnitResult(rejected=list(unit.rejected))
            for ev in unit.events:
                seen = known.get(ev.id)
                if seen is None:
                    known[ev.id] = ev.fingerprint
                    fresh.append((res, unit, ev))
                elif seen == ev.fingerprint:
                    res.duplicates += 1
                else:
                    conflict = _conflict(ev)
                    res.rejected.append(conflict)
                    if not unit.quarantine_conflicts:
                        unquarantined.add(id(conflict))
            results.append(res)
        if len(fresh) != claim["reserved"]:
            # Cannot happen (one new event per distinct unstored id); never reuse a seq.
            raise RuntimeError(f"reserved {claim['reserved']} seqs for {len(fresh)} new events")

        first = last_seq - len(fresh) + 1
        sequenced: list[SequencedEvent] = []
        for offset, (res, unit, ev) in enumerate(fresh):
            if ev.rows is not None:
                # Again on a retry of this function: the seq may differ.
                stamp(ev.rows, first + offset)
            stored = SequencedEvent(
                seq=first + offset,
                payload=ev.payload,
                fingerprint=ev.fingerprint,
                received_at=unit.received_at,
                principal=unit.principal,
                redactions=ev.redactions,
                rows=ev.rows,
            )
            sequenced.append(stored)
            res.committed.append(stored)
            res.accepted += 1

        # Logged first: while the batch apply is not planned again after an outage, and
        # while older events wait for their derivation (derived in seq order, after them).
        logged_only = bool(sequenced) and (not derive or bool(claim["underived"]))
        if logged_only:
            rows = RowList(event_log_rows(sequenced))
            await (await tx.run(cypher("log_events_underived"), log={"rows": rows})).consume()
        elif sequenced:
            await self._apply(tx, sequenced, alerts=alerts)

        quarantine = [
            {
                "id": str(uuid.uuid4()),
                "event_id": q.event_id,
                "raw": q.raw,
                "reason": q.reason,
                "received_at": format_timestamp(unit.received_at),
                "principal": unit.principal,
                **redaction_fields(q.redactions),
            }
            for unit, res in zip(units, results, strict=True)
            for q in res.rejected
            if id(q) not in unquarantined
        ]
        if quarantine:
            await (await tx.run(cypher("insert_quarantined"), rows=RowList(quarantine))).consume()
        for res in results:
            res.rejected.sort(key=lambda q: q.index)
        return BatchResult(units=results, last_seq=last_seq, derived=not logged_only)

    async def _apply(
        self,
        tx: AsyncManagedTransaction,
        events: Sequence[SequencedEvent],
        log: bool = True,
        counted: set[int] | None = None,
        alerts: list[dict[str, Any]] | None = None,
    ) -> None:
        """Apply ``events`` (in seq order). An admin change (owner, SLA, policy) applies
        after every event before it and before every event after it, as it did when it
        was made: a definition later in the log replaces an owner set earlier, an owner
        set later replaces the definition's. So the events are applied in segments, each
        ending at an admin change (they are rare; a batch without one is one segment),
        and a replay, whose pages cut the log elsewhere, ends in the same graph."""
        start = 0
        for end, ev in enumerate(events, start=1):
            if is_governance(ev.type):
                await self._apply_segment(tx, events[start:end], log, counted, alerts)
                await apply_change_in_tx(tx, ev)
                start = end
        if start < len(events):
            await self._apply_segment(tx, events[start:], log, counted, alerts)

    async def _apply_segment(
        self,
        tx: AsyncManagedTransaction,
        events: Sequence[SequencedEvent],
        log: bool = True,
        counted: set[int] | None = None,
        alerts: list[dict[str, Any]] | None = None,
    ) -> None:
        # Definition changes are diffed against the state before the batch applies, and
        # recorded in this transaction (deterministic ids: a replay records nothing new).
        audit = await definition_changes_in_tx(tx, events)
        plan = plan_statements(events, self._prices, counted)
        repathed: list[str] = []
        if plan.pipelines:
            result = await tx.run(cypher("apply_pipeline_defined"), rows=RowList(plan.pipelines))
            winners = [rec["pipeline"] async for rec in result]
            repathed = await self._apply_pipeline_steps(tx, winners, plan.pipeline_steps)
        rollup_touched = Touched(
            calls=plan.batch["priced_calls"],
            step_runs=[row["id"] for row in plan.batch["steps"]],
            runs=[
                row["run"]
                # step rows too: a step run's events make its run at least running
                for family in ("runs", "touches", "pauses", "steps")
                for row in plan.batch[family]
            ],
            # Logged by this batch (apply_batch creates them marked): counted from their
            # rows. A replay's or a derivation's are in the graph already.
            events=[] if log else [row["id"] for row in plan.batch["events"]],
            new_events=plan.batch["events"] if log else [],
        )
        if not log:  # a replay: the events are in the log already
            plan.batch["events"] = []
        batch = batch_params(plan.batch)
        await (await tx.run(cypher("apply_batch"), batch=batch, prices=self._prices)).consume()
        if plan.columns is not None:
            # Only batches with schemas or column lineage pay for this statement.
            result = await tx.run(
                cypher("apply_columns"),
                columns=batch_params(plan.columns),
                token=str(uuid.uuid4()),
            )
            found = [dict(rec["alert"]) async for rec in result]
            if alerts is not None:
                alerts.extend(found)
        if plan.artifact_uris:
            # After apply_columns and this batch's reads: an input field named without a
            # version moves to the version read, whichever arrived first.
            await (
                await tx.run(cypher("reresolve_field_inputs"), uris=plan.artifact_uris)
            ).consume()
        if plan.linked_step_runs or repathed:
            # After apply_batch, so the batch's own reads and writes take part.
            # One map parameter (see apply_batch): an empty list plans apart from a full one.
            touched = {"step_runs": plan.linked_step_runs, "pipelines": repathed}
            await (await tx.run(cypher("apply_inferred_lineage"), touched=touched)).consume()
        # The metric rollups move in the same transaction, by what this batch changed.
        await update_rollups(tx, rollup_touched)
        await record_in_tx(tx, audit)

    async def _apply_pipeline_steps(
        self,
        tx: AsyncManagedTransaction,
        winners: list[str],
        pipeline_steps: dict[str, dict[str, Any]],
    ) -> list[str]:
        """Write the winners' steps and DAG; returns the pipelines whose explaining step
        paths changed (their runs' inferred lineage is rebuilt)."""
        if not winners:
            return []
        rows = [pipeline_steps[name]["row"] for name in winners]
        edges = [edge for name in winners for edge in pipeline_steps[name]["edges"]]
        await (await tx.run(cypher("apply_pipeline_steps"), rows=rows)).consume()
        if edges:
            await (await tx.run(cypher("apply_step_dependencies"), edges=edges)).consume()
        paths = [pipeline_steps[name]["paths"] for name in winners]
        result = await tx.run(cypher("apply_step_paths"), rows=paths)
        return [rec["pipeline"] async for rec in result]
