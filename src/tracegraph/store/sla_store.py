"""Graph access for SLA evaluation and alerts (statements in ``cypher/sla_*.cypher``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from neo4j import AsyncDriver, AsyncManagedTransaction, Record

from tracegraph.audit import AuditRecord
from tracegraph.slas.missing_runs import RunTimes, ScheduledPipeline
from tracegraph.slas.rules import Finding, Outcome, RateWindow, Sla, Subject
from tracegraph.store.audit_store import record_in_tx
from tracegraph.store.base import Store
from tracegraph.store.cypher_files import cypher

Props = dict[str, Any]
T = TypeVar("T")
Pairs = list[tuple[Subject, Sla]]
# Given the subjects read (and write-locked), the breaches to record and the breach ids
# the subjects' facts disprove (see SlaStore.evaluate).
Decide = Callable[[Pairs], tuple[list[Finding], list[str]]]
# Given the success-rate windows and the outcomes read for each (by SLA id), the
# breaches to record and the ids of judged buckets without one (see judge_rates).
RateDecide = Callable[
    [Sequence[RateWindow], dict[str, list[Outcome]]], tuple[list[Finding], list[str]]
]
# Runs a write on the service's single ingest writer (GroupCommitter.run_exclusive).
WriteGate = Callable[[Callable[[], Awaitable[T]]], Awaitable[T]]


async def _direct(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


async def _settle_in_tx(
    tx: AsyncManagedTransaction,
    findings: Sequence[Finding],
    retract: list[str],
    now_ms: int,
    changed: list[str],
    fence: dict[str, Any] | None = None,
) -> tuple[list[str], int]:
    """Record ``findings`` and retract the breaches ``retract`` names, in ``tx``; returns
    the ids of breaches that did not exist before and how many were retracted. The ids
    of every breach written with a change (new, updated, retracted) go into ``changed``
    (emptied first: the driver may run the transaction again)."""
    changed.clear()
    fresh: list[str] = []
    if findings:
        rows = list({f.id: f.row() for f in findings}.values())
        result = await tx.run(cypher("sla_merge_breaches"), rows=rows, now_ms=now_ms, fence=fence)
        async for r in result:
            if r["fresh"]:
                fresh.append(r["id"])
            if r["changed"]:
                changed.append(r["id"])
    retracted = 0
    if retract:
        rec = await (
            await tx.run(cypher("sla_retract_breaches"), ids=retract, fence=fence)
        ).single()
        retracted = int(rec["retracted"]) if rec else 0
        changed.extend(rec["ids"] if rec else ())
    return fresh, retracted


class SlaStore(Store):
    def __init__(
        self,
        driver: AsyncDriver,
        database: str,
        timeout_s: float = 10.0,
        write_gate: WriteGate[Any] = _direct,
    ) -> None:
        super().__init__(driver, database, timeout_s)
        # Breaches link the runs that ingestion writes: merged on the ingest writer, so
        # the two never wait on (or deadlock over) each other's locks.
        self._write_gate = write_gate
        # Told the ids of breaches each committed write changed (the live hub's
        # breachChanged deltas); set by runtime.
        self.on_changed: Callable[[list[str]], None] | None = None
        # The SLA lease's holder and token (leases.DutyLease.fence), checked by every
        # breach write: a replica that lost the lease writes nothing. None: unfenced.
        self.fence: Callable[[], dict[str, Any] | None] = lambda: None

    def _notify(self, ids: Sequence[str]) -> None:
        if ids and self.on_changed is not None:
            self.on_changed(list(ids))

    async def evaluate(
        self,
        decide: Decide,
        now_ms: int,
        *,
        runs: Sequence[str] | None = None,
        step_runs: Sequence[str] | None = None,
    ) -> tuple[Pairs, list[str], int]:
        """Evaluate subjects in one write transaction: read and write-lock them (the
        runs and step runs by id, or with neither given all open work the timer checks),
        let ``decide`` judge them, record its breaches and retract what it disproves.

        One transaction with the subjects locked first, so a verdict is never written on
        facts that changed meanwhile (another replica's commit of the run's completion
        waits, and the evaluation that commit triggers comes after and has the last
        word). Returns the subjects, the ids of new breaches and how many were retracted.
        """

        async def work(tx: AsyncManagedTransaction) -> tuple[Pairs, list[str], int]:
            pairs: Pairs = []
            reads: list[tuple[str, str, dict[str, Any]]]
            if runs is None and step_runs is None:
                reads = [("sla_open_runs", "Run", {}), ("sla_open_step_runs", "StepRun", {})]
            else:
                reads = [
                    ("sla_runs", "Run", {"ids": sorted(runs or ())}),
                    ("sla_step_runs", "StepRun", {"ids": sorted(step_runs or ())}),
                ]
            for name, label, params in reads:
                if "ids" in params and not params["ids"]:
                    continue
                result = await tx.run(cypher(name), params)
                pairs += [
                    (Subject.from_props(label, r["subject"]), Sla.from_props(r["sla"]))
                    async for r in result
                ]
            findings, disproved = decide(pairs)
            fresh, retracted = await _settle_in_tx(
                tx, findings, disproved, now_ms, changed, self.fence()
            )
            return pairs, fresh, retracted

        async def write() -> tuple[Pairs, list[str], int]:
            return await self.transaction(work)

        changed: list[str] = []
        out = await self._write_gate(write)
        self._notify(changed)
        return out

    async def retract(self, ids: Sequence[str]) -> int:
        """Delete the breaches with these ids (those that exist); returns how many."""
        if not ids:
            return 0
        existing = [r["id"] for r in await self.read("sla_existing_breaches", ids=list(ids))]
        if not existing:
            return 0

        async def delete() -> list[Record]:
            return await self.write("sla_retract_breaches", ids=existing, fence=self.fence())

        recs = await self._write_gate(delete)
        if not recs:
            return 0
        self._notify(recs[0]["ids"])
        return int(recs[0]["retracted"])

    async def scheduled_pipelines(self, since_ms: int) -> list[ScheduledPipeline]:
        """Pipelines with a cron schedule and a start-delay SLA, with the start and
        scheduled times of their runs since ``since_ms`` (one batched read)."""
        recs = await self.read("sla_scheduled_pipelines", since_ms=since_ms)
        return [
            ScheduledPipeline(
                pipeline=r["pipeline"],
                schedule=r["schedule"],
                sla=Sla.from_props(r["sla"]),
                defined_at_ms=r["defined_at"],
                runs=tuple(RunTimes(x["scheduled_for"], x["started_at"]) for x in r["runs"]),
            )
            for r in recs
        ]

    async def rate_slas(
        self, ids: Sequence[str] | None = None
    ) -> list[tuple[Sla, str, str | None]]:
        recs = await self.read("sla_rate_slas", ids=None if ids is None else list(ids))
        return [(Sla.from_props(r["sla"]), r["pipeline"], r["step"]) for r in recs]

    async def judge_rates(
        self, windows: Sequence[RateWindow], decide: RateDecide, now_ms: int
    ) -> tuple[list[str], int]:
        """Judge success-rate windows in one write transaction: lock their SLAs, read
        the outcomes each window needs (``RateWindow.reads``), let ``decide`` judge them
        (breaches, and the ids of judged buckets with none), record the breaches and
        retract the rest. Returns the ids of new breaches and how many were retracted."""
        if not windows:
            return [], 0
        rows = [
            {
                "sla_id": w.sla.id,
                "pipeline": w.pipeline,
                "step": w.step,
                "since": w.reads[0],
                "until": w.reads[1],
            }
            for w in windows
        ]

        async def work(tx: AsyncManagedTransaction) -> tuple[list[str], int]:
            ids = sorted({w.sla.id for w in windows})
            await (await tx.run(cypher("sla_rate_lock"), ids=ids)).consume()
            result = await tx.run(cypher("sla_rate_outcomes"), rows=rows)
            outcomes: dict[str, list[Outcome]] = {}
            async for r in result:
                outcomes.setdefault(r["sla_id"], []).extend(
                    Outcome(o["ended"], o["status"], o["id"]) for o in r["outcomes"]
                )
            findings, clean = decide(windows, outcomes)
            return await _settle_in_tx(tx, findings, clean, now_ms, changed)

        async def write() -> tuple[list[str], int]:
            return await self.transaction(work)

        changed: list[str] = []
        out = await self._write_gate(write)
        self._notify(changed)
        return out

    async def merge_breaches(self, findings: Sequence[Finding], now_ms: int) -> list[str]:
        """Record breaches (idempotent); returns the ids that did not exist before."""
        if not findings:
            return []
        # One row per id: the same breach found twice in a round must not race itself.
        rows = list({f.id: f.row() for f in findings}.values())

        async def merge() -> list[Record]:
            return await self.write(
                "sla_merge_breaches", rows=rows, now_ms=now_ms, fence=self.fence()
            )

        recs = await self._write_gate(merge)
        self._notify([r["id"] for r in recs if r["changed"]])
        return [r["id"] for r in recs if r["fresh"]]

    async def breaches(
        self,
        *,
        status: str | None = None,
        pipeline: str | None = None,
        owner: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[Props]:
        recs = await self.read(
            "sla_breaches_page",
            status=status,
            pipeline=pipeline,
            owner=owner,
            ids=None if ids is None else list(ids),
            limit=limit,
        )
        return [{**r["b"], "sla_props": r["sla"], "owners": r["owners"]} for r in recs]

    async def acknowledge(
        self, breach_id: str, actor: str, now_ms: int, note: str | None = None
    ) -> bool:
        """The first acknowledgement stands; it is audited (``breach.acknowledged``) in
        the same transaction. False when there is no such breach."""
        return await self._mark(
            "sla_acknowledge_breach", "breach.acknowledged", breach_id, actor, now_ms, note
        )

    async def resolve(
        self, breach_id: str, actor: str, now_ms: int, note: str | None = None
    ) -> bool:
        """The first resolution stands; audited as ``breach.resolved``."""
        return await self._mark(
            "sla_resolve_breach", "breach.resolved", breach_id, actor, now_ms, note
        )

    async def _mark(
        self, name: str, action: str, breach_id: str, actor: str, now_ms: int, note: str | None
    ) -> bool:
        async def work(tx: AsyncManagedTransaction) -> bool:
            params = {"id": breach_id, "by": actor, "now_ms": now_ms, "note": note}
            rec = await (await tx.run(cypher(name), params)).single()
            if rec is None:
                return False
            changed[:] = [breach_id] if rec["changed"] else []
            if rec["changed"]:
                after = {"by": rec["by"], "at": rec["at"]}
                if note is not None:
                    after["note"] = note
                entry = AuditRecord(actor, action, f"breach:{breach_id}", {"by": None}, after)
                await record_in_tx(tx, [entry])
            return True

        changed: list[str] = []
        found = await self.transaction(work)
        self._notify(changed)
        return found
