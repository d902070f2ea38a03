"""Metric rollups (issue 21) against the exact computation on generated data.

The oracle is the graph itself: ``MetricsReads.exact_buckets`` / ``exact_breakdown``
(the statements the metrics used before the rollups, still the fallback) and
``tests/cypher/overview_today_exact.cypher``. Counts and tokens must be equal, cost equal
to 10^-9 USD per call, percentiles within the sketch's 1 % relative accuracy. The events
arrive shuffled (late events, responses before prompts), partly twice (duplicates), from
two replicas at once; then the rollups must survive a replay and a rebuild unchanged.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from neo4j import AsyncGraphDatabase, Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.ingest.pricing import load_prices
from tracegraph.settings import Neo4jSettings, Settings
from tracegraph.store.event_log import rebuild_from_log
from tracegraph.store.event_writer import EventWriter
from tracegraph.store.graph_reads import GraphReads
from tracegraph.store.metrics_reads import MetricFilter, MetricsReads
from tracegraph.store.rollups import (
    MAPPING,
    RELATIVE_ACCURACY,
    Touched,
    bin_code,
    rebuild_rollups,
    sketch_bin,
    update_rollups,
)

EVENTS = 2500
COUNTS = (
    "runs", "runs_succeeded", "runs_failed", "runs_cancelled", "step_runs",
    "step_runs_succeeded", "step_runs_failed", "step_runs_finished", "events", "calls",
    "call_errors", "input_tokens", "output_tokens",
)  # fmt: skip
PERCENTILES = (
    "run_p50", "run_p95", "run_p99", "step_p50", "step_p95", "step_p99",
    "latency_p50", "latency_p95", "latency_p99",
)  # fmt: skip


def _events() -> list[dict[str, Any]]:
    # Today, so the header's "today" figures have something to sum.
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    events = WorkloadGenerator(seed=21, start=midnight).events(EVENTS)
    rng = random.Random(21)
    definitions = [e for e in events if e["type"] == "pipeline.defined"]
    rest = [e for e in events if e["type"] != "pipeline.defined"]
    # Late arrivals everywhere: responses before prompts, ends before starts.
    rng.shuffle(rest)
    # Duplicates: a tenth of the events sent again later.
    return definitions + rest + rng.sample(rest, len(rest) // 10)


def _post_concurrently(services: list[RunningService], events: list[dict[str, Any]]) -> None:
    """Half the batches through each replica, at the same time."""
    batches = [events[i : i + 100] for i in range(0, len(events), 100)]
    failures: list[str] = []

    def send(service: RunningService, mine: list[list[dict[str, Any]]]) -> None:
        with service.client() as client:
            for batch in mine:
                # A batch the database did not commit in time is sent again, as the API
                # asks (503: duplicates are recognised), a few times.
                for _attempt in range(5):
                    resp = client.post("/v1/events", json=batch)
                    if resp.status_code != 503:
                        break
                if resp.status_code != 200:
                    failures.append(resp.text)

    # Definitions first (one batch), then both replicas at once.
    send(services[0], batches[:1])
    threads = [
        threading.Thread(target=send, args=(svc, batches[1 + i :: len(services)]))
        for i, svc in enumerate(services)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]


def _same(rolled: dict[str, Any], exact: dict[str, Any], where: str) -> None:
    for name in COUNTS:
        assert rolled.get(name) == exact.get(name), (where, name, rolled, exact)
    calls = exact.get("calls") or 0
    for name in ("cost_usd", "estimated_cost_usd"):
        assert rolled[name] == pytest.approx(exact[name], abs=1e-9 * (calls + 1)), (where, name)
    for name in PERCENTILES:
        if name not in exact:
            continue
        if exact[name] is None:
            assert rolled[name] is None, (where, name)
        else:
            assert rolled[name] == pytest.approx(exact[name], rel=RELATIVE_ACCURACY), (where, name)


async def _compare(settings: Neo4jSettings, driver: Driver) -> int:
    """Every filter, three bucket widths and every breakdown: rollups == exact."""
    async_driver = AsyncGraphDatabase.driver(settings.uri, auth=settings.auth)
    try:
        reads = MetricsReads(async_driver, settings.database, 60.0)
        assert await reads.rollups_complete()
        [span] = fetch(driver, "event_time_span")
        hour = 3_600_000
        from_ms = span["first"] // hour * hour
        to_ms = -(-(span["last"] + 1) // hour) * hour
        pipelines = [r["pipeline"] for r in fetch(driver, "call_dimensions")]
        dims = fetch(driver, "call_dimensions")
        filters = [MetricFilter()]
        for d in dims[:3]:
            filters += [
                MetricFilter(pipeline=d["pipeline"]),
                MetricFilter(pipeline=d["pipeline"], step=d["step"]),
                MetricFilter(provider=d["provider"]),
                MetricFilter(provider=d["provider"], model=d["model"]),
            ]
        compared = 0
        for flt in filters:
            for bucket_ms in (hour, 7 * 60_000, to_ms - from_ms):
                rolled = await reads.rollup_buckets(flt, from_ms, to_ms, bucket_ms)
                exact = await reads.exact_buckets(flt, from_ms, to_ms, bucket_ms)
                assert len(rolled) == len(exact)
                for r, e in zip(rolled, exact, strict=True):
                    _same(r, e, f"{flt} bucket {bucket_ms} #{e['bucket']}")
                    compared += e["calls"] + e["step_runs"]
                # Totals merged from the buckets' sums and sketches == the exact whole range.
                _, whole = await reads.series_and_totals(flt, from_ms, to_ms, bucket_ms)
                [exact_whole] = await reads.exact_buckets(flt, from_ms, to_ms, to_ms - from_ms)
                assert whole is not None
                _same(whole, exact_whole, f"{flt} totals over buckets of {bucket_ms}")
        for by in ("PIPELINE", "STEP", "MODEL", "PROVIDER"):
            for pipeline in (None, pipelines[0]):
                rolled_rows = await reads.rollup_breakdown(by, from_ms, to_ms, pipeline)
                exact_rows = await reads.exact_breakdown(by, from_ms, to_ms, pipeline)
                # Same groups (the order is by cost, whose last digits may differ).
                by_key = {r["key"]: r for r in rolled_rows}
                assert sorted(by_key, key=str) == sorted((e["key"] for e in exact_rows), key=str)
                for e in exact_rows:
                    r = by_key[e["key"]]
                    e = {**e, "latency_p50": e["p50"], "latency_p95": e["p95"],
                         "latency_p99": e["p99"], "call_errors": e["errors"]}  # fmt: skip
                    r = {**r, "latency_p50": r["p50"], "latency_p95": r["p95"],
                         "latency_p99": r["p99"], "call_errors": r["errors"]}  # fmt: skip
                    _same(r, e, f"breakdown {by} {pipeline} {e['key']}")
                costs = [r["cost_usd"] for r in rolled_rows]
                assert costs == sorted(costs, reverse=True)
        overview = await GraphReads(async_driver, settings.database, 60.0).overview()
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        [oracle] = fetch(driver, "overview_today_exact", since=midnight)
        assert overview["tokens_today"] == oracle["tokens_today"] > 0
        assert overview["cost_today_usd"] == pytest.approx(oracle["cost_today_usd"], abs=1e-6)
        return compared
    finally:
        await async_driver.close()


def _rollups(driver: Driver) -> list[Any]:
    [rec] = fetch(driver, "rollups_snapshot")
    return sorted(rec["buckets"])


def test_rollups_equal_the_exact_figures_through_replicas_replay_and_rebuild(
    clean_graph: Driver,
    make_service: Callable[..., RunningService],
    neo4j_settings: Neo4jSettings,
) -> None:
    replicas = [make_service(), make_service()]
    _post_concurrently(replicas, _events())
    compared = asyncio.run(_compare(neo4j_settings, clean_graph))
    assert compared > 1000  # the comparison saw real data
    before = _rollups(clean_graph)
    assert before and any(bucket[-1] for bucket in before)  # sketches too

    # Replay: the derived graph, rollups included, is wiped and rebuilt from the log.
    async def replay() -> None:
        driver = AsyncGraphDatabase.driver(neo4j_settings.uri, auth=neo4j_settings.auth)
        try:
            prices = load_prices(Settings().price_table_path)
            writer = EventWriter(driver, neo4j_settings.database, prices)
            await rebuild_from_log(writer, driver, neo4j_settings.database, page=300)
        finally:
            await driver.close()

    asyncio.run(replay())
    assert _rollups(clean_graph) == before

    # A database from before the rollups: `tracegraph rollups rebuild` sums it again.
    fetch(clean_graph, "rollups_strip")
    assert _rollups(clean_graph) == []

    async def rebuild() -> dict[str, int]:
        driver = AsyncGraphDatabase.driver(neo4j_settings.uri, auth=neo4j_settings.auth)
        try:
            return await rebuild_rollups(driver, neo4j_settings.database, page=97)
        finally:
            await driver.close()

    visited = asyncio.run(rebuild())
    assert visited["Event"] > 0 and visited["LLMCall"] > 0
    assert _rollups(clean_graph) == before
    # Again: nothing counted twice.
    asyncio.run(rebuild())
    assert _rollups(clean_graph) == before
    asyncio.run(_compare(neo4j_settings, clean_graph))


def test_incomplete_rollups_are_not_read(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    events = WorkloadGenerator(seed=3).events(300)
    with service.client() as client:
        assert client.post("/v1/events", json=events).status_code == 200
    fetch(clean_graph, "rollups_strip")  # as if written before the rollups

    async def read() -> tuple[bool, list[dict[str, Any]], list[dict[str, Any]]]:
        driver = AsyncGraphDatabase.driver(neo4j_settings.uri, auth=neo4j_settings.auth)
        try:
            reads = MetricsReads(driver, neo4j_settings.database, 60.0)
            start = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
            end = start + int(timedelta(days=2).total_seconds() * 1000)
            got = await reads.buckets(MetricFilter(), start, end, 3_600_000)
            exact = await reads.exact_buckets(MetricFilter(), start, end, 3_600_000)
            return await reads.rollups_complete(), got, exact
        finally:
            await driver.close()

    complete, got, exact = asyncio.run(read())
    assert not complete
    assert got == exact and sum(b["step_runs"] for b in got) > 0


def _probe_values(rng: random.Random) -> list[float | int]:
    """Latencies the sketch keys must agree on: every magnitude, integers, values at and
    next to the mapping's bin edges (where a last-ulp difference would show), zero,
    tiny and negative ones."""
    values: list[float | int] = [0, 0.0, 1e-300, -5, -0.25, 1, 2, 1000]
    values += [rng.lognormvariate(5, 4) for _ in range(1500)]
    values += [rng.randrange(1, 100_000) for _ in range(1000)]
    for key in range(-300, 1200, 7):
        edge = MAPPING.gamma**key
        values += [edge, math.nextafter(edge, 0), math.nextafter(edge, math.inf)]
    return values


def test_the_rebuilds_cypher_computes_what_ingest_computes(
    clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    """The server-side rebuild (cypher/rollup_rebuild_*.cypher) against the Python the
    ingest path runs: the same sketch keys as ddsketch's mapping for thousands of values,
    the same recorded JSON for awkward names, the same cost rounding, the same buckets."""
    rng = random.Random(7)
    names = ["plain", 'quo"te', "back\\slash", "new\nline", "ctl\x01\x1f", "é✓🚀", ""]
    base = 1_764_000_000_000
    calls, step_runs, runs = [], [], []
    for i, v in enumerate(_probe_values(rng)):
        t = base + rng.randrange(0, 3 * 3_600_000)
        name = names[i % len(names)]
        calls.append({"t": t, "props": {
            "id": f"c{i:05d}", "pipeline": name, "step": names[(i + 1) % 7],
            "provider": "prov", "model": ["m1", name][i % 2],
            "template": None if i % 3 else "tpl", "template_version": [3, "3", None][i % 3],
            "latency_ms": v, "input_tokens": i % 50, "output_tokens": None if i % 4 else 7,
            "cost_usd": [2.5e-9, 0.0015, 1 / 3, None, 1.25e-7][i % 5],
            "cost_estimated": [True, False, None][i % 3],
            "error": "boom" if i % 11 == 0 else None,
        }})  # fmt: skip
        step_runs.append({"t": t, "props": {
            "id": f"s{i:05d}", "pipeline": name, "step": "s", "provider": None, "model": "m",
            "status": ["succeeded", "failed", "running", "skipped"][i % 4], "duration_ms": v,
        }})  # fmt: skip
        if i % 5 == 0:
            runs.append({"t": t, "props": {
                "id": f"r{i:05d}", "pipeline": name, "duration_ms": v,
                "status": ["succeeded", "failed", "cancelled", "running"][i % 4],
            }})  # fmt: skip
    fetch(clean_graph, "rollup_probe_nodes", calls=calls, step_runs=step_runs, runs=runs)

    async def rebuild_then_ingest_path() -> None:
        driver = AsyncGraphDatabase.driver(neo4j_settings.uri, auth=neo4j_settings.auth)
        try:
            await rebuild_rollups(driver, neo4j_settings.database, page=700)
            server_side.extend([_rollups(clean_graph), fetch(clean_graph, "rollup_recorded")])
            fetch(clean_graph, "rollups_strip")
            touched = Touched(
                calls=[c["props"]["id"] for c in calls],
                step_runs=[s["props"]["id"] for s in step_runs],
                runs=[r["props"]["id"] for r in runs],
            )
            async with driver.session(database=neo4j_settings.database) as session:
                await session.execute_write(update_rollups, touched)
        finally:
            await driver.close()

    server_side: list[Any] = []
    asyncio.run(rebuild_then_ingest_path())
    rolled, recorded = server_side
    assert len(recorded) == len(calls) + len(step_runs) + len(runs)
    assert fetch(clean_graph, "rollup_recorded") == recorded
    assert _rollups(clean_graph) == rolled
    # The keys themselves, spot-checked against the library for the calls' latencies.
    keys = {bin_code(sketch_bin(c["props"]["latency_ms"])) for c in calls}
    stored = {code for bucket in rolled for code in (bucket[-2] or [])}
    assert keys <= stored
