"""Outages under load: Neo4j killed (SIGKILL) and frozen (SIGSTOP) while clients ingest.

Starts its own Neo4j (instance ``faults`` unless ``--instance``, port 7746 unless
``--bolt-port``; with
``NEO4J_URI`` set it cannot kill that server and refuses) and the service in its own
process, then runs ``--clients`` HTTP clients posting batches of fresh events in a loop
while it, in turn, kills Neo4j (and starts it again) and freezes it (then continues it).
Every request's status and duration are recorded. Figures, maximum over the faults:

- ``first_503_s``: from the fault to the end of the first request answered 503;
- ``longest_request_s``: the longest any request took, over the whole run;
- ``recovery_s``: from Neo4j answering again (``start()`` returned, or SIGCONT) to the
  end of the first request answered 200;
- ``acked_missing``: events answered 200 that are not in the database at the end.

Targets: ≤ 5, ≤ 5, ≤ 10 and 0. Stops the service and the Neo4j it started.

    .venv/bin/python bench/faults.py [--clients 4] [--rounds 1] [--outage-s 8]

The last line printed is
``faults first_503_s=<max> longest_request_s=<max> recovery_s=<max> acked_missing=<n>``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from neo4j import GraphDatabase

from harness import (
    UNTHROTTLED_ENV,
    bearer,
    bench_cypher,
    free_port,
    mint_keys,
    reset_graph,
    wait_ready,
)
from tracegraph.localneo4j import LocalNeo4j
from tracegraph.settings import REPO_ROOT

FAULTS_BOLT_PORT = 7746


@dataclass
class Answer:
    status: int  # 0: the client gave up (no answer within its 60 s timeout)
    started: float
    ended: float
    ids: list[str]


@dataclass
class Load:
    base: str
    key: str
    clients: int
    batch: int = 20
    prefix: str = field(default_factory=lambda: f"fault-{uuid.uuid4().hex[:8]}")
    answers: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _next: int = 0

    def _event(self, i: int) -> dict[str, object]:
        return {
            "id": f"{self.prefix}-{i}",
            "type": "log",
            "time": "2026-11-20T02:00:00Z",
            "source": "bench/faults",
            "data": {"level": "info", "message": f"line {i}"},
        }

    def _client(self) -> None:
        with httpx.Client(base_url=self.base, headers=bearer(self.key), timeout=60) as client:
            while not self._stop.is_set():
                with self._lock:
                    first, self._next = self._next, self._next + self.batch
                events = [self._event(i) for i in range(first, first + self.batch)]
                started = time.monotonic()
                try:
                    status = client.post("/v1/events", json=events).status_code
                except httpx.HTTPError:
                    status = 0
                ids = [str(e["id"]) for e in events]
                answer = Answer(status, started, time.monotonic(), ids)
                with self._lock:
                    self.answers.append(answer)
                if status != 200:
                    time.sleep(0.05)

    @contextlib.contextmanager
    def running(self) -> Iterator[Load]:
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for t in threads:
            t.start()
        try:
            yield self
        finally:
            self._stop.set()
            for t in threads:
                t.join(timeout=90)

    def first(self, pred: Callable[[Answer], bool], after: float, within_s: float) -> float:
        """Seconds from ``after`` to the end of the first answer matching ``pred``."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            with self._lock:
                ends = [a.ended for a in self.answers if a.ended >= after and pred(a)]
            if ends:
                return min(ends) - after
            time.sleep(0.02)
        return float("inf")


def _start_service(uri: str, log_path: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "NEO4J_URI": uri,
        "TRACEGRAPH_PORT": str(port),
        # With --service-log, the service's info lines (timestamped) show where a
        # recovery's seconds go; the fault lines printed here carry wall-clock times.
        "TRACEGRAPH_LOG_LEVEL": "info" if log_path else "error",
        **UNTHROTTLED_ENV,
    }
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracegraph.cli.main", "serve"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc, timeout_s=300)  # a fresh instance plans cold on a busy machine
    return proc, base


