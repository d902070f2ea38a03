"""The governance gate (issue 19; docs/governance.md, "The gate").

A gate policy per pipeline (or the default) names the change kinds that need approval:
``definitions`` (new versions, rollbacks included), ``owners``, ``slas``. A gated change
is not applied: it becomes a change request — a ``change.requested`` event holding the
proposed payload, the readable diff (``definitions/diff.py``) and the live state it was
made against. A reviewer who is not its author approves it (the change then goes live as
its own event, through the same path as an ungated one, and a ``change.decided`` event
records the decision) or rejects it (only the decision is written). Policies, requests
and decisions are events written by the service itself, so a rebuild from the log
reproduces all of it. Ungated changes apply at once, as before.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson

from tracegraph.definitions.diff import Change, ChangeKind, DefinitionDiff, diff_definitions
from tracegraph.definitions.live import governance_changes
from tracegraph.definitions.render import to_yaml
from tracegraph.definitions.service import (
    DefinitionService,
    DefinitionState,
    InvalidDefinition,
    Submitted,
    Validation,
)
from tracegraph.definitions.service import event_id as definition_event_id
from tracegraph.definitions.versions import next_version
from tracegraph.events.governance import (
    change_decided_event,
    change_requested_event,
    gate_policy_set_event,
    owner_set_event,
    sla_set_event,
)
from tracegraph.ingest import deadline
from tracegraph.ingest.admin_changes import AdminChanges
from tracegraph.store.errors import within
from tracegraph.store.gate_store import GateStore

T = TypeVar("T")

# What a gate policy can hold back, in this order.
GATE_KINDS = ("definitions", "owners", "slas")
_PERMISSION_KIND = {"admin:owners": "owners", "admin:slas": "slas"}


async def _bounded(call: Awaitable[T], what: str) -> T:
    """A read within the request's answer budget (RequestDeadline), not only the query
    timeout: a frozen database costs a request seconds, not ~12 s."""
    budget = deadline.remaining(math.inf)
    if math.isinf(budget):
        return await call
    return await within(max(budget, 0.0), call, what)


class GateError(ValueError):
    """A request that cannot be made or decided as asked (BAD_USER_INPUT)."""


class OwnChange(PermissionError):
    """Four-eyes: the author of a change request may not decide it."""

    permission = "changes:review"

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"forbidden: you proposed change request {request_id!r}; another reviewer must "
            "approve or reject it (four-eyes)"
        )


@dataclass(frozen=True, slots=True)
class GatePolicy:
    pipeline: str | None
    gated: tuple[str, ...]
    # The pipeline has no policy of its own: this is the default's (or nothing gated).
    inherited: bool
    updated_by: str | None = None
    updated_at: datetime | None = None


def _policy(pipeline: str | None, row: dict[str, Any] | None, inherited: bool) -> GatePolicy:
    if row is None:
        return GatePolicy(pipeline, (), inherited)
    at = row.get("updated_at")
    return GatePolicy(
        pipeline,
        tuple(k for k in GATE_KINDS if k in (row.get("gated") or [])),
        inherited,
        row.get("updated_by"),
        None if at is None else at.to_native(),
    )


def digest(state: DefinitionState) -> str:
    """What a request is checked against when approved: the live definition (owners and
    SLAs laid over) — anything changed since makes the request stale."""
    body = orjson.dumps({"version": state.version, "data": state.data}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


def diff_as_json(diff: DefinitionDiff) -> dict[str, Any]:
    return {
        "from_version": diff.from_version,
        "to_version": diff.to_version,
        "text": diff.text,
        "changes": [
            {
                "kind": c.kind.value,
                "step": c.step,
                "field": c.field,
                "before": c.before,
                "after": c.after,
            }
            for c in diff.changes
        ],
    }


def diff_from_json(value: dict[str, Any]) -> DefinitionDiff:
    return DefinitionDiff(
        from_version=value.get("from_version"),
        to_version=value.get("to_version"),
        text=value.get("text") or "",
        changes=tuple(
            Change(
                ChangeKind(c["kind"]),
                c.get("step"),
                c.get("field"),
                c.get("before"),
                c.get("after"),
            )
            for c in value.get("changes") or []
        ),
    )


def _with_governance(
    data: dict[str, Any] | None, step: str | None, field: str, value: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The live definition before and after an owner or SLA change (``value`` None
    removes it), for the request's diff."""
    before = dict(data or {})
    after = orjson.loads(orjson.dumps(before))
    target = after
    if step is not None:
        target = next((s for s in after.get("steps") or [] if s.get("key") == step), {})
    if value is None:
        target.pop(field, None)
    else:
        target[field] = value
    return before, after


def _proposed(request: dict[str, Any]) -> list[DefinitionState]:
    """The owner a request proposes, as a state (its alert goes to the new owner too)."""
    owner = request["payload"].get("owner")
    if owner is None:
        return []
    return [DefinitionState(request["pipeline"], data={"owner": owner})]


