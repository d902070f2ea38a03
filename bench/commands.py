"""Command delivery: issue-to-executor latency with many connected executors (issue 18).

The service runs as ``tracegraph serve`` in its own process on its own Neo4j; the
executors run in another process (one asyncio loop), half of them holding the
``commands`` GraphQL subscription over a WebSocket (``graphql-transport-ws``), half
long-polling ``GET /api/commands`` (each with its own HTTP client, as real executors
have). Each executor runs its own pipeline. An operator (this process) issues
``startRun`` commands at a fixed rate, round-robin over the pipelines, so every command
has exactly one executor to reach. All times are wall clock on one machine. Figures:

* ``p99_ms`` (last line) — issue to executor: from just before the mutation is sent to
  the executor's receipt;
* the baseline, measured first in the same run on the same service: the same rate to
  two executors (one per path), so what the 1,000 connected executors add shows;
* per phase: the operator's own delay (due to sent), the issuing mutation's round trip,
  and the latency split at the command's ``createdAt`` (stamped when its issuing
  transaction begins): due to stamp (the operator's delay, HTTP, GraphQL, the wait for
  the issuing writer) and stamp to executor (the transaction, its commit, the
  hand-over), per path (subscription, long poll), and sent to executor (the whole
  without the operator's own delay: what the service and the wire take);
* the machine's own stalls beside them: how late a process that only sleeps (10 ms at a
  time, in a process of its own) wakes up during the phase, as the load average shows
  what the other work on the machine was;
* ``lost`` — commands the service accepted that their executor never received.

::

    .venv/bin/python bench/commands.py [--executors 1000] [--rate 50] [--seconds 60]
        [--baseline-seconds 10] [--bolt-port 7742] [--profile service.prof]

Neo4j: ``NEO4J_URI`` if set (wiped), else the local launcher's instance ``commands`` on
``--bolt-port`` (7742), stopped at the end if this run started it. The last line printed
is ``commands executors=<n> p99_ms=<p> lost=<l>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

import httpx
import orjson

from harness import (
    StallProbes,
    bearer,
    cpu_s,
    kill_children,
    mint_keys,
    neo4j_uri,
    percentile,
    reset_graph,
    start_service,
    stop_process,
    stops_what_it_starts,
)

# Command id -> (receipt time, the command's createdAt), epoch seconds, one clock.
Received = dict[str, tuple[float, float]]
# Command id -> (its due time, when a sender took it, whether a socket executor has it).
Sent = dict[str, tuple[float, float, bool]]
# The operator's senders, one HTTP connection each (requests in flight at once).
WORKERS = 32
SUBSCRIPTION = (
    "subscription($p: [String!]!, $after: Int) "
    "{ commands(pipelines: $p, afterSeq: $after) { id seq pipeline createdAt } }"
)
START = (
    "mutation($p: String!, $k: String!) { startRun(pipeline: $p, idempotencyKey: $k) { id seq } }"
)
# -- the executors (their own process) --------------------------------------------------------


async def _socket_executor(url: str, key: str, pipeline: str, got: Received, up: list[int]) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    counted = False
    while True:
        try:
            async with connect(
                url,
                subprotocols=[Subprotocol("graphql-transport-ws")],
                open_timeout=120,
                max_queue=None,
            ) as ws:
                init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
                await ws.send(orjson.dumps(init).decode())
                await ws.recv()
                variables = {"p": [pipeline], "after": 0}
                payload = {"query": SUBSCRIPTION, "variables": variables}
                subscribe = {"id": "1", "type": "subscribe", "payload": payload}
                await ws.send(orjson.dumps(subscribe).decode())
                up[0] += 1
                counted = True
                async for raw in ws:
                    now = time.time()
                    message = orjson.loads(raw)
                    if message.get("type") == "next":
                        command = message["payload"]["data"]["commands"]
                        got.setdefault(command["id"], (now, _created(command)))
                    elif message.get("type") == "ping":
                        await ws.send('{"type":"pong"}')
                    elif message.get("type") in ("error", "complete"):
                        raise ConnectionError(str(message))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            print(f"socket executor {pipeline}: {exc!r}; reconnecting", flush=True)
            if counted:
                up[0] -= 1
                counted = False
            await asyncio.sleep(0.5)


async def _polling_executor(
    base: str, key: str, pipeline: str, got: Received, up: list[int]
) -> None:
    # Its own client and connection, as a real executor has: one client shared by 500
    # long polls makes httpcore's pool walk every connection and queued request on each
    # request's start and end (CPU of the load generator, not of the service).
    after, wait, counted = 0, 0.0, False
    async with httpx.AsyncClient(base_url=base, headers=bearer(key), timeout=60) as http:
        while True:
            try:
                resp = await http.get(
                    "/api/commands", params={"pipelines": pipeline, "after": after, "wait": wait}
                )
                now = time.time()
                resp.raise_for_status()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                print(f"polling executor {pipeline}: {exc!r}; polling again", flush=True)
                await asyncio.sleep(0.5)
                continue
            if not counted:
                up[0] += 1
                counted = True
            body = resp.json()
            for command in body["commands"]:
                got.setdefault(command["id"], (now, _created(command)))
            after, wait = body["after"], 8.0


def _created(command: dict[str, Any]) -> float:
    """When the service stamped the command (its issuing transaction began), epoch s."""
    return datetime.fromisoformat(command["createdAt"]).timestamp()


def _executors_main(base: str, n: int, pipelines: list[str], key: str, conn: Connection) -> None:
    async def main() -> None:
        got: Received = {}
        up = [0]
        ws_url = "ws" + base.removeprefix("http") + "/graphql"
        tasks = []
        for i, pipeline in enumerate(pipelines):
            if i % 2 == 0:
                executor = _socket_executor(ws_url, key, pipeline, got, up)
            else:
                executor = _polling_executor(base, key, pipeline, got, up)
            tasks.append(asyncio.create_task(executor))
            if i % 50 == 49:
                await asyncio.sleep(0.2)  # connect in waves, not one SYN flood
        loop = asyncio.get_running_loop()
        while True:
            request = await loop.run_in_executor(None, conn.recv)
            if request == "up":
                conn.send(up[0])
            elif isinstance(request, tuple) and request[0] == "count":
                conn.send(sum(1 for cid in request[1] if cid in got))
            elif request == "stop":
                conn.send(dict(got))
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                return

    asyncio.run(main())


# -- the operator (this process) ---------------------------------------------------------------


async def _issue(
    base: str, key: str, pipelines: list[str], rate: float, seconds: float
) -> tuple[Sent, list[float], int]:
    """Issue start commands at ``rate``/s: (what was sent, round trips, errors).

    Open loop: command ``i`` is due at ``start + i / rate`` and its latency counts from
    then, however late a sender takes it. WORKERS senders, each with its own client and
    one keep-alive connection, take the due commands in turn. Not one client with a pool
    of many: httpcore walks every pooled connection (a readability syscall each) and
    every queued request on each request's start and end, which on this loaded 2-core
    machine made the operator's own process the bottleneck (measured with py-spy: 68% of
    its samples in the pool's bookkeeping; the service at 13% of a core).

    The clients are made and connected before the clock starts: an ``httpx.AsyncClient``
    builds an SSL context when made (~30 ms of CPU each, whatever the scheme), and 32 of
    them made as the first commands fell due blocked the operator's loop for about a
    second: the first ~50 commands of every phase were sent up to a second late, which
    was the whole p99 of a 3,000-command run (measured: due-to-send p99 0.5-1 s)."""
    sent: Sent = {}
    round_trips: list[float] = []
    pickup_lags: list[float] = []  # due time to a sender taking it (the bench's own delay)
    errors = 0
    due: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def sender(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while (item := await due.get()) is not None:
            i, t0 = item
            t_send = time.time()
            pickup_lags.append((t_send - t0) * 1000)
            variables = {
                "p": pipelines[i % len(pipelines)],
                "k": f"bench-{i}-{uuid.uuid4().hex}",
            }
            try:
                resp = await _post_start(http, variables)
                body = resp.json()
                if not body.get("data"):
                    raise RuntimeError(f"{resp.status_code} {body}")
                # Even pipelines have the socket executors (_executors_main).
                sent[body["data"]["startRun"]["id"]] = (t0, t_send, i % len(pipelines) % 2 == 0)
                round_trips.append((time.time() - t0) * 1000)
            except Exception as exc:
                errors += 1
                print(f"issue {i}: {exc!r}", flush=True)

    clients = [
        httpx.AsyncClient(
            base_url=base,
            headers=bearer(key),
            timeout=30,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        for _ in range(WORKERS)
    ]
    try:
        # Each sender's connection open before the clock starts.
        await asyncio.gather(*(http.get("/healthz") for http in clients))
        senders = [asyncio.create_task(sender(http)) for http in clients]
        start, wall = time.monotonic(), time.time()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            due.put_nowait((i, wall + i / rate))
        for _ in senders:
            due.put_nowait(None)
        await asyncio.gather(*senders)
    finally:
        await asyncio.gather(*(http.aclose() for http in clients))
    print(
        f"operator: due-to-send p50_ms={percentile(pickup_lags, 0.5):.1f} "
        f"p99_ms={percentile(pickup_lags, 0.99):.1f} (the operator's own delay)",
        flush=True,
    )
    return sent, round_trips, errors


async def _post_start(http: httpx.AsyncClient, variables: dict[str, str]) -> httpx.Response:
    """The mutation, sent again on 503/429 (after Retry-After) or when the server closed
    the keep-alive connection as we sent on it: the idempotency key makes that the same
    command. Retries count in the latency."""
    for attempt in range(20):
        try:
            resp = await http.post("/graphql", json={"query": START, "variables": variables})
        except httpx.TransportError:
            if attempt == 19:
                raise
            continue
        if resp.status_code not in (429, 503):
            return resp
        await asyncio.sleep(float(resp.headers.get("retry-after", "1")))
    return resp


def _define(base: str, key: str, pipelines: list[str]) -> None:
    events = [
        {
            "id": f"def-{name}",
            "type": "pipeline.defined",
            "time": "2026-11-20T02:00:00Z",
            "source": "bench/commands",
            "pipeline": name,
            "data": {"steps": [{"key": "work"}]},
        }
        for name in pipelines
    ]
    with httpx.Client(base_url=base, headers=bearer(key), timeout=120) as http:
        for _ in range(30):  # a cold server may answer 503 while it plans its statements
            resp = http.post("/v1/events", json=events)
            if resp.status_code != 503:
                break
            time.sleep(float(resp.headers.get("retry-after", "1")))
        resp.raise_for_status()


def _wait_for(conn: Connection, request: Any, target: int, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        conn.send(request)
        have = conn.recv()
        if have >= target:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: {have} of {target}")
        time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--executors", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=50.0, help="commands per second")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument(
        "--baseline-seconds",
        type=float,
        default=10.0,
        help="issue to two executors this long first (0: no baseline)",
    )
    ap.add_argument(
        "--bolt-port", type=int, default=int(os.environ.get("TRACEGRAPH_BENCH_BOLT_PORT", "7742"))
    )
    ap.add_argument(
        "--profile",
        default="",
        help="write the service's cProfile stats here (at its exit; it runs slower so)",
    )
    args = ap.parse_args()

    uri = neo4j_uri("commands", args.bolt_port)
    reset_graph(uri)
    server, base = start_service(
        uri,
        {
            "TRACEGRAPH_WS_MAX_CONNECTIONS": str(args.executors * 2),
            "TRACEGRAPH_WS_MAX_CONNECTIONS_PER_PRINCIPAL": str(args.executors * 2),
            # Nothing may expire while the benchmark runs (no executor acknowledges).
            "TRACEGRAPH_COMMAND_TTL_S": str(args.seconds + 600),
            # All executors share one key: when its cached verification expires, every
            # request of the next moment looks it up again at once (the authenticator has
            # no single flight) and 1,000 of them drain Neo4j's connection pool (503s).
            # This bench measures delivery, so keys stay verified for its whole run.
            "TRACEGRAPH_API_KEY_CACHE_TTL_S": "3600",
        },
        profile=args.profile,
    )
    try:
        print(f"service pid={server.pid}", flush=True)
        keys = mint_keys(uri, "executor", "operator")
        pipelines = [f"cmd-bench-{i:04d}" for i in range(args.executors)]
        _define(base, keys["executor"], pipelines)
        # The baseline, in the same run on the same service: two executors (one on the
        # subscription, one long-polling), the same rate.
        if args.baseline_seconds > 0:
            duo = pipelines[:2]
            baseline = _phase(server.pid, base, keys, duo, args.rate, args.baseline_seconds)
            _report(baseline, "baseline (2 executors): ")
        measured = _phase(server.pid, base, keys, pipelines, args.rate, args.seconds)
    finally:
        stop_process(server)
    latencies = _report(measured, "")
    print(
        f"commands executors={args.executors} p99_ms={percentile(latencies, 0.99):.1f} "
        f"lost={measured.lost}",
        flush=True,
    )


@dataclass
class Phase:
    sent: Sent
    received: Received
    round_trips: list[float]
    refused: int
    elapsed_s: float
    service_cpu_s: float
    issuing: dict[str, float]
    probe_lines: list[str]

    @property
    def lost(self) -> int:
        return sum(1 for cid in self.sent if cid not in self.received)


def _phase(
    service_pid: int,
    base: str,
    keys: dict[str, str],
    pipelines: list[str],
    rate: float,
    seconds: float,
) -> Phase:
    """Connect one executor per pipeline (their own process), warm up, issue at ``rate``
    for ``seconds``, wait for the stragglers, disconnect."""
    parent, child = mp.Pipe()
    executors = mp.get_context("spawn").Process(
        target=_executors_main, args=(base, len(pipelines), pipelines, keys["executor"], child)
    )
    executors.start()
    try:
        _wait_for(parent, "up", len(pipelines), 300, "executors connected")
        # Warm-up: one command per executor (at least two seconds' worth), all received,
        # before anything is measured (query plans; every subscription registered).
        warm_s = max(len(pipelines), 2 * rate) / rate
        warm, _, warm_errors = asyncio.run(_issue(base, keys["operator"], pipelines, rate, warm_s))
        if warm_errors:
            raise RuntimeError(f"{warm_errors} warm-up commands were refused")
        _wait_for(parent, ("count", list(warm)), len(warm), 120, "warm-up commands received")
        print(f"{len(pipelines)} executors connected and warmed up; issuing", flush=True)
        cpu0, issuing0 = cpu_s(service_pid), _issuing(base, keys["operator"])
        probes = StallProbes([base])
        probes.start()
        t0 = time.monotonic()
        sent, round_trips, refused = asyncio.run(
            _issue(base, keys["operator"], pipelines, rate, seconds)
        )
        elapsed = time.monotonic() - t0
        probe_lines = probes.stop()
        cpu = cpu_s(service_pid) - cpu0
        issuing = {k: v - issuing0[k] for k, v in _issuing(base, keys["operator"]).items()}
        # Drain: until every accepted command arrived, or 10 s.
        with contextlib.suppress(RuntimeError):
            _wait_for(parent, ("count", list(sent)), len(sent), 10, "drain")
        parent.send("stop")
        received: Received = parent.recv()
        executors.join(30)
    finally:
        kill_children(executors)
    return Phase(sent, received, round_trips, refused, elapsed, cpu, issuing, probe_lines)


def _issuing(base: str, key: str) -> dict[str, float]:
    """The service's issuing counters (GET /metrics: tracegraph_command_issue_*)."""
    text = httpx.get(f"{base}/metrics", headers=bearer(key), timeout=30).text
    out = {}
    for line in text.splitlines():
        if line.startswith("tracegraph_command_issue_") and "_created" not in line:
            name, value = line.split()
            out[name.removeprefix("tracegraph_command_issue_").removesuffix("_total")] = float(
                value
            )
    return out


