"""OTLP trace export (protobuf or JSON) -> Tracegraph events (pure translation).

Mapping (see docs/adapters.md):

- trace id (hex) -> run id; the root span (no parent) -> run.started + run.completed/failed.
- LLM spans (GenAI semantic conventions or OpenInference ``openinference.span.kind=LLM``)
  -> prompt.sent (span start) + response.received (span end, latency = span duration,
  error = span status) in the step of their nearest non-LLM ancestor span.
- Other non-root spans -> step.started + step.completed/failed; step key = the
  ``tracegraph.step`` attribute, else the span name made a valid name.
- pipeline = ``tracegraph.pipeline`` (span, then resource attribute), else resource
  ``service.name``.

Exporters send spans as they end, so an LLM span usually arrives before its parent. Its
call is then stored without a step ("orphan"); when a later export brings the ancestor, the
caller passes the trace's stored events to `translate_spans`, which re-emits the orphan's
events with the step. Ids hash (trace, span, type, step): a re-export is a duplicate.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tracegraph.events.fields import format_timestamp
from tracegraph.ingest.adapters import sanitize_name, stable_id

STATUS_ERROR = 2  # Status.StatusCode.STATUS_CODE_ERROR
LLM_OPERATIONS = frozenset(
    {"chat", "text_completion", "completion", "generate_content", "embeddings", "embedding"}
)
OPENINFERENCE_LLM_KINDS = frozenset({"LLM", "EMBEDDING"})
# Attributes that hold prompt/response text: mapped to the call, not copied under
# `data.otel.attributes`, so role-based prompt redaction has one place to act on.
CONTENT_PREFIXES = (
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "input.value",
    "output.value",
    "llm.input_messages",
    "llm.output_messages",
)
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})


class MalformedOtlp(ValueError):
    """The body is not an OTLP ExportTraceServiceRequest; `str()` says where."""


# -- decoding ----------------------------------------------------------------------------------


def decode_protobuf(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise MalformedOtlp(f"body is not a protobuf ExportTraceServiceRequest: {exc}") from None
    return request


def decode_json(body: bytes) -> ExportTraceServiceRequest:
    """OTLP/JSON: ids are hex (not protobuf JSON's base64), field names lowerCamel or snake."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedOtlp(f"body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise MalformedOtlp(f"body must be a JSON object, not {type(doc).__name__}")
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(_ids_to_base64(doc, "body"), request, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise MalformedOtlp(f"not an OTLP/JSON ExportTraceServiceRequest: {exc}") from None
    return request


def _ids_to_base64(value: Any, path: str) -> Any:
    if isinstance(value, list):
        return [_ids_to_base64(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        where = f"{path}.{key}"
        if key in _ID_KEYS and isinstance(item, str):
            try:
                item = base64.b64encode(bytes.fromhex(item)).decode()
            except ValueError:
                raise MalformedOtlp(f"{where}: {item!r} is not a hex id") from None
        else:
            item = _ids_to_base64(item, where)
        out[key] = item
    return out


def encode_response(rejected_spans: int, message: str, as_json: bool) -> bytes:
    """ExportTraceServiceResponse: empty on full success, else a partial success."""
    response = ExportTraceServiceResponse()
    if rejected_spans:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=rejected_spans, error_message=message)
        )
    if as_json:
        return orjson.dumps(json_format.MessageToDict(response))
    return response.SerializeToString()


# -- spans -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Span:
    index: int
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: tuple[SpanEvent, ...] = field(default=())


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind == "double_value" and value.double_value != value.double_value:
        return None  # NaN cannot be stored
    return getattr(value, kind)


def attributes(items: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in items}


def spans_of(request: ExportTraceServiceRequest) -> list[Span]:
    spans: list[Span] = []
    for r, rs in enumerate(request.resource_spans):
        resource = attributes(rs.resource.attributes)
        for s, ss in enumerate(rs.scope_spans):
            for k, sp in enumerate(ss.spans):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{k}]"
                if len(sp.trace_id) != 16 or len(sp.span_id) != 8:
                    raise MalformedOtlp(f"{where}: traceId must be 16 bytes and spanId 8 bytes")
                if not sp.start_time_unix_nano and not sp.end_time_unix_nano:
                    raise MalformedOtlp(f"{where}: startTimeUnixNano is required")
                start = sp.start_time_unix_nano or sp.end_time_unix_nano
                spans.append(
                    Span(
                        index=len(spans),
                        trace_id=sp.trace_id.hex(),
                        span_id=sp.span_id.hex(),
                        parent_span_id=sp.parent_span_id.hex() or None,
                        name=sp.name,
                        start_ns=start,
                        end_ns=max(sp.end_time_unix_nano, start),
                        status_code=sp.status.code,
                        status_message=sp.status.message,
                        attributes=attributes(sp.attributes),
                        resource=resource,
                        events=tuple(
                            SpanEvent(e.name, e.time_unix_nano, attributes(e.attributes))
                            for e in sp.events
                        ),
                    )
                )
    return spans


def trace_ids(spans: Iterable[Span]) -> list[str]:
    return sorted({s.trace_id for s in spans})


# -- classification ----------------------------------------------------------------------------


def is_llm(span: Span) -> bool:
    a = span.attributes
    kind = a.get("openinference.span.kind")
    if isinstance(kind, str):
        return kind.upper() in OPENINFERENCE_LLM_KINDS
    operation = a.get("gen_ai.operation.name")
    if isinstance(operation, str):
        # invoke_agent, execute_tool, ... are work around model calls: steps.
        return operation in LLM_OPERATIONS
    return any(k in a for k in ("gen_ai.request.model", "gen_ai.response.model"))


def _role(span: Span) -> str:
    if is_llm(span):
        return "llm"
    return "root" if span.parent_span_id is None else "step"


def _pipeline_of(span: Span) -> str:
    name = (
        span.attributes.get("tracegraph.pipeline")
        or span.resource.get("tracegraph.pipeline")
        or span.resource.get("service.name")
        or "unknown_service"
    )
    return sanitize_name(str(name))


def _explicit_step(span: Span) -> str | None:
    step = span.attributes.get("tracegraph.step")
    return sanitize_name(str(step)) if step else None


def _step_key(span: Span) -> str:
    return _explicit_step(span) or sanitize_name(span.name, fallback="span")


# -- GenAI / OpenInference attributes ----------------------------------------------------------


def _first(a: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = a.get(key)
        if value is not None and value != "":
            return value
    return None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def _content(value: Any) -> Any:
    """Message content: text, or the text of text-only parts, or the parts as they are."""
    if isinstance(value, list):
        texts = [
            p["content"] for p in value if isinstance(p, dict) and isinstance(p.get("content"), str)
        ]
        if len(texts) == len(value) and all(p.get("type", "text") == "text" for p in value):
            return "".join(texts)
        return value
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _message(raw: Mapping[str, Any], default_role: str) -> dict[str, Any]:
    role = raw.get("role") or default_role
    content = raw.get("content")
    if content is None and "parts" in raw:  # gen_ai.input.messages structure
        content = raw["parts"]
    if content is None and isinstance(raw.get("message"), dict):  # gen_ai.choice body
        return _message(raw["message"], default_role)
    msg = {"role": str(role), "content": _content(content)}
    return {k: v for k, v in msg.items() if v is not None}


def _text_or_messages(value: Any, default_role: str) -> tuple[str | None, list | None]:
    """A content attribute: plain text, or (JSON of) messages; other text is kept verbatim."""
    parsed = value
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value, None
    if isinstance(parsed, list) and parsed and all(_is_message(m) for m in parsed):
        return None, [_message(m, default_role) for m in parsed]
    if _is_message(parsed):
        return None, [_message(parsed, default_role)]
    if isinstance(value, str):
        return value, None
    return (None, None) if value is None else (orjson.dumps(value).decode(), None)


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and any(k in value for k in ("role", "content", "parts"))


def _indexed(a: Mapping[str, Any], prefix: str, inner: str, default_role: str) -> list | None:
    """`gen_ai.prompt.0.content`, `llm.input_messages.1.message.role`... as messages."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in a.items():
        if not key.startswith(prefix):
            continue
        index, _, rest = key[len(prefix) :].partition(".")
        if not index.isdigit() or not rest.startswith(inner):
            continue
        found.setdefault(int(index), {})[rest[len(inner) :]] = value
    if not found:
        return None
    out = []
    for i in sorted(found):
        parts = found[i]
        content = parts.get("content")
        if content is None and any(k.startswith("contents.") for k in parts):
            content = " ".join(
                str(v) for k, v in sorted(parts.items()) if k.endswith(".message_content.text")
            )
        out.append(_message({"role": parts.get("role"), "content": content}, default_role))
    return out


_INPUT_EVENTS = (
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
)


def prompt_of(span: Span) -> tuple[str | None, list | None]:
    a = span.attributes
    if "gen_ai.input.messages" in a:
        return _text_or_messages(a["gen_ai.input.messages"], "user")
    for prefix, inner in (("gen_ai.prompt.", ""), ("llm.input_messages.", "message.")):
        messages = _indexed(a, prefix, inner, "user")
        if messages:
            return None, messages
    if "gen_ai.prompt" in a:
        return _text_or_messages(a["gen_ai.prompt"], "user")
    for ev in span.events:
        if ev.name == "gen_ai.content.prompt" and "gen_ai.prompt" in ev.attributes:
            return _text_or_messages(ev.attributes["gen_ai.prompt"], "user")
    events = [e for e in span.events if e.name in _INPUT_EVENTS]
    if events:
        return None, [
            _message(e.attributes, e.name.split(".")[1]) for e in events if e.attributes
        ] or None
    if "input.value" in a:
        return _text_or_messages(a["input.value"], "user")
    return None, None


def completion_of(span: Span) -> tuple[str | None, list | None]:
    a = span.attributes
    if "gen_ai.output.messages" in a:
        return _text_or_messages(a["gen_ai.output.messages"], "assistant")
    for prefix, inner in (("gen_ai.completion.", ""), ("llm.output_messages.", "message.")):
        messages = _indexed(a, prefix, inner, "assistant")
        if messages:
            return None, messages
    if "gen_ai.completion" in a:
        return _text_or_messages(a["gen_ai.completion"], "assistant")
    for ev in span.events:
        if ev.name == "gen_ai.content.completion" and "gen_ai.completion" in ev.attributes:
            return _text_or_messages(ev.attributes["gen_ai.completion"], "assistant")
    choices = [e for e in span.events if e.name == "gen_ai.choice" and e.attributes]
    if choices:
        return None, [_message(e.attributes, "assistant") for e in choices]
    if "output.value" in a:
        return _text_or_messages(a["output.value"], "assistant")
    return None, None


def _error_of(span: Span) -> dict[str, Any] | None:
    if span.status_code != STATUS_ERROR:
        return None
    exc = next((e.attributes for e in span.events if e.name == "exception"), {})
    error = {
        "message": span.status_message
        or exc.get("exception.message")
        or f"span {span.name!r} ended with status ERROR",
        "type": exc.get("exception.type") or span.attributes.get("error.type"),
        "stack": exc.get("exception.stacktrace"),
    }
    return {k: str(v) for k, v in error.items() if v}


def _time(ns: int) -> str:
    # Microseconds are the contract's precision; nanoseconds would be cut anyway.
    moment = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    return format_timestamp(moment + timedelta(microseconds=(ns % 1_000_000_000) // 1000))


def _otel(span: Span, role: str) -> dict[str, Any]:
    attrs = {k: v for k, v in span.attributes.items() if not k.startswith(CONTENT_PREFIXES)}
    info = {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "name": span.name,
        "role": role,
        "attributes": attrs or None,
    }
    return {k: v for k, v in info.items() if v is not None}


# -- translation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    role: str
    parent: str | None
    step: str | None


_UNRESOLVED = object()


def _resolve(parent: str | None, nodes: Mapping[str, _Node]) -> Any:
    """Step key of the nearest non-LLM ancestor; None if that is the root (a run-level call);
    _UNRESOLVED when an ancestor has not arrived yet."""
    seen: set[str] = set()
    while parent is not None and parent not in seen:
        seen.add(parent)
        node = nodes.get(parent)
        if node is None:
            return _UNRESOLVED
        if node.role == "llm":
            parent = node.parent
            continue
        return None if node.role == "root" else node.step
    return None


def _llm_events(span: Span, base: dict[str, Any], step: str | None) -> list[dict[str, Any]]:
    a = span.attributes
    provider = _first(a, "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
    model = _first(a, "gen_ai.request.model", "gen_ai.response.model", "llm.model_name")
    input_tokens = _count(
        _first(
            a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"
        )
    )
    output_tokens = _count(
        _first(
            a,
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
        )
    )
    params = {
        k.removeprefix("gen_ai.request."): v
        for k, v in a.items()
        if k.startswith("gen_ai.request.") and k != "gen_ai.request.model"
    }
    prompt_text, prompt_messages = prompt_of(span)
    text, messages = completion_of(span)
    reasons = a.get("gen_ai.response.finish_reasons")
    otel = _otel(span, "llm")
    envelope = {**base, **({"step": step} if step else {})}

    def event_id(kind: str) -> str:
        return stable_id("otel", span.trace_id, span.span_id, kind, step)

    prompt = {
        "call": span.span_id,
        "provider": str(provider) if provider else None,
        "model": str(model or "unknown"),
        # prompt.sent needs text or messages; an instrumentation that records no content
        # (the default of most) still gives the call, its model and its tokens.
        "text": prompt_text if prompt_text is not None or prompt_messages else "",
        "messages": prompt_messages,
        "input_tokens": input_tokens,
        "params": params or None,
        "otel": otel,
    }
    response = {
        "call": span.span_id,
        "text": text,
        "messages": messages,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "latency_ms": (span.end_ns - span.start_ns) / 1_000_000,
        "finish_reason": str(reasons[0]) if isinstance(reasons, list) and reasons else None,
        "error": _error_of(span),
        "response_model": a.get("gen_ai.response.model"),
        "otel": otel,
    }
    return [
        {
            "id": event_id("prompt.sent"),
            "type": "prompt.sent",
            "time": _time(span.start_ns),
            **envelope,
            "data": _drop_none(prompt),
        },
        {
            "id": event_id("response.received"),
            "type": "response.received",
            "time": _time(span.end_ns),
            **envelope,
            "data": _drop_none(response),
        },
    ]


def _status_events(span: Span, base: dict[str, Any], role: str) -> list[dict[str, Any]]:
    level = "run" if role == "root" else "step"
    envelope = dict(base)
    if level == "step":
        envelope["step"] = _step_key(span)
    otel = _otel(span, role)
    error = _error_of(span)
    ended = f"{level}.failed" if error else f"{level}.completed"
    end_data: dict[str, Any] = {"otel": otel}
    if error:
        end_data["error"] = error
    return [
        {
            "id": stable_id("otel", span.trace_id, span.span_id, f"{level}.started"),
            "type": f"{level}.started",
            "time": _time(span.start_ns),
            **envelope,
            "data": {"otel": otel},
        },
        {
            "id": stable_id("otel", span.trace_id, span.span_id, ended),
            "type": ended,
            "time": _time(span.end_ns),
            **envelope,
            "data": end_data,
        },
    ]


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _stored_nodes(stored: Sequence[Mapping[str, Any]]) -> dict[str, _Node]:
    nodes: dict[str, _Node] = {}
    for payload in stored:
        otel = (payload.get("data") or {}).get("otel")
        if not isinstance(otel, dict) or "span_id" not in otel:
            continue
        role = otel.get("role", "step")
        step = payload.get("step") if role == "step" else None
        nodes[otel["span_id"]] = _Node(role, otel.get("parent_span_id"), step)
    return nodes


def translate_spans(
    spans: Sequence[Span], stored: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """(span index, our event) pairs for the spans of one export request.

    `stored` maps a trace id to the payloads already stored for that run (our events), so
    LLM calls find ancestors exported earlier and orphans find ancestors exported now.
    """
    stored = stored or {}
    out: list[tuple[int, dict[str, Any]]] = []
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    for trace, trace_spans in by_trace.items():
        previous = stored.get(trace, ())
        nodes = _stored_nodes(previous)
        for span in trace_spans:
            role = _role(span)
            nodes[span.span_id] = _Node(
                role, span.parent_span_id, _step_key(span) if role == "step" else None
            )
        # One run belongs to one pipeline: the one it was first stored under, else the
        # root span's, else the first span's.
        root = next((s for s in trace_spans if s.parent_span_id is None), trace_spans[0])
        pipeline = next(
            (p["pipeline"] for p in previous if p.get("pipeline")), None
        ) or _pipeline_of(root)
        base = {"pipeline": pipeline, "run": trace}
        emitted: set[str] = {p["id"] for p in previous if "id" in p}
        for span in trace_spans:
            role = _role(span)
            events: list[dict[str, Any]] = []
            if span.parent_span_id is None:
                # The root span is the run, whatever else it is.
                events += _status_events(span, {**base, "source": _source(span)}, "root")
            elif role != "llm":
                events += _status_events(span, {**base, "source": _source(span)}, role)
            if role == "llm":
                step = _explicit_step(span)
                if step is None:
                    found = _resolve(span.parent_span_id, nodes)
                    step = None if found is _UNRESOLVED else found
                events += _llm_events(span, {**base, "source": _source(span)}, step)
            for event in events:
                emitted.add(event["id"])
                out.append((span.index, event))
        out += [(trace_spans[0].index, e) for e in _adopted(previous, nodes, emitted)]
    return out


def _adopted(
    previous: Sequence[Mapping[str, Any]], nodes: Mapping[str, _Node], emitted: set[str]
) -> list[dict[str, Any]]:
    """Stored step-less LLM events whose ancestor step is now known, re-sent with the step.

    The copy equals what re-deriving the span now would give (same id, same content), so a
    later re-export of the LLM span is a duplicate of it.
    """
    out = []
    for payload in previous:
        data = payload.get("data") or {}
        otel = data.get("otel")
        if (
            payload.get("type") not in ("prompt.sent", "response.received")
            or payload.get("step")
            or not isinstance(otel, dict)
            or otel.get("role") != "llm"
        ):
            continue
        step = _resolve(otel.get("parent_span_id"), nodes)
        if step is _UNRESOLVED or step is None:
            continue
        new_id = stable_id("otel", payload["run"], otel["span_id"], payload["type"], step)
        if new_id in emitted:
            continue
        emitted.add(new_id)
        out.append({**payload, "id": new_id, "step": step})
    return out


def _source(span: Span) -> str:
    name = span.resource.get("service.name") or "unknown_service"
    return f"otlp:{name}"[:200]


__all__ = [
    "ExportTraceServiceRequest",
    "MalformedOtlp",
    "Span",
    "completion_of",
    "decode_json",
    "decode_protobuf",
    "encode_response",
    "is_llm",
    "prompt_of",
    "spans_of",
    "trace_ids",
    "translate_spans",
]
