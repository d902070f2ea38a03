"""The governance gate's screen (docs/governance.md, "The gate"): with definitions gated,
an operator's new version waits; a reviewer sees it on /changes with its diff (the
operator's own buttons are disabled with the reason), approves it with a comment, and
the version goes live; the operator rolls back from the definition history (pending
approval again) and the reviewer approves the rollback. Headless Chromium, real
service, real Neo4j."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Browser, expect

from tests.browser.test_dashboard import Dash, browser, dash  # noqa: F401 (fixtures)
from tests.conftest import RunningService
from tests.support.definitions import V1, V2_YAML, define
from tests.support.live import unique

POLICY = "mutation($p: String) { setGatePolicy(pipeline: $p, gated: [DEFINITIONS]) { gated } }"
SUBMIT = """mutation($p: String!, $y: String!) { submitDefinition(pipeline: $p, yaml: $y) {
  changeRequest { id } } }"""
CURRENT = "query($p: String!) { pipelineDefinition(pipeline: $p) { version yaml } }"


def _gql(service: RunningService, role: str, query: str, **variables: object) -> dict:
    with service.client(role) as http:
        body = http.post("/graphql", json={"query": query, "variables": variables}).json()
    assert "errors" not in body, body
    return dict(body["data"])


def test_a_reviewer_approves_a_definition_change_and_a_rollback(
    dash: Callable[..., Dash],  # noqa: F811
    browser: Browser,  # noqa: F811
    service: RunningService,
) -> None:
    pipeline = unique("gate-ui")
    define(service, pipeline, V1)
    _gql(service, "admin", POLICY, p=pipeline)
    v2 = V2_YAML.replace("owner: team:platform", "owner: team:search")
    request = _gql(service, "operator", SUBMIT, p=pipeline, y=v2)["submitDefinition"]
    request_id = request["changeRequest"]["id"]

    # The author sees the request but cannot decide it.
    operator = dash()
    op = operator.open(f"/changes/{pipeline}", role="operator")
    item = op.locator(f".changes-item[data-id='{request_id}']")
    expect(item.locator(".changes-reason")).to_contain_text(
        "Needs the changes:review permission", timeout=15_000
    )
    expect(item.locator(".changes-approve")).to_be_disabled()

    # The reviewer sees the diff and approves with a comment: version 2 is live.
    reviewer = dash()
    rv = reviewer.open(f"/changes/{pipeline}", role="reviewer")
    item = rv.locator(f".changes-item[data-id='{request_id}']")
    expect(item.locator("li[data-kind=added]")).to_contain_text("step index", timeout=15_000)
    item.locator(".changes-comment").fill("ship it")
    item.locator(".changes-approve").click()
    expect(rv.locator("#changes-result")).to_contain_text(f"{request_id} approved", timeout=15_000)
    assert _gql(service, "viewer", CURRENT, p=pipeline)["pipelineDefinition"]["version"] == "2"
    history = rv.locator("#changes-versions tr[data-version='2']")
    expect(history).to_contain_text(f"({request_id})", timeout=15_000)
    # A reviewer cannot roll back (operate): the button says why.
    expect(rv.locator("#changes-versions tr[data-version='1'] .changes-rollback")).to_be_disabled()

    # The operator rolls back to version 1: gated, so pending approval.
    op.reload()
    op.wait_for_selector("body[data-ready='1']", state="attached", timeout=15_000)
    op.locator("#changes-versions tr[data-version='1'] .changes-rollback").click()
    expect(op.locator("#changes-result")).to_contain_text(
        "Rollback to v1 is pending approval", timeout=15_000
    )
    # The reviewer's list shows it live (changeRequestChanged) and approves it.
    rollback = rv.locator(".changes-item[data-state='pending']")
    expect(rollback).to_contain_text("rollback to v1", timeout=15_000)
    rollback_id = rollback.get_attribute("data-id")
    rollback.locator(".changes-approve").click()
    expect(rv.locator("#changes-result")).to_contain_text(f"{rollback_id} approved", timeout=15_000)
    live = _gql(service, "viewer", CURRENT, p=pipeline)["pipelineDefinition"]
    assert live["version"] == "3" and "index" not in live["yaml"]
    expect(rv.locator("#changes-versions tr[data-version='3']")).to_contain_text(
        "current", timeout=15_000
    )
    assert not operator.errors and not reviewer.errors, operator.errors + reviewer.errors
