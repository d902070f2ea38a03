"""Definitions as YAML, as a service: read the current one, check a proposed text, and
submit it as a new version — a ``pipeline.defined`` event through the normal ingest path
(validated, scrubbed, stored in the log with its principal and in the audit trail), so a
replay of the log rebuilds every version.

:meth:`DefinitionService.submit` is the one place a checked definition goes live
(:meth:`DefinitionService._publish`); the governance gate (``definitions/gate.py``) goes
between :meth:`DefinitionService.prepare` and :meth:`DefinitionService.publish`: a gated
change becomes a change request instead of being published.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from tracegraph.definitions.check import Checked, Problem, check_definition
from tracegraph.definitions.diff import DefinitionDiff, diff_definitions
from tracegraph.definitions.live import governance_changes
from tracegraph.definitions.render import to_yaml
from tracegraph.definitions.versions import next_version, version_problem
from tracegraph.events.fields import format_timestamp
from tracegraph.ingest import deadline
from tracegraph.store.errors import within

SOURCE = "tracegraph/definitions"


@dataclass(frozen=True, slots=True)
class DefinitionState:
    """A pipeline's definition as it is live (the stored one with the owners and SLAs in
    the graph now, ``definitions/live.py``; None before the first) and every version its
    event log holds."""

    pipeline: str
    known: bool = False
    data: dict[str, Any] | None = None
    seq: int | None = None
    defined_at: datetime | None = None
    versions: frozenset[str] = field(default_factory=frozenset)

    @property
    def version(self) -> str | None:
        return None if self.data is None else self.data.get("version")

    def as_yaml(self) -> str | None:
        return None if self.data is None else to_yaml(self.data)


@dataclass(frozen=True, slots=True)
class Validation:
    """A proposed text checked: its problems, else the definition it would store (with
    its version, generated when the text has none) and what it changes."""

    pipeline: str
    problems: tuple[Problem, ...]
    data: dict[str, Any] | None = None
    version: str | None = None
    version_generated: bool = False
    diff: DefinitionDiff | None = None
    warnings: tuple[Problem, ...] = ()
    # The text is the current definition, version and all: valid, nothing to submit.
    current: bool = False
    # When the current definition was defined (its event's time): a new one must be later.
    defined_at: datetime | None = None

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class Submitted:
    pipeline: str
    version: str
    event_id: str
    seq: int
    diff: DefinitionDiff
    # Read back after the commit: the stored version is the pipeline's current one (False
    # only if a later-dated definition was stored meanwhile and won; None: not known).
    current: bool | None = True


class InvalidDefinition(ValueError):
    """A definition that cannot be submitted; ``problems`` says every reason and where."""

    def __init__(self, message: str, problems: Sequence[Problem]) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class NeedsPermission(PermissionError):
    """The definition changes what only a holder of ``permission`` may change (an owner:
    ``admin:owners``, an SLA: ``admin:slas``, as for setOwner / setSla)."""

    def __init__(self, permission: str) -> None:
        what = "an owner" if permission == "admin:owners" else "an SLA"
        super().__init__(
            f"forbidden: this definition changes {what}, which needs the '{permission}' "
            "permission (keep the live value to submit the rest)"
        )
        self.permission = permission


class DefinitionReads(Protocol):
    async def definition_state(self, pipeline: str) -> DefinitionState: ...


class IngestOutcomeLike(Protocol):
    accepted: int
    duplicates: int
    last_seq: int

    @property
    def rejected(self) -> Sequence[Any]: ...


class Ingest(Protocol):
    async def ingest(
        self,
        raw_events: Sequence[Any],
        principal: str | None = None,
        *,
        service_events: Sequence[dict[str, Any]] = (),
    ) -> IngestOutcomeLike: ...


def event_id(pipeline: str, version: str) -> str:
    """One event id per pipeline and version: two replicas submitting the same version at
    once write the same id, and the log's unique id refuses the second."""
    digest = hashlib.sha256(f"{pipeline}\x1f{version}".encode()).hexdigest()[:40]
    return f"definition-{digest}"


