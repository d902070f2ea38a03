"""Approvals on the dashboard (issue 19): a real SDK executor's step waits at
``step.await_approval``; its pipeline card shows "waiting for approval"; on the run page
a viewer (not an approver) sees Approve disabled with the reason, and an operator
approves with a comment, the step goes on and the page shows who approved and how long
the step waited. Headless Chromium, real service, real Neo4j, a real executor."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import Dash, browser, dash  # noqa: F401 (fixtures)
from tests.conftest import RunningService
from tests.integration.test_approvals import ApprovalPipeline
from tests.support.eventually import eventually


@pytest.fixture
def pipeline(service: RunningService) -> Iterator[ApprovalPipeline]:
    p = ApprovalPipeline(service, "websocket")
    eventually(lambda: p.executor.connected_by == "websocket", what="executor connected")
    yield p
    p.close()


def test_an_operator_approves_a_waiting_step_from_the_run_page(
    dash: Callable[..., Dash],  # noqa: F811
    pipeline: ApprovalPipeline,
) -> None:
    run_id = pipeline.launch()
    d = dash()
    # A viewer: the card's marker leads to the run, where deciding is not theirs.
    page = d.open("/", role="viewer")
    card = page.locator(f'article.card[data-pipeline="{pipeline.name}"]')
    marker = card.locator(".approval-marker")
    expect(marker).to_have_text("⏸ waiting for approval", timeout=15_000)
    marker.click()
    waiting = page.locator("#approvals .approval.pending")
    expect(waiting).to_contain_text("Step gate asks: Ship the new index?", timeout=15_000)
    expect(waiting).to_contain_text("Who may approve: the operator role, an admin")
    expect(waiting).to_contain_text("(timeout 1m 0s)")
    approve = waiting.get_by_role("button", name="Approve step gate")
    expect(approve).to_have_attribute("aria-disabled", "true")
    expect(approve).to_have_attribute("title", "Only the operator role, an admin may decide")

    operator = dash()
    page = operator.open(f"/runs/{run_id}", role="operator")
    waiting = page.locator("#approvals .approval.pending")
    waiting.get_by_label("Comment on the approval of step gate").fill("go ahead", timeout=15_000)
    waiting.get_by_role("button", name="Approve step gate").click()
    decided = page.locator("#approvals .approval.decided")
    expect(decided).to_contain_text("Approved by key:", timeout=15_000)
    expect(decided).to_contain_text("after waiting")
    expect(decided).to_contain_text("“go ahead”")
    expect(page.locator("#panel-run header .badge")).to_contain_text("succeeded", timeout=15_000)
    assert pipeline.results[run_id].comment == "go ahead"
    assert not d.errors, d.errors
    assert not operator.errors, operator.errors
