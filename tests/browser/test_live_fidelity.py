"""The live view is faithful: after any event stream settles, the dashboard's state equals
the server's (issue 17, item 7).

A model-based property test: hypothesis generates event streams for several pipelines —
retries, failures, scheduled runs, streaming responses (response.chunk), SLA breaches,
out-of-order and duplicated deliveries — and plays them in batches against the real
service while the real dashboard runs in headless Chromium, forcing disconnects (the
page's WebSockets closed under it) between batches; the service's live queue is tiny
(TRACEGRAPH_SUBSCRIBER_QUEUE_SIZE) so bursts overflow it. When the stream has settled,
every entity the page holds (`window.__tracegraphStore.snapshot()`: the pipeline cards,
the open run, the breaches) has the server's version and document (`snapshots`), and the
ordinary `pipeline` / `run` queries agree with those documents field by field.

One service and one browser serve every example; each example uses fresh pipeline names.
A case hypothesis shrinks to after a failure becomes an ``@example`` below.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from neo4j import Driver

from tests.browser.test_dashboard import (  # noqa: F401 (fixtures)
    CSP_REPORTER,
    IGNORED_CONSOLE,
    browser,
    ingest,
)
from tests.conftest import RunningService, wipe
from tests.support.eventually import eventually
from tracegraph.live.hub import LiveHub, SubscriberClosed
from tracegraph.settings import Neo4jSettings, Settings

pytestmark = pytest.mark.neo4j

from playwright.sync_api import Browser, Page, expect  # noqa: E402

# Deltas a subscriber may lag before it is closed (SUBSCRIBER_TOO_SLOW): one, so any
# lag across commits overflows it. A real overflow needs a socket that stops reading,
# which a test cannot time, so the "overflow" fault also closes the page's delta
# subscribers exactly as an overflowing queue does (LiveHub's SubscriberClosed).
LIVE_QUEUE = 1
# A settled stream shows within seconds; the page's own periodic digest check is pushed
# out of the test's way (it would heal a drifted document and hide the bug), and the
# test runs one check itself at the end.
SETTLE_S = 30
NO_PERIODIC_DIGESTS = 'localStorage.setItem("tracegraph.digestIntervalS", "3600");'
STEPS = ("retrieve", "answer")

# Every WebSocket the page opens, so the test can close them under it (a network drop).
SOCKET_TRACKER = """(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__sockets.push(this); }
  };
})();"""
DROP_SOCKETS = """() => {
  let n = 0;
  for (const s of window.__sockets) if (s.readyState < 2) { s.close(3000, "test drop"); n++; }
  return n;
}"""


# ---- the model: event streams ----------------------------------------------------------


@dataclass
class Stream:
    """Events in the order they happened, and how they are delivered."""

    pipelines: list[str]
    events: list[dict[str, Any]]
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    # after each batch: "none" | "drop" (sockets closed) | "overflow" (queues overflowed)
    faults: list[str] = field(default_factory=list)

    @property
    def first_run(self) -> str:
        return next(e["run"] for e in self.events if e.get("run"))


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Clock:
    """Event times one second apart, in the order the model makes them."""

    def __init__(self) -> None:
        self.t = datetime.now(UTC) - timedelta(minutes=30)

    def tick(self) -> str:
        self.t += timedelta(seconds=1)
        return _iso(self.t)


def _event(
    clock: _Clock, eid: str, type_: str, pipeline: str, run: str | None, **extra: Any
) -> dict[str, Any]:
    e: dict[str, Any] = {
        "id": eid,
        "type": type_,
        "time": clock.tick(),
        "source": "tests/fidelity",
        "pipeline": pipeline,
    }
    if run:
        e["run"] = run
    e.update(extra)
    return e


@st.composite
def _call(draw: st.DrawFn, clock: _Clock, p: str, run: str, attempt: int) -> list[dict]:
    call = f"c{attempt}"
    base = f"{run}-answer-{attempt}-{call}"
    out = [
        _event(
            clock,
            f"{base}-p",
            "prompt.sent",
            p,
            run,
            step="answer",
            attempt=attempt,
            data={"call": call, "provider": "openai", "model": "gpt-4o", "text": f"q {run}"},
        )
    ]
    chunks = draw(st.integers(0, 4))
    out += [
        _event(
            clock,
            f"{base}-k{i}",
            "response.chunk",
            p,
            run,
            step="answer",
            attempt=attempt,
            data={"call": call, "index": i, "delta": f"t{i} "},
        )
        for i in range(chunks)
    ]
    if draw(st.booleans()):  # else the response is still streaming
        received: dict[str, Any] = {"call": call, "text": "answer", "output_tokens": 20}
        if draw(st.booleans()):
            received.update(input_tokens=30, cost_usd=0.01)  # else the server estimates
        out.append(
            _event(
                clock,
                f"{base}-r",
                "response.received",
                p,
                run,
                step="answer",
                attempt=attempt,
                data=received,
            )
        )
    return out


@st.composite
def _run(draw: st.DrawFn, clock: _Clock, p: str, run: str) -> list[dict]:
    out: list[dict] = []
    if draw(st.booleans()):
        when = _iso(datetime.now(UTC) + timedelta(minutes=draw(st.integers(-5, 30))))
        out.append(
            _event(clock, f"{run}-sched", "run.scheduled", p, run, data={"scheduled_for": when})
        )
        if draw(st.integers(0, 3)) == 0:
            return out  # announced, not started yet
    out.append(_event(clock, f"{run}-start", "run.started", p, run, data={"trigger": "manual"}))
    for key in STEPS:
        attempts = draw(st.integers(1, 2))
        for a in range(1, attempts + 1):
            sid = f"{run}-{key}-{a}"
            out.append(_event(clock, f"{sid}-s", "step.started", p, run, step=key, attempt=a))
            if draw(st.booleans()):
                pct = draw(st.integers(1, 99))
                out.append(
                    _event(
                        clock,
                        f"{sid}-prog",
                        "step.progress",
                        p,
                        run,
                        step=key,
                        attempt=a,
                        data={"percent": pct, "tokens_used": pct},
                    )
                )
            if key == "answer":
                out += draw(_call(clock, p, run, a))
            if a < attempts:
                out.append(
                    _event(
                        clock,
                        f"{sid}-f",
                        "step.failed",
                        p,
                        run,
                        step=key,
                        attempt=a,
                        data={"error": {"message": "timeout"}, "retryable": True},
                    )
                )
                continue
            end = draw(st.sampled_from(["completed", "failed", "running"]))
            if end == "running":
                return out  # the run stops here, still running
            out.append(
                _event(
                    clock,
                    f"{sid}-end",
                    f"step.{end}",
                    p,
                    run,
                    step=key,
                    attempt=a,
                    **({"data": {"error": {"message": "bad"}}} if end == "failed" else {}),
                )
            )
            if end == "failed":
                out.append(
                    _event(
                        clock,
                        f"{run}-fail",
                        "run.failed",
                        p,
                        run,
                        data={"error": {"message": f"{key} failed"}},
                    )
                )
                return out
    out.append(_event(clock, f"{run}-done", "run.completed", p, run))
    return out


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    clock = _Clock()
    tag = uuid.uuid4().hex[:8]
    pipelines = [f"fid-{tag}-p{i}" for i in range(draw(st.integers(1, 3)))]
    events: list[dict] = []
    for p in pipelines:
        sla = draw(
            st.sampled_from(
                [None, {"max_duration_ms": 1500}, {"max_tokens": 30}, {"max_cost_usd": 0.005}]
            )
        )
        definition: dict[str, Any] = {
            "version": "1",
            "owner": "team:fidelity",
            "steps": [
                {"key": "retrieve", "kind": "retrieval"},
                {"key": "answer", "kind": "llm", "depends_on": ["retrieve"]},
            ],
        }
        if sla:
            definition["sla"] = sla
        events.append(_event(clock, f"{p}-def", "pipeline.defined", p, None, data=definition))
        for r in range(draw(st.integers(1, 2))):
            events += draw(_run(clock, p, f"{p}-r{r}"))
    # Delivery: in order, or shuffled; some events sent twice; cut into batches.
    delivered = list(events)
    if draw(st.booleans()):
        delivered = list(draw(st.permutations(delivered)))
    dups = draw(st.lists(st.integers(0, len(events) - 1), max_size=4))
    for i in dups:
        delivered.insert(draw(st.integers(0, len(delivered))), events[i])
    # Many commits: each batch is one, and every commit after the first is a patch.
    cuts = sorted(set(draw(st.lists(st.integers(1, len(delivered) - 1), min_size=2, max_size=10))))
    bounds = [0, *cuts, len(delivered)]
    batches = [delivered[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    faults = [draw(st.sampled_from(["none", "drop", "overflow"])) for _ in batches]
    return Stream(pipelines, events, batches, faults)


# ---- the harness: one service, one browser ----------------------------------------------


@pytest.fixture(scope="module")
def fidelity_service(
    neo4j_settings: Neo4jSettings, sync_driver: Driver
) -> Iterator[RunningService]:
    wipe(sync_driver)
    settings_ = Settings(neo4j=neo4j_settings, subscriber_queue_size=LIVE_QUEUE)
    with RunningService(settings_) as svc:
        yield svc


@dataclass
class Live:
    page: Page
    service: RunningService
    errors: list[str]

    def open(self, path: str, role: str = "admin") -> None:
        self.page.goto(f"{self.service.base_url}{path}#key={self.service.key(role)}")
        self.page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
        self.page.wait_for_function("() => document.body.dataset.conn === 'live'", timeout=30_000)


@pytest.fixture(scope="module")
def live(browser: Browser, fidelity_service: RunningService) -> Iterator[Live]:  # noqa: F811
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not any(s in m.text for s in IGNORED_CONSOLE)
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.add_init_script(CSP_REPORTER)
    page.add_init_script(SOCKET_TRACKER)
    page.add_init_script(NO_PERIODIC_DIGESTS)
    yield Live(page, fidelity_service, errors)
    ctx.close()


def _gql(
    service: RunningService, query: str, role: str = "admin", **variables: Any
) -> dict[str, Any]:
    with service.client(role) as c:
        r = c.post("/graphql", json={"query": query, "variables": variables})
    assert r.status_code == 200, r.text
    body = r.json()
    assert not body.get("errors"), body
    return body["data"]


SNAPSHOTS = (
    """query($e: [String!]!) { snapshots(entities: $e) { entity version seq doc digest } }"""
)
PIPELINE = """query($n: String!) { pipeline(name: $n) {
  name version cardVersion
  runs(first: 10) { id version status inputTokens outputTokens costUsd scheduledFor
    steps { id version status attempt percent step { key } } } } }"""
RUN = """query($id: ID!) { run(id: $id) {
  id version status inputTokens outputTokens costUsd error
  steps { id version status attempt step { key }
    llmCalls { id response inputTokens outputTokens } } } }"""
OPEN_BREACHES = """{ slaBreaches(status: OPEN, first: 200) { id version status } }"""
PIPELINE_NAMES = """{ pipelines(first: 200) { edges { node { name } } } }"""


def differences(live: Live, stream: Stream) -> list[str]:
    """What the page's store and the server disagree on (empty once settled)."""
    mine: dict[str, Any] = live.page.evaluate("() => window.__tracegraphStore.snapshot()")
    svc = live.service
    diffs: list[str] = []
    # The page holds what it shows: every pipeline card, the open run, the open breaches.
    names = {e["node"]["name"] for e in _gql(svc, PIPELINE_NAMES)["pipelines"]["edges"]}
    wanted = {f"pipeline:{n}" for n in names} | {f"run:{stream.first_run}"}
    wanted |= {f"breach:{b['id']}" for b in _gql(svc, OPEN_BREACHES)["slaBreaches"]}
    missing = wanted - mine.keys()
    if missing:
        diffs.append(f"the page lacks {sorted(missing)}")
    # Each entity it holds: the server's version and document.
    keys = sorted(mine.keys() | wanted)
    server: dict[str, Any] = {}
    for i in range(0, len(keys), 200):
        for s in _gql(svc, SNAPSHOTS, e=keys[i : i + 200])["snapshots"]:
            server[s["entity"]] = s
    for key in keys:
        s = server[key]
        m = mine.get(key)
        if s["doc"] is None:
            if m is not None:
                diffs.append(f"{key}: the page holds v{m['version']}, the server has none")
            continue
        if m is None:
            continue  # reported above when the page should show it
        if m["version"] != s["version"]:
            diffs.append(f"{key}: page v{m['version']} != server v{s['version']}")
        elif m["doc"] != s["doc"]:
            diffs.append(f"{key}: same version {s['version']}, documents differ")
    if diffs:
        return diffs
    # The ordinary queries agree with those documents, field by field.
    for p in stream.pipelines:
        doc = mine[f"pipeline:{p}"]["doc"]
        q = _gql(svc, PIPELINE, n=p)["pipeline"]
        diffs += _compare(f"pipeline:{p}", doc, q, ["name", "version", "cardVersion"])
        runs = {r["id"]: r for r in q["runs"]}
        if set(runs) != set(doc["runs"]):
            diffs.append(f"pipeline:{p}: runs {sorted(doc['runs'])} != {sorted(runs)}")
            continue
        for rid, r in runs.items():
            diffs += _compare_run(f"pipeline:{p} run {rid}", doc["runs"][rid], r)
    run_id = stream.first_run
    q = _gql(svc, RUN, id=run_id)["run"]
    doc = mine.get(f"run:{run_id}", {}).get("doc")
    if q is None or doc is None:
        if (q is None) != (doc is None):
            diffs.append(f"run:{run_id}: query {q is not None}, page {doc is not None}")
    else:
        diffs += _compare_run(f"run:{run_id}", doc, q, calls=True)
    return diffs


