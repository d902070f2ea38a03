"""The dashboard reads everything, not the first page: a run of 1,000 events and 300
active runs, against the server's page cap (200), in headless Chromium."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from tests.browser.test_dashboard import Dash, browser, dash, ev, ingest  # noqa: F401 (fixtures)
from tests.conftest import RunningService


def test_an_opened_run_shows_all_of_its_1000_events(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
) -> None:
    assert service.settings.max_page_size == 200
    run = "paged-run"
    events = [ev("paged-start", "run.started", "paged", run, data={"trigger": "manual"})]
    events += [
        ev(f"paged-log-{i}", "log", "paged", run, data={"level": "info", "message": f"line {i}"})
        for i in range(999)
    ]
    ingest(service, events)
    d = dash()
    page = d.open(f"/runs/{run}")
    expect(page.locator("#log-scope")).to_have_value("run")
    rows = page.locator("#log-list .logrow")
    expect(rows).to_have_count(999, timeout=15_000)
    expect(page.locator("#log-list")).to_contain_text("line 998")
    assert d.errors == []


def test_the_grid_counts_all_300_active_runs(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
) -> None:
    starts = [
        ev(f"busy-{i}", "run.started", "busy", f"busy-run-{i}", data={"trigger": "manual"})
        for i in range(300)
    ]
    ingest(service, starts)
    d = dash()
    page = d.open("/")
    card = page.locator("article.card[data-pipeline='busy']")
    expect(card.locator(".active-count")).to_have_text("300 active", timeout=15_000)
    assert d.errors == []


def test_a_running_run_off_its_card_is_counted_until_it_ends(
    dash: Callable[..., Dash],  # noqa: F811
    service: RunningService,
) -> None:
    """The card document holds a pipeline's ten newest runs; an older one still running
    counts as active, and stops counting when it ends (a live delta, no reload)."""
    old = ev("aged-0", "run.started", "aged", "aged-run-old", data={"trigger": "manual"})
    old["time"] = "2026-01-01T00:00:00Z"
    ingest(service, [old])
    ingest(
        service,
        [
            ev(f"aged-{i}", "run.started", "aged", f"aged-run-{i}", data={"trigger": "manual"})
            for i in range(1, 11)
        ],
    )
    d = dash()
    page = d.open("/")
    card = page.locator("article.card[data-pipeline='aged']")
    expect(card.locator(".active-count")).to_have_text("11 active")
    ingest(service, [ev("aged-end", "run.completed", "aged", "aged-run-old")])
    expect(card.locator(".active-count")).to_have_text("10 active")
    # A newer run leaving the card while running still counts.
    ingest(
        service, [ev("aged-11", "run.started", "aged", "aged-run-11", data={"trigger": "manual"})]
    )
    expect(card.locator(".active-count")).to_have_text("11 active")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert d.errors == []