class DefinitionService:
    def __init__(
        self, reads: DefinitionReads, ingest: Ingest, clock: Callable[[], datetime]
    ) -> None:
        self._reads = reads
        self._ingest = ingest
        self._clock = clock

    async def current(self, pipeline: str) -> DefinitionState:
        return await self._state(pipeline)

    async def _state(self, pipeline: str) -> DefinitionState:
        # Within the request's answer budget (RequestDeadline), not only the query
        # timeout: a frozen database then costs a request 4.5 s, not 12 s.
        budget = deadline.remaining(math.inf)
        call = self._reads.definition_state(pipeline)
        if math.isinf(budget):
            return await call
        return await within(max(budget, 0.0), call, "the definition read")

    async def validate(self, pipeline: str, text: str) -> Validation:
        """``text`` checked against the rules of ``pipeline.defined`` and against the
        versions already used, with the diff to the current definition when valid."""
        # Off the event loop: a long text takes a fraction of a second to check.
        checked = await asyncio.to_thread(check_definition, pipeline, text)
        if not checked.valid or checked.data is None:
            return Validation(pipeline, checked.problems)
        state = await self._state(pipeline)
        return _versioned(pipeline, checked, state)

    async def submit(
        self, pipeline: str, text: str, actor: str, permissions: Collection[str]
    ) -> Submitted:
        """Validate and publish ``text`` as the pipeline's new definition, or raise
        :class:`InvalidDefinition` (or :class:`NeedsPermission` when it changes an owner
        or an SLA and ``permissions`` lack the admin one) with nothing stored."""
        return await self._publish(await self.prepare(pipeline, text, permissions), actor)

    async def prepare(self, pipeline: str, text: str, permissions: Collection[str]) -> Validation:
        """``text`` validated as a submission (new, valid, allowed to ``permissions``),
        ready for :meth:`publish` — or for the governance gate to hold it
        (``definitions/gate.py``); raises as :meth:`submit` does."""
        validation = await self.validate(pipeline, text)
        if not validation.valid:
            raise InvalidDefinition(_summary(validation.problems), validation.problems)
        if validation.current:
            problem = Problem(
                f"nothing to submit: this is the current definition (version "
                f"{validation.version!r}); change it, with a new version",
                "version",
            )
            raise InvalidDefinition(problem.message, [problem])
        assert validation.diff is not None
        for permission in governance_changes(validation.diff):
            if permission not in permissions:
                raise NeedsPermission(permission)
        return validation

    async def publish(
        self, validation: Validation, actor: str, with_events: Sequence[dict[str, Any]] = ()
    ) -> Submitted:
        """Store a prepared definition as a ``pipeline.defined`` event (the ungated path,
        and an approved change request's: ``with_events`` holds its decision, committed
        in the same transaction)."""
        return await self._publish(validation, actor, with_events)

    async def _publish(
        self, validation: Validation, actor: str, with_events: Sequence[dict[str, Any]] = ()
    ) -> Submitted:
        assert validation.data is not None and validation.version is not None
        assert validation.diff is not None
        eid = event_id(validation.pipeline, validation.version)
        # A later time wins (apply_pipeline_defined): later than the current definition's
        # even when its emitter's clock ran ahead of ours, so the new version takes effect.
        at = self._clock()
        if validation.defined_at is not None:
            at = max(at, validation.defined_at + timedelta(milliseconds=1))
        event = {
            "id": eid,
            "type": "pipeline.defined",
            "time": format_timestamp(at),
            "source": SOURCE,
            "pipeline": validation.pipeline,
            "data": validation.data,
        }
        if with_events:
            outcome = await self._ingest.ingest([event], actor, service_events=with_events)
        else:
            outcome = await self._ingest.ingest([event], actor)
        if outcome.rejected or not outcome.accepted:
            # Only a race gets here (it was valid and new when checked): another request
            # stored this version first.
            problem = Problem(
                f"version {validation.version!r} was stored meanwhile by another "
                "submission: reload the definition and submit again",
                "version",
            )
            raise InvalidDefinition(problem.message, [problem])
        return Submitted(
            validation.pipeline,
            validation.version,
            eid,
            outcome.last_seq,
            validation.diff,
            current=await self._is_current(validation.pipeline, validation.version),
        )

    async def _is_current(self, pipeline: str, version: str) -> bool | None:
        # Read back, not assumed: stored is not the same as live (a later-dated definition
        # stored meanwhile wins). None when the read-back failed: it is stored, no more known.
        try:
            return (await self._state(pipeline)).version == version
        except Exception:
            return None


def _versioned(pipeline: str, checked: Checked, state: DefinitionState) -> Validation:
    data = dict(checked.data or {})
    version = data.get("version")
    generated = version is None
    if version is None:
        version = next_version(state.versions)
        data["version"] = version
    ordered = {"version": version, **{k: v for k, v in data.items() if k != "version"}}
    diff = diff_definitions(state.data, ordered)
    # The current definition as loaded is valid (nothing to change yet), not "version
    # already exists": that is for a changed text that kept an old version.
    current = not generated and version == state.version and not diff.changes
    problem = None if generated or current else version_problem(version, state.versions)
    if problem is not None:
        line, column = checked.position(("version",))
        return Validation(pipeline, (Problem(problem, "version", line, column),))
    return Validation(
        pipeline,
        (),
        ordered,
        version,
        generated,
        diff,
        checked.warnings,
        current=current,
        defined_at=state.defined_at,
    )


def _summary(problems: Sequence[Problem]) -> str:
    first = problems[0]
    where = f"line {first.line}: " if first.line else ""
    path = f"{first.path}: " if first.path else ""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"invalid definition: {where}{path}{first.message}{more}"
