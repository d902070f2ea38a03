"""Dashboard responsiveness under load: 200 active runs and 200 events/s into a real page.

The service runs in its own process over a real Neo4j; Debian's Chromium (driven by
Playwright) shows the dashboard while this script posts ``step.progress`` events for 200
running runs plus one ``log`` line in ten. Each log line carries its send time; a
MutationObserver in the page reads it back when the line reaches the DOM, which gives the
ingest-to-DOM latency under load. Long tasks (> 50 ms on the main thread) are counted with
a PerformanceObserver.

    .venv/bin/python bench/ui.py [--seconds 20] [--rate 200] [--runs 200]

The last line printed is ``ui events_per_s=<n> dom_update_p95_ms=<p> long_tasks=<k>``.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from neo4j import GraphDatabase

from harness import (
    BENCH_BOLT_PORT,
    BENCH_INSTANCE,
    bearer,
    mint_keys,
    neo4j_uri,
    percentile,
    start_service,
    stop_process,
    stops_what_it_starts,
)
from tracegraph.settings import REPO_ROOT
from tracegraph.store.cypher_files import query

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PIPELINES = 10
STEPS = ["load", "embed", "generate", "judge"]

# Runs in the page: record when each marked log line shows up, and every long task.
INSTRUMENT = """
window.__bench = { lat: [], arrive: [], longTasks: 0 };
window.tracegraph.on("log", (ev) => {
  const m = /bench-sent=(\\d+)/.exec(ev.data.message);
  if (m) window.__bench.arrive.push(Date.now() - Number(m[1]));
});
new PerformanceObserver((list) => { window.__bench.longTasks += list.getEntries().length; })
  .observe({ type: "longtask", buffered: false });
new MutationObserver((records) => {
  const now = Date.now();
  for (const r of records) for (const n of r.addedNodes) {
    const m = /bench-sent=(\\d+)/.exec(n.textContent || "");
    if (m) window.__bench.lat.push(now - Number(m[1]));
  }
}).observe(document.getElementById("log-list"), { childList: true });
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _wipe(uri: str) -> None:
    with GraphDatabase.driver(uri, auth=("neo4j", "")) as driver, driver.session() as session:
        session.run(query("wipe_batch")).consume()


def _event(n: int, type_: str, pipeline: str, run: str | None = None, **extra: object) -> dict:
    ev: dict = {
        "id": f"bench-ui-{n}",
        "type": type_,
        "time": now_iso(),
        "source": "bench/ui",
        "pipeline": pipeline,
    }
    if run:
        ev["run"] = run
    ev.update(extra)
    return ev


def _seed(base: str, key: str, runs: int) -> list[tuple[str, str]]:
    events: list[dict] = []
    n = 0
    for p in range(PIPELINES):
        steps = [{"key": s, "depends_on": [STEPS[i - 1]] if i else []} for i, s in enumerate(STEPS)]
        events.append(_event(n := n + 1, "pipeline.defined", f"bench-{p}", data={"steps": steps}))
    active: list[tuple[str, str]] = []
    for r in range(runs):
        pipeline, run = f"bench-{r % PIPELINES}", f"bench-run-{r}"
        events.append(_event(n := n + 1, "run.started", pipeline, run, data={"trigger": "api"}))
        events.append(_event(n := n + 1, "step.started", pipeline, run, step=STEPS[r % 4]))
        active.append((pipeline, run))
    with httpx.Client(base_url=base, timeout=60, headers=bearer(key)) as http:
        for i in range(0, len(events), 500):
            http.post("/v1/events", json=events[i : i + 500]).raise_for_status()
    return active


async def _drive(
    base: str, key: str, active: list[tuple[str, str]], rate: int, seconds: float
) -> int:
    """Post ``rate`` events/s in 10 batches a second; returns how many were accepted."""
    sent = 0
    n = 10_000_000
    tick = 0.1
    per_tick = max(1, rate // 10)
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=bearer(key)) as http:
        start = time.monotonic()
        pending: set[asyncio.Task] = set()
        while time.monotonic() - start < seconds:
            batch = []
            for _ in range(per_tick):
                n += 1
                pipeline, run = active[n % len(active)]
                step = STEPS[(n // len(active)) % 4]
                data: dict[str, Any]
                if n % 10 == 0:
                    msg = f"bench line {n} bench-sent={int(time.time() * 1000)}"
                    data = {"level": "info", "message": msg}
                    batch.append(_event(n, "log", pipeline, run, step=step, data=data))
                else:
                    data = {"percent": (n // 7) % 100, "tokens_used": n}
                    batch.append(_event(n, "step.progress", pipeline, run, step=step, data=data))
            task = asyncio.create_task(http.post("/v1/events", json=batch))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += len(batch)
            await asyncio.sleep(max(0.0, start + tick * (sent / per_tick) - time.monotonic()))
        await asyncio.gather(*pending)
    return sent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    uri = neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT)
    _wipe(uri)
    proc, base = start_service(uri)
    try:
        # The load posts with an ingester key; the page signs in with a viewer key.
        keys = mint_keys(uri, "ingester", "viewer")
        active = _seed(base, keys["ingester"], args.runs)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
            )
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/#key={keys['viewer']}")
            page.wait_for_selector("body[data-ready='1']", state="attached", timeout=30_000)
            page.wait_for_function("document.body.dataset.conn === 'live'", timeout=30_000)
            page.evaluate(INSTRUMENT)
            seen0 = page.evaluate("window.tracegraph.state.eventsSeen")
            t0 = time.monotonic()
            # Playwright's sync API owns this thread's event loop; the load runs beside it.
            result: list[int] = []
            driver = threading.Thread(
                target=lambda: result.append(
                    asyncio.run(_drive(base, keys["ingester"], active, args.rate, args.seconds))
                )
            )
            driver.start()
            while driver.is_alive():
                page.wait_for_timeout(200)
            sent = result[0]
            # Let the tail of the stream arrive before reading the figures.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                seen = page.evaluate("window.tracegraph.state.eventsSeen") - seen0
                if seen >= sent:
                    break
                page.wait_for_timeout(200)
            elapsed = time.monotonic() - t0
            seen = page.evaluate("window.tracegraph.state.eventsSeen") - seen0
            bench = page.evaluate("window.__bench")
            out = REPO_ROOT / "test-output"
            out.mkdir(exist_ok=True)
            page.screenshot(path=str(out / "bench-ui.png"))
            browser.close()
        lat = [float(v) for v in bench["lat"]]
        arrive = [float(v) for v in bench["arrive"]]
        print(f"sent={sent} seen={seen} log_lines_timed={len(lat)} page_errors={len(errors)}")
        # How much of the latency is the server's (ingest -> subscription message).
        p50, p95 = percentile(arrive, 0.5), percentile(arrive, 0.95)
        print(f"stream_arrival_p50_ms={p50:.0f} p95_ms={p95:.0f}")
        print(
            f"ui events_per_s={seen / elapsed:.0f} "
            f"dom_update_p95_ms={percentile(lat, 0.95):.0f} long_tasks={bench['longTasks']}"
        )
    finally:
        stop_process(proc)


if __name__ == "__main__":
    with stops_what_it_starts():
        main()
