"""The lineage view's columns (issue 22, docs/columns.md): an artifact expands into its
fields with the field-level edges between them ("Columns"), a field opens its own
column-level lineage, and the blast radius of a field lists what reads it. Headless
Chromium, real service, real Neo4j."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Browser, expect

from tests.browser.test_dashboard import Dash, browser, dash, ingest  # noqa: F401 (fixtures)
from tests.conftest import RunningService

RAW, CLEAN, REPORT = "warehouse/raw.orders", "warehouse/clean.orders", "warehouse/finance.report"


def _event(n: int, type_: str, step: str | None, **data: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": f"cols-ui-{n}",
        "type": type_,
        "time": f"2026-11-20T03:00:{n:02d}Z",
        "source": "test/columns-ui",
        "pipeline": "orders-nightly",
        "run": "cols-ui-run",
        "data": data,
    }
    if step is not None:
        event["step"] = step
    return event


def _events() -> list[dict[str, Any]]:
    """raw.orders -> clean (id, amount_usd from amount) -> report (total from amount_usd),
    the report owned by team:finance."""
    raw_schema = {"fields": [{"name": "id", "type": "BIGINT"}, {"name": "amount", "type": "DEC"}]}
    return [
        _event(1, "run.started", None),
        _event(2, "step.started", "clean"),
        _event(3, "artifact.read", "clean", uri=RAW, version="v1", schema=raw_schema),
        _event(4, "artifact.written", "clean", uri=CLEAN, version="c1",
               schema={"fields": [{"name": "id", "type": "BIGINT"},
                                  {"name": "amount_usd", "type": "DEC"}]},
               column_lineage=[
                   {"field": "id", "inputs": [{"uri": RAW, "field": "id", "subtype": "IDENTITY"}]},
                   {"field": "amount_usd", "description": "amount * fx",
                    "inputs": [{"uri": RAW, "field": "amount", "type": "DIRECT",
                                "subtype": "TRANSFORMATION"}]},
               ]),
        _event(5, "step.completed", "clean"),
        _event(6, "step.started", "report"),
        _event(7, "artifact.read", "report", uri=CLEAN, version="c1"),
        _event(8, "artifact.written", "report", uri=REPORT, version="r1", owner="team:finance",
               schema={"fields": [{"name": "total", "type": "DEC"}]},
               column_lineage=[{"field": "total", "description": "sum(amount_usd)",
                                "inputs": [{"uri": CLEAN, "field": "amount_usd",
                                            "type": "DIRECT", "subtype": "AGGREGATION"}]}]),
        _event(9, "step.completed", "report"),
        _event(10, "run.completed", None),
        # raw.orders v2 drops amount and retypes id: breaking for clean and the report.
        _event(11, "artifact.written", "load", uri=RAW, version="v2",
               schema={"fields": [{"name": "id", "type": "TEXT"}]}),
    ]  # fmt: skip


def test_lineage_view_expands_an_artifact_into_its_columns(
    dash: Callable[..., Dash],  # noqa: F811
    browser: Browser,  # noqa: F811
    service: RunningService,
) -> None:
    ingest(service, _events())
    d = dash()
    page = d.open(f"/lineage?uri={REPORT}")
    nodes = page.locator("#graph-nodes")
    expect(nodes).to_contain_text(f"{RAW} @ v1", timeout=15_000)
    expect(nodes.locator("li[data-kind=FIELD]")).to_have_count(0)

    columns = page.locator("#graph-columns")
    expect(columns).to_have_text("Columns")
    expect(columns).to_have_attribute("aria-pressed", "false")
    columns.click()
    expect(page).to_have_url(f"{service.base_url}/lineage?uri=warehouse%2Ffinance.report&columns=1")
    fields = page.locator("#graph-nodes li[data-kind=FIELD]")
    # Every version upstream of the report, in its fields: 2 + 2 + 1.
    expect(fields).to_have_count(5, timeout=15_000)
    expect(page.locator("#graph-nodes")).to_contain_text("finance.report @ r1 · total: DEC")
    expect(page.locator("#graph-nodes")).to_contain_text("clean.orders @ c1 · amount_usd: DEC")
    # Field-level edges: amount -> amount_usd, id -> id, amount_usd -> total.
    expect(page.locator("#graph-columns-note")).to_contain_text("5 fields, 3 field-level edges")
    expect(page.locator("#cy canvas").first).to_be_visible()
    d.shot("20-lineage-columns")

    # A field opens its own column-level lineage: the report's total back to raw amount.
    fields.filter(has_text="total").locator("a").click()
    expect(page).to_have_url(
        f"{service.base_url}/lineage?uri=warehouse%2Ffinance.report&version=r1&field=total"
    )
    field_nodes = page.locator("#graph-nodes li[data-kind=FIELD]")
    expect(field_nodes).to_have_count(3, timeout=15_000)
    expect(page.locator("#graph-nodes")).to_contain_text(f"{RAW} @ v1 · amount")
    expect(page.locator("#graph-nodes")).not_to_contain_text("· id")
    d.shot("21-field-lineage")

    # raw.orders' schema changes, and what reads the field v2 removed.
    page.goto(f"{service.base_url}/lineage?uri={RAW}&direction=DOWNSTREAM")
    change = page.locator("#schema-change-list li[data-version=v2]")
    expect(change).to_contain_text("from v1", timeout=15_000)
    expect(change).to_contain_text("breaking")
    expect(change).to_contain_text("owners alerted")
    expect(change).to_contain_text("id: BIGINT → TEXT")
    d.shot("22-schema-changes")
    change.locator("a", has_text="what reads amount").click()
    expect(page).to_have_url(
        f"{service.base_url}/impact?kind=ARTIFACT&key=warehouse%2Fraw.orders&field=amount"
    )
    side = page.locator("#graph-side")
    # A cold plan of the field impact statement can take seconds on a loaded machine.
    expect(side.locator("#affected-fields")).to_have_text("Fields reading it (2)", timeout=15_000)
    expect(side).to_contain_text(f"{REPORT} · total")
    expect(side).to_contain_text(f"{CLEAN} · amount_usd")
    expect(side).to_contain_text("team:finance")
    d.shot("23-field-impact")

    # Back, and the columns fold away again.
    page.goto(f"{service.base_url}/lineage?uri={REPORT}&columns=1")
    expect(page.locator("#graph-columns")).to_have_attribute("aria-pressed", "true")
    page.locator("#graph-columns").click()
    expect(page.locator("#graph-nodes li[data-kind=FIELD]")).to_have_count(0)
    assert d.errors == []
