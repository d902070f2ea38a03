"""What every benchmark needs: a Neo4j to use, the service under test (started as
``tracegraph serve`` would start it, on a free port, until ready), its CPU time,
percentiles, API keys, and settings that keep its rate limits out of the way."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, LiteralString

import httpx

from tracegraph.settings import REPO_ROOT

if TYPE_CHECKING:
    from tracegraph.localneo4j import LocalNeo4j

BENCH_CYPHER = Path(__file__).resolve().parent / "cypher"

# Environment for the service under test: per-principal rate limits far above anything a
# benchmark sends, so the figures measure the service, not its throttle.
UNTHROTTLED_ENV: dict[str, str] = {
    "TRACEGRAPH_RATE_LIMIT": "100000000/minute",
    "TRACEGRAPH_INGEST_RATE_LIMIT": "100000000/minute",
    "TRACEGRAPH_INGEST_EVENT_RATE_LIMIT": "100000000/minute",
}


# The benchmarks' own local Neo4j instance, unless NEO4J_URI names a server to use.
BENCH_INSTANCE = os.environ.get("TRACEGRAPH_BENCH_INSTANCE", "bench")
BENCH_BOLT_PORT = int(os.environ.get("TRACEGRAPH_BENCH_BOLT_PORT", "7698"))

# Local instances this process started (neo4j_uri), stopped by stops_what_it_starts.
_STARTED: list[LocalNeo4j] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def neo4j_uri(instance: str, bolt_port: int, *, fresh_store: bool = False) -> str:
    """``NEO4J_URI`` if set (the benchmark wipes it), else a local instance of its own.

    ``fresh_store`` deletes the local instance's store files first: deleting every node
    empties a database but leaves its files (index trees above all) grown by earlier
    runs, and a benchmark should not measure that history. An instance this call starts
    is stopped when the bench ends (``stops_what_it_starts``); one that already ran is
    left running."""
    if os.environ.get("NEO4J_URI"):
        return os.environ["NEO4J_URI"]
    from tracegraph.localneo4j import LocalNeo4j

    local = LocalNeo4j(REPO_ROOT / ".neo4j", name=instance, bolt_port=bolt_port)
    if fresh_store:
        local.wipe()
    if not local.status().running:
        _STARTED.append(local)
    return local.start()


def started_by_bench(local: LocalNeo4j) -> None:
    """Have ``stops_what_it_starts`` stop ``local`` (an instance this benchmark starts
    itself rather than through :func:`neo4j_uri`)."""
    _STARTED.append(local)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def stops_what_it_starts() -> Iterator[None]:
    """Around a benchmark's ``main``: however it ends (done, failed, Ctrl+C, SIGTERM or
    SIGHUP, which are turned into KeyboardInterrupt so every ``finally`` runs), every
    local Neo4j it started is stopped. The server runs in its own session, so Ctrl+C in
    the terminal never reaches it: without this it stays up, gigabytes of heap and all."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        while _STARTED:
            local = _STARTED.pop()
            print(f"stopping local Neo4j {local.name!r} (started by this benchmark)", flush=True)
            local.stop()


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Stop a child (the service under test): SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)


def settle(instance: str, bolt_port: int, max_wait_s: float = 60.0) -> float:
    """Wait until the local Neo4j instance is idle (under 15% of a core for half a
    second), so one arm's background work (a wipe's deletes, GC) is not charged to the
    next. Returns the seconds waited; a server that is not ours is not waited for."""
    if os.environ.get("NEO4J_URI"):
        return 0.0
    from tracegraph.localneo4j import LocalNeo4j

    pid = LocalNeo4j(REPO_ROOT / ".neo4j", name=instance, bolt_port=bolt_port).pid_file
    stat = Path(f"/proc/{pid.read_text(encoding='utf-8').strip()}/stat")
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu_s() -> float:
        fields = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    started = time.monotonic()
    while time.monotonic() - started < max_wait_s:
        before = cpu_s()
        time.sleep(0.5)
        if cpu_s() - before < 0.075:
            break
    return time.monotonic() - started


# The service under test, built and run as ``tracegraph serve`` does (its settings, its
# WebSocket protocol, its GC tuning). argv: port, then optionally a uvicorn WebSocket
# implementation to use instead of the service's ("" keeps it) and a path for cProfile
# stats (written at exit; uvicorn re-raises SIGTERM after its graceful shutdown, so the
# profiled process survives that signal to write them).
SERVICE_SCRIPT = """
import cProfile, signal, sys, uvicorn
from tracegraph.api.app import create_app
from tracegraph.api.ws_protocol import uvicorn_ws_options
from tracegraph.cli import serve_command
from tracegraph.settings import get_settings
port, ws, profile = (sys.argv[1:] + ["", ""])[:3]
settings = get_settings()
app = create_app(settings)
options = uvicorn_ws_options(settings) | ({"ws": ws} if ws else {})
serve_command._tune_gc()
def run():
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level=settings.log_level,
                timeout_graceful_shutdown=int(settings.shutdown_grace_s), **options)
if profile:
    signal.signal(signal.SIGTERM, lambda *_: None)
    prof = cProfile.Profile()
    prof.enable()
    try:
        run()
    finally:
        prof.disable()
        prof.dump_stats(profile)
else:
    run()
"""


