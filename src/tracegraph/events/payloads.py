"""`data` models of every event type but `pipeline.defined` (see definition.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, ConfigDict, Field, WithJsonSchema, model_validator

from tracegraph.events.base import Payload
from tracegraph.events.columns import ColumnLineage, SchemaError, schema_fields
from tracegraph.events.errors import problem, shown
from tracegraph.events.fields import (
    Amount,
    Count,
    Flag,
    Ident,
    JsonObject,
    Owner,
    Timestamp,
    Version,
)

Trigger = Literal["schedule", "manual", "api", "event"]
ArtifactKind = Literal[
    "dataset", "table", "file", "document", "index", "embedding", "model", "other"
]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]


def _check_content(value: Any) -> Any:
    # Checked by hand: a `str | list` union would report one error per member.
    if value is not None and not isinstance(value, (str, list)):
        raise ValueError(f"must be a string or an array of content parts (got {shown(value)})")
    return value


# Message content is text or a list of parts (multimodal / tool messages).
_MessageContent = Annotated[
    Any,
    AfterValidator(_check_content),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array"}, {"type": "null"}]}),
]


class ErrorInfo(Payload):
    type: str | None = None
    message: str
    stack: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        # `"error": "boom"` is read as `{"message": "boom"}`.
        return {"message": value} if isinstance(value, str) else value


class Message(Payload):
    role: Ident
    content: _MessageContent = None


class Template(Payload):
    name: Ident
    version: Version | None = None


class _Scheduled(Payload):
    scheduled_for: Timestamp | None = None


class RunScheduledData(_Scheduled):
    pass


class StepScheduledData(_Scheduled):
    pass


class RunStartedData(Payload):
    trigger: Trigger | None = None
    triggered_by: str | None = None
    params: JsonObject | None = None
    pipeline_version: Version | None = None


class _Completed(Payload):
    outputs: JsonObject | None = None


class RunCompletedData(_Completed):
    pass


class StepCompletedData(_Completed):
    pass


class RunFailedData(Payload):
    error: ErrorInfo


class RunCancelledData(Payload):
    reason: str | None = None
    by: str | None = None


class RunPausedData(Payload):
    """``run.paused`` (issue 18): the run stopped at a checkpoint; ``command`` is the id
    of the pause command it honoured, ``by`` who issued it."""

    reason: str | None = None
    by: str | None = None
    command: str | None = None


class RunResumedData(Payload):
    reason: str | None = None
    by: str | None = None
    command: str | None = None


class ApprovalRequestedData(Payload):
    """``approval.requested`` (issue 19): a step run waits for a human decision.
    ``approvers``: who may decide, each ``owner`` (the pipeline's owner) or a role name
    (``operator``, ``admin``…); admins always may. The service expires the approval
    ``timeout_s`` seconds after the event's ``time`` (docs/approvals.md)."""

    approval: Ident = Field(description="Id of the approval, unique across runs")
    question: Annotated[str, Field(min_length=1, max_length=2000)]
    approvers: Annotated[list[Ident], Field(min_length=1, max_length=20)]
    timeout_s: Annotated[Amount, Field(gt=0, le=7 * 24 * 3600)]


class StepStartedData(Payload):
    provider: Ident | None = None
    model: Ident | None = None
    params: JsonObject | None = None
    token_budget: Count | None = None


class StepProgressData(Payload):
    percent: Annotated[Amount, Field(le=100)] | None = None
    message: str | None = None
    tokens_used: Count | None = None
    items_done: Count | None = None
    items_total: Count | None = None


class StepFailedData(Payload):
    error: ErrorInfo | None = None
    retryable: Flag | None = None


class StepSkippedData(Payload):
    reason: str | None = None


class PromptSentData(Payload):
    call: Ident = Field(description="Id of the LLM call, unique within the run")
    provider: Ident | None = None
    model: Ident
    template: Template | None = None
    text: str | None = None
    messages: list[Message] | None = None
    variables: JsonObject | None = None
    input_tokens: Count | None = None
    params: JsonObject | None = None

    @model_validator(mode="after")
    def _has_prompt(self) -> Self:
        if self.text is None and self.messages is None:
            raise problem("either 'text' or 'messages' is required")
        return self


# The highest ``response.chunk`` index accepted.
MAX_CHUNK_INDEX = 100_000


class ResponseChunkData(Payload):
    call: Ident
    # Bounded: run documents hold a call's chunks as a list indexed by position
    # (docs/live-deltas.md), so an unbounded index could exhaust server memory.
    index: Count = Field(
        le=MAX_CHUNK_INDEX,
        description=f"0-based position of the chunk in the response (at most {MAX_CHUNK_INDEX})",
    )
    delta: str


class ResponseReceivedData(Payload):
    call: Ident
    text: str | None = None
    messages: list[Message] | None = None
    input_tokens: Count | None = None
    output_tokens: Count | None = None
    latency_ms: Amount | None = None
    cost_usd: Amount | None = None
    finish_reason: str | None = None
    error: ErrorInfo | None = None


class _ArtifactData(Payload):
    model_config = ConfigDict(populate_by_name=True)

    uri: Ident
    kind: ArtifactKind | None = None
    version: Version | None = None
    hash: str | None = None
    size_bytes: Count | None = None
    records: Count | None = None
    # `schema` would shadow a BaseModel attribute; the wire name stays `schema`.
    schema_: Any = Field(None, alias="schema")
    owner: Owner | None = None

    @model_validator(mode="after")
    def _readable_schema(self) -> Self:
        # A schema that lists fields must list them readably: each becomes a Field node
        # and versions are compared on them (docs/columns.md).
        try:
            schema_fields(self.schema_)
        except SchemaError as exc:
            raise problem(str(exc), "schema") from None
        return self


class ArtifactReadData(_ArtifactData):
    pass


class ArtifactWrittenData(_ArtifactData):
    column_lineage: ColumnLineage | None = Field(
        None,
        description="Column-level lineage: each written field and the input fields it "
        "derives from (docs/columns.md)",
    )

    @model_validator(mode="after")
    def _fields_once(self) -> Self:
        names = [entry.field for entry in self.column_lineage or []]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})[0]
            raise problem(f"field {twice!r} appears twice", "column_lineage")
        return self


class LogData(Payload):
    level: LogLevel = "info"
    message: str
    context: JsonObject | None = None
