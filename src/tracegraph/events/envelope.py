"""The event envelope: a common base class and one subclass per event type.

Each subclass pins `type`, types `data`, and states which of pipeline/run/step the type
requires (a plain type), allows (`X | None`) or forbids (`None`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tracegraph.events.base import Payload, drop_optional_nulls
from tracegraph.events.definition import PipelineDefinedData
from tracegraph.events.fields import Name, Timestamp
from tracegraph.events.payloads import (
    ApprovalRequestedData,
    ArtifactReadData,
    ArtifactWrittenData,
    LogData,
    PromptSentData,
    ResponseChunkData,
    ResponseReceivedData,
    RunCancelledData,
    RunCompletedData,
    RunFailedData,
    RunPausedData,
    RunResumedData,
    RunScheduledData,
    RunStartedData,
    StepCompletedData,
    StepFailedData,
    StepProgressData,
    StepScheduledData,
    StepSkippedData,
    StepStartedData,
)

EventId = Annotated[str, Field(min_length=1, max_length=128)]
RunId = Annotated[str, Field(min_length=1, max_length=128)]
Source = Annotated[str, Field(min_length=1, max_length=200)]


class Event(BaseModel):
    """Fields common to every event. Validate with `parse_event`, which picks the subclass."""

    # Unknown envelope keys are rejected: at this level they are typos, not extensions.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: EventId = Field(description="Unique event id, the idempotency key")
    type: str
    time: Timestamp = Field(description="When it happened at the source")
    source: Source = Field(description="Who emitted it, e.g. sdk/python@worker-3")
    pipeline: Name | None = None
    run: RunId | None = None
    step: Name | None = None
    attempt: Annotated[int, Field(ge=1, strict=True)] = Field(
        1, description="Attempt number of the step (retries)"
    )
    data: Payload = Field(default_factory=Payload)

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, value: Any) -> Any:
        if cls is Event:
            raise ValueError("validate events with parse_event(), which picks the event type")
        value = drop_optional_nulls(cls, value)
        # No data (or null) is an empty object: the data model then names any missing field.
        if isinstance(value, dict) and value.get("data") is None:
            return {**value, "data": {}}
        return value


class PipelineDefinedEvent(Event):
    type: Literal["pipeline.defined"]
    pipeline: Name
    run: None = None
    step: None = None
    data: PipelineDefinedData = Field(default_factory=PipelineDefinedData)


class _RunEvent(Event):
    pipeline: Name
    run: RunId
    step: None = None


class RunScheduledEvent(_RunEvent):
    type: Literal["run.scheduled"]
    data: RunScheduledData = Field(default_factory=RunScheduledData)


class RunStartedEvent(_RunEvent):
    type: Literal["run.started"]
    data: RunStartedData = Field(default_factory=RunStartedData)


class RunCompletedEvent(_RunEvent):
    type: Literal["run.completed"]
    data: RunCompletedData = Field(default_factory=RunCompletedData)


class RunFailedEvent(_RunEvent):
    type: Literal["run.failed"]
    data: RunFailedData


class RunCancelledEvent(_RunEvent):
    type: Literal["run.cancelled"]
    data: RunCancelledData = Field(default_factory=RunCancelledData)


class RunPausedEvent(_RunEvent):
    type: Literal["run.paused"]
    data: RunPausedData = Field(default_factory=RunPausedData)


class RunResumedEvent(_RunEvent):
    type: Literal["run.resumed"]
    data: RunResumedData = Field(default_factory=RunResumedData)


class _StepEvent(Event):
    pipeline: Name
    run: RunId
    step: Name


class StepScheduledEvent(_StepEvent):
    type: Literal["step.scheduled"]
    data: StepScheduledData = Field(default_factory=StepScheduledData)


class StepStartedEvent(_StepEvent):
    type: Literal["step.started"]
    data: StepStartedData = Field(default_factory=StepStartedData)


class StepProgressEvent(_StepEvent):
    type: Literal["step.progress"]
    data: StepProgressData = Field(default_factory=StepProgressData)


class StepCompletedEvent(_StepEvent):
    type: Literal["step.completed"]
    data: StepCompletedData = Field(default_factory=StepCompletedData)


class StepFailedEvent(_StepEvent):
    type: Literal["step.failed"]
    data: StepFailedData = Field(default_factory=StepFailedData)


class StepSkippedEvent(_StepEvent):
    type: Literal["step.skipped"]
    data: StepSkippedData = Field(default_factory=StepSkippedData)


class ApprovalRequestedEvent(_StepEvent):
    type: Literal["approval.requested"]
    data: ApprovalRequestedData


class _RunActivityEvent(Event):
    """prompt.*, response.*, artifact.*: inside a run, optionally inside a step."""

    pipeline: Name
    run: RunId


class PromptSentEvent(_RunActivityEvent):
    type: Literal["prompt.sent"]
    data: PromptSentData


class ResponseChunkEvent(_RunActivityEvent):
    type: Literal["response.chunk"]
    data: ResponseChunkData


class ResponseReceivedEvent(_RunActivityEvent):
    type: Literal["response.received"]
    data: ResponseReceivedData


class ArtifactReadEvent(_RunActivityEvent):
    type: Literal["artifact.read"]
    data: ArtifactReadData


class ArtifactWrittenEvent(_RunActivityEvent):
    type: Literal["artifact.written"]
    data: ArtifactWrittenData


class LogEvent(Event):
    type: Literal["log"]
    data: LogData


AnyEvent = Annotated[
    PipelineDefinedEvent
    | RunScheduledEvent
    | RunStartedEvent
    | RunCompletedEvent
    | RunFailedEvent
    | RunCancelledEvent
    | RunPausedEvent
    | RunResumedEvent
    | StepScheduledEvent
    | StepStartedEvent
    | StepProgressEvent
    | StepCompletedEvent
    | StepFailedEvent
    | StepSkippedEvent
    | ApprovalRequestedEvent
    | PromptSentEvent
    | ResponseChunkEvent
    | ResponseReceivedEvent
    | ArtifactReadEvent
    | ArtifactWrittenEvent
    | LogEvent,
    Field(discriminator="type"),
]
"""Discriminated union of every event class (used for the JSON Schema)."""

EVENT_CLASSES: dict[str, type[Event]] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls for cls in get_args(get_args(AnyEvent)[0])
}

EVENT_TYPES: tuple[str, ...] = tuple(EVENT_CLASSES)

ENVELOPE_FIELDS: tuple[str, ...] = tuple(Event.model_fields)