# How long a started service may take to answer /readyz: on this shared 2-core machine
# under load, planning every write statement cold took minutes, and /readyz also waits for
# the live tailer's first read.
READY_TIMEOUT_S = 240.0


def _spawn_service(
    uri: str, env: dict[str, str] | None, ws: str, profile: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {
        **os.environ,
        **UNTHROTTLED_ENV,
        "NEO4J_URI": uri,
        "TRACEGRAPH_LOG_LEVEL": "warning",
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVICE_SCRIPT, str(port), ws, profile],
        cwd=REPO_ROOT,
        env=full_env,
    )
    return proc, base


def start_service(
    uri: str,
    env: dict[str, str] | None = None,
    *,
    ws: str = "",
    profile: str = "",
) -> tuple[subprocess.Popen[bytes], str]:
    """The service under test on ``uri`` in its own process, ready: (process, base URL).
    ``env`` adds ``TRACEGRAPH_*`` settings to the bench defaults (unthrottled, warnings
    only); ``ws`` / ``profile`` as :data:`SERVICE_SCRIPT` says. Stop it with
    :func:`stop_process`."""
    return start_services(uri, 1, env, ws=ws, profile=profile)[0]


def start_services(
    uri: str,
    n: int,
    env: dict[str, str] | None = None,
    *,
    ws: str = "",
    profile: str = "",
) -> list[tuple[subprocess.Popen[bytes], str]]:
    """``n`` replicas of the service on ``uri``, started at once (as a deployment starts
    them: their start-ups compete for the database) and waited for until each answers
    ``/readyz``; the time each took is printed. ``profile`` profiles the first."""
    started = time.monotonic()
    services = [_spawn_service(uri, env, ws, profile if i == 0 else "") for i in range(n)]
    try:
        for i, (proc, base) in enumerate(services):
            wait_ready(base, proc, READY_TIMEOUT_S - (time.monotonic() - started))
            print(
                f"service {i} pid={proc.pid} ready after {time.monotonic() - started:.1f}s",
                flush=True,
            )
    except BaseException:
        for proc, _ in services:
            stop_process(proc)
        raise
    return services


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc); NaN once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(
    base: str, proc: subprocess.Popen[bytes], timeout_s: float = READY_TIMEOUT_S
) -> None:
    """Wait until the service under test answers ``/readyz``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("service exited during startup")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"service not ready after {timeout_s:.0f}s")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in 0..1."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_cypher(name: str) -> LiteralString:
    """A benchmark-only statement from ``bench/cypher/<name>.cypher`` (graph loaders)."""
    # Trusted repository text; mypy treats LiteralString as str, so no cast is needed.
    return (BENCH_CYPHER / f"{name}.cypher").read_text(encoding="utf-8")


def reset_graph(uri: str) -> None:
    """An empty graph with the service's constraints and indexes in place."""
    import asyncio

    from neo4j import GraphDatabase

    from tracegraph.settings import Neo4jSettings
    from tracegraph.store.cypher_files import query
    from tracegraph.store.driver import open_driver
    from tracegraph.store.schema import apply_schema

    with GraphDatabase.driver(uri) as driver, driver.session() as session:
        session.run(query("wipe_batch")).consume()

    async def schema() -> None:
        driver = open_driver(Neo4jSettings(uri=uri))
        try:
            await apply_schema(driver, "neo4j")
        finally:
            await driver.close()

    asyncio.run(schema())


async def amint_keys(uri: str, *roles: str) -> dict[str, str]:
    """API keys (role -> key text) written straight to the graph, as ``tracegraph keys
    create`` does. Wiping the graph deletes them: mint again after a wipe."""
    import uuid

    from tracegraph.auth.roles import parse_role
    from tracegraph.settings import Neo4jSettings
    from tracegraph.store.driver import open_driver
    from tracegraph.store.key_store import KeyStore

    driver = open_driver(Neo4jSettings(uri=uri))
    try:
        store = KeyStore(driver, "neo4j")
        keys = {}
        for role in roles:
            name = f"bench-{role}-{uuid.uuid4().hex[:8]}"
            _, keys[role] = await store.create(
                name=name, role=parse_role(role), actor="system:bench"
            )
        return keys
    finally:
        await driver.close()