def _notified(row: dict[str, Any], *states: DefinitionState) -> dict[str, Any]:
    """``row`` with the pipeline's owners in ``states`` (who its alert goes to: before
    and after an approved owner change, both)."""
    owners: set[str | None] = set()
    for state in states:
        data = state.data or {}
        owners |= {data.get("owner")} | {s.get("owner") for s in data.get("steps") or []}
    return {**row, "owners": sorted(o for o in owners if o)}


# Every change request id starts so (alerts relayed between replicas are looked up by it).
CHANGE_REQUEST_ID_PREFIX = "cr-"


class GateService:
    def __init__(
        self,
        store: GateStore,
        definitions: DefinitionService,
        admin: AdminChanges,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._definitions = definitions
        self._admin = admin
        self._clock = clock

    # -- policy ----------------------------------------------------------------------

    async def policy(self, pipeline: str | None) -> GatePolicy:
        """The policy in force for ``pipeline`` (its own, else the default), or the
        default itself when ``pipeline`` is None."""
        own, default = await _bounded(self._store.policies(pipeline or ""), "the gate policy read")
        if pipeline is not None and own is not None:
            return _policy(pipeline, own, inherited=False)
        return _policy(pipeline, default, inherited=pipeline is not None)

    async def set_policy(
        self, pipeline: str | None, gated: Sequence[str], actor: str
    ) -> GatePolicy:
        unknown = sorted(set(gated) - set(GATE_KINDS))
        if unknown:
            raise GateError(
                f"gated: unknown change kind {unknown[0]!r} (known: {', '.join(GATE_KINDS)})"
            )
        kinds = [k for k in GATE_KINDS if k in gated]
        event = gate_policy_set_event(pipeline, kinds, self._clock())
        await self._admin.submit_event(event, actor=actor)
        return await self.policy(pipeline)

    async def _gates(self, pipeline: str, kinds: Collection[str]) -> bool:
        policy = await self.policy(pipeline)
        return any(k in policy.gated for k in kinds)

    # -- proposing changes -----------------------------------------------------------

    async def submit_definition(
        self, pipeline: str, text: str, actor: str, permissions: Collection[str]
    ) -> Submitted | dict[str, Any]:
        """Submit a definition: published at once when ungated (a Submitted), else a
        pending change request (its row)."""
        validation = await self._definitions.prepare(pipeline, text, permissions)
        return await self._gate_definition(validation, actor, "definition", {})

    async def rollback(
        self, pipeline: str, to_version: str, actor: str, permissions: Collection[str]
    ) -> Submitted | dict[str, Any]:
        """Propose ``to_version``'s definition again, as a new version."""
        versions = await _bounded(self._store.definition_versions(pipeline), "the versions read")
        old = [v for v in versions if str(v["data"].get("version")) == to_version]
        if not old:
            known = ", ".join(sorted({str(v["data"].get("version")) for v in versions})) or "none"
            raise GateError(
                f"unknown version {to_version!r} of pipeline {pipeline!r} (known: {known})"
            )
        state = await self._definitions.current(pipeline)
        if state.version == to_version:
            raise GateError(f"version {to_version!r} is already the current definition")
        data = {**old[-1]["data"], "version": next_version(state.versions)}
        validation = await self._definitions.prepare(pipeline, to_yaml(data), permissions)
        return await self._gate_definition(
            validation, actor, "rollback", {"rollback_of": to_version}
        )

    async def _gate_definition(
        self, validation: Validation, actor: str, kind: str, extra: dict[str, Any]
    ) -> Submitted | dict[str, Any]:
        assert validation.diff is not None and validation.data is not None
        kinds = {"definitions"} | {_PERMISSION_KIND[p] for p in governance_changes(validation.diff)}
        if not await self._gates(validation.pipeline, kinds):
            return await self._definitions.publish(validation, actor)
        state = await self._definitions.current(validation.pipeline)
        payload = {"definition": validation.data, **extra}
        return await self._request(kind, state, None, payload, validation.diff, actor)

    async def set_owner(
        self, pipeline: str, step: str | None, owner: str, actor: str
    ) -> dict[str, Any] | None:
        """Set an owner (checked), or hold it as a change request (returned)."""
        if not await self._gates(pipeline, ["owners"]):
            await self._admin.set_owner(pipeline, step, owner, actor)
            return None
        return await self._governance_request("owner", pipeline, step, owner, actor)

    async def set_sla(
        self, pipeline: str, step: str | None, sla: dict[str, Any] | None, actor: str
    ) -> dict[str, Any] | None:
        if not await self._gates(pipeline, ["slas"]):
            await self._admin.set_sla(pipeline, step, sla, actor)
            return None
        return await self._governance_request("sla", pipeline, step, sla, actor)

    async def _governance_request(
        self, kind: str, pipeline: str, step: str | None, value: Any, actor: str
    ) -> dict[str, Any]:
        await self._admin.require_target(pipeline, step)
        state = await self._definitions.current(pipeline)
        before, after = _with_governance(state.data, step, kind, value)
        diff = diff_definitions(before, after)
        diff = DefinitionDiff(state.version, state.version, diff.changes, diff.text)
        return await self._request(kind, state, step, {kind: value}, diff, actor)

    async def _request(
        self,
        kind: str,
        state: DefinitionState,
        step: str | None,
        payload: dict[str, Any],
        diff: DefinitionDiff,
        actor: str,
    ) -> dict[str, Any]:
        request_id = f"{CHANGE_REQUEST_ID_PREFIX}{uuid.uuid4().hex[:12]}"
        request = {
            "id": request_id,
            "kind": kind,
            "pipeline": state.pipeline,
            "step": step,
            "payload": payload,
            "diff": diff_as_json(diff),
            "base_version": state.version,
            "base_digest": digest(state),
        }
        event = change_requested_event(request, self._clock())
        await self._admin.submit_event(event, actor=actor)
        return _notified(await self.request(request_id), state)

    # -- reviewing -------------------------------------------------------------------

    async def notified_requests(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """Change requests by id with the owners their alert goes to (the pipeline's
        current owners and the one a request proposes): how another replica relays an
        alert it learnt by id (live/hub.py)."""
        found = await _bounded(self._store.requests_by_id(list(ids)), "the request read")
        out = []
        for request in found.values():
            state = await self._definitions.current(request["pipeline"])
            out.append(_notified(request, state, *_proposed(request)))
        return out

    async def request(self, request_id: str) -> dict[str, Any]:
        found = await _bounded(self._store.requests_by_id([request_id]), "the request read")
        if request_id not in found:
            raise GateError(f"unknown change request {request_id!r}")
        return found[request_id]

    async def requests(
        self, state: str | None, pipeline: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return await _bounded(self._store.requests(state, pipeline, limit), "the requests read")

    async def decide(
        self, request_id: str, approve: bool, comment: str | None, actor: str
    ) -> dict[str, Any]:
        """Approve or reject a pending request; the decision is a ``change.decided``
        event by ``actor``. Approved, the change's own event is committed with it in one
        transaction (both or neither), by the same path as an ungated change; rejected,
        only the decision is written."""
        request = await self.request(request_id)
        if request["state"] != "pending":
            raise GateError(
                f"change request {request_id!r} is {request['state']} already "
                f"(by {request.get('reviewer')})"
            )
        if request["author"] == actor:
            raise OwnChange(request_id)
        before = await self._definitions.current(request["pipeline"])
        if approve:
            await self._apply(request, before, comment, actor)
        else:
            event = change_decided_event(request_id, False, comment, None, self._clock())
            await self._admin.submit_event(event, actor=actor)
        return _notified(await self.request(request_id), before, *_proposed(request))

    async def _apply(
        self, request: dict[str, Any], state: DefinitionState, comment: str | None, actor: str
    ) -> None:
        pipeline, kind, payload = request["pipeline"], request["kind"], request["payload"]
        if digest(state) != request["base_digest"]:
            raise GateError(
                f"change request {request['id']!r} is stale: pipeline {pipeline!r} changed "
                f"since it was proposed (it was based on version "
                f"{request.get('base_version')!r}, now {state.version!r}, or its owners/SLAs "
                "changed); reject it and propose the change again"
            )
        at = self._clock()
        if kind in ("definition", "rollback"):
            # Checked again against the live state (unchanged, as the digest says): the
            # same validation and the same path as an ungated submission.
            text = to_yaml(payload["definition"])
            validation = await self._definitions.validate(pipeline, text)
            if not validation.valid or validation.version is None:
                raise InvalidDefinition(
                    f"the proposed definition is no longer valid: {validation.problems[0].message}",
                    validation.problems,
                )
            change_id = definition_event_id(pipeline, validation.version)
            decided = change_decided_event(request["id"], True, comment, change_id, at)
            await self._definitions.publish(validation, actor, with_events=[decided])
            return
        step = request.get("step")
        if kind == "owner":
            change = owner_set_event(pipeline, step, payload["owner"], at)
        else:
            change = sla_set_event(pipeline, step, payload["sla"], at)
        decided = change_decided_event(request["id"], True, comment, change["id"], at)
        await self._admin.submit_event(change, decided, actor=actor)

    # -- versions --------------------------------------------------------------------

    async def versions(self, pipeline: str) -> list[dict[str, Any]]:
        """The pipeline's definition versions, oldest first, one per version (the latest
        event carrying it)."""
        by_version: dict[str, dict[str, Any]] = {}
        for row in await _bounded(self._store.definition_versions(pipeline), "the versions read"):
            by_version[str(row["data"].get("version"))] = row
        return sorted(by_version.values(), key=lambda r: r["seq"])

    async def diff(self, pipeline: str, from_version: str, to_version: str) -> DefinitionDiff:
        versions = {str(v["data"].get("version")): v["data"] for v in await self.versions(pipeline)}
        for version in (from_version, to_version):
            if version not in versions:
                known = ", ".join(versions) or "none"
                raise GateError(
                    f"unknown version {version!r} of pipeline {pipeline!r} (known: {known})"
                )
        return diff_definitions(versions[from_version], versions[to_version])
