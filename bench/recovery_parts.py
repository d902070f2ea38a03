"""Where the seconds go between a killed Neo4j answering again and the first commit.

Starts its own Neo4j (``--instance``/``--bolt-port``, default the bench instance and
port), writes a few batches so the write statements are planned, then ``--rounds``
times: SIGKILL, ``start()`` (timed), and straight after it answers, in order:

- ``first_query_s``: a trivial ``RETURN 1`` on a new connection;
- ``plan_<statement>_s``: ``EXPLAIN`` of each ingest write statement (planning only,
  with the parameter shapes of a real batch of ``--events`` log events);
- ``first_write_s`` / ``second_write_s``: two real batches through ``EventWriter.write``.

With ``--split`` each statement is run alone (rolled back) instead of explained. With
``--no-explain`` the statements are not planned first, so ``first_write_s`` holds
their planning (what the first request after an outage used to wait for). Stops the
Neo4j it started. Prints one line per round and the medians.

    .venv/bin/python bench/recovery_parts.py [--rounds 3] [--events 20] [--no-explain]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import time
import uuid
from typing import Any

from neo4j import GraphDatabase, Query

from harness import BENCH_BOLT_PORT, BENCH_INSTANCE, reset_graph, started_by_bench
from harness import stops_what_it_starts as stops
from tracegraph.ingest.service import IngestService
from tracegraph.localneo4j import LocalNeo4j
from tracegraph.localneo4j.errors import LocalNeo4jError
from tracegraph.settings import REPO_ROOT, Neo4jSettings
from tracegraph.store.batch_params import batch_params
from tracegraph.store.cypher_files import cypher
from tracegraph.store.driver import open_driver
from tracegraph.store.event_writer import EventWriter, WriteUnit
from tracegraph.store.graph_rows import SequencedEvent, plan_statements


def _events(n: int) -> list[dict[str, Any]]:
    prefix = uuid.uuid4().hex[:8]
    return [
        {
            "id": f"parts-{prefix}-{i}",
            "type": "log",
            "time": "2026-11-20T02:00:00Z",
            "source": "bench/recovery_parts",
            "data": {"level": "info", "message": f"line {i}"},
        }
        for i in range(n)
    ]


def _unit(ingest: IngestService, n: int) -> WriteUnit:
    return ingest.prepare(_events(n), principal="bench")


def _explains(unit: WriteUnit) -> dict[str, tuple[str, dict[str, Any]]]:
    """The statements the first write of ``unit`` plans, with its parameter shapes."""
    seq = [
        SequencedEvent(
            seq=10**12 + i,  # never a stored seq (the split run writes, then rolls back)
            payload=ev.payload,
            fingerprint=ev.fingerprint,
            received_at=unit.received_at,
            principal=unit.principal,
            redactions=ev.redactions,
            rows=None,
        )
        for i, ev in enumerate(unit.events)
    ]
    plan = plan_statements(seq, {})
    return {
        "claim_events": (cypher("claim_events"), {"claim": {"ids": [e.id for e in unit.events]}}),
        "audit_definition_state": (cypher("audit_definition_state"), {"names": []}),
        "apply_batch": (cypher("apply_batch"), {"batch": batch_params(plan.batch), "prices": {}}),
    }


def _timed_explain(uri: str, text: str, params: dict[str, Any]) -> float:
    with GraphDatabase.driver(uri) as driver, driver.session() as session:
        t = time.perf_counter()
        session.run(Query("EXPLAIN " + text), params).consume()
        return time.perf_counter() - t


def _timed_rolled_back(uri: str, text: str, params: dict[str, Any]) -> float:
    """A statement run (planned and executed) in a transaction that is rolled back."""
    with GraphDatabase.driver(uri) as driver, driver.session() as session:
        t = time.perf_counter()
        tx = session.begin_transaction()
        try:
            tx.run(text, params).consume()
        finally:
            tx.rollback()
        return time.perf_counter() - t


async def _write(uri: str, unit: WriteUnit) -> float:
    driver = open_driver(Neo4jSettings(uri=uri))
    try:
        writer = EventWriter(driver, "neo4j", {}, transaction_timeout_s=120)
        t = time.perf_counter()
        await writer.write([unit])
        return time.perf_counter() - t
    finally:
        await driver.close()


def _restart(local: LocalNeo4j) -> None:
    """``start()`` once the dead server's port is free again (it lingers briefly)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            local.start(timeout_s=300)
            return
        except LocalNeo4jError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--events", type=int, default=20)
    ap.add_argument("--no-explain", action="store_true")
    ap.add_argument("--split", action="store_true", help="run each statement alone first")
    ap.add_argument("--instance", default=BENCH_INSTANCE)
    ap.add_argument("--bolt-port", type=int, default=BENCH_BOLT_PORT)
    args = ap.parse_args()
    if os.environ.get("NEO4J_URI"):
        raise SystemExit("bench/recovery_parts.py kills its own Neo4j; unset NEO4J_URI")
    local = LocalNeo4j(REPO_ROOT / ".neo4j", name=args.instance, bolt_port=args.bolt_port)
    if not local.status().running:
        started_by_bench(local)
    uri = local.start()
    reset_graph(uri)
    ingest = IngestService(None)  # type: ignore[arg-type]  # prepare() only: no committer
    for _ in range(3):  # planned and warm before the first kill
        asyncio.run(_write(uri, _unit(ingest, args.events)))
    figures: dict[str, list[float]] = {}
    for n in range(args.rounds):
        pid = local.status().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        while local.status().running:
            time.sleep(0.1)
        t = time.perf_counter()
        _restart(local)
        row = {"start_s": time.perf_counter() - t}
        with GraphDatabase.driver(uri) as driver:
            t = time.perf_counter()
            driver.execute_query("RETURN 1")
            row["first_query_s"] = time.perf_counter() - t
        unit = _unit(ingest, args.events)
        if args.split:
            for name, (text, params) in _explains(unit).items():
                row[f"run_{name}_s"] = _timed_rolled_back(uri, text, params)
        elif not args.no_explain:
            for name, (text, params) in _explains(unit).items():
                row[f"plan_{name}_s"] = _timed_explain(uri, text, params)
        row["first_write_s"] = asyncio.run(_write(uri, unit))
        row["second_write_s"] = asyncio.run(_write(uri, _unit(ingest, args.events)))
        print(f"round {n + 1}: " + " ".join(f"{k}={v:.2f}" for k, v in row.items()), flush=True)
        for k, v in row.items():
            figures.setdefault(k, []).append(v)
    medians = " ".join(f"{k}={statistics.median(v):.2f}" for k, v in figures.items())
    print(f"recovery_parts {medians}")


if __name__ == "__main__":
    with stops():
        main()
