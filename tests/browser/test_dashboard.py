"""The live dashboard in a real browser: Debian's Chromium driven by Playwright, against the
real service over a real Neo4j. Screenshots of each view go to test-output/screenshots/.

Every page signs in first (a `#key=` link with an admin key unless a test says otherwise);
the sign-in tests drive the form itself."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningService
from tests.support.skips import unavailable
from tracegraph.settings import REPO_ROOT

pytestmark = pytest.mark.neo4j

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO_ROOT / "test-output" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PANELS = ("pipelines", "run", "logs", "insights")
# Harmless noise Chromium prints for things the page never asked for.
IGNORED_CONSOLE = ("favicon.ico", "DevTools")

if not CHROMIUM.exists():
    unavailable("needs Debian's chromium at /usr/bin/chromium", module_level=True)
if not (REPO_ROOT / "web" / "node_modules").is_dir():
    unavailable("front-end packages missing: run `make setup`", module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

CSP_REPORTER = """document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations = (window.__cspViolations || []).concat(e.violatedDirective);
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


class Dash:
    """A page on the dashboard plus everything it logged to the console."""

    def __init__(self, page: Page, service: RunningService) -> None:
        self.page = page
        self.service = service
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        # Anything the Content-Security-Policy refuses is an error of the test too.
        page.add_init_script(CSP_REPORTER)

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and not any(s in msg.text for s in IGNORED_CONSOLE):
            self.errors.append(f"console.error: {msg.text}")

    def open(self, path: str = "/", role: str | None = "admin") -> Page:
        """Open ``path`` signed in with a key of ``role`` (through a ``#key=`` link)."""
        link = f"{self.service.base_url}{path}"
        if role is not None:
            link += f"#key={self.service.key(role)}"
        self.page.goto(link)
        self.page.wait_for_selector("body[data-ready='1']", state="attached", timeout=15_000)
        return self.page

    def open_signed_out(self, path: str = "/") -> Page:
        self.page.goto(self.service.base_url + path)
        expect(self.page.locator("#signin")).to_be_visible()
        return self.page

    def sign_in(self, credential: str, remember: bool = False) -> None:
        """Fill in and submit the sign-in form."""
        self.page.locator("#signin-credential").fill(credential)
        if remember:
            self.page.locator("#signin-remember").check()
        self.page.get_by_role("button", name="Sign in").click()

    def shot(self, name: str) -> Path:
        """A screenshot once the page is still: no CSS animation or transition running
        (the progress bars' width eases in), and a frame painted since."""
        self.page.wait_for_function(
            "() => document.getAnimations().every(a => a.playState !== 'running')"
        )
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(null)))")
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def dash(browser: Browser, service: RunningService) -> Iterator[Callable[..., Dash]]:
    contexts = []

    def _open(width: int = 1440, height: int = 900) -> Dash:
        ctx = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(ctx)
        return Dash(ctx.new_page(), service)

    yield _open
    for ctx in contexts:
        ctx.close()


def ingest(service: RunningService, events: list[dict]) -> None:
    """Post as an emitter does: a 503 (a cold database past the ingest deadline) is sent
    again after its Retry-After; duplicates of a committed first try are recognised."""
    with service.client() as http:
        for _ in range(20):
            r = http.post("/v1/events", json=events)
            if r.status_code != 503:
                break
            time.sleep(float(r.headers.get("Retry-After", "1")))  # as an emitter honouring it does
        assert r.status_code == 200, r.text


def now_iso(offset_s: float = 0) -> str:
    t = datetime.now(UTC) + timedelta(seconds=offset_s)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ev(n: str, type_: str, pipeline: str, run: str | None = None, **extra: Any) -> dict:
    e: dict[str, Any] = {
        "id": f"ui-{n}",
        "type": type_,
        "time": now_iso(),
        "source": "tests/dashboard",
        "pipeline": pipeline,
    }
    if run:
        e["run"] = run
    e.update(extra)
    return e


