"""Prompt and response text: reviewers see it, viewers do not (GraphQL query and WebSocket)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from gql import gql as gql_doc
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.live import (
    EVENTS_SUB,
    LEGACY_WS,
    TRANSPORT_WS,
    post,
    session,
    take,
    unique,
    until_subscribed,
)

RUN_CALLS = """query($id: ID!) { run(id: $id) { steps { llmCalls {
    id model prompt response redactions } } } }"""
EVENTS = """query($pipeline: String) { events(pipeline: $pipeline) { type data } }"""


def _events(pipeline: str, run: str) -> list[dict[str, Any]]:
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
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "what is the refund policy?"}],
                "variables": {"topic": "refunds"},
            },
        },
        {
            "id": f"{run}-chunk",
            "type": "response.chunk",
            **base,
            "step": "ask",
            "data": {"call": "c1", "index": 0, "delta": "Refunds "},
        },
        {
            "id": f"{run}-response",
            "type": "response.received",
            **base,
            "step": "ask",
            "data": {"call": "c1", "text": "Refunds take 5 days.", "output_tokens": 5},
        },
        {"id": f"{run}-log", "type": "log", **base, "data": {"message": "answered"}},
    ]


HIDDEN_DATA = {
    "prompt.sent": {"call": "c1", "model": "gpt-4o", "hidden": ["messages", "variables"]},
    "response.chunk": {"call": "c1", "index": 0, "hidden": ["delta"]},
    "response.received": {"call": "c1", "output_tokens": 5, "hidden": ["text"]},
    "log": {"level": "info", "message": "answered"},
}


def _gql(service: RunningService, role: str, query: str, **variables: Any) -> dict[str, Any]:
    resp = httpx.post(
        f"{service.base_url}/graphql",
        json={"query": query, "variables": variables},
        headers=service.headers(role),
        timeout=60,
    )
    body = resp.json()
    assert resp.status_code == 200 and not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


def _by_type(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["type"]: e["data"] for e in events if e["type"] in HIDDEN_DATA}


def test_viewers_get_null_prompts_and_no_text_in_event_data(
    service: RunningService, clean_graph: Driver
) -> None:
    pipe, run = unique("vis"), unique("run")
    with service.client("ingester") as http:
        assert http.post("/v1/events", json=_events(pipe, run)).status_code == 200

    [viewer_call] = _gql(service, "viewer", RUN_CALLS, id=run)["run"]["steps"][0]["llmCalls"]
    assert viewer_call["prompt"] is None and viewer_call["response"] is None
    assert viewer_call["model"] == "gpt-4o" and viewer_call["redactions"] == 0

    for role in ("reviewer", "admin"):
        [call] = _gql(service, role, RUN_CALLS, id=run)["run"]["steps"][0]["llmCalls"]
        assert call["prompt"] == "[user]\nwhat is the refund policy?"
        assert call["response"] == "Refunds take 5 days."

    assert _by_type(_gql(service, "viewer", EVENTS, pipeline=pipe)["events"]) == HIDDEN_DATA
    full = _by_type(_gql(service, "reviewer", EVENTS, pipeline=pipe)["events"])
    assert full["prompt.sent"]["messages"] == [
        {"role": "user", "content": "what is the refund policy?"}
    ]
    assert full["response.chunk"]["delta"] == "Refunds "
    assert full["response.received"]["text"] == "Refunds take 5 days."
    assert "hidden" not in full["prompt.sent"]


async def _both(
    service: RunningService, document: Any, variables: dict[str, Any], n: int, pipe: str, run: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A viewer and a reviewer on the same subscription, fed the same live events."""
    async with (
        service.async_client("ingester") as http,
        session(service, TRANSPORT_WS, role="viewer") as viewer,
        session(service, LEGACY_WS, role="reviewer") as reviewer,
    ):
        tasks = [
            asyncio.create_task(take(viewer, document, variables, n)),
            asyncio.create_task(take(reviewer, document, variables, n)),
        ]
        await until_subscribed(service, len(tasks))
        await post(http, _events(pipe, run))
        seen_by_viewer, seen_by_reviewer = [await asyncio.wait_for(t, 30) for t in tasks]
    return seen_by_viewer, seen_by_reviewer


async def test_a_viewer_and_a_reviewer_on_one_subscription_see_different_payloads(
    service: RunningService, clean_graph: Driver
) -> None:
    pipe, run = unique("vis"), unique("run")
    variables = {"after": None, "pipeline": pipe}
    as_viewer, as_reviewer = await _both(service, EVENTS_SUB, variables, 6, pipe, run)
    assert _by_type([r["events"] for r in as_viewer]) == HIDDEN_DATA
    full = _by_type([r["events"] for r in as_reviewer])
    assert full["response.chunk"]["delta"] == "Refunds "
    assert full["prompt.sent"]["variables"] == {"topic": "refunds"}
    assert full["response.received"]["text"] == "Refunds take 5 days."


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_the_generic_subscription_path_hides_text_from_viewers(
    service: RunningService, clean_graph: Driver, protocol: str
) -> None:
    # A fragment at the root is served by strawberry's own path, not the shared renderer.
    doc = gql_doc(
        """
        subscription S($after: Int, $pipeline: String) { ...F }
        fragment F on Subscription { events(afterSeq: $after, pipeline: $pipeline) { type data } }
        """
    )
    pipe, run = unique("vis"), unique("run")
    async with service.async_client("ingester") as http:
        await post(http, _events(pipe, run))
    async with session(service, protocol, role="viewer") as viewer:
        got = await take(viewer, doc, {"after": 0, "pipeline": pipe}, 6)
    assert _by_type([r["events"] for r in got]) == HIDDEN_DATA
