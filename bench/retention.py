"""A retention pass under load (docs/retention.md): how fast it archives, and what it
does to ingestion meanwhile.

The service runs in its own process on a fresh local Neo4j. The benchmark loads
``--events`` events (the demo workload), then measures ingest latency twice with the same
steady load (one client posting ``--batch``-event requests back to back): first with no
pass running, then while a retention pass (events and logs classes, in this process,
against the same database, with the service's default batch size and pause) archives
and deletes every event loaded before. Events posted during the measurements are newer
than the pass's cutoff and stay.

    .venv/bin/python bench/retention.py [--events 20000] [--batch 50]

The last line printed is ``retention events=<n> archived_eps=<n> ingest_p99_ms_idle=<a>
ingest_p99_ms_during=<b> batch_size=<n> pause_s=<s>``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from harness import (
    BENCH_BOLT_PORT,
    BENCH_INSTANCE,
    amint_keys,
    bearer,
    neo4j_uri,
    percentile,
    start_service,
    stop_process,
    stops_what_it_starts,
)
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.retention.service import retention_service
from tracegraph.settings import Neo4jSettings, Settings
from tracegraph.store.driver import open_driver


async def _post_all(client: httpx.AsyncClient, key: str, bodies: list[bytes]) -> list[float]:
    """Post each body in turn; the latency of each (ms), resending on 429/503."""
    latencies = []
    for body in bodies:
        started = time.perf_counter()
        while True:
            resp = await client.post(
                "/v1/events",
                content=body,
                headers={"content-type": "application/json", **bearer(key)},
            )
            if resp.status_code in (429, 503):
                await asyncio.sleep(float(resp.headers.get("retry-after", "1")))
                continue
            if resp.status_code != 200:
                raise RuntimeError(f"ingest failed: {resp.status_code} {resp.text[:300]}")
            break
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def _steady_load(
    client: httpx.AsyncClient, key: str, bodies: list[bytes], until: asyncio.Future[None]
) -> list[float]:
    """Post bodies back to back (cycling through them, as new events) until ``until``."""
    latencies: list[float] = []
    i = 0
    while not until.done():
        latencies += await _post_all(client, key, [bodies[i % len(bodies)]])
        i += 1
    return latencies


def _bodies(seed: int, count: int, batch: int) -> list[bytes]:
    events = WorkloadGenerator(seed=seed).events(count)
    return [orjson.dumps(events[i : i + batch]) for i in range(0, len(events), batch)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events loaded, then expired")
    parser.add_argument("--batch", type=int, default=50, help="events per request of the load")
    parser.add_argument("--idle-s", type=float, default=20.0, help="idle measurement, seconds")
    args = parser.parse_args()

    uri = neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT, fresh_store=True)
    proc, base = start_service(uri)
    try:
        [key] = (await amint_keys(uri, "ingester")).values()
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            await _post_all(client, key, _bodies(2026, args.events, 500))
            cutoff = datetime.now(UTC)
            # Newer events (other runs: other seeds) for the two measurements.
            load = _bodies(7, 20_000, args.batch)

            idle_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(args.idle_s, idle_done.set_result, None)
            idle = await _steady_load(client, key, load, idle_done)

            settings = Settings(neo4j=Neo4jSettings(uri=uri))
            archive_dir = Path(tempfile.mkdtemp(prefix="tracegraph-retention-bench-"))
            driver = open_driver(settings.neo4j)
            try:
                service = retention_service(
                    settings.model_copy(
                        update={
                            "retention_events_days": 1,
                            "retention_logs_days": 1,
                            "retention_archive_dir": archive_dir,
                        }
                    ),
                    driver,
                    settings.query_timeout_s,
                )
                pass_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                loader = asyncio.create_task(_steady_load(client, key, load, pass_done))
                started = time.perf_counter()
                report = await service.run_pass(as_of=cutoff + timedelta(days=1))
                seconds = time.perf_counter() - started
                pass_done.set_result(None)
                during = await loader
            finally:
                await driver.close()
    finally:
        stop_process(proc)

    archived = sum(report.archived.values())
    print(
        f"pass: {archived} events archived in {seconds:.1f}s into {len(report.files)} files; "
        f"requests idle={len(idle)} during={len(during)}",
        flush=True,
    )
    print(
        f"retention events={archived} archived_eps={archived / seconds:.0f} "
        f"ingest_p99_ms_idle={percentile(idle, 0.99):.0f} "
        f"ingest_p99_ms_during={percentile(during, 0.99):.0f} "
        f"batch_size={settings.retention_batch_size} pause_s={settings.retention_batch_pause_s}"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    with stops_what_it_starts():
        asyncio.run(main())
