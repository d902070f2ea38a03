"""The configuration panel (issue 18, item 4): an admin opens a pipeline's definition
as YAML, introduces a dependency cycle and sees the error at its line (gutter and list,
a click selects the line), fixes it, sees the diff to the current version, submits, and
the pipeline shows the new version; a viewer's submit is disabled with the role it needs.
Headless Chromium, real service, real Neo4j."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from tests.browser.test_dashboard import Dash, browser, dash  # noqa: F401 (fixtures)
from tests.conftest import RunningService
from tests.support.definitions import V1, V2_YAML, define
from tests.support.live import unique

# fetch (defined first) now depends on index: the cycle closes at line 8.
CYCLE = V2_YAML.replace("    name: Fetch\n", "    name: Fetch\n    depends_on: [index]\n")


def test_an_admin_edits_validates_diffs_and_submits_a_definition(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
) -> None:
    pipeline = unique("cfg")
    define(service, pipeline, V1)
    d = dash()
    # Version 2 hands the pipeline over to another team: an owner change needs an admin.
    page = d.open("/config", role="admin")
    page.get_by_role("link", name=pipeline, exact=True).click()
    editor = page.locator("#config-yaml")
    expect(page.locator("#config-current")).to_have_text("current v1", timeout=15_000)
    assert editor.input_value().startswith("version: '1'\n")
    submit = page.locator("#config-submit")
    expect(page.locator("#config-submit-reason")).to_have_text("No change to the current version")

    # A cycle: marked at line 8 in the gutter and listed; the submit button says why not.
    editor.fill(CYCLE)
    problem = page.locator("#config-problems li")
    expect(problem).to_have_count(1, timeout=15_000)
    expect(problem).to_contain_text("Line 8:18")
    expect(problem).to_contain_text("steps form a dependency cycle: fetch -> embed -> index")
    marked = page.locator("#config-gutter .gutter-line.has-error")
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("data-line", "8")
    expect(submit).to_be_disabled()
    expect(page.locator("#config-submit-reason")).to_have_text("Fix 1 problem first")
    # The list jumps to the line: the editor selects line 8.
    problem.get_by_role("button").click()
    selected = editor.evaluate("t => t.value.slice(t.selectionStart, t.selectionEnd)")
    assert selected == "    depends_on: [index]"

    # Fixed: no problem, the diff to version 1, and submit enabled.
    editor.fill(V2_YAML)
    expect(problem).to_have_count(0, timeout=15_000)
    expect(marked).to_have_count(0)
    diff = page.locator("#config-diff")
    expect(diff.locator("h3")).to_have_text("Changes: v1 → v2")
    expect(diff.locator("li[data-kind=changed]")).to_contain_text(
        'pipeline · owner "team:search" → "team:platform"'
    )
    expect(diff.locator("li[data-kind=added]")).to_contain_text("step index")
    expect(submit).to_be_enabled()
    submit.click()
    expect(page.locator("#config-result")).to_contain_text(
        f"Version 2 of {pipeline} is live", timeout=15_000
    )
    expect(page.locator("#config-current")).to_have_text("current v2")

    # The pipeline's own page shows the new version.
    page.goto(f"{service.base_url}/pipelines/{pipeline}")
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=15_000)
    expect(page.locator("#panel-pipelines .panel-head .chip")).to_have_text("v2", timeout=15_000)
    assert not d.errors, d.errors


def test_a_viewer_validates_but_cannot_submit(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
) -> None:
    pipeline = unique("cfg")
    define(service, pipeline, V1)
    d = dash()
    page = d.open(f"/config/{pipeline}", role="viewer")
    editor = page.locator("#config-yaml")
    expect(page.locator("#config-current")).to_have_text("current v1", timeout=15_000)
    editor.fill(V2_YAML)
    expect(page.locator("#config-diff h3")).to_have_text("Changes: v1 → v2", timeout=15_000)
    submit = page.locator("#config-submit")
    expect(submit).to_be_disabled()
    expect(submit).to_have_attribute(
        "title", "Needs the operate permission (operator or admin role)"
    )
    expect(page.locator("#config-submit-reason")).to_have_text(
        "Needs the operate permission (operator or admin role)"
    )
    assert not d.errors, d.errors
