"""POST /v1/traces: spans from the real OpenTelemetry SDK + OTLP/HTTP exporter, and OTLP/JSON."""

from __future__ import annotations

import time
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tests.conftest import RunningService
from tests.support.otlp import hex_span, json_export

RUN_QUERY = """query($id: ID!) { run(id: $id) {
    status error startedAt endedAt inputTokens outputTokens pipeline { name }
    steps { status error step { key }
            llmCalls { id model provider inputTokens outputTokens prompt response latencyMs } }
} }"""


def gql(service: RunningService, query: str, **variables: Any) -> dict[str, Any]:
    resp = httpx.post(
        f"{service.base_url}/graphql",
        json={"query": query, "variables": variables},
        headers=service.headers(),
        timeout=60,
    )
    body = resp.json()
    assert resp.status_code == 200 and not body.get("errors"), body
    return body["data"]


def _emit_rag_trace(service: RunningService) -> tuple[str, InMemorySpanExporter]:
    """root 'answer question' -> step 'retrieve docs' -> GenAI chat span (+ a failing step).

    SimpleSpanProcessor exports each span as it ends, so the LLM span reaches the service
    before the step span that contains it, and the root span arrives last.
    """
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "rag query-service"}))
    provider.add_span_processor(
        SimpleSpanProcessor(
            OTLPSpanExporter(
                endpoint=f"{service.base_url}/v1/traces", headers=service.headers("ingester")
            )
        )
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("answer question") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        with (
            tracer.start_as_current_span("retrieve docs"),
            tracer.start_as_current_span(
                "chat gpt-4o-mini",
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                    "gen_ai.request.temperature": 0.2,
                    "gen_ai.usage.input_tokens": 120,
                    "gen_ai.usage.output_tokens": 30,
                    "gen_ai.response.finish_reasons": ["stop"],
                },
            ) as llm,
        ):
            llm.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "Rewrite: what is RAG?"})
            llm.add_event("gen_ai.content.completion", {"gen_ai.completion": "Define RAG"})
            time.sleep(0.01)  # on purpose: the span lasts, so its latency is not 0
        with tracer.start_as_current_span("rerank", record_exception=False) as rerank:
            # OpenInference conventions on an LLM span inside a failing step.
            with tracer.start_as_current_span(
                "llm",
                attributes={
                    "openinference.span.kind": "LLM",
                    "llm.model_name": "claude-3-haiku",
                    "llm.provider": "anthropic",
                    "llm.token_count.prompt": 50,
                    "llm.token_count.completion": 5,
                    "llm.input_messages.0.message.role": "user",
                    "llm.input_messages.0.message.content": "Rank these",
                    "output.value": "[2, 1]",
                },
            ):
                pass
            rerank.set_status(Status(StatusCode.ERROR, "reranker timed out"))
    provider.force_flush()
    return trace_id, memory


def test_real_sdk_export_builds_run_steps_and_llm_calls(service: RunningService) -> None:
    trace_id, memory = _emit_rag_trace(service)

    run = gql(service, RUN_QUERY, id=trace_id)["run"]
    assert run["pipeline"]["name"] == "rag-query-service"
    assert run["status"] == "SUCCEEDED"
    assert run["inputTokens"] == 170 and run["outputTokens"] == 35
    steps = {s["step"]["key"]: s for s in run["steps"]}
    assert set(steps) == {"retrieve-docs", "rerank"}  # the root span is the run, not a step
    retrieve, rerank = steps["retrieve-docs"], steps["rerank"]
    assert retrieve["status"] == "SUCCEEDED"
    [chat] = retrieve["llmCalls"]
    assert chat["model"] == "gpt-4o-mini" and chat["provider"] == "openai"
    assert (chat["inputTokens"], chat["outputTokens"]) == (120, 30)
    assert chat["prompt"] == "Rewrite: what is RAG?" and chat["response"] == "Define RAG"
    assert chat["latencyMs"] >= 10
    assert rerank["status"] == "FAILED" and "reranker timed out" in rerank["error"]
    [ranked] = rerank["llmCalls"]
    assert ranked["model"] == "claude-3-haiku" and ranked["provider"] == "anthropic"
    assert (ranked["inputTokens"], ranked["outputTokens"]) == (50, 5)
    assert "Rank these" in ranked["prompt"] and ranked["response"] == "[2, 1]"

    # Re-exporting every span (all in one request now) stores nothing new.
    last_seq = gql(service, "{ overview { lastSeq } }")["overview"]["lastSeq"]
    exporter = OTLPSpanExporter(
        endpoint=f"{service.base_url}/v1/traces", headers=service.headers("ingester")
    )
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
    assert gql(service, "{ overview { lastSeq } }")["overview"]["lastSeq"] == last_seq