def _report(phase: Phase, prefix: str) -> list[float]:
    """Print a phase's figures; returns its issue-to-executor latencies (ms).

    Per command: due -> service stamp (createdAt: the operator's own delay, HTTP, auth,
    GraphQL, the wait for the issuing writer), stamp -> executor (the transaction, its
    commit, the hand-over and the wire), the whole by the executor's path, and from the
    moment a sender took it (the whole without the operator's own delay)."""
    latencies: list[float] = []
    from_send: list[float] = []
    to_stamp: list[float] = []
    from_stamp: list[float] = []
    by_path: dict[str, list[float]] = {"subscription": [], "long poll": []}
    for cid, (t0, t_send, socket) in phase.sent.items():
        if cid in phase.received:
            t_got, t_created = phase.received[cid]
            latencies.append((t_got - t0) * 1000)
            from_send.append((t_got - t_send) * 1000)
            to_stamp.append((t_created - t0) * 1000)
            from_stamp.append((t_got - t_created) * 1000)
            by_path["subscription" if socket else "long poll"].append(latencies[-1])
    sent, elapsed = len(phase.sent), phase.elapsed_s
    print(
        f"{prefix}issued={sent} refused={phase.refused} lost={phase.lost} in {elapsed:.1f}s "
        f"({sent / elapsed:.1f}/s); service CPU {phase.service_cpu_s / elapsed:.0%} of a core; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    for line in phase.probe_lines:
        print(f"{prefix}{line}")
    groups = phase.issuing.get("transactions", 0)
    if groups:
        issuing = phase.issuing
        print(
            f"{prefix}issuing transactions={groups:.0f} "
            f"requests_per_transaction={issuing['requests'] / groups:.1f} "
            f"transaction_ms={1000 * issuing['transaction_seconds'] / groups:.1f} "
            f"queue_wait_ms={1000 * issuing['queue_seconds'] / issuing['requests']:.1f}"
        )
        if "commit_seconds" in issuing:  # services that split it (since wip-latency)
            print(
                f"{prefix}issuing split: read_ms={1000 * issuing['read_seconds'] / groups:.1f} "
                f"write_ms={1000 * issuing['write_seconds'] / groups:.1f} "
                f"commit_ms={1000 * issuing['commit_seconds'] / groups:.1f} "
                f"slow_transactions={issuing['slow_transactions']:.0f} "
                f"slow_commits={issuing['slow_commits']:.0f} (over 100 ms)"
            )
    for name, values in (
        ("issue round trip", phase.round_trips),
        ("send-to-createdAt", to_stamp),
        ("createdAt-to-executor", from_stamp),
        ("issue-to-executor (subscription)", by_path["subscription"]),
        ("issue-to-executor (long poll)", by_path["long poll"]),
        ("sent-to-executor (without the operator's own delay)", from_send),
        ("issue-to-executor", latencies),
    ):
        if values:
            print(
                f"{prefix}{name} p50_ms={statistics.median(values):.1f} "
                f"p95_ms={percentile(values, 0.95):.1f} p99_ms={percentile(values, 0.99):.1f} "
                f"max_ms={max(values):.1f}",
                flush=True,
            )
    return latencies


if __name__ == "__main__":
    with stops_what_it_starts():
        main()
