"""The dashboard's controls (issue 18, items 5 and 8) in headless Chromium, against a real
service over a real Neo4j with the demo's workload streaming through its SDK executor
(which honours commands), sped up so its runs are short.

Runs that a test must find still going when it acts (pause and resume, Space, the batch,
the step retry) are runs of a test pipeline driven by a real SDK executor
(tests/support/executors.py): the demo's own runs end at their own pace, and another of
the same pipeline may start at any moment, which would make "the card's active run" a
moving target. The demo's runs are cancelled and started from the page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.test_commands_ui import pipeline  # noqa: F401 (fixture)
from tests.browser.test_dashboard import Dash, browser, dash, ingest  # noqa: F401 (fixtures)
from tests.conftest import RunningService
from tests.support.commands import ok
from tests.support.demo import demo_workload
from tests.support.eventually import eventually
from tests.support.executors import Pipeline

OPERATE_REASON = "Needs the operator role (permission operate)"
SLA_REASON = "Needs the admin role (permission admin:slas)"
VERSION = "query($id: ID!) { run(id: $id) { version } }"
RUN = "query($id: ID!) { run(id: $id) { status } }"
LONG = {"steps": 5000, "step_s": 0.2}  # runs that last until a test ends them


@pytest.fixture
def demo(service: RunningService) -> Iterator[RunningService]:
    with demo_workload(service, speed=3.0):
        yield service


def _card(page: Page, name: str) -> Locator:
    return page.locator(f"article.card[data-pipeline='{name}']")


def _status(service: RunningService, run_id: str) -> str | None:
    run = ok(service, "viewer", RUN, id=run_id)["run"]
    return None if run is None else str(run["status"])


def _event_count(service: RunningService, run_id: str) -> int:
    """The run's committed events (its version: duplicates do not count)."""
    return int(ok(service, "viewer", VERSION, id=run_id)["run"]["version"])


def _enabled(button: Locator) -> None:
    expect(button).not_to_have_attribute("aria-disabled", "true", timeout=15_000)


def _row_badge(page: Page, run_id: str) -> Locator:
    return page.locator(f"#runs-table tr[data-run='{run_id}'] .badge")


def test_a_card_pauses_and_resumes_its_active_run_and_space_does_too(
    demo: RunningService,
    pipeline: Pipeline,  # noqa: F811
    dash: Callable[..., Dash],  # noqa: F811
) -> None:
    run = pipeline.executor.launch(pipeline.name, LONG)
    d = dash()
    page = d.open("/", role="operator")
    card = _card(page, pipeline.name)
    pause = card.get_by_role("button", name=f"Pause the active run of {pipeline.name}")
    resume = card.get_by_role("button", name=f"Resume the active run of {pipeline.name}")
    _enabled(pause)
    expect(pause).to_have_attribute("data-for-run", run.id)
    expect(resume).to_have_attribute("title", "Run is not paused (it is running)")
    state = card.locator(f".command-state[data-target='{run.id}']")

    pause.click()
    expect(state).to_contain_text("pause: done", timeout=15_000)
    expect(card.locator(".card-title .badge")).to_contain_text("paused", timeout=15_000)
    expect(_row_badge(page, run.id)).to_contain_text("paused")
    # Paused: no new event of the run while we look.
    eventually(lambda: _status(demo, run.id) == "PAUSED", what="PAUSED in the graph")
    before = _event_count(demo, run.id)
    page.wait_for_timeout(1500)  # an observation window, not a wait for a condition
    assert _event_count(demo, run.id) == before
    expect(pause).to_have_attribute("title", "Run is already paused")

    _enabled(resume)
    resume.click()
    expect(state).to_contain_text("resume: done", timeout=15_000)
    expect(card.locator(".card-title .badge")).to_contain_text("running", timeout=15_000)
    eventually(lambda: _event_count(demo, run.id) > before + 2, timeout=20, what="the run goes on")

    # Space: the selected card's active run (a click on the card selects it).
    card.locator(".progress").click()
    expect(card).to_have_attribute("aria-current", "true")
    page.keyboard.press("Space")
    expect(state).to_contain_text("pause: done", timeout=15_000)
    expect(card.locator(".card-title .badge")).to_contain_text("paused", timeout=15_000)
    page.keyboard.press("Space")
    expect(state).to_contain_text("resume: done", timeout=15_000)
    expect(card.locator(".card-title .badge")).to_contain_text("running", timeout=15_000)
    # Not while typing: Space in the filter box is a space.
    page.locator("#pipeline-filter").fill("")
    page.locator("#pipeline-filter").press("Space")
    expect(page.locator("#pipeline-filter")).to_have_value(" ")
    assert _status(demo, run.id) == "RUNNING"
    d.shot("controls-card-actions")
    assert not d.errors, d.errors


