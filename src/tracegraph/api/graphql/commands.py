"""GraphQL control plane (issue 18): issue commands, follow them, deliver them to
executors and take their acknowledgements and outcomes.

Issuing needs ``operate``; receiving and settling needs ``commands:execute`` (the
``executor`` role); reading commands needs ``read``. A batch is all-or-nothing: one bad
item refuses the whole batch (``BAD_USER_INPUT`` with every bad item in
``extensions.problems``) and nothing is issued. An idempotency key is unique per
principal: the same key again returns the same command(s).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument, Forbidden, subscription_closed
from tracegraph.api.graphql.permissions import allow
from tracegraph.auth import Permission
from tracegraph.commands.model import (
    CommandKind as Kind,
)
from tracegraph.commands.model import (
    CommandRequest,
    InvalidCommand,
    Outcome,
    check_env,
    check_idempotency_key,
    check_params,
)
from tracegraph.commands.service import NotYours
from tracegraph.live.hub import SubscriberClosed
from tracegraph.store.command_store import BatchRefused

# Items in one batch mutation (one transaction; the dashboard's multi-select is smaller).
MAX_BATCH = 100


@strawberry.enum(
    description=(
        "What a command asks an executor to do. APPROVAL: a decision on an approval its "
        "step run waits for (params: approval, decision, by, comment), issued by the "
        "service from approveStep / denyStep / the approval's expiry."
    )
)
class CommandKind(enum.Enum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    RETRY = "retry"
    START = "start"
    APPROVAL = "approval"


@strawberry.enum(
    description=(
        "pending → delivered (an executor received it) → acknowledged (an executor took it "
        "on) → done | rejected (the executor's outcome) | expired (nobody acknowledged it "
        "within TRACEGRAPH_COMMAND_TTL_S); stateReason says why for the last three."
    )
)
class CommandState(enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    DONE = "done"
    REJECTED = "rejected"
    EXPIRED = "expired"


@strawberry.enum
class CommandOutcome(enum.Enum):
    DONE = "done"
    REJECTED = "rejected"


@strawberry.type(description="A command to a pipeline or run (issue 18).")
class Command:
    id: strawberry.ID
    seq: int = strawberry.field(description="Global, increasing: executors resume after it.")
    kind: CommandKind
    state: CommandState
    state_reason: str | None
    pipeline: str
    run: strawberry.ID | None
    step_run: strawberry.ID | None
    step: str | None
    params: JSON | None = strawberry.field(description="start: the run's parameters.")
    env: JSON | None = strawberry.field(
        description='start: environment overrides; secrets only as {"secret": "NAME"}.'
    )
    note: str | None = strawberry.field(description="The issuer's reason.")
    issued_by: str
    idempotency_key: str
    created_at: datetime
    expires_at: datetime
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    executor: str | None
    finished_at: datetime | None
    result_run: strawberry.ID | None = strawberry.field(
        description="The run a start (or a retry of a finished run) launched."
    )

    @classmethod
    def of(cls, c: dict[str, Any]) -> Command:
        return cls(
            id=strawberry.ID(c["id"]),
            seq=int(c["seq"]),
            kind=CommandKind(c["kind"]),
            state=CommandState(c["state"]),
            state_reason=c.get("state_reason"),
            pipeline=c["pipeline"],
            run=c.get("run"),
            step_run=c.get("step_run"),
            step=c.get("step"),
            params=c.get("params"),
            env=c.get("env"),
            note=c.get("note"),
            issued_by=c["principal"],
            idempotency_key=c["idempotency_key"],
            created_at=c["created_at"],
            expires_at=c["expires_at"],
            delivered_at=c.get("delivered_at"),
            acknowledged_at=c.get("acknowledged_at"),
            acknowledged_by=c.get("acknowledged_by"),
            executor=c.get("executor"),
            finished_at=c.get("finished_at"),
            result_run=c.get("result_run"),
        )


def _bad(exc: InvalidCommand) -> BadArgument | Forbidden:
    if isinstance(exc, NotYours):
        return Forbidden(str(exc), state=exc.state)
    if isinstance(exc, BatchRefused):
        problems = [{"index": i, "message": m} for i, m in exc.problems]
        return BadArgument(str(exc), problems=problems)
    state = getattr(exc, "state", None)
    return BadArgument(str(exc), **({"state": state} if state else {}))


async def _issue(info: Info[Context, None], requests: list[CommandRequest]) -> list[Command]:
    if not requests:
        raise BadArgument("nothing to do: the batch is empty")
    if len(requests) > MAX_BATCH:
        raise BadArgument(f"at most {MAX_BATCH} commands in one batch, got {len(requests)}")
    try:
        commands = await info.context.services.command_service.issue(requests, info.context.actor)
    except InvalidCommand as exc:
        raise _bad(exc) from exc
    return [Command.of(c) for c in commands]


def _key(key: str, index: int | None = None) -> str:
    try:
        key = check_idempotency_key(key)
    except InvalidCommand as exc:
        raise BadArgument(str(exc)) from exc
    # Each item of a batch: the batch's key and its position (a repeat returns them all).
    return key if index is None else f"{key}#{index}"


def _run_requests(
    kind: Kind, runs: list[strawberry.ID], key: str, reason: str | None, batch: bool
) -> list[CommandRequest]:
    if batch and len(set(runs)) != len(runs):
        raise BadArgument("runs: a run appears more than once")
    return [
        CommandRequest(kind, _key(key, i if batch else None), run=str(run), reason=reason)
        for i, run in enumerate(runs)
    ]


def _start_requests(
    info: Info[Context, None],
    pipeline: str,
    param_sets: list[Any],
    env: Any,
    key: str,
    reason: str | None,
    batch: bool,
) -> list[CommandRequest]:
    scrubber = info.context.services.redaction.scrubber
    problems: list[tuple[int, str]] = []
    requests = []
    try:
        checked_env = check_env(env, scrubber)
    except InvalidCommand as exc:
        raise BadArgument(str(exc)) from exc
    for i, params in enumerate(param_sets):
        try:
            checked = check_params(params, scrubber)
        except InvalidCommand as exc:
            problems.append((i, str(exc)))
            continue
        requests.append(
            CommandRequest(
                Kind.START,
                _key(key, i if batch else None),
                pipeline=pipeline,
                params=checked,
                env=checked_env,
                reason=reason,
            )
        )
    if problems:
        raise _bad(BatchRefused(problems)) if batch else BadArgument(problems[0][1])
    return requests


_OPERATE = [allow(Permission.OPERATE)]
_EXECUTE = [allow(Permission.EXECUTE)]
_KEY = strawberry.argument(
    description="Chosen by the client, unique per principal: the same key returns the "
    "same command (a different request under a used key is refused)."
)


@strawberry.type
class CommandsMutation:
    @strawberry.mutation(permission_classes=_OPERATE, description="Pause a running run.")
    async def pause_run(
        self,
        info: Info[Context, None],
        run: strawberry.ID,
        idempotency_key: str,
        reason: str | None = None,
    ) -> Command:
        return (
            await _issue(info, _run_requests(Kind.PAUSE, [run], idempotency_key, reason, False))
        )[0]

    @strawberry.mutation(permission_classes=_OPERATE, description="Resume a paused run.")
    async def resume_run(
        self,
        info: Info[Context, None],
        run: strawberry.ID,
        idempotency_key: str,
        reason: str | None = None,
    ) -> Command:
        return (
            await _issue(info, _run_requests(Kind.RESUME, [run], idempotency_key, reason, False))
        )[0]

    @strawberry.mutation(permission_classes=_OPERATE, description="Cancel an unfinished run.")
    async def cancel_run(
        self,
        info: Info[Context, None],
        run: strawberry.ID,
        idempotency_key: str,
        reason: str | None = None,
    ) -> Command:
        return (
            await _issue(info, _run_requests(Kind.CANCEL, [run], idempotency_key, reason, False))
        )[0]

    @strawberry.mutation(
        permission_classes=_OPERATE,
        description=(
            "Retry a failed step run (stepRun), or a run from its first failed step (run); "
            "exactly one of the two."
        ),
    )
    async def retry(
        self,
        info: Info[Context, None],
        idempotency_key: str,
        run: strawberry.ID | None = None,
        step_run: strawberry.ID | None = None,
        reason: str | None = None,
    ) -> Command:
        if (run is None) == (step_run is None):
            raise BadArgument("retry needs exactly one of run or stepRun")
        request = CommandRequest(
            Kind.RETRY,
            _key(idempotency_key),
            run=None if run is None else str(run),
            step_run=None if step_run is None else str(step_run),
            reason=reason,
        )
        return (await _issue(info, [request]))[0]

    @strawberry.mutation(
        permission_classes=_OPERATE,
        description="Start a new run of a pipeline with parameters and environment overrides.",
    )
    async def start_run(
        self,
        info: Info[Context, None],
        pipeline: str,
        idempotency_key: str,
        params: JSON | None = None,
        env: JSON | None = None,
        reason: str | None = None,
    ) -> Command:
        requests = _start_requests(info, pipeline, [params], env, idempotency_key, reason, False)
        return (await _issue(info, requests))[0]

    @strawberry.mutation(permission_classes=_OPERATE, description="Pause many runs (all or none).")
    async def pause_runs(
        self,
        info: Info[Context, None],
        runs: list[strawberry.ID],
        idempotency_key: str,
        reason: str | None = None,
    ) -> list[Command]:
        return await _issue(info, _run_requests(Kind.PAUSE, runs, idempotency_key, reason, True))

    @strawberry.mutation(permission_classes=_OPERATE, description="Resume many runs (all or none).")
    async def resume_runs(
        self,
        info: Info[Context, None],
        runs: list[strawberry.ID],
        idempotency_key: str,
        reason: str | None = None,
    ) -> list[Command]:
        return await _issue(info, _run_requests(Kind.RESUME, runs, idempotency_key, reason, True))

    @strawberry.mutation(permission_classes=_OPERATE, description="Cancel many runs (all or none).")
    async def cancel_runs(
        self,
        info: Info[Context, None],
        runs: list[strawberry.ID],
        idempotency_key: str,
        reason: str | None = None,
    ) -> list[Command]:
        return await _issue(info, _run_requests(Kind.CANCEL, runs, idempotency_key, reason, True))

    @strawberry.mutation(
        permission_classes=_OPERATE,
        description="Retry many runs, each from its first failed step (all or none).",
    )
    async def retry_runs(
        self,
        info: Info[Context, None],
        runs: list[strawberry.ID],
        idempotency_key: str,
        reason: str | None = None,
    ) -> list[Command]:
        return await _issue(info, _run_requests(Kind.RETRY, runs, idempotency_key, reason, True))

    @strawberry.mutation(
        permission_classes=_OPERATE,
        description="Start one run per parameter set (all or none), with shared overrides.",
    )
    async def start_runs(
        self,
        info: Info[Context, None],
        pipeline: str,
        param_sets: list[JSON],
        idempotency_key: str,
        env: JSON | None = None,
        reason: str | None = None,
    ) -> list[Command]:
        requests = _start_requests(
            info, pipeline, list(param_sets), env, idempotency_key, reason, True
        )
        return await _issue(info, requests)

    @strawberry.mutation(
        permission_classes=_EXECUTE,
        description=(
            "An executor takes a command on (the first acknowledgement wins; the same "
            "executor again is answered the same). Refused for an unknown command, one "
            "already finished or expired, or one another executor holds (FORBIDDEN when "
            "another principal acknowledged it)."
        ),
    )
    async def acknowledge_command(
        self, info: Info[Context, None], id: strawberry.ID, executor: str
    ) -> Command:
        try:
            command = await info.context.services.command_service.acknowledge(
                str(id), executor, info.context.actor
            )
        except InvalidCommand as exc:
            raise _bad(exc) from exc
        return Command.of(command)

    @strawberry.mutation(
        permission_classes=_EXECUTE,
        description=(
            "How a command ended: DONE or REJECTED, with a reason (and the run started). "
            "Only the principal that acknowledged it may report (FORBIDDEN otherwise)."
        ),
    )
    async def report_command_outcome(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        executor: str,
        outcome: CommandOutcome,
        reason: str | None = None,
        run: strawberry.ID | None = None,
    ) -> Command:
        try:
            command = await info.context.services.command_service.settle(
                str(id),
                Outcome(outcome.value),
                reason,
                None if run is None else str(run),
                executor,
                info.context.actor,
            )
        except InvalidCommand as exc:
            raise _bad(exc) from exc
        return Command.of(command)


@strawberry.type
class CommandsQuery:
    @strawberry.field(permission_classes=[allow(Permission.READ)], description="One command.")
    async def command(self, info: Info[Context, None], id: strawberry.ID) -> Command | None:
        found = await info.context.services.commands.by_ids([str(id)])
        return Command.of(found[str(id)]) if str(id) in found else None

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Commands newest first (by seq), optionally of a pipeline, run or states.",
    )
    async def commands(
        self,
        info: Info[Context, None],
        pipeline: str | None = None,
        run: strawberry.ID | None = None,
        states: list[CommandState] | None = None,
        before_seq: int | None = None,
        first: int = 50,
    ) -> list[Command]:
        rows = await info.context.services.commands.page(
            pipeline=pipeline,
            run=None if run is None else str(run),
            states=None if states is None else [s.value for s in states],
            before=before_seq,
            limit=info.context.page_size(first),
        )
        return [Command.of(c) for c in rows]


@strawberry.type
class CommandsSubscription:
    @strawberry.subscription(
        permission_classes=_EXECUTE,
        description=(
            "Commands for an executor's pipelines: those after afterSeq still waiting for "
            "an executor, then new ones as they are issued on any replica (at least once: "
            "dedupe by id, resume with the last seq seen)."
        ),
    )
    async def commands(
        self, info: Info[Context, None], pipelines: list[str], after_seq: int = 0
    ) -> AsyncGenerator[Command, None]:
        if not pipelines:
            raise BadArgument("pipelines: name at least one pipeline")
        feed = info.context.services.command_feed
        stream = feed.stream(pipelines, after_seq)
        try:
            async for batch in stream:  # an empty one only marks the end of the catch-up
                for command in batch:
                    yield Command.of(command)
                feed.delivered(batch)
        except SubscriberClosed as exc:
            raise subscription_closed(exc) from exc
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