def _mark(what: str) -> None:
    """A wall-clock line, to line the faults up with the service log's timestamps."""
    print(f"{datetime.now(UTC).isoformat()} {what}", flush=True)


def _kill(local: LocalNeo4j, load: Load, outage_s: float) -> tuple[float, float]:
    pid = local.status().pid
    assert pid is not None
    fault = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    _mark("neo4j killed")
    first_503 = load.first(lambda a: a.status == 503, fault, outage_s + 30)
    time.sleep(max(0.0, fault + outage_s - time.monotonic()))
    _mark("neo4j starting")
    local.start()
    answering = time.monotonic()
    _mark("neo4j answers again")
    recovery = load.first(lambda a: a.status == 200 and a.started >= answering, answering, 240)
    return first_503, recovery


def _freeze(local: LocalNeo4j, load: Load, outage_s: float) -> tuple[float, float]:
    pid = local.status().pid
    assert pid is not None
    fault = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    _mark("neo4j frozen")
    try:
        first_503 = load.first(lambda a: a.status == 503, fault, outage_s + 30)
        time.sleep(max(0.0, fault + outage_s - time.monotonic()))
    finally:
        os.kill(pid, signal.SIGCONT)
    answering = time.monotonic()
    _mark("neo4j continued")
    recovery = load.first(lambda a: a.status == 200 and a.started >= answering, answering, 240)
    return first_503, recovery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1, help="kill + freeze pairs")
    parser.add_argument("--outage-s", type=float, default=8.0)
    parser.add_argument("--bolt-port", type=int, default=FAULTS_BOLT_PORT)
    parser.add_argument("--instance", default="faults", help="local Neo4j instance name")
    parser.add_argument("--service-log", help="append the service's info log to this file")
    args = parser.parse_args()
    if os.environ.get("NEO4J_URI"):
        sys.exit("bench/faults.py kills and freezes its own Neo4j; unset NEO4J_URI")

    local = LocalNeo4j(REPO_ROOT / ".neo4j", name=args.instance, bolt_port=args.bolt_port)
    uri = local.start()
    proc = None
    try:
        reset_graph(uri)
        key = mint_keys(uri, "ingester")["ingester"]
        proc, base = _start_service(uri, args.service_log)
        load = Load(base, key, args.clients)
        first_503s: list[float] = []
        recoveries: list[float] = []
        with load.running():
            load.first(lambda a: a.status == 200, time.monotonic() - 1, 30)
            time.sleep(3)  # steady load before the first fault
            for n in range(args.rounds):
                # Freeze first: a kill restarts the JVM, which plans cold for a while.
                for name, fault in (("freeze", _freeze), ("kill", _kill)):
                    first_503, recovery = fault(local, load, args.outage_s)
                    print(
                        f"round {n + 1} {name}: first 503 after {first_503:.2f} s, "
                        f"first 200 {recovery:.2f} s after Neo4j answered again",
                        flush=True,
                    )
                    first_503s.append(first_503)
                    recoveries.append(recovery)
                    time.sleep(3)  # steady load again
        answers = load.answers
        acked = sorted({i for a in answers if a.status == 200 for i in a.ids})
        with GraphDatabase.driver(uri) as driver:
            driver.verify_connectivity()
            records, _, _ = driver.execute_query(bench_cypher("faults_stored_ids"), ids=acked)
        missing = len(acked) - len({r["id"] for r in records})
        longest = max(a.ended - a.started for a in answers)
        by_status: dict[int, int] = {}
        for a in answers:
            by_status[a.status] = by_status.get(a.status, 0) + 1
        print(f"requests by status: {dict(sorted(by_status.items()))} (0: no answer)")
        print(f"events acknowledged: {len(acked)}, missing from the database: {missing}")
        print(
            f"faults first_503_s={max(first_503s):.2f} longest_request_s={longest:.2f} "
            f"recovery_s={max(recoveries):.2f} acked_missing={missing}"
        )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        pid = local.status().pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        local.stop()


if __name__ == "__main__":
    main()