def test_cancel_a_demo_run_from_its_card(
    demo: RunningService,
    dash: Callable[..., Dash],  # noqa: F811
) -> None:
    d = dash()
    page = d.open("/", role="operator")
    refusals = []
    # A demo run may end between the page enabling Cancel and the click landing (refused as
    # a command on a finished run): then the next running one is taken.
    for _ in range(5):
        enabled = "article.card button[data-action='cancel']:not([aria-disabled='true'])"
        expect(page.locator(enabled).first).to_be_visible(timeout=60_000)
        run_id = page.locator(enabled).first.get_attribute("data-for-run")
        assert run_id
        try:  # the button of that run (a card may have moved on to a newer run meanwhile)
            page.locator(f"{enabled}[data-for-run='{run_id}']").click(timeout=3000)
        except PlaywrightTimeout:
            continue
        state = page.locator(f"article.card .command-state[data-target='{run_id}']")
        expect(state).to_contain_text(
            re.compile(r"cancel: (done|refused|rejected)"), timeout=20_000
        )
        if "cancel: done" in (state.text_content() or ""):
            break
        refusals.append(state.text_content())
        assert "finished" in (state.text_content() or ""), refusals
    else:
        raise AssertionError(f"every run finished before its cancel: {refusals}")
    expect(_row_badge(page, run_id)).to_contain_text("cancelled", timeout=15_000)
    eventually(lambda: _status(demo, run_id) == "CANCELLED", what="CANCELLED in the graph")
    assert not d.errors, d.errors


