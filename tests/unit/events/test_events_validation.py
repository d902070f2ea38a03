"""The event model against the contract (contract/events.md); no database needed."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from tracegraph.events import (
    EVENT_CLASSES,
    EVENT_TYPES,
    Event,
    InvalidEvent,
    PipelineDefinedEvent,
    PromptSentEvent,
    canonical_payload,
    duration_to_timedelta,
    fingerprint,
    parse_event,
)

DROP = object()  # marks an envelope key to remove from the base event

ENVELOPE: dict[str, Any] = {
    "id": "ev-1",
    "time": "2026-11-20T02:00:00Z",
    "source": "sdk/python@worker-1",
    "pipeline": "rag-nightly",
    "run": "run-1",
    "step": "embed",
}

# The envelope keys each type must not carry (the contract gives them no meaning there).
NOT_ON: dict[str, tuple[str, ...]] = {
    "pipeline.defined": ("run", "step"),
    **{t: ("step",) for t in EVENT_TYPES if t.startswith("run.")},
}

# A valid `data` for every type, as full as the contract allows.
GOOD_DATA: dict[str, dict[str, Any] | None] = {
    "pipeline.defined": {
        "version": "3",
        "description": "Nightly refresh",
        "owner": "team:search",
        "schedule": "0 2 * * *",
        "sla": {"max_duration_ms": 3_600_000, "min_success_rate": 0.95, "window": "P7D"},
        "steps": [
            {"key": "fetch-docs", "kind": "ingest", "owner": "team:data-platform"},
            {"key": "chunk", "depends_on": ["fetch-docs"]},
            {
                "key": "embed",
                "name": "Embed chunks",
                "depends_on": ["chunk"],
                "owner": "user:ana@example.com",
                "sla": {"max_tokens": 30_000_000, "max_cost_usd": 2, "max_start_delay_ms": 60_000},
                "description": "text-embedding-3-large",
            },
        ],
    },
    "run.scheduled": {"scheduled_for": "2026-11-20T02:00:00+01:00"},
    "run.started": {
        "trigger": "schedule",
        "triggered_by": "user:ana@example.com",
        "params": {"full": True},
        "pipeline_version": "3",
    },
    "run.completed": {"outputs": {"pass_rate": 1.0}},
    "run.failed": {"error": {"type": "Timeout", "message": "took too long", "stack": "..."}},
    "run.cancelled": {"reason": "superseded", "by": "user:ana@example.com"},
    "run.paused": {"reason": "incident", "by": "user:ana@example.com", "command": "cmd-1"},
    "run.resumed": {"by": "user:ana@example.com", "command": "cmd-2"},
    "step.scheduled": {"scheduled_for": "2026-11-20T02:05:00Z"},
    "step.started": {
        "provider": "openai",
        "model": "text-embedding-3-large",
        "params": {"batch": 64},
        "token_budget": 30_000_000,
    },
    "step.progress": {
        "percent": 12.5,
        "message": "batch 8/64",
        "tokens_used": 6_000,
        "items_done": 8,
        "items_total": 64,
    },
    "step.completed": {"outputs": {"vectors": 96_310}},
    "step.failed": {"error": {"message": "429 Too Many Requests"}, "retryable": True},
    "step.skipped": {"reason": "no new documents"},
    "approval.requested": {
        "approval": "appr-1",
        "question": "Publish the new index?",
        "approvers": ["owner", "operator"],
        "timeout_s": 3600.0,
    },
    "prompt.sent": {
        "call": "judge-0",
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "template": {"name": "rag-judge", "version": "7"},
        "messages": [{"role": "system", "content": "Reply PASS or FAIL."}],
        "variables": {"question": "q"},
        "input_tokens": 61,
        "params": {"temperature": 0},
    },
    "response.chunk": {"call": "judge-0", "index": 0, "delta": "PA"},
    "response.received": {
        "call": "judge-0",
        "text": "PASS",
        "input_tokens": 61,
        "output_tokens": 2,
        "latency_ms": 612,
        "cost_usd": 0.000213,
        "finish_reason": "stop",
    },
    "artifact.read": {
        "uri": "s3://support/chunks",
        "kind": "dataset",
        "version": "2026-11-20",
        "hash": "sha256:abc",
        "size_bytes": 1024,
        "records": 96_310,
        "schema": {"text": "string"},
        "owner": "team:search",
    },
    "artifact.written": {"uri": "vector://support-docs", "kind": "index"},
    "log": {"level": "warning", "message": "412 documents split", "context": {"count": 412}},
}


def make(event_type: str, data: Any = DROP, **envelope: Any) -> dict[str, Any]:
    """A valid raw event of `event_type`, with `data` and envelope keys overridden."""
    raw: dict[str, Any] = {"type": event_type, **copy.deepcopy(ENVELOPE)}
    for key in NOT_ON.get(event_type, ()):
        del raw[key]
    if not event_type.startswith(("step.", "approval.")):
        raw.pop("step", None)  # optional elsewhere; the good events leave it out
    raw["data"] = copy.deepcopy(GOOD_DATA[event_type]) if data is DROP else data
    for key, value in envelope.items():
        if value is DROP:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def with_data(event_type: str, **changes: Any) -> dict[str, Any]:
    """GOOD_DATA[event_type] with keys changed (DROP removes one)."""
    data = copy.deepcopy(GOOD_DATA[event_type]) or {}
    for key, value in changes.items():
        if value is DROP:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def error_of(raw: object) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw)
    return caught.value


# --- every type: a good event ----------------------------------------------------------------


def test_every_type_has_a_good_case() -> None:
    assert set(GOOD_DATA) == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == 21  # the contract's 18, run.paused/resumed, approval.requested


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_good_event_parses(event_type: str) -> None:
    event = parse_event(make(event_type))
    assert isinstance(event, Event)
    assert type(event) is EVENT_CLASSES[event_type]
    assert event.type == event_type
    assert event.id == "ev-1"
    assert event.time == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert event.time.tzinfo is not None
    assert event.source == "sdk/python@worker-1"
    assert event.pipeline == "rag-nightly"
    assert event.attempt == 1
    canonical = canonical_payload(event)
    # Every contract field given in the good data survives validation.
    assert set(GOOD_DATA[event_type] or {}) <= set(canonical["data"])


# Types whose data has no required field: no data, null and {} all mean the same.
NO_REQUIRED_DATA = [
    t
    for t in EVENT_TYPES
    if t.split(".")[0] not in {"prompt", "response", "artifact", "log", "approval"}
    and t != "run.failed"
]


@pytest.mark.parametrize("event_type", NO_REQUIRED_DATA)
def test_data_missing_or_null_is_empty(event_type: str) -> None:
    missing = make(event_type)
    del missing["data"]
    payloads = [
        canonical_payload(parse_event(raw))
        for raw in (missing, make(event_type, data=None), make(event_type, data={}))
    ]
    assert payloads[0] == payloads[1] == payloads[2]
    assert payloads[0]["data"] == ({"steps": []} if event_type == "pipeline.defined" else {})


def test_approval_requests_need_a_step_and_approvers_and_decisions_are_not_ingested() -> None:
    assert str(error_of(make("approval.requested", step=DROP))).startswith("step: required")
    no_one = with_data("approval.requested", approvers=[])
    assert "data.approvers" in str(error_of(make("approval.requested", data=no_one)))
    never = with_data("approval.requested", timeout_s=0.0)
    assert "data.timeout_s" in str(error_of(make("approval.requested", data=never)))
    forged = make("log", type="approval.granted", data={"approval": "a", "by": "user:x"})
    assert str(error_of(forged)).startswith("type: 'approval.granted' is written by the service")


def test_log_needs_no_pipeline_nor_run() -> None:
    event = parse_event(make("log", pipeline=DROP, run=DROP, data={"message": "hi"}))
    assert event.pipeline is None and event.run is None and event.step is None
    assert event.data.level == "info"  # level defaults to info


@pytest.mark.parametrize("event_type", ["prompt.sent", "response.received", "artifact.read"])
def test_step_is_optional_for_run_activity(event_type: str) -> None:
    assert parse_event(make(event_type)).step is None
    assert parse_event(make(event_type, step="embed")).step == "embed"


def test_data_is_a_model_with_attribute_access() -> None:
    event = parse_event(make("prompt.sent"))
    assert isinstance(event, PromptSentEvent)
    assert event.data.call == "judge-0"
    assert event.data.template is not None and event.data.template.version == "7"
    assert event.data.messages is not None and event.data.messages[0].role == "system"
    artifact = parse_event(make("artifact.read"))
    assert artifact.data.schema_ == {"text": "string"}  # `schema` on the wire


def test_definition_steps_are_models() -> None:
    event = parse_event(make("pipeline.defined"))
    assert isinstance(event, PipelineDefinedEvent)
    assert [s.key for s in event.data.steps] == ["fetch-docs", "chunk", "embed"]
    assert event.data.steps[0].depends_on == []
    assert event.data.steps[2].sla is not None and event.data.steps[2].sla.max_cost_usd == 2.0
    assert event.data.sla is not None and event.data.sla.window == "P7D"


def test_unknown_data_keys_are_kept() -> None:
    data = with_data("run.started", team_note="hello", nested={"a": [1, 2]})
    data["params"] = {"anything": {"goes": None}}
    event = parse_event(make("run.started", data=data))
    assert event.data.team_note == "hello"  # type: ignore[attr-defined]
    payload = canonical_payload(event)["data"]
    assert payload["team_note"] == "hello"
    assert payload["nested"] == {"a": [1, 2]}
    # Unknown keys of nested objects are kept too.
    steps = with_data("pipeline.defined")["steps"]
    steps[0]["retries"] = 3
    definition = parse_event(
        make("pipeline.defined", data=with_data("pipeline.defined", steps=steps))
    )
    assert canonical_payload(definition)["data"]["steps"][0]["retries"] == 3


def test_attempt_and_offsets() -> None:
    event = parse_event(make("step.started", attempt=2, time="2026-11-20T03:00:00+01:00"))
    assert event.attempt == 2
    assert event.time == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    scheduled = parse_event(make("run.scheduled"))
    assert scheduled.data.scheduled_for == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def test_integer_versions_read_as_text() -> None:
    event = parse_event(make("pipeline.defined", data=with_data("pipeline.defined", version=3)))
    assert event.data.version == "3"


def test_error_may_be_given_as_text() -> None:
    event = parse_event(make("run.failed", data={"error": "boom"}))
    assert event.data.error.message == "boom"


def test_duration_to_timedelta() -> None:
    assert duration_to_timedelta("P7D").days == 7
    assert duration_to_timedelta("PT1H").total_seconds() == 3600
    assert duration_to_timedelta("P1DT12H30M5S").total_seconds() == 86_400 + 45_005
    assert duration_to_timedelta("P2W").days == 14


# --- the example stream ----------------------------------------------------------------------


def test_example_stream_parses(example_events: list[dict[str, Any]]) -> None:
    events = [parse_event(raw) for raw in example_events]
    assert len(events) == len(example_events) > 0
    assert {e.type for e in events} >= {"pipeline.defined", "prompt.sent", "log"}
    assert len({fingerprint(e) for e in events}) == len(events)


# --- bad inputs: each names the field path and the problem ----------------------------------

KNOWN_TYPES = ", ".join(EVENT_TYPES)


def deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


BAD: list[tuple[str, object, str]] = [
    # envelope
    ("not an object", ["a"], "event must be a JSON object"),
    ("string input", "event", "event must be a JSON object"),
    ("type missing", make("log", type=DROP), f"type: required (known: {KNOWN_TYPES})"),
    (
        "unknown type",
        make("log", type="run.exploded"),
        f"type: unknown event type 'run.exploded' (known: {KNOWN_TYPES})",
    ),
    ("type not a string", make("log", type=3), "type: must be a string (got 3)"),
    ("id missing", make("log", id=DROP), "id: required for log events"),
    ("id empty", make("log", id=""), "id: must not be empty"),
    ("id too long", make("log", id="x" * 129), "id: must be at most 128 characters (got 129)"),
    ("id not a string", make("log", id=7), "id: must be a string (got 7)"),
    ("time missing", make("log", time=DROP), "time: required for log events"),
    (
        "naive time",
        make("log", time="2026-11-20T02:00:00"),
        "time: timestamp must include a UTC offset",
    ),
    ("date only", make("log", time="2026-11-20"), "time: timestamp must include a UTC offset"),
    (
        "unix time",
        make("log", time=1_700_000_000),
        "time: must be an RFC 3339 timestamp string with offset, not a number",
    ),
    (
        "garbage time",
        make("log", time="yesterday"),
        "time: must be an RFC 3339 timestamp with offset, e.g. '2026-11-20T02:00:00Z' "
        "(got 'yesterday')",
    ),
    ("source missing", make("log", source=DROP), "source: required for log events"),
    ("source too long", make("log", source="s" * 201), "source: must be at most 200 characters"),
    ("attempt zero", make("step.started", attempt=0), "attempt: must be >= 1 (got 0)"),
    ("attempt text", make("step.started", attempt="2"), "attempt: must be an integer (got '2')"),
    ("attempt float", make("step.started", attempt=1.5), "attempt: must be an integer (got 1.5)"),
    (
        "unknown envelope key",
        make("log", pipline="x"),
        "pipline: unknown envelope field (known: attempt, data, id, pipeline, run, source, step, "
        "time, type)",
    ),
    ("data not an object", make("run.started", data=[1]), "data: must be an object (got [1])"),
    # per-type envelope requirements
    ("pipeline missing", make("run.started", pipeline=DROP), "pipeline: required for run.started"),
    (
        "pipeline null",
        make("run.started", pipeline=None),
        "pipeline: required for run.started events (got null)",
    ),
    (
        "pipeline missing on definition",
        make("pipeline.defined", pipeline=DROP),
        "pipeline: required for pipeline.defined events",
    ),
    ("run missing", make("run.completed", run=DROP), "run: required for run.completed events"),
    ("run missing on step", make("step.progress", run=DROP), "run: required for step.progress"),
    ("run missing on prompt", make("prompt.sent", run=DROP), "run: required for prompt.sent"),
    ("run missing on chunk", make("response.chunk", run=DROP), "run: required for response.chunk"),
    (
        "run missing on artifact",
        make("artifact.written", run=DROP),
        "run: required for artifact.written events",
    ),
    ("run too long", make("run.started", run="r" * 129), "run: must be at most 128 characters"),
    ("step missing", make("step.started", step=DROP), "step: required for step.started events"),
    (
        "step null",
        make("step.started", step=None),
        "step: required for step.started events (got null)",
    ),
    (
        "null required data field",
        make("log", data={"message": None}),
        "data.message: required for log events (got null)",
    ),
    (
        "null in a list",
        make(
            "pipeline.defined", data={"steps": [{"key": "a"}, {"key": "b", "depends_on": [None]}]}
        ),
        "data.steps[1].depends_on[0]: must be a string (got null)",
    ),
    ("step on a run event", make("run.started", step="x"), "step: not allowed on run.started"),
    (
        "run on a definition",
        make("pipeline.defined", run="r"),
        "run: not allowed on pipeline.defined events",
    ),
    # names and owners
    (
        "bad pipeline name",
        make("run.started", pipeline="rag nightly"),
        "pipeline: 'rag nightly' is not a valid name (1-200 letters, digits or ._-/:@)",
    ),
    ("empty pipeline name", make("run.started", pipeline=""), "pipeline: '' is not a valid name"),
    ("long pipeline name", make("run.started", pipeline="p" * 201), "pipeline: 'ppppp"),
    ("bad step name", make("step.started", step="embed!"), "step: 'embed!' is not a valid name"),
    (
        "bad owner",
        make("artifact.read", data=with_data("artifact.read", owner="search")),
        "data.owner: 'search' is not a valid owner (expected team:<name> or user:<name>)",
    ),
    (
        "bad owner kind",
        make("pipeline.defined", data=with_data("pipeline.defined", owner="group:x")),
        "data.owner: 'group:x' is not a valid owner",
    ),
    (
        "owner without name",
        make("pipeline.defined", data=with_data("pipeline.defined", owner="team:")),
        "data.owner: 'team:' is not a valid owner",
    ),
    # pipeline.defined
    (
        "bad step key",
        make("pipeline.defined", data={"steps": [{"key": "a b"}]}),
        "data.steps[0].key: 'a b' is not a valid name",
    ),
    (
        "step key missing",
        make("pipeline.defined", data={"steps": [{"kind": "x"}]}),
        "data.steps[0].key: required",
    ),
    (
        "duplicate step key",
        make("pipeline.defined", data={"steps": [{"key": "a"}, {"key": "b"}, {"key": "a"}]}),
        "data.steps[2].key: duplicate step key 'a' (also steps[0])",
    ),
    (
        "unknown depends_on",
        make(
            "pipeline.defined",
            data={
                "steps": [
                    {"key": "fetch-docs"},
                    {"key": "chunk", "depends_on": ["fetch-docs"]},
                    {"key": "embed", "depends_on": ["embedd"]},
                ]
            },
        ),
        "data.steps[2].depends_on: unknown step 'embedd' (known: chunk, fetch-docs)",
    ),
    (
        "cycle",
        make(
            "pipeline.defined",
            data={
                "steps": [
                    {"key": "a", "depends_on": ["c"]},
                    {"key": "b", "depends_on": ["a"]},
                    {"key": "c", "depends_on": ["b"]},
                ]
            },
        ),
        "data.steps: steps form a dependency cycle: a -> b -> c -> a",
    ),
    (
        "self dependency",
        make("pipeline.defined", data={"steps": [{"key": "a", "depends_on": ["a"]}]}),
        "data.steps: steps form a dependency cycle: a -> a",
    ),
    (
        "depends_on not a list",
        make("pipeline.defined", data={"steps": [{"key": "a", "depends_on": "b"}]}),
        "data.steps[0].depends_on: must be an array",
    ),
    (
        "bad cron",
        make("pipeline.defined", data=with_data("pipeline.defined", schedule="every night")),
        "data.schedule: 'every night' is not a cron expression",
    ),
    # sla
    (
        "success rate above 1",
        make("pipeline.defined", data={"sla": {"min_success_rate": 1.5, "window": "P1D"}}),
        "data.sla.min_success_rate: must be <= 1 (got 1.5)",
    ),
    (
        "success rate without window",
        make("pipeline.defined", data={"sla": {"min_success_rate": 0.9}}),
        "data.sla.window: required when min_success_rate is set",
    ),
    (
        "bad window",
        make("pipeline.defined", data={"sla": {"min_success_rate": 0.9, "window": "1 day"}}),
        "data.sla.window: '1 day' is not an ISO 8601 duration (e.g. P1D, PT1H, P7D)",
    ),
    (
        "empty window",
        make("pipeline.defined", data={"sla": {"min_success_rate": 0.9, "window": "PT"}}),
        "data.sla.window: 'PT' is not an ISO 8601 duration",
    ),
    (
        "zero window",
        make("pipeline.defined", data={"sla": {"min_success_rate": 0.9, "window": "P0D"}}),
        "data.sla.window: must be longer than zero",
    ),
    (
        "negative max duration",
        make("pipeline.defined", data={"steps": [{"key": "a", "sla": {"max_duration_ms": -1}}]}),
        "data.steps[0].sla.max_duration_ms: must be >= 0 (got -1)",
    ),
    (
        "negative cost budget",
        make("pipeline.defined", data={"sla": {"max_cost_usd": -0.5}}),
        "data.sla.max_cost_usd: must be >= 0 (got -0.5)",
    ),
    (
        "sla not an object",
        make("pipeline.defined", data={"sla": "fast"}),
        "data.sla: must be an object (got 'fast')",
    ),
    # run.*
    (
        "naive scheduled_for",
        make("run.scheduled", data={"scheduled_for": "2026-11-20T02:00:00"}),
        "data.scheduled_for: timestamp must include a UTC offset",
    ),
    (
        "bad trigger",
        make("run.started", data={"trigger": "cron"}),
        "data.trigger: must be one of 'schedule', 'manual', 'api' or 'event' (got 'cron')",
    ),
    (
        "params not an object",
        make("run.started", data={"params": [1, 2]}),
        "data.params: must be an object",
    ),
    (
        "outputs not an object",
        make("run.completed", data={"outputs": "done"}),
        "data.outputs: must be an object (got 'done')",
    ),
    (
        "run.failed without data",
        make("run.failed", data=None),
        "data.error: required for run.failed",
    ),
    (
        "run.failed without message",
        make("run.failed", data={"error": {"type": "Timeout"}}),
        "data.error.message: required",
    ),
    (
        "cancel reason not text",
        make("run.cancelled", data={"reason": 5}),
        "data.reason: must be a string (got 5)",
    ),
    # step.*
    (
        "naive step scheduled_for",
        make("step.scheduled", data={"scheduled_for": "2026-11-20 02:00"}),
        "data.scheduled_for: timestamp must include a UTC offset",
    ),
    (
        "negative token budget",
        make("step.started", data={"token_budget": -5}),
        "data.token_budget: must be >= 0 (got -5)",
    ),
    ("empty model", make("step.started", data={"model": ""}), "data.model: must not be empty"),
    (
        "percent above 100",
        make("step.progress", data={"percent": 101}),
        "data.percent: must be <= 100 (got 101)",
    ),
    (
        "percent below 0",
        make("step.progress", data={"percent": -1}),
        "data.percent: must be >= 0 (got -1)",
    ),
    (
        "tokens as text",
        make("step.progress", data={"tokens_used": "5"}),
        "data.tokens_used: must be an integer (got '5')",
    ),
    (
        "tokens as bool",
        make("step.progress", data={"tokens_used": True}),
        "data.tokens_used: must be an integer (got true)",
    ),
    (
        "negative items",
        make("step.progress", data={"items_done": -1}),
        "data.items_done: must be >= 0",
    ),
    (
        "step.completed outputs",
        make("step.completed", data={"outputs": 1}),
        "data.outputs: must be an object (got 1)",
    ),
    (
        "step.failed without message",
        make("step.failed", data={"error": {"stack": "..."}}),
        "data.error.message: required",
    ),
    (
        "retryable not bool",
        make("step.failed", data={"retryable": "yes"}),
        "data.retryable: must be true or false (got 'yes')",
    ),
    (
        "skip reason not text",
        make("step.skipped", data={"reason": ["x"]}),
        "data.reason: must be a string",
    ),
    # prompt / response
    (
        "prompt without call",
        make("prompt.sent", data=with_data("prompt.sent", call=DROP)),
        "data.call: required for prompt.sent events",
    ),
    (
        "prompt without model",
        make("prompt.sent", data=with_data("prompt.sent", model=DROP)),
        "data.model: required for prompt.sent events",
    ),
    (
        "prompt without text or messages",
        make("prompt.sent", data=with_data("prompt.sent", messages=DROP)),
        "data: either 'text' or 'messages' is required",
    ),
    (
        "message without role",
        make("prompt.sent", data=with_data("prompt.sent", messages=[{"content": "hi"}])),
        "data.messages[0].role: required",
    ),
    (
        "message content not text",
        make(
            "prompt.sent",
            data=with_data("prompt.sent", messages=[{"role": "user", "content": 5}]),
        ),
        "data.messages[0].content: must be a string or an array of content parts (got 5)",
    ),
    (
        "template without name",
        make("prompt.sent", data=with_data("prompt.sent", template={"version": "7"})),
        "data.template.name: required",
    ),
    (
        "negative input tokens",
        make("prompt.sent", data=with_data("prompt.sent", input_tokens=-1)),
        "data.input_tokens: must be >= 0 (got -1)",
    ),
    (
        "chunk without call",
        make("response.chunk", data={"index": 0, "delta": "x"}),
        "data.call: required for response.chunk events",
    ),
    (
        "negative chunk index",
        make("response.chunk", data={"call": "c", "index": -1, "delta": "x"}),
        "data.index: must be >= 0 (got -1)",
    ),
    (
        "response without call",
        make("response.received", data=with_data("response.received", call=DROP)),
        "data.call: required for response.received events",
    ),
    (
        "negative cost",
        make("response.received", data=with_data("response.received", cost_usd=-0.01)),
        "data.cost_usd: must be >= 0 (got -0.01)",
    ),
    (
        "nan cost",
        make("response.received", data=with_data("response.received", cost_usd=float("nan"))),
        "data.cost_usd: must be a finite number",
    ),
    (
        "negative output tokens",
        make("response.received", data=with_data("response.received", output_tokens=-2)),
        "data.output_tokens: must be >= 0",
    ),
    (
        "negative latency",
        make("response.received", data=with_data("response.received", latency_ms=-1)),
        "data.latency_ms: must be >= 0",
    ),
    # artifacts
    (
        "artifact without uri",
        make("artifact.read", data=with_data("artifact.read", uri=DROP)),
        "data.uri: required for artifact.read events",
    ),
    (
        "written artifact without uri",
        make("artifact.written", data={"kind": "file"}),
        "data.uri: required for artifact.written events",
    ),
    (
        "bad artifact kind",
        make("artifact.written", data={"uri": "s3://x", "kind": "csv"}),
        "data.kind: must be one of 'dataset', 'table', 'file', 'document', 'index', "
        "'embedding', 'model' or 'other' (got 'csv')",
    ),
    (
        "negative size",
        make("artifact.written", data={"uri": "s3://x", "size_bytes": -1}),
        "data.size_bytes: must be >= 0",
    ),
    # log
    ("log without message", make("log", data={"level": "info"}), "data.message: required for log"),
    ("log without data", make("log", data=None), "data.message: required for log events"),
    (
        "bad log level",
        make("log", data={"level": "WARN", "message": "m"}),
        "data.level: must be one of 'debug', 'info', 'warning', 'error' or 'critical' (got 'WARN')",
    ),
    # values storage cannot hold, in free-form parts
    (
        "huge integer",
        make("log", data={"message": "m", "context": {"n": 2**70}}),
        "data.context.n: integer out of the 64-bit range",
    ),
    (
        "lone surrogate",
        make("log", data={"message": "m", "context": {"s": "\ud800"}}),
        "data.context.s: text is not valid Unicode",
    ),
    (
        "NaN in free-form context",
        make("log", data={"message": "m", "context": {"a": [1.5, {"b": float("nan")}]}}),
        "data.context.a[1].b: must be a finite number",
    ),
    (
        "infinity in unknown data key",
        make("log", data={"message": "m", "extra": -float("inf")}),
        "data.extra: must be a finite number",
    ),
    (
        "too deep",
        make("log", data={"message": "m", "context": {"x": deep_list(300)}}),
        "data.context.x[0][0][0]...: nested too deeply (more than 254 levels)",
    ),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [(raw, msg) for _, raw, msg in BAD], ids=[c[0] for c in BAD]
)
def test_bad_event_names_path_and_problem(raw: object, expected: str) -> None:
    error = error_of(raw)
    assert isinstance(error, ValueError)
    message = str(error)
    assert expected in message
    assert "\n" not in message
    assert error.problems[0] == message


def test_event_id_is_reported() -> None:
    assert error_of(make("run.started", pipeline=DROP)).event_id == "ev-1"
    assert error_of(make("log", type="nope")).event_id == "ev-1"
    assert error_of(make("log", id=42)).event_id is None
    assert error_of(["not", "an", "event"]).event_id is None


def test_all_problems_are_listed() -> None:
    raw = make("step.progress", pipeline="bad name", data={"percent": 200, "tokens_used": -1})
    error = error_of(raw)
    assert (
        str(error) == "pipeline: 'bad name' is not a valid name (1-200 letters, digits or ._-/:@)"
    )
    assert error.problems == (
        str(error),
        "data.percent: must be <= 100 (got 200)",
        "data.tokens_used: must be >= 0 (got -1)",
    )


def test_base_class_refuses_direct_validation() -> None:
    with pytest.raises(ValueError, match="parse_event"):
        Event.model_validate(make("log"))


def test_parse_event_returns_events_unchanged() -> None:
    event = parse_event(make("log"))
    assert parse_event(event) is event


def test_events_are_immutable() -> None:
    event = parse_event(make("log"))
    with pytest.raises(ValueError, match="frozen"):
        event.id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "window", ["P1D", "PT1H", "P7D", "P1Y2M3D", "P1DT12H", "PT30M", "PT45S", "P2W", "P1M"]
)
def test_good_windows(window: str) -> None:
    parse_event(make("pipeline.defined", data={"sla": {"min_success_rate": 0.5, "window": window}}))


@pytest.mark.parametrize(
    "window", ["P", "PT", "1D", "P1H", "PT1D", "P1.5D", "p1d", "P1D ", "P1W1D"]
)
def test_bad_windows(window: str) -> None:
    error = error_of(
        make("pipeline.defined", data={"sla": {"min_success_rate": 0.5, "window": window}})
    )
    assert str(error).startswith("data.sla.window: ")
    assert "is not an ISO 8601 duration" in str(error)


@pytest.mark.parametrize("schedule", ["0 2 * * *", "*/5 * * * *", "0 0 2 * * MON-FRI", "@daily"])
def test_good_schedules(schedule: str) -> None:
    parse_event(make("pipeline.defined", data={"schedule": schedule}))


@pytest.mark.parametrize("name", ["rag-nightly", "a", "team.search/rag:v2@eu", "A_b-9", "x" * 200])
def test_good_names(name: str) -> None:
    assert parse_event(make("step.started", pipeline=name, step=name)).step == name


@pytest.mark.parametrize("name", ["rag nightly", "", "x" * 201, "é", "a\n", "a#b"])
def test_bad_names(name: str) -> None:
    assert "is not a valid name" in str(error_of(make("run.started", pipeline=name)))


# --- canonical form and fingerprint ----------------------------------------------------------


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    ea, eb = parse_event(a), parse_event(b)
    equal = canonical_payload(ea) == canonical_payload(eb)
    assert equal == (fingerprint(ea) == fingerprint(eb))
    return equal


def test_canonical_payload_shape() -> None:
    payload = canonical_payload(parse_event(make("step.started", time="2026-11-20T03:00:00+01:00")))
    assert payload == {
        "id": "ev-1",
        "type": "step.started",
        "time": "2026-11-20T02:00:00.000000Z",
        "source": "sdk/python@worker-1",
        "pipeline": "rag-nightly",
        "run": "run-1",
        "step": "embed",
        "attempt": 1,
        "data": GOOD_DATA["step.started"],
    }
    artifact = canonical_payload(parse_event(make("artifact.read")))
    assert artifact["data"]["schema"] == {"text": "string"}  # the wire name, not schema_


def test_fingerprint_is_sha256_hex() -> None:
    digest = fingerprint(parse_event(make("log")))
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_equivalent_events_have_one_fingerprint() -> None:
    base = make("step.progress")
    reordered = dict(reversed(list(base.items())))
    reordered["data"] = dict(reversed(list(base["data"].items())))
    assert same(base, reordered)
    assert same(base, base | {"time": "2026-11-20T02:00:00+00:00"})
    assert same(base, base | {"time": "2026-11-20T02:00:00.000Z"})
    assert same(base, base | {"time": "2026-11-20T04:00:00+02:00"})
    assert same(base, base | {"time": "2026-11-19T21:00:00-05:00"})
    assert same(base, base | {"attempt": 1})
    assert same(base, base | {"attempt": None})  # null means absent for optional fields
    assert same(
        make("pipeline.defined", data={"steps": [{"key": "a", "depends_on": None}]}),
        make("pipeline.defined", data={"steps": [{"key": "a"}]}),
    )
    without_message = base | {"data": with_data("step.progress", message=DROP)}
    assert same(without_message, base | {"data": with_data("step.progress", message=None)})
    assert same(make("log") | {"run": None}, make("log", run=DROP))
    assert same(
        make("log", data={"message": "m"}), make("log", data={"message": "m", "level": "info"})
    )
    assert same(make("step.completed", data=None), make("step.completed", data={}))
    no_data = make("step.completed")
    del no_data["data"]
    assert same(no_data, make("step.completed", data={}))
    assert same(
        make("pipeline.defined", data={"steps": [{"key": "a"}]}),
        make("pipeline.defined", data={"steps": [{"key": "a", "depends_on": []}]}),
    )
    assert same(
        make("pipeline.defined", data={"version": 3}),
        make("pipeline.defined", data={"version": "3"}),
    )
    assert same(
        make("step.failed", data={"error": "boom"}),
        make("step.failed", data={"error": {"message": "boom"}}),
    )
    assert same(
        make("response.received", data={"call": "c", "cost_usd": 1}),
        make("response.received", data={"call": "c", "cost_usd": 1.0}),
    )


def test_different_events_have_different_fingerprints() -> None:
    base = make("step.progress")
    assert not same(base, base | {"time": "2026-11-20T02:00:00.001Z"})
    assert not same(base, base | {"attempt": 2})
    assert not same(base, base | {"source": "other"})
    assert not same(base, base | {"id": "ev-2"})
    assert not same(base, base | {"data": base["data"] | {"percent": 13}})
    assert not same(base, base | {"data": base["data"] | {"extra": 1}})
    assert not same(
        make("log", data={"message": "m", "context": {"a": 1}}),
        make("log", data={"message": "m", "context": {"a": 2}}),
    )
    assert not same(make("log", data={"message": "m"}), make("log", data={"message": "M"}))


def test_fingerprint_tells_duplicate_from_conflict(example_events: list[dict[str, Any]]) -> None:
    raw = example_events[-1]
    first, again = parse_event(raw), parse_event(copy.deepcopy(raw))
    assert fingerprint(first) == fingerprint(again)  # duplicate
    changed = copy.deepcopy(raw)
    changed["data"]["outputs"]["pass_rate"] = 0.5
    assert fingerprint(parse_event(changed)) != fingerprint(first)  # conflict


def test_a_response_chunk_index_is_bounded() -> None:
    # Review finding 3 (issue 17): a huge index would make the run document a dense
    # list of that many entries (memory exhaustion); it is refused, naming the field.
    raw = make("response.chunk", data=with_data("response.chunk", index=2_000_000_000))
    message = str(error_of(raw))
    assert message.startswith("data.index: "), message
    assert "100000" in message.replace("_", "").replace(",", ""), message
    limit = make("response.chunk", data=with_data("response.chunk", index=100_000))
    assert parse_event(limit).data.index == 100_000  # type: ignore[union-attr]
