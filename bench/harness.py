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
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, LiteralString

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
    try:
        wait_ready(base, proc)
    except BaseException:
        stop_process(proc)
        raise
    return proc, base


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc); NaN once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
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
    raise RuntimeError("service not ready")


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