def _compare(where: str, doc: dict, q: dict, fields: list[str]) -> list[str]:
    return [
        f"{where}.{f}: page {doc.get(f)!r} != query {q.get(f)!r}"
        for f in fields
        if doc.get(f) != q.get(f)
    ]


def _compare_run(where: str, doc: dict, q: dict, calls: bool = False) -> list[str]:
    diffs = _compare(
        where,
        doc,
        q,
        ["id", "version", "status", "inputTokens", "outputTokens", "costUsd", "scheduledFor"]
        if "scheduledFor" in q
        else ["id", "version", "status", "inputTokens", "outputTokens", "costUsd", "error"],
    )
    steps = {s["id"]: s for s in q["steps"]}
    if set(steps) != set(doc["steps"]):
        return [*diffs, f"{where}: step runs {sorted(doc['steps'])} != {sorted(steps)}"]
    for sid, s in steps.items():
        d = doc["steps"][sid]
        diffs += _compare(f"{where} step {sid}", d, s, ["version", "status", "attempt"])
        if d.get("step") != s["step"]["key"]:
            diffs.append(f"{where} step {sid}: key {d.get('step')!r} != {s['step']['key']!r}")
        if calls:
            qc = {c["id"]: c for c in s["llmCalls"]}
            if set(qc) != set(d.get("calls", {})):
                diffs.append(
                    f"{where} step {sid}: calls {sorted(d.get('calls', {}))} != {sorted(qc)}"
                )
                continue
            for cid, c in qc.items():
                diffs += _compare(
                    f"{where} call {cid}",
                    d["calls"][cid],
                    c,
                    ["response", "inputTokens", "outputTokens"],
                )
    return diffs


