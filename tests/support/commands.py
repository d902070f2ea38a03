"""Helpers for the control-plane tests (issue 18): a pipeline with runs in known states,
GraphQL calls that return data or the errors, and command reads."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import RunningService

COMMAND_FIELDS = (
    "id seq kind state stateReason pipeline run stepRun step params env note issuedBy "
    "idempotencyKey executor resultRun"
)


def gql(
    service: RunningService, role: str, query: str, **variables: Any
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(data, errors) of one GraphQL request over HTTP as ``role``."""
    with service.client(role) as http:
        resp = http.post("/graphql", json={"query": query, "variables": variables})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return body.get("data"), body.get("errors") or []


def ok(service: RunningService, role: str, query: str, **variables: Any) -> dict[str, Any]:
    data, errors = gql(service, role, query, **variables)
    assert not errors, errors
    assert data is not None
    return data


def key() -> str:
    return uuid.uuid4().hex


def event(pipeline: str, run: str | None, type_: str, n: int, **extra: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "id": f"{pipeline}-{run}-{type_}-{n}-{uuid.uuid4().hex[:6]}",
        "type": type_,
        "time": f"2026-11-20T02:{n // 60:02d}:{n % 60:02d}Z",
        "source": "test/commands",
        "pipeline": pipeline,
        "data": extra.pop("data", {}),
        **extra,
    }
    if run is not None:
        ev["run"] = run
    return ev


def seed_runs(service: RunningService, pipeline: str) -> dict[str, str]:
    """A defined pipeline with runs: running (three), succeeded, and one whose step
    ``embed`` failed (run failed); returns their ids by name."""
    runs = {name: f"{pipeline}-{name}" for name in ("r1", "r2", "r3", "done", "failed")}
    events = [
        event(pipeline, None, "pipeline.defined", 0, data={"steps": [{"key": "embed"}]}),
    ]
    for i, name in enumerate(("r1", "r2", "r3", "done", "failed")):
        events.append(event(pipeline, runs[name], "run.started", 1 + i))
    events.append(event(pipeline, runs["done"], "run.completed", 20))
    events.append(event(pipeline, runs["failed"], "step.started", 21, step="embed"))
    events.append(
        event(
            pipeline,
            runs["failed"],
            "step.failed",
            22,
            step="embed",
            data={"error": {"message": "boom"}, "retryable": True},
        )
    )
    events.append(
        event(pipeline, runs["failed"], "run.failed", 23, data={"error": {"message": "boom"}})
    )
    with service.client("admin") as http:
        resp = http.post("/v1/events", json=events)
    assert resp.status_code == 200, resp.text
    return runs


def command(service: RunningService, command_id: str) -> dict[str, Any]:
    query = f"query($id: ID!) {{ command(id: $id) {{ {COMMAND_FIELDS} }} }}"
    return ok(service, "viewer", query, id=command_id)["command"]  # type: ignore[no-any-return]


def commands_of(service: RunningService, pipeline: str) -> list[dict[str, Any]]:
    query = f"query($p: String) {{ commands(pipeline: $p, first: 200) {{ {COMMAND_FIELDS} }} }}"
    return ok(service, "viewer", query, p=pipeline)["commands"]  # type: ignore[no-any-return]
