"""Executors: the processes that run pipelines receive commands and honour them (issue 18).

    tg = Tracegraph(api_key=EXECUTOR_KEY)          # a key of the `executor` role
    ex = tg.executor(["rag-nightly"])

    @ex.on_start("rag-nightly")
    def nightly(run, params, env):                # run is entered already
        for batch in batches(params):
            run.checkpoint()                      # blocks while paused, raises Cancelled
            with run.step("embed"):
                ...

    ex.start()                                    # receive commands in the background
    ex.launch("rag-nightly", {"corpus": "kb"})    # or wait for a `start` command

Commands arrive through the ``commands`` GraphQL subscription (WebSocket), or through the
``GET /api/commands`` long poll when no socket can be held (``transport="poll"``, or
automatically when the socket fails). Delivery is at least once: the executor resumes
after the last seq it saw and ignores a command id it has handled. It acknowledges a
command before acting on it (the first acknowledgement is the claim, so two executors of
one pipeline never both start a run) and reports ``done`` or ``rejected`` with a reason.

- ``pause`` / ``resume`` / ``cancel`` act on runs this executor runs (``launch`` or
  ``attach``); the run emits ``run.paused`` / ``run.resumed`` / ``run.cancelled`` at its
  next ``run.checkpoint()``. Commands for runs held elsewhere are left to their executor.
- ``retry`` of a failed step in a live run: ``run.retry_requested(step)`` turns True once
  (the pipeline runs the step again: a new attempt); of a finished run: the ``on_retry``
  hook, else a new run through the ``on_start`` handler with the same parameters
  (``resume_from`` = the failed step, ``retry_of`` = the run).
- ``approval`` (issue 19): the decision on an approval a step of a live run waits for
  (``step.await_approval``) wakes it; settled ``done`` once the step took it.
- ``start``: the ``on_start`` handler in a new thread, with the parameters and the
  environment overrides (``{"secret": "NAME"}`` resolved here, by name, never sent).

Nothing here raises into the pipeline's code except :class:`Cancelled` from a checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx
import orjson

from tracegraph.sdk.tracing import ApprovalResult, Cancelled, Run, compact

if TYPE_CHECKING:
    from tracegraph.sdk.client import Tracegraph

log = logging.getLogger("tracegraph.sdk.executor")

COMMAND_FIELDS = "id seq kind state pipeline run stepRun step params env note issuedBy"
SUBSCRIPTION = (
    "subscription($p: [String!]!, $after: Int) { commands(pipelines: $p, afterSeq: $after) "
    f"{{ {COMMAND_FIELDS} }} }}"
)
ACK = "mutation($id: ID!, $ex: String!) { acknowledgeCommand(id: $id, executor: $ex) { id } }"
OUTCOME = (
    "mutation($id: ID!, $ex: String!, $o: CommandOutcome!, $r: String, $run: ID) { "
    "reportCommandOutcome(id: $id, executor: $ex, outcome: $o, reason: $r, run: $run) { id } }"
)

StartHandler = Callable[[Run, dict[str, Any], dict[str, str]], None]


@dataclass(frozen=True)
class StartRequest:
    pipeline: str
    params: dict[str, Any]
    env: dict[str, str]
    command: str | None = None
    by: str | None = None


@dataclass(frozen=True)
class RetryRequest:
    """A retry this executor is asked to carry out: ``run`` is the live run when it is
    still running here (else None), ``params`` those it ran with when known."""

    pipeline: str
    run_id: str
    step: str | None
    step_run: str | None
    command: str
    run: Run | None
    params: dict[str, Any] | None


RetryHandler = Callable[[RetryRequest], "Run | str | None"]
# A start carried out by the caller's own machinery (the demo's simulated runs): it gets
# the request and returns the id of the run it started.
StartRequestHandler = Callable[[StartRequest], str]


class CommandTarget(Protocol):
    """A run driven by something other than an SDK ``Run`` (``Executor.follow``): gets
    the pause/resume/cancel/retry commands this executor acknowledged for it, and settles
    them itself with ``Executor.settle``."""

    def request(self, command: dict[str, Any]) -> None: ...


class _Control:
    """The commands of one live run, shared by the receiving thread and the run's thread."""

    def __init__(self, executor: Executor) -> None:
        self._ex = executor
        self._cond = threading.Condition()
        self.pause: dict[str, Any] | None = None  # the pause command in force
        self.resume: dict[str, Any] | None = None
        self.cancel: dict[str, Any] | None = None
        self.paused_at_checkpoint = False
        self.retries: dict[str, list[dict[str, Any]]] = {}
        # Decisions on approvals of this run (issue 19), by approval id.
        self.approvals: dict[str, dict[str, Any]] = {}

    def request(self, command: dict[str, Any]) -> None:
        with self._cond:
            kind = command["kind"]
            if kind == "PAUSE":
                self.pause, self.resume = command, None
            elif kind == "RESUME":
                self.resume = command
            elif kind == "CANCEL":
                self.cancel = command
            elif kind == "RETRY":
                self.retries.setdefault(command.get("step") or "", []).append(command)
            elif kind == "APPROVAL":
                self.approvals[(command.get("params") or {}).get("approval", "")] = command
            self._cond.notify_all()

    def await_approval(self, run: Run, approval: str, wait_s: float) -> ApprovalResult:
        """Block until the decision on ``approval`` arrives (or the run is cancelled:
        :class:`Cancelled`; or ``wait_s`` passes: ``expired`` with no decision seen)."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            while True:
                if self.cancel is not None:
                    raise Cancelled(self.cancel.get("note") or "cancelled", self.cancel["issuedBy"])
                cmd = self.approvals.pop(approval, None)
                if cmd is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return ApprovalResult(approval, "expired", None, "no decision arrived in time")
                self._cond.wait(left)
        params = cmd.get("params") or {}
        state = str(params.get("decision") or "expired")
        self._ex.settle(cmd, "DONE", f"{state}: the step went on")
        return ApprovalResult(approval, state, params.get("by"), params.get("comment"))

    def checkpoint(self, run: Run) -> None:
        with self._cond:
            while True:
                if self.cancel is not None:
                    raise Cancelled(self.cancel.get("note") or "cancelled", self.cancel["issuedBy"])
                if self.pause is None:
                    return
                if self.resume is not None:
                    self._resumed(run, self.resume)
                    continue
                if not self.paused_at_checkpoint:
                    self.paused_at_checkpoint = True
                    cmd = self.pause
                    data = {"reason": cmd.get("note"), "by": cmd["issuedBy"], "command": cmd["id"]}
                    run.emit("run.paused", compact(data))
                    self._ex.settle(cmd, "DONE", "paused at a checkpoint")
                self._cond.wait()

    def _resumed(self, run: Run, cmd: dict[str, Any]) -> None:
        if self.paused_at_checkpoint:
            data = {"reason": cmd.get("note"), "by": cmd["issuedBy"], "command": cmd["id"]}
            run.emit("run.resumed", compact(data))
        self._ex.settle(cmd, "DONE", "resumed")
        self.pause = self.resume = None
        self.paused_at_checkpoint = False

    def retry_requested(self, run: Run, step: str) -> bool:
        with self._cond:
            waiting = self.retries.get(step) or self.retries.get("")
            if not waiting:
                return False
            cmd = waiting.pop(0)
        self._ex.settle(cmd, "DONE", f"attempt {run._attempts.get(step, 0) + 1} of {step}")
        return True

    def finished(self, run: Run, exc: BaseException | None) -> None:
        with self._cond:
            left = [c for c in (self.pause, self.resume) if c is not None]
            left += [c for cmds in self.retries.values() for c in cmds]
            left += list(self.approvals.values())
            self.approvals.clear()
            cancel = self.cancel
            self.pause = self.resume = self.cancel = None
            self.retries.clear()
        if cancel is not None:
            if isinstance(exc, Cancelled):
                self._ex.settle(cancel, "DONE", "cancelled at a checkpoint")
            else:
                left.append(cancel)
        for cmd in left:
            self._ex.settle(cmd, "REJECTED", "the run finished before reaching a checkpoint")
        self._ex._forget(run)


class Executor:
    """Receives the commands of ``pipelines`` and carries them out (module docstring)."""

    def __init__(
        self,
        tg: Tracegraph,
        pipelines: Sequence[str],
        *,
        executor_id: str | None = None,
        transport: Literal["auto", "websocket", "poll"] = "auto",
        poll_wait_s: float = 8.0,
        secrets: Callable[[str], str | None] = os.environ.get,
        timeout_s: float = 10.0,
    ) -> None:
        if not pipelines:
            raise ValueError("an executor runs at least one pipeline")
        self.tg = tg
        self.pipelines = sorted(set(pipelines))
        self.id = executor_id or f"{tg.source}#{uuid.uuid4().hex[:8]}"
        self.transport = transport
        self.poll_wait_s = poll_wait_s
        self._secrets = secrets
        self._timeout_s = timeout_s
        self._headers = {"user-agent": "tracegraph-sdk-python"}
        if tg.api_key:
            self._headers["authorization"] = f"Bearer {tg.api_key}"
        self._starters: dict[str, StartHandler] = {}
        self._start_requests: dict[str, StartRequestHandler] = {}
        self._external: dict[str, CommandTarget] = {}
        self._retriers: dict[str, RetryHandler] = {}
        self._live: dict[str, Run] = {}
        self._launched: dict[str, dict[str, Any]] = {}  # run id -> params (for retries)
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.last_seq = 0
        self.received: list[dict[str, Any]] = []  # every command received (tests, demo)
        self.connected_by: str | None = None  # "websocket" or "poll" once receiving
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._http: httpx.AsyncClient | None = None

    # -- handlers ----------------------------------------------------------------------------

    def on_start(self, pipeline: str) -> Callable[[StartHandler], StartHandler]:
        """The function that runs ``pipeline`` for a ``start`` command (or ``launch``)."""

        def register(fn: StartHandler) -> StartHandler:
            self._starters[pipeline] = fn
            return fn

        return register

    def on_start_request(
        self, pipeline: str
    ) -> Callable[[StartRequestHandler], StartRequestHandler]:
        """For a ``start`` command of ``pipeline``: a function that starts the run its own
        way and returns the run's id (instead of ``on_start``'s thread with a ``Run``)."""

        def register(fn: StartRequestHandler) -> StartRequestHandler:
            self._start_requests[pipeline] = fn
            return fn

        return register

    def follow(
        self, run_id: str, target: CommandTarget, params: Mapping[str, Any] | None = None
    ) -> None:
        """Route the commands of run ``run_id`` (run elsewhere in this process) to
        ``target``; ``params`` are kept for a retry once it finished."""
        with self._lock:
            self._external[run_id] = target
            self._launched[run_id] = dict(params or {})

    def unfollow(self, run_id: str) -> None:
        with self._lock:
            self._external.pop(run_id, None)

    def on_retry(self, pipeline: str) -> Callable[[RetryHandler], RetryHandler]:
        """A hook for retries of ``pipeline``'s finished runs (returns the new run, if any)."""

        def register(fn: RetryHandler) -> RetryHandler:
            self._retriers[pipeline] = fn
            return fn

        return register

    # -- runs --------------------------------------------------------------------------------

    def attach(self, run: Run, params: Mapping[str, Any] | None = None) -> Run:
        """Let commands reach ``run`` (a run this process runs but did not ``launch``)."""
        run.control = _Control(self)
        with self._lock:
            self._live[run.id] = run
            self._launched[run.id] = dict(params if params is not None else run.params or {})
        return run

    def _forget(self, run: Run) -> None:
        with self._lock:
            self._live.pop(run.id, None)

    def launch(
        self,
        pipeline: str,
        params: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        trigger: str = "manual",
        triggered_by: str | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Run ``pipeline``'s start handler in a new thread; returns the (started) run."""
        handler = self._starters.get(pipeline)
        if handler is None:
            raise LookupError(f"no on_start handler for pipeline {pipeline!r}")
        run = self.tg.run(
            pipeline,
            params=dict(params or {}),
            trigger=trigger,
            triggered_by=triggered_by,
            run_id=run_id,
        )
        self.attach(run, params or {})
        run.start()
        env_now = dict(env or {})

        def body() -> None:
            with contextlib.suppress(Exception, Cancelled), run:
                handler(run, dict(params or {}), env_now)

        threading.Thread(target=body, name=f"run-{run.id[:8]}", daemon=True).start()
        return run

    def live_runs(self) -> list[Run]:
        with self._lock:
            return list(self._live.values())

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Executor:
        """Receive commands in a background thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run_loop, name="tg-executor", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        loop = self._loop
        if loop is not None:
            # The loop may end (and close) between the check and the calls: nothing to stop.
            with contextlib.suppress(RuntimeError):
                for task in asyncio.all_tasks(loop):
                    loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> Executor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._receive_forever())
        except asyncio.CancelledError:
            pass
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _receive_forever(self) -> None:
        self._http = httpx.AsyncClient(
            base_url=self.tg.url, headers=self._headers, timeout=self._timeout_s
        )
        backoff = 0.2
        use_socket = self.transport != "poll"
        try:
            while not self._stopping.is_set():
                try:
                    if use_socket:
                        await self._receive_socket()
                    else:
                        await self._receive_poll()
                    backoff = 0.2
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("tracegraph executor: receiving failed (%s); retrying", exc)
                    if use_socket and self.transport == "auto":
                        use_socket = False  # fall back to the long poll
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            await self._http.aclose()

    async def _receive_socket(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        url = "ws" + self.tg.url.removeprefix("http") + "/graphql"
        async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
            init = {
                "type": "connection_init",
                "payload": {"Authorization": self._headers.get("authorization", "")},
            }
            await ws.send(orjson.dumps(init).decode())
            ack = orjson.loads(await asyncio.wait_for(ws.recv(), self._timeout_s))
            if ack.get("type") != "connection_ack":
                raise ConnectionError(f"not accepted: {ack}")
            variables = {"p": self.pipelines, "after": self.last_seq}
            sub = {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIPTION, "variables": variables},
            }
            await ws.send(orjson.dumps(sub).decode())
            self.connected_by = "websocket"
            async for raw in ws:
                message = orjson.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await ws.send('{"type":"pong"}')
                elif kind == "next":
                    payload = message["payload"]
                    if payload.get("errors"):
                        raise ConnectionError(str(payload["errors"]))
                    await self._handle(payload["data"]["commands"])
                elif kind in ("error", "complete"):
                    raise ConnectionError(f"subscription ended: {message}")

    async def _receive_poll(self) -> None:
        assert self._http is not None
        wait = 0.0  # the first poll only catches up (and shows the service answers)
        while not self._stopping.is_set():
            params: dict[str, str | int | float] = {
                "pipelines": ",".join(self.pipelines),
                "after": self.last_seq,
                "wait": wait,
            }
            wait = self.poll_wait_s
            resp = await self._http.get(
                "/api/commands", params=params, timeout=self.poll_wait_s + self._timeout_s
            )
            if resp.status_code in (429, 503):
                await asyncio.sleep(float(resp.headers.get("retry-after", "1")))
                continue
            resp.raise_for_status()
            self.connected_by = "poll"
            body = resp.json()
            for command in body["commands"]:
                await self._handle(_from_poll(command))
            self.last_seq = max(self.last_seq, int(body["after"]))

    # -- commands ----------------------------------------------------------------------------

    async def _handle(self, command: dict[str, Any]) -> None:
        """Act on one command. It counts as handled (seen, and the resume point past it)
        only once the service answered its acknowledgement: a transport failure there
        (the service restarting) leaves it to be received again from the old seq, so a
        command is never lost between delivery and claim (at least once)."""
        if command["id"] in self._seen:
            self.last_seq = max(self.last_seq, int(command["seq"]))
            return  # at least once: already handled
        self._seen[command["id"]] = None
        self.received.append(command)
        try:
            await self._act(command)
        except _Unanswered:
            self._seen.pop(command["id"], None)
            self.received.pop()
            raise  # the receive loop reconnects from the last seq handled
        except Exception:
            log.exception("tracegraph executor: command %s failed", command["id"])
        while len(self._seen) > 10_000:
            self._seen.popitem(last=False)
        self.last_seq = max(self.last_seq, int(command["seq"]))

    async def _act(self, command: dict[str, Any]) -> None:
        kind = command["kind"]
        run_id = command.get("run")
        with self._lock:
            live = self._live.get(run_id) if run_id else None
            external = self._external.get(run_id) if run_id else None
            known_params = self._launched.get(run_id) if run_id else None
        if external is not None and kind in ("PAUSE", "RESUME", "CANCEL", "RETRY", "APPROVAL"):
            if await self._acknowledge(command):
                external.request(command)
            return
        if kind in ("PAUSE", "RESUME", "CANCEL", "APPROVAL"):
            if live is None or not isinstance(live.control, _Control):
                return  # another executor's run
            if await self._acknowledge(command):
                live.control.request(command)
            return
        if kind == "RETRY":
            if live is not None and isinstance(live.control, _Control):
                if await self._acknowledge(command):
                    live.control.request(command)
                return
            pipeline = command["pipeline"]
            if known_params is None and pipeline not in self._retriers:
                return  # not a run of ours: its executor (or a hook) will take it
            if await self._acknowledge(command):
                await asyncio.to_thread(self._retry_finished, command, known_params)
            return
        if kind == "START":
            pipeline = command["pipeline"]
            if pipeline not in self._starters and pipeline not in self._start_requests:
                return
            if await self._acknowledge(command):
                await asyncio.to_thread(self._start, command)

    def _start(self, command: dict[str, Any]) -> None:
        try:
            env = self._resolve_env(command.get("env") or {})
            own_way = self._start_requests.get(command["pipeline"])
            if own_way is not None:
                request = StartRequest(
                    command["pipeline"],
                    command.get("params") or {},
                    env,
                    command["id"],
                    command.get("issuedBy"),
                )
                self.settle(command, "DONE", "started", run=own_way(request))
                return
            run = self.launch(
                command["pipeline"],
                command.get("params") or {},
                env,
                trigger="api",  # the contract's triggers: issued through the API
                triggered_by=command.get("issuedBy"),
            )
        except Exception as exc:
            self.settle(command, "REJECTED", f"{type(exc).__name__}: {exc}")
            return
        self.settle(command, "DONE", "started", run=run.id)

    def _retry_finished(self, command: dict[str, Any], params: dict[str, Any] | None) -> None:
        pipeline = command["pipeline"]
        request = RetryRequest(
            pipeline=pipeline,
            run_id=command["run"] or "",
            step=command.get("step"),
            step_run=command.get("stepRun"),
            command=command["id"],
            run=None,
            params=params,
        )
        try:
            hook = self._retriers.get(pipeline)
            if hook is not None:
                new_run = hook(request)
            else:
                retry_params = {
                    **(params or {}),
                    "retry_of": request.run_id,
                    "resume_from": request.step,
                }
                new_run = self.launch(
                    pipeline,
                    compact(retry_params),
                    trigger="api",
                    triggered_by=command.get("issuedBy"),
                )
        except Exception as exc:
            self.settle(command, "REJECTED", f"{type(exc).__name__}: {exc}")
            return
        new_id = new_run.id if isinstance(new_run, Run) else new_run
        self.settle(command, "DONE", "retried", run=new_id)

    def _resolve_env(self, env: Mapping[str, Any]) -> dict[str, str]:
        resolved = {}
        for name, value in env.items():
            if isinstance(value, Mapping):
                secret = self._secrets(value["secret"])
                if secret is None:
                    raise LookupError(f"secret {value['secret']!r} is not set on this executor")
                resolved[name] = secret
            else:
                resolved[name] = str(value)
        return resolved

    async def _acknowledge(self, command: dict[str, Any]) -> bool:
        """Claim the command; False when the service says it is not ours to act on any
        more. Until the service answers at all (restarting, 503, network), ask again: the
        claim may or may not have been stored, and acknowledging again is answered the
        same, while a command received again after a reconnect would be only one still
        open. Raises :class:`_Unanswered` only when the executor is closing."""
        delay = 0.2
        while True:
            data, errors = await self._graphql(ACK, id=command["id"], ex=self.id)
            if errors is not _NO_ANSWER:
                break
            if self._stopping.is_set():
                raise _Unanswered(f"acknowledging {command['id']}: the service did not answer")
            log.warning("tracegraph executor: acknowledging %s: no answer; again", command["id"])
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        if errors:
            log.info("tracegraph executor: %s not taken: %s", command["id"], errors[0]["message"])
            return False
        return data is not None

    def settle(
        self, command: dict[str, Any], outcome: str, reason: str, run: str | None = None
    ) -> None:
        """Report how a command ended (from any thread; never blocks the caller)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        coro = self._graphql(OUTCOME, id=command["id"], ex=self.id, o=outcome, r=reason, run=run)
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(coro, loop)

    async def _graphql(self, query: str, **variables: Any) -> tuple[Any, list[dict[str, Any]]]:
        assert self._http is not None
        for attempt in range(5):
            try:
                resp = await self._http.post(
                    "/graphql", json={"query": query, "variables": variables}
                )
                if resp.status_code in (429, 503):
                    await asyncio.sleep(float(resp.headers.get("retry-after", "1")))
                    continue
                body = resp.json()
                return body.get("data"), body.get("errors") or []
            except httpx.HTTPError:
                await asyncio.sleep(0.2 * 2**attempt)
        return None, _NO_ANSWER


# What _graphql answers when the service did not (compared by identity).
_NO_ANSWER: list[dict[str, Any]] = [{"message": "the service did not answer"}]


class _Unanswered(ConnectionError):
    """The service never answered an acknowledgement (the executor is closing)."""


def _from_poll(command: dict[str, Any]) -> dict[str, Any]:
    """A long-poll command in the subscription's shape (kinds are upper case there)."""
    return {**command, "kind": str(command["kind"]).upper()}