# ---- the property -------------------------------------------------------------------------


async def _overflow_delta_queues(hub: LiveHub) -> int:
    """Close every delta subscriber as LiveHub does when its queue overflows."""
    assert hub.deltas is not None
    subs = list(hub.deltas.all_subscribers())
    for sub in subs:
        sub.close(
            SubscriberClosed(
                f"subscriber fell more than {LIVE_QUEUE} deltas behind; subscribe again "
                "with the versions you hold (afterVersion / known)",
                code="SUBSCRIBER_TOO_SLOW",
            )
        )
    return len(subs)


def play(live: Live, stream: Stream) -> dict[str, Any]:
    """Open the page on the stream's first run, deliver the batches with the faults, then
    wait until the page equals the server; returns the page's drift counts."""
    live.open(f"/runs/{stream.first_run}")
    for batch, fault in zip(stream.batches, stream.faults, strict=True):
        ingest(live.service, batch)
        if fault == "drop":
            live.page.evaluate(DROP_SOCKETS)
        elif fault == "overflow":
            live.service.call(_overflow_delta_queues(live.service.app.state.services.hub))
    # Check the digests now rather than in 30 s: a drifted document is replaced.
    eventually(
        lambda: differences(live, stream),
        until=lambda d: d == [],
        timeout=SETTLE_S,
        interval=0.5,
        what="the page's entities to equal the server's",
    )
    mismatched = live.page.evaluate("() => window.__tracegraphStore.verifyNow()")
    assert mismatched == [], f"digest mismatches after settling: {mismatched}"
    assert live.errors == [], live.errors
    return live.page.evaluate("() => window.__tracegraphStore.drift()")