def test_start_a_run_with_parameters_from_the_dialog(
    demo: RunningService,
    dash: Callable[..., Dash],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The demo's executor runs in this process: the secret it resolves by name.
    monkeypatch.setenv("OPENAI_KEY_PROD", "resolved-by-the-executor")
    d = dash()
    page = d.open("/", role="operator")
    card = _card(page, "rag-nightly")
    card.get_by_role("button", name="Start a run of rag-nightly").click()
    dlg = page.locator("#dlg-start")
    expect(dlg).to_be_visible()
    dlg.locator("#start-params").fill('{"corpus": "from-the-dialog", "limit": 3}')
    # A pasted secret (and a bad line) is refused on the page: nothing is sent.
    dlg.locator("#start-env").fill("LOG_LEVEL=debug\nOPENAI_API_KEY=sk-live-abcdefghijklmnop\n9X=1")
    dlg.locator("#start-submit").click()
    errors = dlg.locator("#start-errors li")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("OPENAI_API_KEY looks like a secret")
    expect(errors.nth(1)).to_contain_text('"9X" is not a variable name')
    dlg.locator("#start-params").fill("[1, 2]")
    dlg.locator("#start-env").fill("LOG_LEVEL=debug")
    dlg.locator("#start-submit").click()
    expect(errors).to_have_text(["Parameters: must be a JSON object, not a list"])
    commands = 'query { commands(pipeline: "rag-nightly") { id kind env params resultRun } }'
    assert ok(demo, "viewer", commands)["commands"] == []
    # Reopened for another pipeline, the dialog does not carry these values over (one
    # Enter would have sent them, secret references included, to the wrong pipeline).
    dlg.get_by_role("button", name="Cancel").click()
    _card(page, "eval-suite").get_by_role("button", name="Start a run of eval-suite").click()
    expect(dlg.locator("#start-params")).to_have_value("")
    expect(dlg.locator("#start-env")).to_have_value("")
    dlg.get_by_role("button", name="Cancel").click()
    card.get_by_role("button", name="Start a run of rag-nightly").click()

    dlg.locator("#start-params").fill('{"corpus": "from-the-dialog", "limit": 3}')
    dlg.locator("#start-env").fill("LOG_LEVEL=debug\nOPENAI_API_KEY={secret: OPENAI_KEY_PROD}")
    dlg.locator("#start-submit").click()
    expect(dlg).to_be_hidden()
    state = card.locator(".command-state[data-target='start:rag-nightly']")
    expect(state).to_contain_text("start: done", timeout=20_000)
    (cmd,) = ok(demo, "viewer", commands)["commands"]
    assert cmd["params"] == {"corpus": "from-the-dialog", "limit": 3}
    assert cmd["env"] == {"LOG_LEVEL": "debug", "OPENAI_API_KEY": {"secret": "OPENAI_KEY_PROD"}}
    # The run it started, with those parameters, on its page.
    state.get_by_role("link", name=cmd["resultRun"]).click()
    expect(page).to_have_url(f"{demo.base_url}/runs/{cmd['resultRun']}")
    params = page.locator("#run-params")
    expect(params).to_be_visible(timeout=20_000)
    assert json.loads(params.text_content() or "")["corpus"] == "from-the-dialog"
    assert not d.errors, d.errors


def test_retry_a_failed_step_from_the_run_page_runs_a_new_attempt(
    demo: RunningService,
    pipeline: Pipeline,  # noqa: F811
    dash: Callable[..., Dash],  # noqa: F811
) -> None:
    run = pipeline.executor.launch(pipeline.name, {"flaky": True})
    d = dash()
    page = d.open(f"/runs/{run.id}", role="operator")
    failed = page.locator("#gantt button.bar[data-step='flaky'][data-attempt='1']")
    expect(failed).to_have_class(re.compile("st-failed"), timeout=20_000)
    failed.click()
    retry = page.get_by_role("button", name="Retry step flaky attempt 1")
    _enabled(retry)
    retry.click()
    expect(page.locator("#step-detail .command-state")).to_contain_text(
        "retry: done", timeout=20_000
    )
    second = page.locator("#gantt button.bar[data-step='flaky'][data-attempt='2']")
    expect(second).to_be_visible(timeout=20_000)
    expect(page.locator("#panel-run header.panel-head .badge").first).to_contain_text(
        "succeeded", timeout=20_000
    )
    # The first attempt is superseded: its retry is disabled with that reason.
    failed.click()
    expect(retry).to_have_attribute(
        "title", "Superseded by attempt 2: retry the latest attempt", timeout=10_000
    )
    assert not d.errors, d.errors


def test_batch_cancel_three_runs_from_the_bar(
    demo: RunningService,
    pipeline: Pipeline,  # noqa: F811
    dash: Callable[..., Dash],  # noqa: F811
) -> None:
    runs = [pipeline.executor.launch(pipeline.name, LONG).id for _ in range(3)]
    d = dash()
    page = d.open("/", role="operator")
    for r in runs:
        expect(_row_badge(page, r)).to_contain_text("running", timeout=20_000)
    # A checkbox, then Ctrl+click on the other two rows.
    page.get_by_role("checkbox", name=f"Select run {runs[0]}").check()
    for r in runs[1:]:
        page.locator(f"#runs-table tr[data-run='{r}'] td.num").first.click(modifiers=["Control"])
    bar = page.get_by_role("toolbar", name="Batch actions on the selected runs")
    expect(bar).to_contain_text("3 selected")
    expect(bar.get_by_role("button", name="Resume 3 selected runs")).to_have_attribute(
        "aria-disabled", "true"
    )
    bar.get_by_role("button", name="Cancel 3 selected runs").click()
    for r in runs:
        expect(bar.locator(f"li[data-for-run='{r}']")).to_contain_text(
            "cancel: done", timeout=20_000
        )
        expect(_row_badge(page, r)).to_contain_text("cancelled", timeout=20_000)
    # One idempotency key for the batch: item i is keyed <key>#<i>.
    listed = ok(
        demo,
        "viewer",
        "query($p: String) { commands(pipeline: $p) { run kind idempotencyKey } }",
        p=pipeline.name,
    )["commands"]
    keys = {c["run"]: c["idempotencyKey"] for c in listed if c["kind"] == "CANCEL"}
    assert set(keys) == set(runs)
    assert len({k.rsplit("#", 1)[0] for k in keys.values()}) == 1
    assert sorted(k.rsplit("#", 1)[1] for k in keys.values()) == ["0", "1", "2"]
    # Now finished: the card says why nothing applies.
    card = _card(page, pipeline.name)
    expect(
        card.get_by_role("button", name=f"Cancel the active run of {pipeline.name}")
    ).to_have_attribute("title", "Run is finished (cancelled)")
    assert not d.errors, d.errors


def test_a_viewer_sees_every_control_disabled_with_the_reason(
    demo: RunningService,
    pipeline: Pipeline,  # noqa: F811
    dash: Callable[..., Dash],  # noqa: F811
) -> None:
    run = pipeline.executor.launch(pipeline.name, LONG)
    d = dash()
    page = d.open("/", role="viewer")
    card = _card(page, pipeline.name)
    buttons = card.locator("button[data-action]")
    expect(buttons).to_have_count(5, timeout=15_000)
    for i in range(5):
        expect(buttons.nth(i)).to_have_attribute("aria-disabled", "true")
        expect(buttons.nth(i)).to_have_attribute("title", OPERATE_REASON)
    # Clicking and Space do nothing.
    card.get_by_role("button", name=f"Pause the active run of {pipeline.name}").click(force=True)
    card.locator(".progress").click()
    page.keyboard.press("Space")
    expect(page.locator(".command-state")).to_have_count(0)
    # The batch bar too.
    page.get_by_role("checkbox", name=f"Select run {run.id}").check()
    bar = page.get_by_role("toolbar", name="Batch actions on the selected runs")
    for kind in ("Pause", "Resume", "Cancel", "Retry"):
        b = bar.get_by_role("button", name=f"{kind} 1 selected runs")
        expect(b).to_have_attribute("aria-disabled", "true")
        expect(b).to_have_attribute("title", OPERATE_REASON)
    # A chart's "create alert" (admins only), then the run page's actions.
    chart = page.locator("figure.chart").first
    expect(chart).to_be_visible(timeout=15_000)
    chart.click(button="right")
    alert = page.get_by_role("menuitem", name=re.compile("Create alert"))
    expect(alert).to_have_attribute("aria-disabled", "true")
    expect(alert).to_have_attribute("title", SLA_REASON)
    page.keyboard.press("Escape")
    expect(alert).to_have_count(0)
    page.goto(f"{demo.base_url}/runs/{run.id}")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    for kind in ("Pause", "Resume", "Cancel", "Retry"):
        b = page.get_by_role("button", name=f"{kind} run {run.id}")
        expect(b).to_have_attribute("title", OPERATE_REASON, timeout=15_000)
        expect(b).to_be_disabled()
    assert _status(demo, run.id) == "RUNNING"
    d.shot("controls-viewer")
    assert not d.errors, d.errors


def test_f5_refreshes_the_view_in_place(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
    example_events: list[dict[str, Any]],
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open("/")
    expect(_card(page, "rag-nightly")).to_be_visible()
    page.evaluate("window.__marker = 'same page'")
    reads: list[str] = []
    page.on(
        "request",
        lambda r: (
            reads.append(r.post_data or "")
            if r.url.endswith("/graphql") and r.method == "POST"
            else None
        ),
    )
    page.locator("body").focus()
    page.keyboard.press("F5")
    expect(page.locator("body")).to_have_attribute("data-refreshes", "1", timeout=15_000)
    assert page.evaluate("window.__marker") == "same page"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    snapshot_reads = [json.loads(r) for r in reads if "snapshots" in r]
    assert any("pipeline:rag-nightly" in q["variables"]["entities"] for q in snapshot_reads)
    assert any("overview" in json.loads(r)["query"] for r in reads)
    assert not d.errors, d.errors


def _clipboard(page: Page) -> str:
    return str(page.evaluate("navigator.clipboard.readText()"))


def test_context_menus_of_a_card_a_step_and_a_chart(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
    example_events: list[dict[str, Any]],
) -> None:
    ingest(service, example_events)
    d = dash()
    d.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=service.base_url)
    page = d.open("/")
    card = _card(page, "rag-nightly")
    expect(card).to_be_visible()

    # Right-click: the menu, its first item focused; arrows move; Esc closes, focus returns.
    card.click(button="right")
    menu = page.get_by_role("menu", name="Pipeline rag-nightly")
    expect(menu).to_be_visible()
    items = menu.get_by_role("menuitem")
    expect(items.first).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(page).to_have_url(f"{service.base_url}/")  # Esc closed the menu, nothing more

    # From the keyboard: Shift+F10 on the focused card; copy the config as JSON.
    card.focus()
    page.keyboard.press("Shift+F10")
    expect(menu).to_be_visible()
    menu.get_by_role("menuitem", name="Copy config (JSON)").press("Enter")
    expect(menu).to_have_count(0)
    expect(card).to_be_focused()
    config = eventually(lambda: json.loads(_clipboard(page)), what="config on the clipboard")
    assert config["pipeline"] == "rag-nightly"
    assert config["steps"] and all(s["key"] for s in config["steps"])

    # Export results: the pipeline's runs as CSV.
    card.click(button="right")
    with page.expect_download() as dl:
        menu.get_by_role("menuitem", name="Export results (CSV)").click()
    text = Path(dl.value.path()).read_bytes().decode()
    assert text.startswith("id,status,trigger,startedAt")
    assert "run-rag-0001,SUCCEEDED" in text

    # A step of the run: copy its prompt, view its raw data.
    page.goto(f"{service.base_url}/runs/run-rag-0001")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    bar = page.locator("#gantt button.bar[data-step='eval']").last
    expect(bar).to_be_visible(timeout=15_000)
    bar.click(button="right")
    step_menu = page.get_by_role("menu", name="Step eval")
    step_menu.get_by_role("menuitem", name="Copy prompt").click()
    prompt = eventually(_clipboard_nonempty(page), what="prompt on the clipboard")
    assert "Question: How do I rotate an API key?" in prompt, prompt
    bar.click(button="right")
    step_menu.get_by_role("menuitem", name="View raw data").click()
    raw = page.locator("#dlg-raw")
    expect(raw).to_be_visible()
    assert json.loads(raw.locator("#dlg-raw-body").text_content() or "")["calls"]
    page.keyboard.press("Escape")
    expect(raw).to_be_hidden()

    # A chart (home page): export its data, create an alert (an SLA through setSla).
    page.go_back()
    chart = page.locator("figure.chart[data-chart='Tokens over time']")
    expect(chart).to_be_visible(timeout=15_000)
    chart.click(button="right")
    chart_menu = page.get_by_role("menu", name="Chart Tokens over time")
    with page.expect_download() as dl:
        chart_menu.get_by_role("menuitem", name="Export data (CSV)").click()
    assert Path(dl.value.path()).read_bytes().decode().startswith("time,input,output\r\n")
    chart.click(button="right")
    chart_menu.get_by_role("menuitem", name="Create alert…").click()
    form = page.locator("#dlg-alert")
    expect(form).to_be_visible()
    form.locator("#alert-pipeline").select_option("rag-nightly")
    form.locator("#alert-field").select_option("maxTokens")
    form.locator("#alert-value").fill("-3")
    form.locator("#alert-submit").click()
    expect(form.locator("#alert-errors li")).to_have_text(["Threshold: a number above 0"])
    form.locator("#alert-value").fill("50000")
    form.locator("#alert-submit").click()
    expect(form.locator("#alert-result")).to_have_text("Alert created on rag-nightly.")
    sla = ok(service, "admin", 'query { pipeline(name: "rag-nightly") { sla { maxTokens } } }')
    assert sla["pipeline"]["sla"]["maxTokens"] == 50000
    assert not d.errors, d.errors


def _clipboard_nonempty(page: Page) -> Callable[[], str]:
    def read() -> str:
        text = _clipboard(page)
        assert text
        return text

    return read
