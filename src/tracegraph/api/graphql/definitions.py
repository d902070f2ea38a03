"""Pipeline definitions as YAML (issue 18, item 4; docs/definitions.md): read the current
definition as YAML, validate a proposed text (problems with their line and column, and
the diff to the current version), submit it as a new version (permission ``operate``).

Submitting stores a ``pipeline.defined`` event through the normal ingest path, so the
log, replay and the audit trail treat it like any other definition.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import (
    BadArgument,
    Forbidden,
    database_unavailable,
    ingest_error,
)
from tracegraph.api.graphql.permissions import allow, principal_of
from tracegraph.auth import Permission
from tracegraph.definitions import diff as diffs
from tracegraph.definitions.check import Problem
from tracegraph.definitions.service import InvalidDefinition, NeedsPermission, Submitted
from tracegraph.ingest.errors import IngestError
from tracegraph.store.errors import is_retryable

if TYPE_CHECKING:
    from tracegraph.api.graphql.gate import ChangeRequest

T = TypeVar("T")


@strawberry.enum(description="How a definition change touches a field or a step.")
class DefinitionChangeKind(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@strawberry.type(description="One problem with a definition's YAML text.")
class DefinitionProblem:
    message: str
    path: str = strawberry.field(
        description='Where in the definition, e.g. "steps[2].depends_on"; "" for the whole.'
    )
    line: int | None = strawberry.field(description="1-based line in the YAML text.")
    column: int | None = strawberry.field(description="1-based column in the YAML text.")

    @classmethod
    def of(cls, p: Problem) -> DefinitionProblem:
        return cls(message=p.message, path=p.path, line=p.line, column=p.column)


@strawberry.type(description="A field of the pipeline or of a step added, removed or changed.")
class DefinitionChange:
    kind: DefinitionChangeKind
    step: str | None = strawberry.field(description="The step's key; null for the pipeline.")
    field: str | None = strawberry.field(
        description="The field; null when the whole step was added or removed."
    )
    before: JSON | None
    after: JSON | None


@strawberry.type(description="What a definition changes against the current version.")
class DefinitionDiff:
    from_version: str | None
    to_version: str | None
    changes: list[DefinitionChange]
    text: str = strawberry.field(description="Unified diff of the two YAML texts.")

    @classmethod
    def of(cls, d: diffs.DefinitionDiff) -> DefinitionDiff:
        return cls(
            from_version=d.from_version,
            to_version=d.to_version,
            changes=[
                DefinitionChange(
                    kind=DefinitionChangeKind(c.kind.value),
                    step=c.step,
                    field=c.field,
                    before=c.before,
                    after=c.after,
                )
                for c in d.changes
            ],
            text=d.text,
        )


@strawberry.type(description="A pipeline's current definition as YAML.")
class PipelineDefinition:
    pipeline: str
    version: str | None
    yaml: str | None = strawberry.field(description="Null when the pipeline has none yet.")
    defined_at: datetime | None
    seq: int | None = strawberry.field(description="Seq of the definition's event.")
    versions: list[str] = strawberry.field(description="Every version in the event log.")


@strawberry.type(description="A proposed definition checked; nothing is stored.")
class DefinitionValidation:
    valid: bool
    problems: list[DefinitionProblem]
    version: str | None = strawberry.field(description="The version it would be stored as.")
    version_generated: bool = strawberry.field(
        description="The text has no version: this one would be generated."
    )
    diff: DefinitionDiff | None = strawberry.field(description="Null while invalid.")
    is_current: bool = strawberry.field(
        description="The text is the current definition, version and all: nothing to submit."
    )
    warnings: list[DefinitionProblem] = strawberry.field(
        description="Keys the contract does not define (kept as extensions; often a typo)."
    )


@strawberry.type(
    description="A definition stored as a new version, or (gated) held as a change request."
)
class DefinitionSubmission:
    pipeline: str
    version: str
    event_id: strawberry.ID | None = strawberry.field(description="Null while pending approval.")
    seq: int | None = strawberry.field(description="Null while pending approval.")
    diff: DefinitionDiff
    is_current: bool | None = strawberry.field(
        description=(
            "Read back after storing: this version is the pipeline's current one. False if "
            "a later-dated definition was stored meanwhile and wins; null if not known "
            "(or pending approval)."
        )
    )
    change_request: (
        Annotated[ChangeRequest, strawberry.lazy("tracegraph.api.graphql.gate")] | None
    ) = strawberry.field(
        default=None,
        description="The pipeline's gate holds definitions for approval: the pending request "
        "(nothing is live yet).",
    )

    @classmethod
    def of(cls, s: Submitted) -> DefinitionSubmission:
        return cls(
            pipeline=s.pipeline,
            version=s.version,
            event_id=strawberry.ID(s.event_id),
            seq=s.seq,
            diff=DefinitionDiff.of(s.diff),
            is_current=s.current,
        )

    @classmethod
    def pending(cls, request: ChangeRequest) -> DefinitionSubmission:
        return cls(
            pipeline=request.pipeline,
            version=str(request.diff.to_version),
            event_id=None,
            seq=None,
            diff=request.diff,
            is_current=None,
            change_request=request,
        )


async def guarded(info: Info[Context, None], call: Awaitable[T]) -> T:
    try:
        return await call
    except InvalidDefinition as exc:
        problems = [
            {"message": p.message, "path": p.path, "line": p.line, "column": p.column}
            for p in exc.problems
        ]
        raise BadArgument(str(exc), problems=problems) from exc
    except NeedsPermission as exc:
        raise Forbidden(str(exc), permission=exc.permission) from exc
    except IngestError as exc:
        raise ingest_error(exc) from exc
    except Exception as exc:
        if is_retryable(exc):
            raise database_unavailable(info.context.services.settings.retry_after_s) from exc
        raise


@strawberry.type
class DefinitionsQuery:
    @strawberry.field(
        description="A pipeline's current definition as YAML (the pipeline.defined shape).",
        permission_classes=[allow(Permission.READ)],
    )
    async def pipeline_definition(
        self, info: Info[Context, None], pipeline: str
    ) -> PipelineDefinition:
        state = await guarded(info, info.context.services.definitions.current(pipeline))
        if not state.known:
            raise BadArgument(f"unknown pipeline {pipeline!r}")
        return PipelineDefinition(
            pipeline=pipeline,
            version=state.version,
            yaml=state.as_yaml(),
            defined_at=state.defined_at,
            seq=state.seq,
            versions=sorted(state.versions),
        )

    @strawberry.field(
        description=(
            "Check a definition's YAML text against the rules of pipeline.defined and the "
            "versions already used; problems carry their line. Nothing is stored."
        ),
        permission_classes=[allow(Permission.READ)],
    )
    async def validate_definition(
        self, info: Info[Context, None], pipeline: str, yaml: str
    ) -> DefinitionValidation:
        v = await guarded(info, info.context.services.definitions.validate(pipeline, yaml))
        return DefinitionValidation(
            valid=v.valid,
            problems=[DefinitionProblem.of(p) for p in v.problems],
            version=v.version,
            version_generated=v.version_generated,
            diff=None if v.diff is None else DefinitionDiff.of(v.diff),
            is_current=v.current,
            warnings=[DefinitionProblem.of(p) for p in v.warnings],
        )


@strawberry.type
class DefinitionsMutation:
    @strawberry.mutation(
        description=(
            "Store a definition's YAML text as the pipeline's new version (a pipeline.defined "
            "event through ingest). Invalid text: BAD_USER_INPUT with extensions.problems, "
            "nothing stored. Changing an owner or an SLA also needs admin:owners / "
            "admin:slas (FORBIDDEN naming it). When the pipeline's gate holds definitions, "
            "the result is a pending changeRequest instead (docs/governance.md)."
        ),
        permission_classes=[allow(Permission.OPERATE)],
    )
    async def submit_definition(
        self, info: Info[Context, None], pipeline: str, yaml: str
    ) -> DefinitionSubmission:
        principal = principal_of(info)
        permissions = frozenset() if principal is None else principal.permissions
        from tracegraph.api.graphql.gate import submission  # the gate's types use ours

        result = await guarded(
            info,
            info.context.services.gate.submit_definition(
                pipeline, yaml, info.context.actor, permissions
            ),
        )
        return submission(info, result)