def _streaming_response_stream() -> Stream:
    """The open run streams a response chunk by chunk, one commit each, never received:
    the chunks must arrive as appended items (``add …/chunks/<i>``) and all be there."""
    clock = _Clock()
    p = f"fid-{uuid.uuid4().hex[:8]}-stream"
    run = f"{p}-r0"
    ctx: dict[str, Any] = {"step": "answer", "attempt": 1}
    head = [
        _event(clock, f"{p}-def", "pipeline.defined", p, None, data={"version": "1", "steps": []}),
        _event(clock, f"{run}-start", "run.started", p, run, data={"trigger": "manual"}),
        _event(clock, f"{run}-s", "step.started", p, run, **ctx),
        _event(
            clock,
            f"{run}-p",
            "prompt.sent",
            p,
            run,
            **ctx,
            data={"call": "c1", "model": "gpt-4o", "text": "q"},
        ),
    ]
    chunks = [
        _event(
            clock,
            f"{run}-k{i}",
            "response.chunk",
            p,
            run,
            **ctx,
            data={"call": "c1", "index": i, "delta": f"t{i} "},
        )
        for i in range(5)
    ]
    # One chunk a commit; the fourth comes last (out of order), and one twice.
    order = [chunks[0], chunks[1], chunks[2], chunks[4], chunks[1], chunks[3]]
    return Stream([p], head + chunks, [head, *([c] for c in order)], ["none"] * 7)