def live_pipeline(name: str, run: str) -> list[dict]:
    return [
        ev(
            f"{name}-def",
            "pipeline.defined",
            name,
            data={
                "version": "1",
                "owner": "team:qa",
                "steps": [
                    {"key": "retrieve", "kind": "retrieval"},
                    {"key": "answer", "kind": "llm", "depends_on": ["retrieve"]},
                ],
            },
        ),
        ev(f"{name}-start", "run.started", name, run, data={"trigger": "manual"}),
        ev(f"{name}-s1", "step.started", name, run, step="retrieve"),
    ]


def test_page_loads_and_shows_example_pipelines(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open("/")
    card = page.locator("article.card[data-pipeline='rag-nightly']")
    expect(card).to_be_visible()
    expect(card.locator(".badge")).to_contain_text("succeeded")
    expect(page.locator("#runs-table")).to_contain_text("run-rag-0001")
    expect(page.locator("#stat-conn")).to_contain_text("live")
    # Landmarks and labelled regions for assistive technology.
    assert page.locator("header[role=banner]").count() == 1
    assert page.locator("main#main").count() == 1
    expect(page.locator("#tabpanel-metrics")).to_be_visible()
    d.shot("01-home-desktop")
    assert d.errors == []


def test_live_event_changes_dom_without_reload(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open("/")
    expect(page.locator("#stat-conn")).to_contain_text("live")
    page.evaluate("window.__marker = 'same page'")
    t0 = time.monotonic()
    ingest(service, live_pipeline("live-qa", "run-live-1"))
    started = time.monotonic()  # the events are committed (acknowledged) from here on
    page.wait_for_selector("article.card[data-pipeline='live-qa']", timeout=1000)
    print(f"ingest {started - t0:.3f}s, to DOM {time.monotonic() - started:.3f}s")
    assert time.monotonic() - started < 1.0
    card = page.locator("article.card[data-pipeline='live-qa']")
    expect(card.locator(".badge")).to_contain_text("running", timeout=1000)
    expect(card.locator(".current-step")).to_contain_text("retrieve", timeout=1000)
    expect(page.locator("#stat-active")).to_have_text("1", timeout=1000)

    ingest(
        service,
        [
            ev(
                "p1",
                "step.progress",
                "live-qa",
                "run-live-1",
                step="retrieve",
                data={"percent": 60},
            ),
            ev(
                "log1",
                "log",
                "live-qa",
                "run-live-1",
                step="retrieve",
                data={"level": "error", "message": "vector store timed out"},
            ),
        ],
    )
    started = time.monotonic()
    page.wait_for_selector(".logrow:has-text('vector store timed out')", timeout=1000)
    expect(card.locator("[role=progressbar]")).to_have_attribute(
        "aria-valuenow", "30", timeout=1000
    )
    assert time.monotonic() - started < 1.0
    assert page.evaluate("window.__marker") == "same page"  # no reload happened
    d.shot("02-home-live-update")
    assert d.errors == []


def test_drill_down_to_run_and_step(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open("/")
    page.locator("article.card[data-pipeline='rag-nightly'] a", has_text="rag-nightly").click()
    expect(page).to_have_url(f"{service.base_url}/pipelines/rag-nightly")
    expect(page.locator("#panel-pipelines")).to_contain_text("fetch-docs")
    expect(page.locator("#panel-pipelines")).to_contain_text("team:search")
    d.shot("03-pipeline-page")
    page.locator("#panel-pipelines a", has_text="run-rag-0001").click()
    expect(page).to_have_url(f"{service.base_url}/runs/run-rag-0001")
    gantt = page.locator("#gantt")
    # Five steps, embed twice (the retry): six bars, the failed attempt marked in words.
    expect(gantt.locator("button.bar")).to_have_count(6)
    expect(gantt.locator("button.bar.st-failed")).to_have_attribute(
        "aria-label", "embed: failed, 2m 5s"
    )
    page.locator("#gantt button.bar[data-step='embed'][data-attempt='2']").click()
    detail = page.locator("#step-detail")
    expect(detail).to_contain_text("attempt 2")
    expect(detail).to_contain_text("openai / text-embedding-3-large")
    expect(detail).to_contain_text("23.95M of 30.00M budget (80%)")
    expect(detail).to_contain_text("s3://support/chunks")
    expect(detail).to_contain_text("s3://support/embeddings")
    expect(page).to_have_url(f"{service.base_url}/runs/run-rag-0001?step=run-rag-0001%2Fembed%232")
    d.shot("04-run-step-detail")
    # A deep link survives a reload.
    page.reload()
    page.wait_for_selector("body[data-ready='1']", state="attached")
    expect(page.locator("#step-detail")).to_contain_text("attempt 2")
    assert d.errors == []


def test_prompt_inspector_streams_chunks(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    ingest(service, live_pipeline("chat", "run-chat-1"))
    d = dash()
    page = d.open("/runs/run-chat-1")
    expect(page.locator("#tab-prompt")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#gantt button.bar")).to_have_count(1)
    call = {"call": "c1"}
    ingest(
        service,
        [
            ev("a1", "step.completed", "chat", "run-chat-1", step="retrieve"),
            ev(
                "a2",
                "step.started",
                "chat",
                "run-chat-1",
                step="answer",
                data={"provider": "openai", "model": "gpt-4o", "params": {"temperature": 0.2}},
            ),
            ev(
                "a3",
                "prompt.sent",
                "chat",
                "run-chat-1",
                step="answer",
                data={
                    **call,
                    "provider": "openai",
                    "model": "gpt-4o",
                    "template": {"name": "support-answer", "version": "4"},
                    "messages": [
                        {"role": "system", "content": "Answer from the passages only."},
                        {"role": "user", "content": "How do I reset my password?"},
                    ],
                    "variables": {"question": "How do I reset my password?"},
                },
            ),
        ],
    )
    inspector = page.locator("#prompt-inspector")
    expect(inspector.locator("#prompt-messages")).to_contain_text("Answer from the passages only.")
    expect(inspector.locator("#call-meta")).to_contain_text("support-answer v4")
    expect(inspector.locator("#call-vars")).to_contain_text("How do I reset my password?")
    for i, delta in enumerate(["Open Settings", " → Security", " and choose Reset."]):
        ingest(
            service,
            [
                ev(
                    f"ch{i}",
                    "response.chunk",
                    "chat",
                    "run-chat-1",
                    step="answer",
                    data={**call, "index": i, "delta": delta},
                )
            ],
        )
        expect(page.locator("#stream-text")).to_contain_text(delta.strip(), timeout=1000)
    expect(page.locator("#chunk-list li")).to_have_count(3)
    expect(page.locator("#prompt-response")).to_contain_text("Open Settings → Security")
    d.shot("05-prompt-inspector-streaming")
    ingest(
        service,
        [
            ev(
                "a4",
                "response.received",
                "chat",
                "run-chat-1",
                step="answer",
                data={
                    **call,
                    "text": "Open Settings → Security and choose Reset.",
                    "input_tokens": 42,
                    "output_tokens": 11,
                    "latency_ms": 900,
                    "cost_usd": 0.0012,
                },
            )
        ],
    )
    expect(page.locator("#call-meta")).to_contain_text("42 in · 11 out")
    expect(page.locator("#prompt-response")).not_to_have_class("msg streaming")
    expect(page.locator("#prompt-response")).to_contain_text("choose Reset.")
    expect(page.locator("#chunk-list li")).to_have_count(3)
    # Search marks every match in the prompt and the response.
    page.locator("#prompt-search").fill("settings")
    expect(page.locator("#prompt-matches")).to_have_text("1 match")
    expect(page.locator("#prompt-response mark")).to_have_text("Settings")
    page.locator("#prompt-search").fill("")
    # The header's live counters moved with the response.
    expect(page.locator("#stat-tokens")).to_have_text("53")
    d.shot("06-prompt-inspector-final")
    assert d.errors == []


def test_log_viewer_filter_and_search(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open("/")
    rows = page.locator("#log-list .logrow")
    expect(rows).to_have_count(2)
    page.locator(".lvltoggles button[data-level='warning']").click()
    expect(page.locator(".lvltoggles button[data-level='warning']")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("429 rate limited")
    page.locator(".lvltoggles button[data-level='warning']").click()
    expect(rows).to_have_count(2)
    page.locator("#log-search").fill("exceeded")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("mark")).to_have_text("exceeded")
    page.locator("#log-search").fill("no such text")
    expect(rows).to_have_count(0)
    expect(page.locator("#log-list")).to_contain_text("No log lines match.")
    page.locator("#log-search").fill("")
    page.locator("#log-autoscroll").click()
    expect(page.locator("#log-autoscroll")).to_have_attribute("aria-pressed", "false")
    with page.expect_download() as dl:
        page.locator("#log-export").click()
    body = Path(dl.value.path()).read_text()
    lines = body.strip().splitlines()
    assert len(lines) == 2
    d.shot("07-logs-filtered")
    assert d.errors == []


def test_lineage_view_renders_known_upstream(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open("/lineage?uri=vector://support-docs")
    nodes = page.locator("#graph-nodes")
    for uri in [
        "s3://support/embeddings",
        "s3://support/chunks",
        "s3://support/clean-docs",
        "s3://support/raw-docs",
    ]:
        expect(nodes).to_contain_text(uri)
    expect(page.locator("#cy canvas").first).to_be_visible()
    d.shot("08-lineage")
    # Clicking a node in the list re-roots the view on it.
    nodes.locator("a", has_text="s3://support/chunks").first.click()
    expect(page).to_have_url(f"{service.base_url}/lineage?uri=s3%3A%2F%2Fsupport%2Fchunks")
    expect(page.locator("#graph-nodes")).to_contain_text("s3://support/raw-docs")
    expect(page.locator("#graph-nodes")).not_to_contain_text("s3://support/embeddings")
    # Blast radius of the raw dataset: owners and SLAs listed.
    page.goto(f"{service.base_url}/impact?kind=ARTIFACT&key=s3://support/raw-docs")
    side = page.locator("#graph-side")
    expect(side.locator("#affected-owners")).to_be_visible()
    expect(side).to_contain_text("team:search")
    expect(side).to_contain_text("rag-nightly")
    d.shot("09-impact")
    assert d.errors == []


# The drawn graph, through the cytoscape instance its container keeps (_cyreg).
INFERRED_EDGES_JS = """() => {
  const cy = document.querySelector('#cy')._cyreg.cy;
  const solid = cy.edges('[kind != "INFERRED"]').every((o) => o.style('line-style') === 'solid');
  return cy.edges('[kind = "INFERRED"]').map((e) => ({
    source: e.source().id(), dashed: e.style('line-style') === 'dashed', solid,
    at: e.renderedMidpoint() }));
}"""


def test_lineage_view_draws_inferred_edges_dashed_with_their_path(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open("/lineage?uri=s3://support/eval-reports&depth=1")
    expect(page.locator("#graph-nodes")).to_contain_text("s3://support/raw-docs")
    expect(page.locator("#cy canvas").first).to_be_visible()
    # Inside run-rag-0001 the report was written by eval, which depends on every step
    # before it: what those read and wrote is one (inferred, dashed) hop upstream.
    edges = page.evaluate(INFERRED_EDGES_JS)
    assert {e["source"] for e in edges} >= {
        "s3://support/raw-docs@2026-11-19",
        "s3://support/clean-docs@2026-11-20",
    }
    assert all(e["dashed"] and e["solid"] for e in edges)
    raw = page.locator("#graph-inferred li", has_text="s3://support/raw-docs@2026-11-19")
    expect(raw).to_have_attribute(
        "title", "inferred in run run-rag-0001 through fetch-docs → chunk → embed → index → eval"
    )
    # Hovering the dashed edge shows the same path in the graph's tooltip.
    [at] = [e["at"] for e in edges if e["source"] == "s3://support/raw-docs@2026-11-19"]
    box = page.locator("#cy").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + at["x"], box["y"] + at["y"])
    tip = page.locator("#cy-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("inferred in run run-rag-0001 through")
    d.shot("08b-lineage-inferred")
    # Observed only: the raw source is no longer one hop away, and nothing is dashed.
    page.locator("#graph-observed").check()
    page.get_by_role("button", name="Show lineage").click()
    expect(page).to_have_url(re.compile(r"observed=1"))
    expect(page.locator("#graph-nodes")).not_to_contain_text("s3://support/raw-docs")
    expect(page.locator("#graph-inferred")).to_have_count(0)
    assert page.evaluate(INFERRED_EDGES_JS) == []
    assert d.errors == []


def test_keyboard_shortcuts(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open("/")
    page.keyboard.press("?")
    expect(page.locator("#dlg-help")).to_be_visible()
    d.shot("10-help")
    page.keyboard.press("Escape")
    expect(page.locator("#dlg-help")).to_be_hidden()
    page.keyboard.press("Control+l")
    expect(page.locator("#log-search")).to_be_focused()
    page.locator("body").click(position={"x": 5, "y": 880})
    page.keyboard.press("Control+f")
    expect(page.locator("#log-search")).to_be_focused()
    page.keyboard.press("Control+p")
    expect(page.locator("#dlg-picker")).to_be_visible()
    page.keyboard.type("rag")
    expect(page.locator("#picker-list [role=option]")).to_have_count(1)
    d.shot("11-pipeline-picker")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{service.base_url}/pipelines/rag-nightly")
    # Keyboard-only drill-down: Tab to the run link and follow it.
    page.locator("#panel-pipelines a", has_text="run-rag-0001").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{service.base_url}/runs/run-rag-0001")
    expect(page.locator("#prompt-search")).to_be_visible()
    page.locator("body").click(position={"x": 5, "y": 880})
    page.keyboard.press("Control+f")
    expect(page.locator("#prompt-search")).to_be_focused()
    page.keyboard.type("reference")
    expect(page.locator("#prompt-matches")).to_have_text("1 match")
    page.keyboard.press("Escape")  # first Esc clears the search, stays on the run
    expect(page.locator("#prompt-search")).to_have_value("")
    expect(page).to_have_url(f"{service.base_url}/runs/run-rag-0001")
    page.keyboard.press("Escape")  # then up one level: the run's pipeline
    expect(page).to_have_url(f"{service.base_url}/pipelines/rag-nightly")
    page.keyboard.press("Escape")
    expect(page).to_have_url(f"{service.base_url}/")
    assert d.errors == []


def test_phone_is_one_column_tablet_is_two(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    phone = dash(390, 844)
    page = phone.open("/")
    expect(page.locator("article.card[data-pipeline='rag-nightly']")).to_be_visible()
    boxes = [page.locator(f"#panel-{p}").bounding_box() for p in PANELS]
    assert all(b is not None for b in boxes)
    assert len({round(b["x"]) for b in boxes}) == 1  # type: ignore[index]
    assert [b["y"] for b in boxes] == sorted(b["y"] for b in boxes)  # type: ignore[index]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("12-phone")
    tablet = dash(820, 1180)
    page = tablet.open("/runs/run-rag-0001")
    boxes = [page.locator(f"#panel-{p}").bounding_box() for p in PANELS]
    assert len({round(b["x"]) for b in boxes}) == 2  # type: ignore[index]
    assert len({round(b["y"]) for b in boxes}) == 2  # type: ignore[index]
    expect(page.locator("#gantt button.bar")).to_have_count(6)
    tablet.shot("13-tablet-run")
    assert phone.errors == [] and tablet.errors == []


def test_metrics_and_breaches_panels(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    events = copy.deepcopy(example_events)
    ingest(service, events)
    ingest(service, live_pipeline("metrics-now", "run-metrics-1"))
    d = dash()
    page = d.open("/")
    page.locator("#tab-metrics").click()
    panel = page.locator("#tabpanel-metrics")
    # Either real charts or a clear "unavailable" note, never a broken panel.
    expect(panel.locator("figure.chart, #metrics-unavailable").first).to_be_visible()
    d.shot("14-metrics")
    page.locator("#tab-breaches").click()
    expect(
        page.locator("#breaches-table, #breaches-unavailable, #tabpanel-breaches .empty").first
    ).to_be_visible()
    d.shot("15-breaches")
    assert d.errors == []


def test_unknown_paths_stay_404(service: RunningService) -> None:
    with service.client() as http:
        assert http.get("/no-such-page").status_code == 404
        assert http.get("/runs/abc").status_code == 200
        assert "text/html" in http.get("/lineage").headers["content-type"]
        assert http.get("/static/vendor/graphql-ws/client.js").status_code == 200
        assert http.get("/static/vendor/graphql-ws/../../../package.json").status_code == 404
    # The shell (page, modules, styles, vendored assets) is public: it holds no data.
    # Everything with data goes through /graphql, which needs a credential.
    with httpx.Client(base_url=service.base_url, timeout=30) as anonymous:
        for path in (
            "/",
            "/runs/abc",
            "/static/app/main.js",
            "/static/app/app.css",
            "/static/vendor/uplot/uPlot.min.css",
        ):
            assert anonymous.get(path).status_code == 200, path
        refused = anonymous.post("/graphql", json={"query": "{ overview { lastSeq } }"})
        assert refused.status_code == 401
        assert "overview" not in refused.text


def test_sla_breach_arrives_live_and_is_acknowledged(
    dash: Callable[..., Dash], service: RunningService
) -> None:
    d = dash()
    page = d.open("/")
    page.locator("#tab-breaches").click()
    expect(page.locator("#tabpanel-breaches .empty")).to_be_visible()

    # A run that took 5 s against a 1 s duration SLA: the evaluator records a breach after
    # commit and the page hears of it through the alerts subscription (no reload).
    name, run = "sla-ui", "run-sla-ui-1"
    definition = ev(
        "sla-def",
        "pipeline.defined",
        name,
        data={"version": "1", "owner": "team:qa", "sla": {"max_duration_ms": 1000}, "steps": []},
    )
    started = ev("sla-start", "run.started", name, run, time=now_iso(-5))
    done = ev("sla-done", "run.completed", name, run)
    ingest(service, [definition, started, done])

    row = page.locator("#breaches-table tbody tr").first
    expect(row).to_contain_text(name, timeout=15_000)
    expect(row).to_contain_text("duration")
    expect(row).to_contain_text("open")
    # The run itself finished: whichever of its event and its state push came first, the
    # page must not count it as active.
    expect(page.locator(f"[data-run='{run}'], tr:has-text('{run}')").first).to_contain_text(
        "succeeded"
    )
    expect(page.locator("#stat-active")).to_have_text("0")
    d.shot("16-breach-open")

    row.get_by_role("button", name=f"Acknowledge duration breach of {name}").click()
    page.locator("#breach-filter").select_option("ACKNOWLEDGED")
    acknowledged = page.locator("#breaches-table tbody tr").first
    expect(acknowledged).to_contain_text("acknowledged")
    # Recorded as the signed-in principal, not as whatever the page might claim.
    actor = "key:" + page.locator("#whoami-actor").inner_text().split("key:", 1)[1].strip()
    assert actor.startswith("key:test-admin-")
    expect(acknowledged).to_contain_text(f"by {actor}")

    with service.client() as http:
        body = http.post(
            "/graphql",
            json={
                "query": "{ slaBreaches(status: ACKNOWLEDGED) { pipeline kind acknowledgedBy } }"
            },
        ).json()
    assert body["data"]["slaBreaches"] == [
        {"pipeline": name, "kind": "MAX_DURATION_MS", "acknowledgedBy": actor}
    ]
    assert d.errors == []


# -- signing in ----------------------------------------------------------------------------

PROMPT_TEXT = "You grade answers against the reference"
RESPONSE_TEXT = "Go to Settings → Keys and choose Rotate"


def test_sign_in_view_refuses_a_wrong_key_and_shows_no_data(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open_signed_out("/")
    expect(page.locator("#signin-credential")).to_be_focused()
    expect(page.locator("#main")).to_be_hidden()
    expect(page.locator("#stats")).to_be_hidden()
    d.shot("17-sign-in")
    wrong = "tg_0123456789ab_" + "x" * 43
    d.sign_in(wrong)
    error = page.locator("#signin-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("that key was not accepted")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#main")).to_be_hidden()
    assert page.locator("article.card").count() == 0
    assert "rag-nightly" not in page.content()
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    d.shot("18-sign-in-refused")
    # A key from a role that cannot read (an emitter's key) is turned away with its reason.
    d.sign_in(service.key("ingester"))
    expect(error).to_contain_text("cannot read the dashboard")
    expect(page.locator("#main")).to_be_hidden()
    # The right key lets the page in, with who is signed in shown in the header.
    d.sign_in(service.key("reviewer"))
    page.wait_for_selector("body[data-ready='1']", state="attached")
    expect(page.locator("#signin")).to_be_hidden()
    expect(page.locator("article.card[data-pipeline='rag-nightly']")).to_be_visible()
    expect(page.locator("#whoami-role")).to_have_text("reviewer")
    expect(page.locator("#whoami-actor")).to_contain_text("key:")
    # Refused attempts log a 401 to the console; nothing else may fail.
    assert [e for e in d.errors if "401" not in e] == []


def test_viewer_sees_runs_but_prompt_text_is_hidden(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    received: list[str] = []

    def keep_graphql_body(resp: Any) -> None:
        if resp.url.endswith("/graphql"):
            received.append(resp.text())

    d.page.on("response", keep_graphql_body)
    d.page.on("websocket", lambda ws: ws.on("framereceived", lambda f: received.append(str(f))))
    page = d.open_signed_out("/")
    d.sign_in(service.key("viewer"))
    page.wait_for_selector("body[data-ready='1']", state="attached")
    expect(page.locator("#whoami-role")).to_have_text("viewer")
    expect(page.locator("article.card[data-pipeline='rag-nightly']")).to_be_visible()
    expect(page.locator("#runs-table")).to_contain_text("run-rag-0001")
    page.locator("#runs-table a", has_text="run-rag-0001").first.click()
    expect(page).to_have_url(f"{service.base_url}/runs/run-rag-0001")
    expect(page.locator("#gantt button.bar")).to_have_count(6)
    inspector = page.locator("#prompt-inspector")
    expect(inspector.locator("#prompt-hidden")).to_have_text(
        "Prompt and response text are hidden for your role (viewer)."
    )
    # Metadata stays visible; the text does not, on the page or anywhere on the wire.
    expect(inspector.locator("#call-meta")).to_contain_text("rag-judge v7")
    expect(inspector.locator("#call-meta")).to_contain_text("61 in · 2 out")
    assert inspector.locator("#prompt-messages").count() == 0
    assert inspector.locator("#chunk-list").count() == 0
    expect(page.locator("#prompt-search")).to_be_hidden()
    d.shot("19-viewer-run")
    body = page.content()
    assert PROMPT_TEXT not in body and RESPONSE_TEXT not in body
    assert received, "no GraphQL answers were seen"
    leaked = [r for r in received if PROMPT_TEXT in r or "How do I rotate an API key" in r]
    assert leaked == []
    # A viewer cannot acknowledge breaches: the panel works, without the button.
    page.locator("#tab-breaches").click()
    expect(
        page.locator("#breaches-table, #tabpanel-breaches .empty, #breaches-forbidden").first
    ).to_be_visible()
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    assert d.errors == []


def test_sign_out_returns_to_the_sign_in_view(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open_signed_out("/")
    d.sign_in(service.key("reviewer"), remember=True)
    page.wait_for_selector("body[data-ready='1']", state="attached")
    expect(page.locator("article.card[data-pipeline='rag-nightly']")).to_be_visible()
    assert page.evaluate("localStorage.length") == 1  # "remember on this device"
    # Remembered: a new tab of the same browser profile is signed in at once.
    second = page.context.new_page()
    second.goto(service.base_url + "/")
    second.wait_for_selector("body[data-ready='1']", state="attached", timeout=15_000)
    expect(second.locator("#whoami-role")).to_have_text("reviewer")
    second.close()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#main")).to_be_hidden()
    assert page.locator("article.card").count() == 0
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    page.reload()
    expect(page.locator("#signin")).to_be_visible()
    assert d.errors == []


def test_key_link_signs_in_and_leaves_no_key_in_the_address_bar(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open("/pipelines/rag-nightly", role="reviewer")
    expect(page.locator("#panel-pipelines")).to_contain_text("fetch-docs")
    assert page.url == f"{service.base_url}/pipelines/rag-nightly"
    assert page.evaluate("location.hash") == ""
    assert "tg_" not in page.evaluate("history.state === null ? '' : JSON.stringify(history.state)")
    expect(page.locator("#whoami-role")).to_have_text("reviewer")
    # The live stream is authenticated too: a new event shows up without a reload.
    expect(page.locator("#stat-conn")).to_contain_text("live")
    page.locator("a.brand").click()  # in-page navigation: same page, same connection
    expect(page).to_have_url(f"{service.base_url}/")
    ingest(service, live_pipeline("after-link", "run-after-link"))
    expect(page.locator("article.card[data-pipeline='after-link']")).to_be_visible()
    # A link with a refused key says so on the sign-in view.
    other = dash()
    bad = other.page
    bad.goto(f"{service.base_url}/#key=tg_0123456789ab_{'y' * 43}")
    expect(bad.locator("#signin-error")).to_contain_text("the key in that link was not accepted")
    assert bad.evaluate("location.hash") == ""
    assert d.errors == []


def test_revoked_key_returns_to_the_sign_in_view(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    page = d.open("/", role="viewer")
    expect(page.locator("article.card[data-pipeline='rag-nightly']")).to_be_visible()
    keys = service.app.state.services.keys
    viewer_id = service.key("viewer").split("_")[1]
    service.call(keys.revoke(viewer_id, actor="system:tests"))
    service.app.state.services.authenticator.forget(viewer_id)
    # The next request is refused: the page drops its data view and asks again.
    page.locator("#runs-table a", has_text="run-rag-0001").first.click()
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#signin-error")).to_contain_text("that key was not accepted")
    expect(page.locator("#main")).to_be_hidden()
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    assert [e for e in d.errors if "401" not in e] == []


def test_the_page_runs_under_a_policy_that_refuses_inline_scripts_and_framing(
    dash: Callable[..., Dash], service: RunningService, example_events: list[dict]
) -> None:
    ingest(service, example_events)
    d = dash()
    response = d.page.goto(f"{service.base_url}/")
    assert response is not None
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    page = d.open("/runs/run-rag-0001")
    expect(page.locator("#panel-run")).to_contain_text("run-rag-0001")
    assert d.errors == []  # the dashboard itself needs nothing the policy refuses
    # What an injection would try: an inline script and an inline event handler.
    page.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.__inline = 1";
          document.head.appendChild(s);
          const img = '<img src="data:," onload="window.__onload = 1">';
          document.body.insertAdjacentHTML("beforeend", img);
        }"""
    )
    page.wait_for_function("(window.__cspViolations || []).length >= 2", timeout=5_000)
    assert page.evaluate("window.__inline") is None
    assert page.evaluate("window.__onload") is None
    # Only the two refusals (Chromium's own message and the reporter's) are new errors.
    refusals = ("CSP violation: script-src", "violates the following Content Security Policy")
    assert [e for e in d.errors if not any(r in e for r in refusals)] == []
    # Framed by another page: the browser refuses to render the dashboard in the frame.
    host = d.page.context.new_page()
    host.set_content(f'<iframe src="{service.base_url}/"></iframe>')  # waits for "load"
    (framed,) = host.main_frame.child_frames
    assert framed.locator("header.topbar").count() == 0, framed.url
