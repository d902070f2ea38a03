"""Canary secrets sent through every way in end up nowhere (issue 14).

Each test sends the same canaries (one of every built-in kind, plus the ingester's own
``tg_`` key) in every free-text and structured field a source has — ``/v1/events`` for
every event type, OpenLineage with the real ``openlineage-python`` client, OTLP with the
real OpenTelemetry exporter — then scans every property of every node and relationship
in Neo4j, the service's captured logs and every body the service answered: zero hits.
Each also checks that redaction markers are where the canaries were, so a client that
dropped them could not make the test pass.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import pytest
from neo4j import Driver
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.facet_v2 import (
    DatasetFacet,
    InputDatasetFacet,
    JobFacet,
    RunFacet,
    documentation_job,
    error_message_run,
    parent_run,
    schema_dataset,
)
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tracegraph.events import EVENT_TYPES

AWS = "AKIAQ3EGRZ7T5MXW4PLN"
OPENAI = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXyZ0"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.Qm9vX3R3bzNfc2lnbmF0dXJlX2Nhbm9yeTE"
EMAIL = "canary.owner@example.org"
CARD = "4111 1111 1111 1111"  # Luhn-valid
BEARER = "Zq8Xw7Vc6Bn5Ma4Sd3Fg2Hj1"  # an opaque token after "Authorization: Bearer"
# One bundle holds one of each: 3 api_key (AWS, OpenAI, tg_), 2 bearer_token (JWT,
# header), 1 email, 1 credit_card.
PER_BUNDLE = {"api_key": 3, "bearer_token": 2, "email": 1, "credit_card": 1}
ALL_KINDS = sorted(PER_BUNDLE)
T0 = "2026-11-20T02:00:00Z"
# Loggers of the clients the tests drive in this process (the OpenLineage client logs each
# event it sends at debug): their records are the sender's, not the service's.
CLIENT_LOGGERS = ("openlineage", "opentelemetry", "httpx", "httpcore", "urllib3", "requests")


def canaries(service: RunningService) -> dict[str, str]:
    """What must never be found, by name: each canary, and the secret half of the key."""
    key = service.key("ingester")
    return {
        "aws": AWS,
        "openai": OPENAI,
        "jwt": JWT,
        "email": EMAIL,
        "card": CARD,
        "bearer": BEARER,
        "tracegraph_key": key,
        "tracegraph_key_secret": key.split("_", 2)[2],
    }


def bundle(service: RunningService) -> str:
    return (
        f"aws {AWS}, openai {OPENAI}, ours {service.key('ingester')}, jwt {JWT}, "
        f"mail {EMAIL}, card {CARD}, Authorization: Bearer {BEARER}"
    )


# -- where to look ------------------------------------------------------------------------------


def _strings(where: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(f"{where}.{key}", item)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strings(f"{where}[{i}]", item)


def graph_texts(driver: Driver) -> Iterator[tuple[str, str]]:
    """Every string property (and string in a list property) of the whole graph."""
    for rec in fetch(driver, "every_property"):
        yield from _strings(":".join(rec["labels"]), dict(rec["props"]))


def hits(texts: Iterable[tuple[str, str]], secrets: dict[str, str]) -> list[str]:
    return [
        f"{name} in {where}"
        for where, text in texts
        for name, secret in secrets.items()
        if secret in text
    ]


def assert_nowhere(
    driver: Driver,
    secrets: dict[str, str],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    answers: Iterable[str] = (),
) -> None:
    out, err = capfd.readouterr()
    service_records = [
        (f"log record {r.name}", r.getMessage())
        for r in caplog.records
        if not r.name.startswith(CLIENT_LOGGERS)
    ]
    logs = [("stdout", out), ("stderr", err), *service_records]
    bodies = [(f"answer {i}", text) for i, text in enumerate(answers)]
    found = hits([*graph_texts(driver), *logs, *bodies], secrets)
    assert found == []


def markers(driver: Driver) -> int:
    """How many redaction markers the graph holds (proof the canaries reached it)."""
    return sum(text.count("[REDACTED:") for _, text in graph_texts(driver))


@pytest.fixture
def logged_service(clean_graph: Driver, make_service: Any, caplog: pytest.LogCaptureFixture):
    """A service logging everything (debug), its log records captured."""
    caplog.set_level(logging.DEBUG)
    return make_service(log_level="debug")


# -- POST /v1/events: every event type ----------------------------------------------------------


def every_event_type(b: str, run: str, pipeline: str) -> list[dict[str, Any]]:
    """One event of each type, the bundle ``b`` in each free-text and structured field."""
    base = {"time": T0, "source": "tests", "pipeline": pipeline, "run": run}
    step = {**base, "step": "ask"}

    def ev(kind: str, data: dict[str, Any], envelope: dict[str, Any] = base) -> dict[str, Any]:
        return {"id": f"{run}-{kind}", "type": kind, **envelope, "data": data}

    defined = {"id": f"{run}-def", "type": "pipeline.defined", "time": T0, "source": "tests"}
    return [
        {
            **defined,
            "pipeline": pipeline,
            "data": {
                "version": "1",
                "description": b,
                "steps": [{"key": "ask", "name": b, "description": b}],
                "notes": b,
            },
        },
        ev("run.scheduled", {"scheduled_for": T0, "note": b}),
        ev("run.started", {"triggered_by": b, "params": {"api_token": b, "list": [b]}}),
        ev("step.scheduled", {"note": b}, step),
        ev("step.started", {"provider": "openai", "model": "gpt-4o", "params": {"h": b}}, step),
        ev("step.progress", {"percent": 50, "message": b}, step),
        ev(
            "prompt.sent",
            {
                "call": "c1",
                "provider": "openai",
                "model": "gpt-4o",
                "template": {"name": "answer", "version": "3"},
                "text": b,
                "variables": {"v": b},
                "params": {"p": b},
            },
            step,
        ),
        ev("response.chunk", {"call": "c1", "index": 0, "delta": b}, step),
        ev(
            "response.received",
            {"call": "c1", "text": b, "error": {"message": b, "stack": b}},
            step,
        ),
        ev(
            "artifact.read",
            {"uri": "s3://canary/in", "version": "1", "schema": {"doc": b}, "about": b},
            step,
        ),
        ev("artifact.written", {"uri": "s3://canary/out", "version": "2", "schema": [b]}, step),
        ev(
            "log",
            {"level": "error", "message": b, "context": {"headers": {"authorization": b}}},
            step,
        ),
        ev("step.completed", {"outputs": {"summary": b}}, step),
        ev(
            "step.failed",
            {"error": {"message": b, "type": "Boom", "stack": b}, "retryable": True},
            {**base, "step": "retry"},
        ),
        ev("step.skipped", {"reason": b}, {**base, "step": "skip"}),
        ev("run.failed", {"error": {"message": b, "type": "RuntimeError", "stack": b}}),
        ev("run.completed", {"outputs": {"report": b}}, {**base, "run": f"{run}-2"}),
        ev("run.cancelled", {"reason": b, "by": b}, {**base, "run": f"{run}-3"}),
        ev("run.paused", {"reason": b, "by": b, "command": "cmd-1"}, {**base, "run": f"{run}-4"}),
        ev("run.resumed", {"reason": b, "by": b, "command": "cmd-2"}, {**base, "run": f"{run}-4"}),
        # Issue 19: the question is text; the approval id and approvers are identifiers.
        ev(
            "approval.requested",
            {"approval": "appr-1", "question": b, "approvers": ["owner"], "timeout_s": 60},
            step,
        ),
    ]


def test_every_event_type_is_scrubbed_everywhere(
    logged_service: RunningService,
    clean_graph: Driver,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = logged_service
    run = f"canary-{uuid.uuid4().hex[:8]}"
    events = every_event_type(bundle(service), run, "scrub-canary")
    assert {e["type"] for e in events} == set(EVENT_TYPES)

    with service.client("ingester") as http:
        first = http.post("/v1/events", json=events)
        # The same events again, secrets and all: duplicates (dedupe sees scrubbed payloads).
        again = http.post("/v1/events", json=events)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == len(events)
    assert again.status_code == 200 and again.json()["duplicates"] == len(events)
    assert again.json()["accepted"] == 0

    # Counts: every event type now records its redactions, per event and per call.
    stored = {r["type"]: r for r in fetch(clean_graph, "redaction_events", run=run)}
    assert (stored["step.progress"]["redactions"], stored["step.progress"]["kinds"]) == (
        7,
        ALL_KINDS,
    )
    assert stored["run.failed"]["redactions"] == 14
    assert stored["run.started"]["redactions"] == 21  # triggered_by and two in params
    assert stored["prompt.sent"]["redactions"] == 21
    assert stored["response.received"]["redactions"] == 21
    assert stored["log"]["redactions"] == 14  # message and context
    [call] = fetch(clean_graph, "redaction_llm_call", id=f"{run}/c1")
    assert (call["prompt_redactions"], call["response_redactions"]) == (21, 21)
    assert call["redactions"] == 42 and sorted(call["kinds"]) == ALL_KINDS

    # Identifiers are kept as sent: the graph is keyed on them.
    progress = orjson.loads(stored["step.progress"]["payload"])
    assert progress["data"]["message"].count("[REDACTED:") == 7
    prompt = orjson.loads(stored["prompt.sent"]["payload"])["data"]
    assert (prompt["call"], prompt["model"], prompt["template"]) == (
        "c1",
        "gpt-4o",
        {"name": "answer", "version": "3"},
    )
    assert markers(clean_graph) >= 7 * len(events)
    assert_nowhere(clean_graph, canaries(service), capfd, caplog, [first.text, again.text])


# -- OpenLineage, with the real client -----------------------------------------------------------


def _note(facet: Any, b: str) -> Any:
    return facet.with_additional_properties(note=b)


def _datasets(b: str) -> tuple[InputDataset, OutputDataset]:
    fields = [schema_dataset.SchemaDatasetFacetFields(name="body", type="TEXT", description=b)]
    facets = {
        "canary": _note(DatasetFacet(), b),
        "schema": schema_dataset.SchemaDatasetFacet(fields=fields),
    }
    return (
        InputDataset(
            namespace="s3://canary",
            name="in.jsonl",
            facets=facets,
            inputFacets={"canary": _note(InputDatasetFacet(), b)},
        ),
        OutputDataset(namespace="s3://canary", name="out.jsonl", facets=facets),
    )


def test_openlineage_facets_are_scrubbed_everywhere(
    logged_service: RunningService,
    clean_graph: Driver,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, b = logged_service, bundle(logged_service)
    producer = "https://github.com/acme/dags"
    dag_run, task_run = str(uuid.uuid4()), str(uuid.uuid4())
    dag = Job(
        namespace="canary",
        name="dag",
        facets={
            "documentation": documentation_job.DocumentationJobFacet(description=b),
            "canary": _note(JobFacet(), b),
        },
    )
    task = Job(namespace="canary", name="task", facets={"canary": _note(JobFacet(), b)})
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=dag_run), job=parent_run.Job(namespace="canary", name="dag")
    )
    error = error_message_run.ErrorMessageRunFacet(
        message=b, programmingLanguage="python", stackTrace=b
    )
    inputs, outputs = _datasets(b)
    run_facets = {"canary": _note(RunFacet(), b)}
    task_facets = {**run_facets, "parent": parent}

    def at(second: int) -> str:
        return f"2026-11-20T02:00:{second:02d}.000Z"

    events: list[Any] = [
        RunEvent(eventType=RunState.START, eventTime=at(0), producer=producer,
                 run=Run(runId=dag_run, facets=run_facets), job=dag, inputs=[inputs]),
        RunEvent(eventType=RunState.RUNNING, eventTime=at(1), producer=producer,
                 run=Run(runId=dag_run, facets=run_facets), job=dag),
        RunEvent(eventType=RunState.START, eventTime=at(2), producer=producer,
                 run=Run(runId=task_run, facets=task_facets), job=task, inputs=[inputs]),
        RunEvent(eventType=RunState.RUNNING, eventTime=at(3), producer=producer,
                 run=Run(runId=task_run, facets=task_facets), job=task),
        RunEvent(eventType=RunState.FAIL, eventTime=at(4), producer=producer,
                 run=Run(runId=task_run, facets={**task_facets, "errorMessage": error}),
                 job=task, outputs=[outputs]),
        RunEvent(eventType=RunState.COMPLETE, eventTime=at(5), producer=producer,
                 run=Run(runId=dag_run, facets=run_facets), job=dag, outputs=[outputs]),
        DatasetEvent(eventTime=at(6), producer=producer,
                     dataset=StaticDataset(namespace="s3://canary", name="in.jsonl",
                                           facets={"canary": _note(DatasetFacet(), b)})),
        JobEvent(eventTime=at(7), producer=producer, job=dag, inputs=[inputs],
                 outputs=[outputs]),
    ]  # fmt: skip
    auth = ApiKeyTokenProvider({"apiKey": service.key("ingester")})
    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=service.base_url, auth=auth)))
    for event in events:
        client.emit(event)

    stored = fetch(clean_graph, "redaction_events", run=dag_run)
    types = {r["type"] for r in stored}
    assert {"run.started", "log", "step.progress", "step.failed", "run.completed"} <= types
    assert all(r["redactions"] and r["redactions"] >= 7 for r in stored), [
        (r["type"], r["redactions"]) for r in stored
    ]
    assert markers(clean_graph) >= 7 * len(events)
    assert_nowhere(clean_graph, canaries(service), capfd, caplog)


# -- OTLP, with the real exporter ----------------------------------------------------------------


def _fail(span: Any, b: str, message: str | None) -> None:
    """An exception event (with a real stack) and an ERROR status on ``span``."""
    try:
        raise RuntimeError(b)
    except RuntimeError as exc:
        span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, message))


def test_otlp_attributes_statuses_and_exceptions_are_scrubbed_everywhere(
    logged_service: RunningService,
    clean_graph: Driver,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, b = logged_service, bundle(logged_service)
    exporter = OTLPSpanExporter(
        endpoint=f"{service.base_url}/v1/traces", headers=service.headers("ingester")
    )
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "canary", "note": b}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests")
    quiet = {"record_exception": False, "set_status_on_exception": False}
    with tracer.start_as_current_span(
        "handle", attributes={"http.request.header.authorization": b, "note": b}, **quiet
    ) as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("lookup", attributes={"db.statement": b}) as step:
            with tracer.start_as_current_span(
                "chat",
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.request.user": b,
                    "gen_ai.prompt.0.role": "user",
                    "gen_ai.prompt.0.content": b,
                    "gen_ai.completion.0.content": b,
                    "tool.arguments": b,
                },
                **quiet,
            ) as llm:
                _fail(llm, b, b)
            _fail(step, b, b)
        _fail(root, b, None)  # no status message: the exception's message is the error
    provider.force_flush()

    stored = fetch(clean_graph, "redaction_events", run=trace_id)
    assert {r["type"] for r in stored} >= {
        "run.started",
        "run.failed",
        "step.started",
        "step.failed",
        "prompt.sent",
        "response.received",
    }
    failed = {r["type"]: orjson.loads(r["payload"]) for r in stored}
    assert "[REDACTED:api_key]" in failed["run.failed"]["data"]["error"]["message"]
    assert "[REDACTED:email]" in failed["step.failed"]["data"]["error"]["stack"]
    [call] = fetch(clean_graph, "redaction_llm_call", id=f"{trace_id}/{llm.context.span_id:016x}")
    assert call["redactions"] >= 4 * 7 and sorted(call["kinds"]) == ALL_KINDS

    # The same spans again, now in one request: duplicates, nothing new stored.
    count = len(stored)
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
    assert len(fetch(clean_graph, "redaction_events", run=trace_id)) == count
    assert_nowhere(clean_graph, canaries(service), capfd, caplog)


# -- what the service answers and keeps of bad input --------------------------------------------


def test_rejections_quarantine_and_error_answers_hold_no_secret(
    logged_service: RunningService,
    clean_graph: Driver,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, b = logged_service, bundle(logged_service)
    good = every_event_type(b, "canary-good", "scrub-canary")[5]  # step.progress
    bad = {**good, "id": "canary-bad", "time": b}  # the error quotes the bad value
    answers: list[str] = []
    with service.client("ingester") as http:
        partial = http.post("/v1/events", json=[good, bad])
        answers.append(partial.text)
        assert partial.status_code == 207, partial.text
        [rejection] = partial.json()["rejected"]
        assert rejection["id"] == "canary-bad" and "time" in rejection["error"]
        assert "[REDACTED:" in rejection["error"]

        span = {"traceId": AWS, "spanId": "00f067aa0ba902b7", "name": "x"}
        otlp_body = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
        bad_id = http.post("/v1/traces", json=otlp_body)
        answers.append(bad_id.text)
        assert bad_id.status_code == 400 and "traceId" in bad_id.json()["error"]

        lineage = http.post("/api/v1/lineage", json={"eventTime": b, "run": {}, "job": {}})
        answers.append(lineage.text)
        assert lineage.status_code == 400

    with service.client("reviewer") as http:
        quarantine = http.get("/v1/quarantine")
    answers.append(quarantine.text)
    assert quarantine.status_code == 200 and "[REDACTED:" in quarantine.text
    [entry] = fetch(clean_graph, "redaction_quarantined")
    assert entry["redactions"] == 14 and entry["kinds"] == ALL_KINDS
    assert_nowhere(clean_graph, canaries(service), capfd, caplog, answers)