@example(stream=_streaming_response_stream())
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(stream=streams())
def test_the_live_view_equals_the_server_after_any_stream(live: Live, stream: Stream) -> None:
    drift = play(live, stream)
    # The page never reloaded to get there: the same document, its own resyncs only.
    assert live.page.evaluate("() => performance.getEntriesByType('navigation').length") == 1
    assert drift["mismatches"] == 0, drift


def test_the_drift_indicator_counts_reconnects_and_overflows_and_says_why(live: Live) -> None:
    """A dropped socket, then an overflowed queue: the topics resubscribe with their
    versions (reasons RECONNECT, OVERFLOW), the header's indicator counts them and its
    tooltip says why; the page still follows."""
    tag = uuid.uuid4().hex[:8]
    p, run = f"drift-{tag}", f"drift-{tag}-r"
    clock = _Clock()
    ingest(
        live.service,
        [
            _event(
                clock, f"{p}-def", "pipeline.defined", p, None, data={"version": "1", "steps": []}
            ),
            _event(clock, f"{run}-s", "run.started", p, run, data={"trigger": "manual"}),
        ],
    )
    live.open("/")
    before = live.page.evaluate("() => window.__tracegraphStore.drift()")
    assert live.page.evaluate(DROP_SOCKETS) >= 1
    after = eventually(
        lambda: live.page.evaluate("() => window.__tracegraphStore.drift()"),
        until=lambda d: d["byReason"]["RECONNECT"] > before["byReason"]["RECONNECT"],
        what="a RECONNECT resync counted",
    )
    indicator = live.page.locator("#stat-drift")
    # The header shows the store's count (the other topics may still be resubscribing).
    eventually(
        lambda: (
            indicator.get_attribute("data-resyncs"),
            live.page.evaluate("() => window.__tracegraphStore.drift().resyncs"),
        ),
        until=lambda shown: shown[0] == str(shown[1]),
        what="the drift indicator to show the store's resync count",
    )
    expect(indicator).to_have_attribute("title", re.compile(r"reconnect [1-9]"))
    # A queue overflow (the server ends the subscriptions with SUBSCRIBER_TOO_SLOW) is
    # counted as one, not as a reconnect.
    # (Overflowed again until counted: right after the reconnect the server may still
    # hold the dropped socket's subscribers, and the page's new ones may not be there.)
    hub = live.service.app.state.services.hub

    def overflow_then_drift() -> dict[str, Any]:
        live.service.call(_overflow_delta_queues(hub))
        return live.page.evaluate("() => window.__tracegraphStore.drift()")

    eventually(
        overflow_then_drift,
        until=lambda d: d["byReason"]["OVERFLOW"] > after["byReason"]["OVERFLOW"],
        what="an OVERFLOW resync counted",
    )
    expect(indicator).to_have_attribute("title", re.compile(r"overflow [1-9]"))
    # After the reconnect the grid still follows the run.
    ingest(live.service, [_event(clock, f"{run}-done", "run.completed", p, run)])
    expect(live.page.locator(f"article.card[data-pipeline='{p}'] .badge")).to_contain_text(
        "succeeded"
    )
    assert live.errors == [], live.errors