def test_otlp_json_with_explicit_pipeline_step_and_partial_success(
    service: RunningService,
) -> None:
    root = hex_span(
        "eee19b7ec3c1b174", "agent", attrs={"tracegraph.pipeline": "support-bot"}, end=9
    )
    tool = hex_span("eee19b7ec3c1b175", "call tool", "eee19b7ec3c1b174", start=1, end=4)
    llm = hex_span(
        "eee19b7ec3c1b176",
        "chat",
        "eee19b7ec3c1b175",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.prompt_tokens": 11,  # legacy names
            "gen_ai.usage.completion_tokens": 7,
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "hi",
            "gen_ai.completion.0.content": "hello",
            "tracegraph.step": "tools/lookup",
        },
        start=2,
        end=3,
        error="rate limited",
    )
    with service.client() as http:
        resp = http.post("/v1/traces", json=json_export(root, tool, llm))
        assert resp.status_code == 200
        assert resp.json() == {}
        assert resp.headers["content-type"] == "application/json"

        run = gql(service, RUN_QUERY, id="5b8efff798038103d269b633813fc60c")["run"]
        assert run["pipeline"]["name"] == "support-bot"
        steps = {s["step"]["key"]: s for s in run["steps"]}
        assert set(steps) == {"call-tool", "tools/lookup"}
        [call] = steps["tools/lookup"]["llmCalls"]
        assert (call["model"], call["inputTokens"], call["outputTokens"]) == ("gpt-4o", 11, 7)
        assert call["latencyMs"] == 1000

        # Same span id, different content: a conflict, reported as OTLP partial success.
        changed = hex_span("eee19b7ec3c1b175", "call tool", "eee19b7ec3c1b174", start=1, end=5)
        resp = http.post("/v1/traces", json=json_export(changed))
        assert resp.status_code == 200
        partial = resp.json()["partialSuccess"]
        assert int(partial["rejectedSpans"]) == 1 and "conflict" in partial["errorMessage"]


def test_protobuf_response_and_bad_payloads(service: RunningService) -> None:
    proto = {"content-type": "application/x-protobuf"}
    with service.client() as http:
        empty = http.post("/v1/traces", content=b"", headers=proto)
        assert empty.status_code == 200
        assert empty.headers["content-type"] == "application/x-protobuf"
        parsed = ExportTraceServiceResponse.FromString(empty.content)
        assert not parsed.HasField("partial_success")

        bad = http.post("/v1/traces", content=b"\xff\xff\xff", headers=proto)
        assert bad.status_code == 400 and "protobuf" in bad.json()["error"]
        bad_id = json_export(hex_span("zz", "x"))
        resp = http.post("/v1/traces", json=bad_id)
        assert resp.status_code == 400
        assert "resourceSpans[0].scopeSpans[0].spans[0].spanId" in resp.json()["error"]
        short = json_export(hex_span("abcd", "x"))
        assert "spanId 8 bytes" in http.post("/v1/traces", json=short).json()["error"]
        wrong = http.post("/v1/traces", content=b"{}", headers={"content-type": "text/plain"})
        assert wrong.status_code == 415


# -- pure translation ---------------------------------------------------------------------------
