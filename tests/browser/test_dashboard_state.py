"""Live state on an open dashboard equals what a fresh load shows (issue 17, item 5).

Each test opens the page first and only then sends events, so what the page shows comes
from the live stream, not from the initial queries; then it checks the page against the
server's GraphQL answer (or a page loaded afterwards). Headless Chromium, real service,
real Neo4j."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.browser.test_dashboard import (  # noqa: F401 (fixtures)
    Dash,
    browser,
    dash,
    ev,
    ingest,
    now_iso,
)
from tests.conftest import RunningService
from tests.support.eventually import eventually

TWO_STEPS = {
    "version": "1",
    "owner": "team:qa",
    "steps": [
        {"key": "retrieve", "kind": "retrieval"},
        {"key": "answer", "kind": "llm", "depends_on": ["retrieve"]},
    ],
}


def _defined(name: str) -> dict:
    return ev(f"{name}-def", "pipeline.defined", name, data=TWO_STEPS)


def _overview(service: RunningService) -> dict[str, Any]:
    with service.client() as c:
        r = c.post("/graphql", json={"query": "{ overview { tokensToday costTodayUsd lastSeq } }"})
    assert r.status_code == 200, r.text
    return r.json()["data"]["overview"]


def test_a_retried_step_shows_as_running_again_with_its_attempt(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
) -> None:
    ingest(service, [_defined("retry")])
    d = dash()
    page = d.open("/")
    card = page.locator("article.card[data-pipeline='retry']")
    expect(card).to_be_visible()
    run = "retry-run"
    ingest(
        service,
        [
            ev("retry-start", "run.started", "retry", run, data={"trigger": "manual"}),
            ev("retry-s1", "step.started", "retry", run, step="retrieve", attempt=1),
            ev(
                "retry-f1",
                "step.failed",
                "retry",
                run,
                step="retrieve",
                attempt=1,
                data={"error": {"message": "timeout"}, "retryable": True},
            ),
        ],
    )
    expect(card.locator(".current-step")).to_have_text("starting")
    ingest(service, [ev("retry-s2", "step.started", "retry", run, step="retrieve", attempt=2)])
    # The latest attempt wins: the step runs again, and it is the current step.
    expect(card.locator(".current-step")).to_have_text("retrieve (attempt 2)")
    expect(card.locator(".badge")).to_contain_text("running")
    steps = page.evaluate(
        "(id) => window.tracegraph.state.runs.get(id).steps"
        ".map((s) => [s.id, s.attempt, s.status]).sort()",
        run,
    )
    assert steps == [
        ["retry-run/retrieve#1", 1, "FAILED"],
        ["retry-run/retrieve#2", 2, "RUNNING"],
    ]
    # A page loaded now (from the server's snapshot) shows the same card.
    fresh = dash().open("/")
    fresh_card = fresh.locator("article.card[data-pipeline='retry']")
    expect(fresh_card.locator(".current-step")).to_have_text("retrieve (attempt 2)")
    assert d.errors == []


def test_a_newly_scheduled_run_appears_without_a_reload(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
) -> None:
    ingest(service, [_defined("sched")])
    d = dash()
    page = d.open("/")
    card = page.locator("article.card[data-pipeline='sched']")
    expect(card.locator(".badge")).to_contain_text("no runs")
    page.evaluate("window.__marker = 'same page'")
    run = "sched-run"
    ingest(
        service,
        [ev("sched-1", "run.scheduled", "sched", run, data={"scheduled_for": now_iso(600)})],
    )
    expect(card.locator(".badge")).to_contain_text("scheduled")
    expect(page.locator(f"#runs-table tr[data-run='{run}']")).to_contain_text("scheduled")
    assert page.evaluate("window.__marker") == "same page"
    scheduled = page.evaluate(
        "(id) => { const r = window.tracegraph.state.runs.get(id);"
        " return [r.status, r.scheduledFor]; }",
        run,
    )
    assert scheduled[0] == "SCHEDULED" and scheduled[1]
    # It starts later: the same card follows it (and the header counts it as active).
    ingest(service, [ev("sched-2", "run.started", "sched", run, data={"trigger": "schedule"})])
    expect(card.locator(".badge")).to_contain_text("running")
    expect(page.locator("#stat-active")).to_have_text("1")
    assert d.errors == []


def test_the_header_cost_counter_includes_estimated_cost(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
) -> None:
    ingest(service, [_defined("priced")])
    d = dash()
    page = d.open("/")
    expect(page.locator("#stat-conn")).to_contain_text("live")
    run = "priced-run"

    def call(n: int, sent: dict, received: dict) -> list[dict]:
        base = {"provider": "openai", "model": "gpt-4o", "call": f"c{n}", "text": "q"}
        return [
            ev(f"priced-p{n}", "prompt.sent", "priced", run, step="answer", data={**base, **sent}),
            ev(
                f"priced-r{n}",
                "response.received",
                "priced",
                run,
                step="answer",
                data={"call": f"c{n}", **received},
            ),
        ]

    ingest(
        service,
        [
            ev("priced-start", "run.started", "priced", run, data={"trigger": "manual"}),
            # reported by the emitter
            *call(1, {}, {"input_tokens": 100, "output_tokens": 50, "cost_usd": 0.25}),
            # no cost: the server estimates it from its price table
            *call(2, {}, {"input_tokens": 1000, "output_tokens": 500}),
            # no cost, and the input tokens only on the prompt
            *call(3, {"input_tokens": 2000}, {"output_tokens": 300}),
        ],
    )
    server = _overview(service)
    assert server["costTodayUsd"] > 0.25  # the estimates are in the server's figure

    def agrees(h: dict[str, Any], server: dict[str, Any]) -> bool:
        # The same totals as of the same event (a figure that merely matches an older
        # answer by chance does not count).
        return (
            abs(h["cost"] - server["costTodayUsd"]) < 1e-9
            and h["tokens"] == server["tokensToday"]
            and (h["seq"] or 0) >= server["lastSeq"]
        )

    def header() -> dict[str, Any]:
        return page.evaluate(
            "() => { const s = window.tracegraph.state; return {cost: s.cost, tokens: s.tokens,"
            " seq: s.totalsSeq, text: document.querySelector('#stat-cost').textContent}; }"
        )

    live = eventually(
        header,
        until=lambda h: agrees(h, server),
        what=f"the header's live totals to equal the server's {server}",
    )
    # A prompt behind its response brings the call's input tokens, and so its estimate.
    late = call(4, {"input_tokens": 700}, {"output_tokens": 100})
    for part in (late[1:], late[:1]):  # the response, read by the page; then the prompt
        ingest(service, part)
        server = _overview(service)
        live = eventually(
            header,
            until=lambda h, server=server: agrees(h, server),
            what=f"the header's live totals after {part[0]['type']} to equal {server}",
        )
    # And the header reads exactly as on a page loaded now.
    fresh = dash().open("/")
    expect(fresh.locator("#stat-cost")).to_have_text(live["text"])
    expect(page.locator("#stat-cost")).to_have_text(fresh.locator("#stat-cost").inner_text())
    assert d.errors == []
