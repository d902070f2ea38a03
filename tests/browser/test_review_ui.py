"""Reviewer screens and the run page's time slider (issue 19 items 6 and 7), in headless
Chromium against the real service and Neo4j: a reviewer fixes and re-submits a
quarantined event, filters the audit trail and downloads it as CSV (the whole filtered
set, past the visible page), and scrubs a finished run back to when it was running."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.test_dashboard import Dash, browser, dash, ingest  # noqa: F401 (fixtures)
from tests.conftest import RunningService
from tests.support.live import log_event, unique

SET_OWNER = "mutation($p: String!, $o: String!) { setOwner(pipeline: $p, owner: $o) { name } }"


def test_a_reviewer_fixes_and_resubmits_a_quarantined_event(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
) -> None:
    pipeline = unique("qui")
    broken = log_event(pipeline, 0)
    broken["data"]["level"] = "loud"
    with service.client("ingester") as http:
        assert http.post("/v1/events", json=[broken]).status_code == 207

    d = dash()
    page = d.open("/quarantine", role="reviewer")
    row = page.locator("#quarantine-table tbody tr", has_text=pipeline)
    expect(row).to_contain_text("data.level", timeout=15_000)
    row.click()
    editor = page.locator("#quarantine-editor")
    expect(editor).to_have_value(re.compile(r'"level": "loud"'))
    # As received it is still invalid: said so, nothing resolved.
    page.locator("#quarantine-resubmit").click()
    result = page.locator("#quarantine-result")
    expect(result).to_contain_text("Still invalid, nothing stored", timeout=15_000)
    expect(result).to_contain_text("data.level")
    editor.fill(editor.input_value().replace('"loud"', '"info"'))
    page.locator("#quarantine-resubmit").click()
    expect(result).to_contain_text("Stored as seq", timeout=15_000)
    expect(page.locator("#quarantine-resolved")).to_contain_text("resubmitted by key:test-reviewer")
    expect(row).to_contain_text("resubmitted")

    viewer = dash().open("/quarantine", role="viewer")
    expect(viewer.locator("#review-unavailable")).to_have_text(
        "Needs the quarantine permission (reviewer or admin role)."
    )
    assert not d.errors, d.errors


TRAIL = """query($after: String) {
  auditTrail(action: "owner.changed", target: "pipeline:rag-nightly", first: 100, after: $after) {
    edges { node { id } } pageInfo { hasNextPage endCursor } } }"""


def filtered_trail(service: RunningService) -> list[dict]:
    """The filtered trail as the API pages it, newest first."""
    out: list[dict] = []
    after = None
    with service.client("reviewer") as http:
        while True:
            body = http.post("/graphql", json={"query": TRAIL, "variables": {"after": after}})
            trail = body.json()["data"]["auditTrail"]
            out += [e["node"] for e in trail["edges"]]
            if not trail["pageInfo"]["hasNextPage"]:
                return out
            after = trail["pageInfo"]["endCursor"]


def test_a_reviewer_filters_the_audit_trail_and_exports_the_filtered_set(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
    example_events: list[dict],
) -> None:
    ingest(service, example_events)
    changes = 56  # more than a page (50): the export must page through all of them
    with service.client("admin") as http:
        for i in range(changes):
            body = http.post(
                "/graphql",
                json={
                    "query": SET_OWNER,
                    "variables": {"p": "rag-nightly", "o": f"team:t{i % 2}"},
                },
            ).json()
            assert not body.get("errors"), body

    expected = filtered_trail(service)
    assert len(expected) > 50 + 1  # past the first page

    d = dash()
    page = d.open("/audit", role="reviewer")
    rows = page.locator("#audit-table tbody tr")
    expect(rows.first).to_be_visible(timeout=15_000)
    page.locator("#audit-action").fill("owner.changed")
    page.locator("#audit-target").fill("pipeline:rag-nightly")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#audit-table")).to_have_attribute(
        "data-action", "owner.changed", timeout=15_000
    )
    expect(rows).to_have_count(50)
    for text in rows.locator("td:nth-child(3)").all_inner_texts():
        assert text == "owner.changed"
    expect(page.locator("#audit-next")).to_be_enabled()
    page.locator("#audit-next").click()
    expect(page.locator("#audit-page")).to_have_text("Page 2")
    expect(rows).to_have_count(len(expected) - 50)

    with page.expect_download() as dl:
        page.locator("#audit-csv").click()
    exported = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert [r["id"] for r in exported] == [e["id"] for e in expected]
    assert {r["action"] for r in exported} == {"owner.changed"}
    assert exported[0]["after"] == '{"owner":"team:t1"}'
    assert not d.errors, d.errors


def test_the_run_slider_scrubs_back_to_an_earlier_status(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
    example_events: list[dict],
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open("/runs/run-rag-0001", role="viewer")
    head = page.locator("#panel-run .panel-head")
    expect(head.locator(".badge")).to_have_text("✓ succeeded", timeout=15_000)
    slider = page.locator("#timeslider-range")
    expect(slider).to_be_visible(timeout=15_000)
    expect(page.locator("#timeslider-label")).to_have_text("Live")

    slider.fill("1")  # the run's second event: run.started
    label = page.locator("#timeslider-label")
    expect(label).to_contain_text("As of ")
    expect(label).to_contain_text(" · seq ")
    expect(head.locator(".badge")).to_have_text("▶ running", timeout=15_000)
    expect(page.locator("#timeslider")).to_have_attribute("data-live", "0")
    page.get_by_role("button", name="Live").click()
    expect(label).to_have_text("Live")
    expect(head.locator(".badge")).to_have_text("✓ succeeded")
    assert not d.errors, d.errors
