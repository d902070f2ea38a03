"""OTLP/JSON to events without a service: snake_case JSON, orphan LLM calls adopted later."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from tests.support.otlp import hex_span, json_export
from tracegraph.events import parse_event
from tracegraph.ingest.adapters.otlp import (
    MalformedOtlp,
    decode_json,
    spans_of,
    translate_spans,
)


def test_snake_case_json_and_orphan_llm_calls_are_adopted_later() -> None:
    snake = {
        "resource_spans": [
            {
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": "0af7651916cd43dd8448eb211c80319c",
                                "span_id": "b7ad6b7169203331",
                                "parent_span_id": "b7ad6b7169203330",
                                "name": "chat",
                                "start_time_unix_nano": "1763604000000000000",
                                "end_time_unix_nano": "1763604001000000000",
                                "attributes": [
                                    {"key": "gen_ai.request.model", "value": {"string_value": "m"}}
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    import orjson

    [llm] = spans_of(decode_json(orjson.dumps(snake)))
    orphan = [e for _, e in translate_spans([llm])]
    assert [e["type"] for e in orphan] == ["prompt.sent", "response.received"]
    assert all("step" not in e for e in orphan)  # the parent has not arrived yet
    for event in orphan:
        parse_event(event)

    # The parent step arrives in a later export: the stored orphans are re-sent in its step.
    from tracegraph.events import canonical_payload

    stored = [canonical_payload(parse_event(e)) for e in orphan]
    parent = hex_span("b7ad6b7169203330", "plan", "b7ad6b716920332f")
    parent["traceId"] = "0af7651916cd43dd8448eb211c80319c"
    [step] = spans_of(decode_json(orjson.dumps(json_export(parent))))
    later = [e for _, e in translate_spans([step], {llm.trace_id: stored})]
    adopted = [e for e in later if e["type"] in ("prompt.sent", "response.received")]
    assert [e["step"] for e in adopted] == ["plan", "plan"]
    # ... and equal what re-exporting the LLM span now derives: a re-export is a duplicate.
    both = [e for _, e in translate_spans([llm, step], {llm.trace_id: stored})]
    for event in adopted:
        derived = next(e for e in both if e["id"] == event["id"])
        assert canonical_payload(parse_event(derived)) == canonical_payload(parse_event(event))

    with pytest.raises(MalformedOtlp):
        decode_json(b"[1, 2]")
    assert ExportTraceServiceRequest()  # the proto package is importable from the main deps
