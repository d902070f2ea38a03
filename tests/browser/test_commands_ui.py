"""Run actions on the dashboard (issue 18): an operator pauses a run of a real SDK
executor (status PAUSED on the page, no step while paused), resumes it with Space and
cancels it; a viewer sees the actions disabled with the reason. Headless Chromium, real
service, real Neo4j, a real executor."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.test_dashboard import Dash, browser, dash  # noqa: F401 (fixtures)
from tests.conftest import RunningService
from tests.support.eventually import eventually
from tests.support.executors import Pipeline


@pytest.fixture
def pipeline(service: RunningService) -> Iterator[Pipeline]:
    p = Pipeline(service, "websocket")
    eventually(lambda: p.executor.connected_by == "websocket", what="executor connected")
    yield p
    p.close()


def test_an_operator_pauses_resumes_and_cancels_a_run_from_the_run_page(
    dash: Callable[..., Dash],  # noqa: F811
    pipeline: Pipeline,
) -> None:
    run = pipeline.executor.launch(pipeline.name, {"steps": 2000, "step_s": 0.02})
    d = dash()
    page = d.open(f"/runs/{run.id}", role="operator")
    head = page.locator("#panel-run header.panel-head")
    expect(head.locator(".badge")).to_contain_text("running", timeout=15_000)
    head.get_by_role("button", name=f"Pause run {run.id}").click()
    expect(head.locator(".command-state")).to_contain_text("pause: done", timeout=15_000)
    expect(head.locator(".badge")).to_contain_text("paused", timeout=15_000)
    # Paused: the run's step count on the page stays put while we look.
    steps = page.locator("#gantt [role=listitem]").count()
    page.wait_for_timeout(1000)  # an observation window, not a wait for a condition
    assert page.locator("#gantt [role=listitem]").count() == steps
    # Controls that do not apply stay focusable (aria-disabled, with the reason): Space on
    # a focused button is that button's, so take the focus off it first.
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("Space")
    expect(head.locator(".badge")).to_contain_text("running", timeout=15_000)
    expect(head.locator(".command-state")).to_contain_text("resume: done")
    head.get_by_role("button", name=f"Cancel run {run.id}").click()
    expect(head.locator(".badge")).to_contain_text("cancelled", timeout=15_000)
    assert not d.errors, d.errors


def test_without_operate_the_actions_are_disabled_with_the_reason(
    dash: Callable[..., Dash],  # noqa: F811
    pipeline: Pipeline,
) -> None:
    run = pipeline.executor.launch(pipeline.name, {"steps": 2000, "step_s": 0.02})
    d = dash()
    page = d.open(f"/runs/{run.id}", role="viewer")
    pause = page.get_by_role("button", name=f"Pause run {run.id}")
    expect(pause).to_be_disabled(timeout=15_000)
    expect(pause).to_have_attribute("title", "Needs the operator role (permission operate)")
    page.locator("body").focus()
    page.keyboard.press("Space")  # does nothing for a viewer
    expect(page.locator("#panel-run .command-state")).to_have_count(0)
    assert not d.errors, d.errors
