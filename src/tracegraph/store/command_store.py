"""Commands in the graph (issue 18): issued all-or-nothing with their audit entries,
read by the delivery tailer, moved through their states, expired.

Every state change locks the command node before reading its state again (the Cypher
files say how), so replicas acting on one command at once decide it once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from neo4j import AsyncManagedTransaction
from neo4j.exceptions import ConstraintError

from tracegraph.audit import AuditRecord
from tracegraph.commands.model import (
    CommandKind,
    CommandRequest,
    CommandState,
    InvalidCommand,
    IssueTiming,
    Resolved,
    Targets,
    resolve,
)
from tracegraph.events import format_timestamp
from tracegraph.store.audit_store import audit_rows
from tracegraph.store.base import Store
from tracegraph.store.batch_params import RowList
from tracegraph.store.cypher_files import cypher
from tracegraph.store.event_writer import PLANNING_METADATA

# Command properties stored as JSON text (Neo4j properties hold no maps).
_JSON_FIELDS = ("params", "env")


def command_of(props: dict[str, Any]) -> dict[str, Any]:
    """A stored command as plain values: JSON fields decoded, temporals native."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if key in _JSON_FIELDS and isinstance(value, str):
            out[key] = orjson.loads(value)
        elif hasattr(value, "to_native"):
            out[key] = value.to_native()
        else:
            out[key] = value
    return out


def idempotency_scope(principal: str, key: str) -> str:
    """Where an idempotency key is unique: per principal. A JSON pair, not ``p|k``: a
    principal may contain ``|`` (Auth0 subjects ``auth0|123``), and ``a|b`` + ``c`` would
    collide with ``a`` + ``b|c``."""
    return orjson.dumps([principal, key]).decode()


class CommandConflict(InvalidCommand):
    """An idempotency key reused for a different command."""