def test_a_viewer_holds_the_redacted_documents(live: Live) -> None:
    """A viewer's page keeps the redacted variant (no prompt or response text, no chunks)
    and it equals the viewer's snapshot, while the text streams and after it arrives."""
    stream = _streaming_response_stream()
    run = stream.first_run
    head, *chunks = stream.batches
    live.open(f"/runs/{run}", role="viewer")
    ingest(live.service, head)
    for batch in chunks:
        ingest(live.service, batch)

    def page_and_server() -> tuple[Any, Any]:
        mine = live.page.evaluate("() => window.__tracegraphStore.snapshot()").get(f"run:{run}")
        snap = _gql(live.service, SNAPSHOTS, role="viewer", e=[f"run:{run}"])["snapshots"][0]
        return mine, snap

    mine, snap = eventually(
        page_and_server,
        until=lambda ms: ms[0] is not None and ms[0]["version"] == ms[1]["version"],
        what="the viewer's page to hold the run's current version",
    )
    assert mine["doc"] == snap["doc"]
    (step,) = mine["doc"]["steps"].values()
    (call,) = step["calls"].values()
    assert call["prompt"] is None and call["response"] is None and call["chunks"] == []
    assert live.page.evaluate("() => window.__tracegraphStore.verifyNow()") == []
    assert live.errors == [], live.errors
