"""``tracegraph demo``: local Neo4j + the service + a live synthetic workload."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlparse

import typer
import uvicorn
from rich.console import Console
from rich.live import Live
from rich.table import Table

from tracegraph.auth.roles import Role
from tracegraph.demo import governance as demo_governance
from tracegraph.demo.control import DemoControl, NewRun
from tracegraph.sdk import Executor, SenderStats, StartRequest, Tracegraph
from tracegraph.settings import get_settings
from tracegraph.store.key_store import KeyStore

if TYPE_CHECKING:
    from fastapi import FastAPI

console = Console()


def _ensure_neo4j() -> None:
    """Start the local server unless NEO4J_URI already answers."""
    from neo4j import GraphDatabase

    from tracegraph.cli.neo4j_commands import local_server

    settings = get_settings()
    try:
        with GraphDatabase.driver(settings.neo4j.uri, auth=settings.neo4j.auth) as driver:
            driver.verify_connectivity()
        console.print(f"[green]neo4j answers at {settings.neo4j.uri}[/]")
        return
    except Exception:
        pass
    host = urlparse(settings.neo4j.uri).hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise typer.BadParameter(f"NEO4J_URI {settings.neo4j.uri} does not answer")
    console.print("starting the local neo4j (the first start downloads it via Maven) …")
    uri = local_server().start()
    console.print(f"[green]neo4j is running at {uri}[/]")


class _Stats:
    def __init__(self) -> None:
        # Delivery figures come from the SDK's sender; what was generated is counted here.
        self.sdk = SenderStats()
        self.by_type: Counter[str] = Counter()
        self.runs_seen: set[str] = set()
        self.started = time.monotonic()

    def note(self, batch: list[dict]) -> None:
        for ev in batch:
            self.by_type[ev["type"]] += 1
            if ev.get("run"):
                self.runs_seen.add(ev["run"])

    def table(self, base_url: str) -> Table:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        t = Table(title=f"Tracegraph demo — dashboard {base_url}/  (GraphQL: {base_url}/graphql)")
        t.add_column("metric")
        t.add_column("value", justify="right")
        sdk = self.sdk
        t.add_row("events sent", str(sdk.sent))
        t.add_row("accepted / rejected", f"{sdk.accepted} / {sdk.rejected}")
        t.add_row("events/s", f"{sdk.sent / elapsed:.1f}")
        t.add_row("last seq", str(sdk.last_seq))
        t.add_row("runs seen", str(len(self.runs_seen)))
        t.add_row("LLM calls", str(self.by_type["response.received"]))
        t.add_row(
            "failures (run/step)", f"{self.by_type['run.failed']}/{self.by_type['step.failed']}"
        )
        t.add_row("send retries / dropped", f"{sdk.retries} / {sdk.dropped}")
        return t


class DemoKeys:
    """The demo's own API keys: an executor key for the workload (it emits events and
    honours commands), a reviewer key for the person watching and an operator key for
    the person acting (sign-in links). Revoked when the demo stops."""

    ACTOR = "system:demo"

    def __init__(self, store: KeyStore) -> None:
        self._store = store
        self.ids: list[str] = []
        self.emitter = ""
        self.reviewer = ""
        self.operator = ""
        self.actors: dict[str, str] = {}  # attr -> the actor its requests are recorded as

    async def mint(self) -> None:
        # Names are unique among keys; a timestamp keeps repeated demos apart.
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        roles = (
            ("emitter", Role.EXECUTOR),
            ("reviewer", Role.REVIEWER),
            ("operator", Role.OPERATOR),
        )
        for attr, role in roles:
            record, text = await self._store.create(
                name=f"demo-{attr}-{stamp}", role=role, actor=self.ACTOR
            )
            self.ids.append(record.id)
            self.actors[attr] = f"key:{record.name}"
            setattr(self, attr, text)

    async def revoke(self) -> None:
        for key_id in self.ids:
            with contextlib.suppress(Exception):  # the database may already be gone
                await self._store.revoke(key_id, actor=self.ACTOR)
        self.ids.clear()


def sign_in_link(base_url: str, key: str) -> str:
    """A dashboard link that signs in with ``key`` (the page removes it from the URL)."""
    return f"{base_url}/#key={key}"


async def _emit(
    base_url: str,
    api_key: str,
    speed: float,
    stats: _Stats,
    stop_after: float | None,
    quarantine_example: bool = False,
) -> None:
    from tracegraph.demo.workload import WorkloadGenerator

    # Definitions dated now: a schedule defined long ago would open with a day of
    # "missing run" SLA breaches for cron fire times the demo never ran.
    generator = WorkloadGenerator(seed=int(time.time()), start=datetime.now(UTC))
    deadline = None if stop_after is None else time.monotonic() + stop_after
    # The SDK's sender batches, retries (honouring Retry-After) and never blocks the
    # generator; the demo only produces events, like any instrumented pipeline would.
    tg = Tracegraph(url=base_url, source="tracegraph-demo", api_key=api_key, max_buffer=100_000)
    stats.sdk = tg.stats
    executor, control = _demo_executor(tg, generator.pipelines)
    try:
        definitions = generator.definitions()
        tg.emit_raw(definitions)
        stats.note(definitions)
        if quarantine_example:  # something for the reviewer's quarantine screen
            tg.emit_raw([demo_governance.quarantine_example(datetime.now(UTC))])
        executor.start()
        async for batch in generator.live(speed=speed, control=control):
            tg.emit_raw(batch)
            stats.note(batch)
            if deadline is not None and time.monotonic() > deadline:
                return
    finally:
        await asyncio.to_thread(executor.close)
        # close() waits for the last batches; off the loop, which also serves the API.
        await asyncio.to_thread(tg.close, 10.0)


def _demo_executor(tg: Tracegraph, pipelines: list[str]) -> tuple[Executor, DemoControl]:
    """The workload's SDK executor: every simulated run is followed, so pause, resume,
    cancel, retry and start commands reach it (demo/control.py)."""
    executor = tg.executor(pipelines, executor_id="tracegraph-demo")
    control = DemoControl(
        settle=lambda cmd, outcome, reason, run: executor.settle(cmd, outcome, reason, run=run),
    )
    control.on_created = lambda run, pipeline, params: executor.follow(run, control, params)
    control.on_finished = executor.unfollow

    def start(request: StartRequest) -> str:
        run_id = str(uuid.uuid4())
        control.start(NewRun(request.pipeline, request.params, run_id, request.by))
        return run_id

    for pipeline in pipelines:
        executor.on_start_request(pipeline)(start)
    return executor, control


class _DemoServer(uvicorn.Server):
    """The service, without uvicorn's own Ctrl+C handling: the demo stops its workload
    first (its last events and command outcomes reach a service that still runs), then
    the service. uvicorn's handler stopped the service under a running workload."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _StopSignal:
    """Ctrl+C (or SIGTERM) once: stop in order. Twice: stop the service now."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.server: uvicorn.Server | None = None
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(sig, self._on_signal)

    def _on_signal(self) -> None:
        if self.requested.is_set() and self.server is not None:
            self.server.force_exit = True  # don't wait for open connections
        self.requested.set()

    def close(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.remove_signal_handler(sig)


async def _wait_first(*aws: Awaitable[object]) -> None:
    """Until the first of ``aws`` is done; the waits it made up are then cancelled (a
    task passed in is left running)."""
    futures = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future, original in zip(futures, aws, strict=True):
            if future is not original:  # ensure_future wrapped a coroutine: ours to end
                future.cancel()


async def _demo(port: int, speed: float, duration: float | None) -> None:
    from tracegraph.api.app import create_app
    from tracegraph.api.ws_protocol import uvicorn_ws_options

    # First: a Ctrl+C from here on is the demo's to handle, not asyncio.run's (which
    # cancels whatever is running, the service's start-up included).
    stop = _StopSignal()
    try:
        settings = get_settings()
        app = create_app(settings)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=port,
            log_level="warning",
            **uvicorn_ws_options(settings),
        )
        stop.server = _DemoServer(config)
        await _serve_with_workload(app, stop.server, stop, port, speed, duration)
    finally:
        stop.close()


async def _serve_with_workload(
    app: FastAPI,
    server: uvicorn.Server,
    stop: _StopSignal,
    port: int,
    speed: float,
    duration: float | None,
) -> None:
    settings = get_settings()
    serve_task = asyncio.create_task(server.serve())
    while not server.started and not serve_task.done():
        if stop.requested.is_set():
            # Start-up (schema, planning) runs to its end, then the service stops.
            console.print("stopping once the service has started …")
            server.should_exit = True
            break
        await _wait_first(stop.requested.wait(), asyncio.sleep(0.1))
    if serve_task.done() or stop.requested.is_set():
        await serve_task
        return
    host = "127.0.0.1" if settings.host in {"0.0.0.0", "::", ""} else settings.host
    base_url = f"http://{host}:{port}"
    stats = _Stats()
    keys = DemoKeys(app.state.services.keys)
    try:
        await keys.mint()
    except BaseException:
        server.should_exit = True
        await serve_task
        raise
    console.print(f"[bold]service up at {base_url}[/] — Ctrl+C to stop")
    console.print(
        "[bold]dashboard sign-in link[/] (reviewer key, revoked when the demo stops: "
        "approve changes and waiting steps, quarantine, audit trail):\n"
        f"  {sign_in_link(base_url, keys.reviewer)}\n"
        "[bold]operator link[/] (pause, resume, cancel, retry and start runs; "
        "propose definition changes and rollbacks):\n"
        f"  {sign_in_link(base_url, keys.operator)}",
        highlight=False,
        soft_wrap=True,
    )
    emit_task = asyncio.create_task(
        _emit(base_url, keys.emitter, speed, stats, duration, quarantine_example=True)
    )
    # For the reviewer: definition changes are gated, one waits (demo/governance.py).
    gate_task = asyncio.create_task(
        demo_governance.seed_gate(app.state.services, keys.actors["operator"], DemoKeys.ACTOR)
    )
    try:
        with Live(stats.table(base_url), console=console, refresh_per_second=2) as live:
            while not emit_task.done() and not stop.requested.is_set():
                live.update(stats.table(base_url))
                await _wait_first(emit_task, stop.requested.wait(), asyncio.sleep(0.5))
            live.update(stats.table(base_url))
        if emit_task.done():
            emit_task.result()
    finally:
        # The workload first, while the service still takes its last events; then the
        # keys; then the service.
        emit_task.cancel()
        gate_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await emit_task
        with contextlib.suppress(asyncio.CancelledError):
            await gate_task
        await keys.revoke()
        server.should_exit = True
        await serve_task


def demo(
    port: Annotated[int | None, typer.Option(help="Service port (TRACEGRAPH_PORT).")] = None,
    speed: Annotated[float, typer.Option(help="Workload speed factor.")] = 1.0,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: run until Ctrl+C).")
    ] = None,
) -> None:
    """Bring up Neo4j if needed, the service, and a live synthetic AI-pipeline workload."""
    _ensure_neo4j()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_demo(port or get_settings().port, speed, duration))