class BatchRefused(InvalidCommand):
    """A batch with bad items: nothing was issued. ``problems``: (index, message)."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        lines = "; ".join(f"[{i}] {message}" for i, message in problems)
        super().__init__(
            problems[0][1] if len(problems) == 1 else f"{len(problems)} bad items: {lines}"
        )


class _NoCounter(Exception):
    """The command counter does not exist yet (a new database)."""


# The pipeline of the sample command planned ahead (and rolled back): no such pipeline.
PLAN_AHEAD_PIPELINE = "tracegraph:plan-ahead"

# One caller's request: its commands (all or none) and the principal issuing them.
IssueUnit = tuple[Sequence[CommandRequest], str]


class CommandStore(Store):
    async def issue(
        self,
        requests: Sequence[CommandRequest],
        principal: str,
        now: datetime,
        ttl_s: float,
    ) -> list[dict[str, Any]]:
        """Issue ``requests`` all-or-nothing (see :meth:`issue_units`)."""
        (answer,) = await self.issue_units([(requests, principal)], now, ttl_s)
        if isinstance(answer, InvalidCommand):
            raise answer
        return answer

    async def issue_units(
        self,
        units: Sequence[IssueUnit],
        now: datetime,
        ttl_s: float,
        timing: IssueTiming | None = None,
    ) -> list[list[dict[str, Any]] | InvalidCommand]:
        """Issue several callers' units in one transaction (one lock and one commit for
        all: ``commands/service.py`` gathers them). Each unit is all-or-nothing: its
        requests are checked against the graph inside the transaction, and a unit with a
        bad one gets :class:`BatchRefused` (naming every bad item) with nothing of it
        stored, while the other units go on. A request whose idempotency key (per
        principal) was used before returns that command (refused if it asked for
        something else). Seqs are allocated by the transaction's last statement, under
        the counter's lock (held to commit): seq order is commit order on every replica.
        ``timing``, when given, is filled with where the transaction's time went."""
        clock = timing if timing is not None else IssueTiming()
        work_done = 0.0

        async def work(
            tx: AsyncManagedTransaction,
        ) -> list[list[dict[str, Any]] | InvalidCommand]:
            nonlocal work_done
            began = time.monotonic()
            clock.write_s = 0.0
            scopes = [[idempotency_scope(p, r.idempotency_key) for r in reqs] for reqs, p in units]
            # One read for both: the commands already issued under these keys, and the
            # targets of every request (a repeat's are read too, and not used: cheaper
            # than a second round trip in a transaction other issuers wait behind).
            existing, targets = await self._issue_reads(
                tx,
                sorted({s for unit in scopes for s in unit}),
                [r for reqs, _ in units for r in reqs],
            )
            read_done = time.monotonic()
            clock.reads_s = read_done - began
            answers: list[list[str] | InvalidCommand] = []
            planned: dict[str, tuple[CommandRequest, Resolved, str]] = {}
            for (reqs, principal), unit in zip(units, scopes, strict=True):
                problems: list[tuple[int, str]] = []
                mine: dict[str, tuple[CommandRequest, Resolved, str]] = {}
                for i, (req, scope) in enumerate(zip(reqs, unit, strict=True)):
                    seen = existing.get(scope)
                    fingerprint = seen["fingerprint"] if seen else None
                    if scope in planned:  # the same key twice in this transaction
                        fingerprint = planned[scope][0].fingerprint()
                    if fingerprint is not None:
                        if fingerprint != req.fingerprint():
                            what = f"{seen['kind']} {seen['id']}" if seen else "in flight"
                            problems.append(
                                (
                                    i,
                                    f"idempotency key {req.idempotency_key!r} was already "
                                    f"used for another command ({what})",
                                )
                            )
                        continue
                    try:
                        mine[scope] = (req, resolve(req, targets), principal)
                    except InvalidCommand as exc:
                        problems.append((i, str(exc)))
                if problems:
                    answers.append(BatchRefused(sorted(problems)))
                else:
                    planned.update(mine)
                    answers.append(unit)
            created: dict[str, dict[str, Any]] = {}
            if planned:
                rows = [
                    _with_audit(self._row(req, res, principal, now, ttl_s), order, now)
                    for order, (req, res, principal) in enumerate(planned.values())
                ]
                # Created in target order: the links lock their pipeline / run nodes, and
                # two issuing transactions (of one replica or two) locking them in one
                # order never wait on each other crosswise. Seqs in request order.
                in_order = RowList(sorted(rows, key=_target_order))
                result = await tx.run(cypher("command_issue"), batch={"rows": in_order})
                created = {r["command"]["scope"]: r["command"] async for r in result}
                clock.write_s = time.monotonic() - read_done
                if not created:
                    raise _NoCounter
            work_done = time.monotonic()
            return [
                a
                if isinstance(a, InvalidCommand)
                else [command_of(existing.get(s) or created[s]) for s in a]
                for a in answers
            ]

        async def committed() -> list[list[dict[str, Any]] | InvalidCommand]:
            answers = await self.transaction(work)
            # execute_write commits once `work` returned: the rest is the commit.
            clock.commit_s = time.monotonic() - work_done
            return answers

        for _ in range(3):
            try:
                return await committed()
            except _NoCounter:
                await self.write("command_seq_init")
            except ConstraintError:
                # The same idempotency key issued at once on two replicas: the other one
                # committed first (unique scope); its command is the answer.
                continue
        return await committed()

    async def plan_ahead(self, timeout_s: float = 120.0) -> None:
        """Run every command statement once in a transaction that is rolled back: the
        issue of a sample command (of a pipeline that does not exist, under a fresh
        idempotency scope) as an issue runs it, then what delivery, expiry and the
        executors' answers run, acting on nothing. The database plans them (their lists
        come in one map, so one plan serves every group size) and keeps the plans, so the
        first command after a start does not wait for planning: on a cold, loaded server
        that took 7.4 s for one issue, against the 10 s query timeout. Nothing is
        committed; the counter, if it exists, is locked only from its statement to the
        rollback."""
        now = datetime.now(UTC)
        epoch = format_timestamp(datetime(1970, 1, 1, tzinfo=UTC))
        sample = CommandRequest(
            CommandKind.START, f"plan-ahead-{uuid.uuid4()}", pipeline=PLAN_AHEAD_PIPELINE
        )
        row = self._row(sample, Resolved(PLAN_AHEAD_PIPELINE), "tracegraph:plan-ahead", now, 1.0)
        issue: list[tuple[str, dict[str, Any]]] = [
            (
                "command_issue_reads",
                {
                    "batch": {
                        "scopes": RowList([row["props"]["scope"]]),
                        "runs": [],
                        "step_runs": [],
                        "retry_runs": [],
                        "pipelines": [PLAN_AHEAD_PIPELINE],
                    }
                },
            ),
            ("command_issue", {"batch": {"rows": RowList([_with_audit(row, 0, now)])}}),
        ]
        # Each of these runs alone in its transaction (Neo4j plans a statement again for
        # a transaction that already changed something).
        alone: list[tuple[str, dict[str, Any]]] = [
            ("last_command_seq", {}),
            ("commands_after_seq", {"after": 2**62, "limit": 1}),
            (
                "commands_open_after_seq",
                {"batch": {"pipelines": []}, "after": 0, "upto": 0, "limit": 1},
            ),
            ("commands_by_id", {"batch": {"ids": RowList()}}),
            ("commands_mark_delivered", {"batch": {"ids": RowList()}, "now": epoch}),
            ("commands_expire", {"now": epoch, "ttl_s": 1.0, "ack_lease_s": 1.0, "limit": 1}),
            ("command_acknowledge", {"id": "", "executor": "", "actor": "", "now": epoch}),
            (
                "command_outcome",
                {
                    "id": "",
                    "outcome": "done",
                    "reason": None,
                    "run": None,
                    "executor": "",
                    "actor": "",
                    "now": epoch,
                },
            ),
        ]
        for statements in (issue, *([one] for one in alone)):
            await self._rolled_back(statements, timeout_s)

    async def _rolled_back(
        self, statements: Sequence[tuple[str, dict[str, Any]]], timeout_s: float
    ) -> None:
        async with self.driver.session(database=self.database) as session:
            tx = await session.begin_transaction(timeout=timeout_s, metadata=PLANNING_METADATA)
            try:
                for name, params in statements:
                    await (await tx.run(cypher(name), params)).consume()
            finally:
                await tx.rollback()

    async def _issue_reads(
        self,
        tx: AsyncManagedTransaction,
        scopes: Sequence[str],
        requests: Sequence[CommandRequest],
    ) -> tuple[dict[str, dict[str, Any]], Targets]:
        """The commands already issued under ``scopes`` (by scope) and what ``requests``
        act on, in one statement."""
        runs = sorted({r.run for r in requests if r.run is not None and r.step_run is None})
        retry_runs = sorted(
            {r.run for r in requests if r.run is not None and r.kind == "retry" and not r.step_run}
        )
        step_runs = sorted({r.step_run for r in requests if r.step_run is not None})
        pipelines = sorted({r.pipeline for r in requests if r.pipeline is not None})
        rec = await (
            await tx.run(
                cypher("command_issue_reads"),
                batch={
                    "scopes": RowList(scopes),
                    "runs": runs,
                    "step_runs": step_runs,
                    "retry_runs": retry_runs,
                    "pipelines": pipelines,
                },
            )
        ).single()
        assert rec is not None
        by_run: dict[str, list[dict[str, Any]]] = {}
        for sr in rec["retry_steps"]:
            by_run.setdefault(sr["run"], []).append(sr)
        existing = {c["scope"]: c for c in rec["existing"]}
        return existing, Targets(
            runs={r["id"]: r for r in rec["runs"]},
            step_runs={s["id"]: s for s in rec["step_runs"]},
            retry_steps=by_run,
            pipelines={p["name"] for p in rec["pipelines"] if p["found"]},
        )

    @staticmethod
    def _row(
        req: CommandRequest,
        res: Resolved,
        principal: str,
        now: datetime,
        ttl_s: float,
    ) -> dict[str, Any]:
        props = {
            "id": str(uuid.uuid4()),
            "kind": req.kind.value,
            "state": CommandState.PENDING.value,
            "pipeline": res.pipeline,
            "run": res.run,
            "step_run": res.step_run,
            "step": res.step,
            "params": None if req.params is None else orjson.dumps(req.params).decode(),
            "env": None if req.env is None else orjson.dumps(req.env).decode(),
            "note": req.reason,
            "principal": principal,
            "idempotency_key": req.idempotency_key,
            "scope": idempotency_scope(principal, req.idempotency_key),
            "fingerprint": req.fingerprint(),
        }
        return {
            "props": {k: v for k, v in props.items() if v is not None},
            "created_at": format_timestamp(now),
            "expires_at": format_timestamp(now + timedelta(seconds=ttl_s)),
        }

    # -- reading ---------------------------------------------------------------------------

    async def last_seq(self) -> int:
        rows = await self.read("last_command_seq")
        return int(rows[0]["last"]) if rows else 0

    async def after(self, after: int, limit: int = 1000) -> list[dict[str, Any]]:
        """Every command with seq > ``after``, in seq order (the delivery tailer)."""
        rows = await self.read("commands_after_seq", after=after, limit=limit)
        return [command_of(r["command"]) for r in rows]

    async def open_after(
        self, pipelines: Sequence[str], after: int, upto: int, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Open commands of ``pipelines`` with ``after`` < seq <= ``upto`` (a resume)."""
        rows = await self.read(
            "commands_open_after_seq",
            batch={"pipelines": list(pipelines)},
            after=after,
            upto=upto,
            limit=limit,
        )
        return [command_of(r["command"]) for r in rows]

    async def by_ids(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = await self.read("commands_by_id", batch={"ids": RowList(ids)})
        return {r["command"]["id"]: command_of(r["command"]) for r in rows}

    async def page(
        self,
        *,
        pipeline: str | None,
        run: str | None,
        states: list[str] | None,
        before: int | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        rows = await self.read(
            "gql_commands_page",
            pipeline=pipeline,
            run=run,
            states=states,
            before=before,
            limit=limit,
        )
        return [command_of(r["command"]) for r in rows]

    # -- state changes ---------------------------------------------------------------------

    async def mark_delivered(self, ids: Sequence[str], now: datetime) -> int:
        rows = await self.write(
            "commands_mark_delivered", batch={"ids": RowList(ids)}, now=format_timestamp(now)
        )
        return int(rows[0]["marked"]) if rows else 0

    async def acknowledge(
        self, command_id: str, executor: str, actor: str, now: datetime
    ) -> tuple[str, str | None, dict[str, Any]] | None:
        """(state before, executor holding it before, command after); None if unknown."""
        rows = await self.write(
            "command_acknowledge",
            id=command_id,
            executor=executor,
            actor=actor,
            now=format_timestamp(now),
        )
        if not rows:
            return None
        return rows[0]["before"], rows[0]["holder"], command_of(rows[0]["command"])

    async def settle(
        self,
        command_id: str,
        outcome: str,
        reason: str | None,
        run: str | None,
        executor: str,
        actor: str,
        now: datetime,
    ) -> tuple[str, str | None, dict[str, Any]] | None:
        rows = await self.write(
            "command_outcome",
            id=command_id,
            outcome=outcome,
            reason=reason,
            run=run,
            executor=executor,
            actor=actor,
            now=format_timestamp(now),
        )
        if not rows:
            return None
        return rows[0]["before"], rows[0]["holder"], command_of(rows[0]["command"])

    async def expire(
        self, now: datetime, ttl_s: float, ack_lease_s: float, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Expire open commands past their TTL and acknowledged ones past the lease
        (``ack_lease_s`` after the acknowledgement, no outcome: the executor went silent)."""
        rows = await self.write(
            "commands_expire",
            now=format_timestamp(now),
            ttl_s=ttl_s,
            ack_lease_s=ack_lease_s,
            limit=limit,
        )
        return [command_of(r["command"]) for r in rows]


def _target_order(row: dict[str, Any]) -> tuple[str, str, str]:
    props = row["props"]
    return props["pipeline"], props.get("run") or "", props.get("step_run") or ""


def _with_audit(row: dict[str, Any], order: int, now: datetime) -> dict[str, Any]:
    """A command row as command_issue takes it: with its audit entry and request order."""
    (audit,) = audit_rows([_audit(row["props"], now)])
    return {**row, "audit": audit, "order": order}


def _audit(props: dict[str, Any], now: datetime) -> AuditRecord:
    after = {
        k: props.get(k) for k in ("kind", "pipeline", "run", "step_run", "note", "idempotency_key")
    }
    for key in _JSON_FIELDS:
        if props.get(key) is not None:
            after[key] = orjson.loads(props[key])
    return AuditRecord(
        props["principal"],
        f"command.{props['kind']}",
        f"command:{props['id']}",
        None,
        {k: v for k, v in after.items() if v is not None},
        at=now,
    )