def mint_keys(uri: str, *roles: str) -> dict[str, str]:
    """:func:`amint_keys` from synchronous code."""
    import asyncio

    return asyncio.run(amint_keys(uri, *roles))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def post_retrying(
    http: httpx.AsyncClient, url: str, json: Any, attempts: int = 30
) -> httpx.Response:
    """POST, sent again on 429/503 after ``Retry-After`` (a service that is still planning
    its statements, or a shed request) and when the server closed a keep-alive connection
    as it was used: what a real client does; the caller's timing includes the retries.
    Every retry is counted in :data:`RETRIES` (printed by the benchmarks)."""
    import asyncio

    resp: httpx.Response | None = None
    for attempt in range(attempts):
        try:
            resp = await http.post(url, json=json)
        except (httpx.ConnectError, httpx.RemoteProtocolError):
            # Not a timeout: a request the service did not answer in the client's
            # timeout fails the run rather than being sent again unseen.
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2)
            continue
        if resp.status_code not in (429, 503):
            return resp
        RETRIES[resp.status_code] = RETRIES.get(resp.status_code, 0) + 1
        await asyncio.sleep(float(resp.headers.get("retry-after", "1")))
    assert resp is not None
    return resp


# Answers post_retrying sent again, by status (this process).
RETRIES: dict[int, int] = {}


# -- stall probes ------------------------------------------------------------------------


def _machine_probe(conn: Connection, tick_s: float = 0.01) -> None:
    """How late a process that only sleeps wakes up, in ms, until told to stop: the
    machine's own stalls (CPU shared with other work)."""
    lags: list[float] = []
    while not conn.poll():
        t = time.perf_counter()
        time.sleep(tick_s)
        lags.append((time.perf_counter() - t - tick_s) * 1000)
    conn.recv()
    conn.send(lags)


def _service_probe(conn: Connection, bases: list[str], tick_s: float = 0.05) -> None:
    """Round trips of ``GET /healthz`` to each service (one keep-alive connection each),
    every ``tick_s``, in ms, until told to stop. /healthz does no I/O: a slow answer is the
    service's event loop busy or blocked (or the machine's stall: compare the machine
    probe). (start time, ms) per service."""
    clients = [httpx.Client(base_url=b, timeout=60) for b in bases]
    samples: list[list[tuple[float, float]]] = [[] for _ in bases]
    try:
        while not conn.poll():
            for http, mine in zip(clients, samples, strict=True):
                t0, t = time.time(), time.perf_counter()
                try:
                    http.get("/healthz")
                except httpx.HTTPError:
                    continue
                mine.append((t0, (time.perf_counter() - t) * 1000))
            time.sleep(tick_s)
    finally:
        for http in clients:
            http.close()
    conn.recv()
    conn.send(samples)


class StallProbes:
    """Both probes in processes of their own for the length of a measured phase:
    ``start()``, ``stop()`` (returns the report lines). The service probe says whether
    a latency tail coincides with the service's event loop stalling, the machine probe
    whether the machine itself stalled then (other work on the shared cores)."""

    def __init__(self, bases: list[str]) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self._machine, machine_child = mp.Pipe()
        self._service, service_child = mp.Pipe()
        self._procs = [
            ctx.Process(target=_machine_probe, args=(machine_child,), daemon=True),
            ctx.Process(target=_service_probe, args=(service_child, bases), daemon=True),
        ]
        self.machine_ms: list[float] = []
        self.service_ms: list[list[tuple[float, float]]] = []

    def start(self) -> None:
        for proc in self._procs:
            proc.start()

    def stop(self) -> list[str]:
        self._machine.send("stop")
        self._service.send("stop")
        self.machine_ms = self._machine.recv()
        self.service_ms = self._service.recv()
        for proc in self._procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        lines = [
            f"machine: an idle process's wake-up lag p50_ms={percentile(self.machine_ms, 0.5):.1f}"
            f" p99_ms={percentile(self.machine_ms, 0.99):.1f}"
            f" max_ms={max(self.machine_ms, default=float('nan')):.1f}"
            f" (load {os.getloadavg()[0]:.1f})"
        ]
        for i, samples in enumerate(self.service_ms):
            ms = [m for _, m in samples]
            stalls = sum(1 for m in ms if m > 100)
            lines.append(
                f"service {i}: /healthz round trip p50_ms={percentile(ms, 0.5):.1f} "
                f"p99_ms={percentile(ms, 0.99):.1f} max_ms={max(ms, default=float('nan')):.1f} "
                f"over_100ms={stalls} of {len(ms)} (its event loop's stalls)"
            )
        return lines


def kill_children(*procs: Any) -> None:
    """Stop helper processes (multiprocessing) that are still alive: a benchmark that
    failed half-way must not leave its load clients running (or hang waiting for them)."""
    for proc in procs:
        if proc is None or not proc.is_alive():
            continue
        proc.terminate()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join(10)
