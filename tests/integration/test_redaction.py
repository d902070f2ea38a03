"""Scrubbing at ingest: the rules, what is stored (graph and GraphQL), counts, the policy."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import pytest
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tests.support.eventually import eventually
from tests.support.graph import rebuild
from tests.support.live import EVENTS_SUB, PROTOCOLS, session, take
from tracegraph.redaction import (
    BUILTIN_NAMES,
)
from tracegraph.settings import Neo4jSettings

EMAIL = "alice.smith+billing@example.co.uk"
CARD = "4111 1111 1111 1111"  # a Luhn-valid test Visa number
NOT_A_CARD = "4111 1111 1111 1112"  # same shape, Luhn-invalid: an order id, say
OPENAI = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXyZ0"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.Xv3bT0q9v2kS8mJm1Yf4pW0zR6nL5cQe7uH2dA1sB9o"


# -- the rules (pure) ---------------------------------------------------------------------------


# -- through the running service --------------------------------------------------------------


def gql(
    service: RunningService, query: str, role: str = "admin", **variables: Any
) -> dict[str, Any]:
    resp = httpx.post(
        f"{service.base_url}/graphql",
        json={"query": query, "variables": variables},
        headers=service.headers(role),
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def _events(run: str, pipeline: str = "redaction-test") -> list[dict[str, Any]]:
    base = {"time": "2026-11-20T02:00:00Z", "source": "test", "pipeline": pipeline, "run": run}
    return [
        {"id": f"{run}-start", "type": "run.started", **base, "data": {}},
        {"id": f"{run}-step", "type": "step.started", **base, "step": "ask", "data": {}},
        {
            "id": f"{run}-prompt",
            "type": "prompt.sent",
            **base,
            "step": "ask",
            "data": {
                "call": "c1",
                "provider": "openai",
                "model": "gpt-4o",
                "messages": [
                    {"role": "system", "content": f"Reply to {EMAIL}."},
                    {"role": "user", "content": f"Charge {CARD}, order {NOT_A_CARD}."},
                ],
                "variables": {"user": {"email": EMAIL}},
            },
        },
        {
            "id": f"{run}-chunk",
            "type": "response.chunk",
            **base,
            "step": "ask",
            "data": {"call": "c1", "index": 0, "delta": f"Bearer {JWT}"},
        },
        {
            "id": f"{run}-response",
            "type": "response.received",
            **base,
            "step": "ask",
            "data": {"call": "c1", "text": f"Done; used {OPENAI}.", "output_tokens": 5},
        },
        {
            "id": f"{run}-log",
            "type": "log",
            **base,
            "data": {"message": f"mailed {EMAIL}", "context": {"to": [EMAIL], "n": 1}},
        },
    ]


def _post(
    service: RunningService, events: list[dict[str, Any]], status: int = 200
) -> dict[str, Any]:
    with service.client("ingester") as http:
        resp = http.post("/v1/events", json=events)
    assert resp.status_code == status, resp.text
    return resp.json()  # type: ignore[no-any-return]


RUN_CALLS = """query($id: ID!) { run(id: $id) { steps { llmCalls {
    id prompt response redactions redactionKinds } } } }"""


def test_scrubbed_text_is_what_is_stored_with_counts(
    service: RunningService, clean_graph: Driver
) -> None:
    run = f"run-{uuid.uuid4().hex[:8]}"
    assert _post(service, _events(run))["accepted"] == 6

    stored = {r["type"]: r for r in fetch(clean_graph, "redaction_events", run=run)}
    text = " ".join(r["payload"] for r in stored.values())
    for secret in (EMAIL, CARD, OPENAI, JWT):
        assert secret not in text
    assert NOT_A_CARD in text  # Luhn-invalid: kept
    prompt = orjson.loads(stored["prompt.sent"]["payload"])["data"]
    assert prompt["messages"][0]["content"] == "Reply to [REDACTED:email]."
    assert prompt["variables"] == {"user": {"email": "[REDACTED:email]"}}
    # The event's own count (and kinds); every event type has one.
    counts = {t: (r["redactions"], r["kinds"]) for t, r in stored.items()}
    assert counts == {
        "run.started": (0, []),
        "step.started": (0, []),
        "prompt.sent": (3, ["credit_card", "email"]),
        "response.chunk": (1, ["bearer_token"]),
        "response.received": (1, ["api_key"]),
        "log": (2, ["email"]),
    }

    [call] = fetch(clean_graph, "redaction_llm_call", id=f"{run}/c1")
    assert EMAIL not in call["prompt"] and "[REDACTED:email]" in call["prompt"]
    assert EMAIL not in call["prompt_messages"] and EMAIL not in call["variables"]
    assert call["response"] == "Done; used [REDACTED:api_key]."
    assert (call["prompt_redactions"], call["response_redactions"]) == (3, 1)
    assert call["redactions"] == 4
    assert sorted(call["kinds"]) == ["api_key", "credit_card", "email"]

    data = gql(service, RUN_CALLS, role="reviewer", id=run)["data"]
    [gql_call] = data["run"]["steps"][0]["llmCalls"]
    assert gql_call["redactions"] == 4
    assert sorted(gql_call["redactionKinds"]) == ["api_key", "credit_card", "email"]
    assert gql_call["response"] == "Done; used [REDACTED:api_key]."
    assert "[REDACTED:credit_card]" in gql_call["prompt"] and NOT_A_CARD in gql_call["prompt"]

    # Dedupe compares scrubbed payloads: the same event again is a duplicate.
    again = _post(service, _events(run))
    assert again["duplicates"] == 6 and again["accepted"] == 0


def test_replaying_the_event_log_keeps_the_counts(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    run = f"run-{uuid.uuid4().hex[:8]}"
    _post(service, _events(run))

    assert rebuild(neo4j_settings) == 6
    [call] = fetch(clean_graph, "redaction_llm_call", id=f"{run}/c1")
    assert call["redactions"] == 4 and sorted(call["kinds"]) == ["api_key", "credit_card", "email"]
    counts = {r["type"]: r["redactions"] for r in fetch(clean_graph, "redaction_events", run=run)}
    assert counts["prompt.sent"] == 3 and counts["run.started"] == 0


def test_response_before_prompt_sums_the_same(service: RunningService, clean_graph: Driver) -> None:
    run = f"run-{uuid.uuid4().hex[:8]}"
    events = _events(run)
    by_type = {e["type"]: e for e in events}
    _post(service, [by_type["run.started"], by_type["response.received"]])
    _post(service, [by_type["prompt.sent"]])
    [call] = fetch(clean_graph, "redaction_llm_call", id=f"{run}/c1")
    assert call["redactions"] == 4
    assert sorted(call["kinds"]) == ["api_key", "credit_card", "email"]


def test_quarantined_raw_payloads_are_scrubbed(
    service: RunningService, clean_graph: Driver
) -> None:
    bad = {
        "id": "bad-1",
        "type": "prompt.sent",
        "time": "not a time",
        "pipeline": "p",
        "run": "r",
        "data": {"text": f"to {EMAIL}", "extra": [{"deep": CARD}], "model": 5},
    }
    body = _post(service, [bad], status=207)
    assert body["rejected"] and body["rejected"][0]["id"] == "bad-1"
    [entry] = fetch(clean_graph, "redaction_quarantined")
    assert EMAIL not in entry["raw"] and CARD not in entry["raw"]
    assert orjson.loads(entry["raw"])["data"]["extra"] == [{"deep": "[REDACTED:credit_card]"}]
    assert (entry["redactions"], entry["kinds"]) == (2, ["credit_card", "email"])
    assert EMAIL not in entry["reason"]


def _otlp_llm_span() -> dict[str, Any]:
    def attr(k: str, v: str) -> dict[str, Any]:
        return {"key": k, "value": {"stringValue": v}}

    common = {"traceId": "7b8efff798038103d269b633813fc60c", "kind": 1}
    root = {
        **common,
        "spanId": "aaa19b7ec3c1b174",
        "name": "agent",
        "startTimeUnixNano": "1763604000000000000",
        "endTimeUnixNano": "1763604009000000000",
        "attributes": [attr("tracegraph.pipeline", "otel-redaction")],
    }
    llm = {
        **common,
        "spanId": "aaa19b7ec3c1b176",
        "parentSpanId": "aaa19b7ec3c1b174",
        "name": "chat",
        "startTimeUnixNano": "1763604001000000000",
        "endTimeUnixNano": "1763604002000000000",
        "attributes": [
            attr("gen_ai.operation.name", "chat"),
            attr("gen_ai.request.model", "gpt-4o"),
            attr("gen_ai.prompt.0.role", "user"),
            attr("gen_ai.prompt.0.content", f"email {EMAIL} the invoice"),
            attr("gen_ai.completion.0.content", f"Sent to {EMAIL}."),
        ],
    }
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [attr("service.name", "svc")]},
                "scopeSpans": [{"scope": {"name": "hand"}, "spans": [root, llm]}],
            }
        ]
    }


def test_otlp_adapter_goes_through_the_scrubber(
    service: RunningService, clean_graph: Driver
) -> None:
    with service.client("ingester") as http:
        resp = http.post("/v1/traces", json=_otlp_llm_span())
    assert resp.status_code == 200, resp.text
    run = "7b8efff798038103d269b633813fc60c"
    stored = fetch(clean_graph, "redaction_events", run=run)
    assert stored and all(EMAIL not in r["payload"] for r in stored)
    [call] = fetch(clean_graph, "redaction_llm_call", id=f"{run}/aaa19b7ec3c1b176")
    assert "[REDACTED:email]" in call["prompt"] and EMAIL not in call["prompt"]
    assert call["response"] == "[assistant]\nSent to [REDACTED:email]."
    assert call["redactions"] == 2


def test_openlineage_adapter_goes_through_the_scrubber(
    service: RunningService, clean_graph: Driver
) -> None:
    # A RUNNING event becomes a log event; its facets are the log's context.
    event = {
        "eventType": "RUNNING",
        "eventTime": "2026-11-20T02:00:00Z",
        "producer": "test",
        "run": {"runId": "ol-run-1", "facets": {"contact": {"owner": EMAIL}}},
        "job": {"namespace": "ns", "name": "job"},
    }
    with service.client("ingester") as http:
        resp = http.post("/api/v1/lineage", json=event)
    assert resp.status_code == 200, resp.text
    stored = fetch(clean_graph, "redaction_events", run="ol-run-1")
    assert stored and all(EMAIL not in r["payload"] for r in stored)
    assert any("[REDACTED:email]" in r["payload"] for r in stored)


# -- the policy ---------------------------------------------------------------------------------

POLICY = "{ redactionPolicy { builtins customRules { name pattern } version updatedBy } }"
SET_POLICY = """mutation($b: [String!]!, $c: [RedactionRuleInput!]!) {
  setRedactionPolicy(builtins: $b, customRules: $c) {
    builtins customRules { name pattern } availableBuiltins version updatedBy } }"""


def _prompt(run: str, text: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{run}-p",
            "type": "prompt.sent",
            "time": "2026-11-20T02:00:00Z",
            "source": "test",
            "pipeline": "policy-test",
            "run": run,
            "data": {"call": "c1", "model": "m", "text": text},
        }
    ]


def _stored_prompt(driver: Driver, run: str) -> str:
    [call] = fetch(driver, "redaction_llm_call", id=f"{run}/c1")
    return str(call["prompt"])


def test_policy_change_takes_effect_for_the_next_ingest_and_is_audited(
    clean_graph: Driver, make_service: Any
) -> None:
    service = make_service(redaction_custom_rules={"ticket": r"TCK-[0-9]{4}"})
    first = gql(service, POLICY)["data"]["redactionPolicy"]
    assert first["builtins"] == list(BUILTIN_NAMES)
    assert first["customRules"] == [{"name": "ticket", "pattern": "TCK-[0-9]{4}"}]
    assert first["version"] == 1

    _post(service, _prompt("r1", f"TCK-1234 from {EMAIL} about ORD-998877"))
    assert _stored_prompt(clean_graph, "r1") == (
        "[REDACTED:ticket] from [REDACTED:email] about ORD-998877"
    )

    rules = [{"name": "order_id", "pattern": "ORD-[0-9]{6}"}]
    changed = gql(service, SET_POLICY, b=["api_key"], c=rules)["data"]["setRedactionPolicy"]
    assert changed["builtins"] == ["api_key"] and changed["customRules"] == rules
    assert changed["version"] == 2 and changed["updatedBy"].startswith("key:")
    assert changed["availableBuiltins"] == list(BUILTIN_NAMES)

    _post(service, _prompt("r2", f"TCK-1234 from {EMAIL} about ORD-998877"))
    assert _stored_prompt(clean_graph, "r2") == f"TCK-1234 from {EMAIL} about [REDACTED:order_id]"

    [node] = fetch(clean_graph, "redaction_policy_node")
    assert node["version"] == 2 and node["builtins"] == ["api_key"]
    [entry] = fetch(clean_graph, "redaction_policy_audit")
    assert entry["action"] == "policy.changed" and entry["actor"] == changed["updatedBy"]
    before, after = orjson.loads(entry["before"]), orjson.loads(entry["after"])
    assert before["custom_rules"] == [{"name": "ticket", "pattern": "TCK-[0-9]{4}"}]
    assert before["builtins"] == list(BUILTIN_NAMES) and before["version"] == 1
    assert after == {"builtins": ["api_key"], "custom_rules": rules, "version": 2}

    # A restart loads the stored policy, not the settings.
    again = make_service(redaction_custom_rules={"ticket": r"TCK-[0-9]{4}"})
    assert gql(again, POLICY)["data"]["redactionPolicy"]["version"] == 2


def test_invalid_policy_is_rejected_and_nothing_changes(
    service: RunningService, clean_graph: Driver
) -> None:
    body = gql(service, SET_POLICY, b=["email"], c=[{"name": "bad", "pattern": "(a"}])
    [error] = body["errors"]
    assert "custom redaction rule 'bad': invalid RE2 regular expression '(a'" in error["message"]
    body = gql(service, SET_POLICY, b=["emails"], c=[])
    assert "unknown built-in redaction rule 'emails'" in body["errors"][0]["message"]
    assert gql(service, POLICY)["data"]["redactionPolicy"]["version"] == 1
    assert not fetch(clean_graph, "redaction_policy_audit")


@pytest.mark.parametrize("role", ["viewer", "reviewer", "ingester"])
def test_only_admins_read_or_change_the_policy(service: RunningService, role: str) -> None:
    for doc, variables in ((POLICY, {}), (SET_POLICY, {"b": [], "c": []})):
        body = gql(service, doc, role=role, **variables)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_replicas_converge_on_the_stored_policy(clean_graph: Driver, make_service: Any) -> None:
    a = make_service(redaction_policy_refresh_s=0.2)
    b = make_service(redaction_policy_refresh_s=0.2)
    gql(a, SET_POLICY, b=[], c=[{"name": "codename", "pattern": "Project [A-Z][a-z]+"}])
    eventually(
        lambda: gql(b, POLICY)["data"]["redactionPolicy"]["version"],
        until=lambda version: version == 2,
        what="replica b refreshed the policy",
    )
    _post(b, _prompt("r3", f"Project Falcon for {EMAIL}"))
    assert _stored_prompt(clean_graph, "r3") == f"[REDACTED:codename] for {EMAIL}"


POLICY_EVENTS = """query { events(first: 200) { type data } }"""


def test_policy_change_events_show_their_rules_only_to_policy_readers(
    service: RunningService,
) -> None:
    """The event log must not hand viewers what ``redactionPolicy`` refuses them: every
    custom rule's name and regex, on the query and on the live stream (WebSocket)."""
    rules = [{"name": "secret_project", "pattern": "PRJ-[0-9]{5}"}]
    assert "errors" not in gql(service, SET_POLICY, b=["email"], c=rules)
    hidden = {"hidden": ["builtins", "custom_rules"]}

    def logged(role: str) -> Any:
        body = gql(service, POLICY_EVENTS, role=role)
        assert "errors" not in body, body
        events = body["data"]["events"]
        return [e for e in events if e["type"] == "redaction.policy_set"][-1]["data"]

    assert logged("admin")["custom_rules"] == rules
    assert logged("viewer") == hidden
    assert logged("reviewer") == hidden

    async def streamed(role: str, protocol: str) -> Any:
        async with session(service, protocol, role=role) as sess:
            [result] = await take(
                sess, EVENTS_SUB, {"after": 0, "types": ["redaction.policy_set"]}, 1
            )
        return result["events"]["data"]

    for protocol in PROTOCOLS:
        assert asyncio.run(streamed("viewer", protocol)) == hidden
        assert asyncio.run(streamed("admin", protocol))["custom_rules"] == rules
