"""``Tracegraph``: the SDK's entry point (a client per process is the usual setup)."""

from __future__ import annotations

import atexit
import functools
import inspect
import logging
import os
import socket
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

import httpx

from tracegraph.sdk._sender import Sender, SenderStats
from tracegraph.sdk.tracing import Run, compact, current_run, new_id, now

if TYPE_CHECKING:
    from tracegraph.sdk.executor import Executor

log = logging.getLogger("tracegraph.sdk")

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_URL = "http://127.0.0.1:8000"

# Clients still open at interpreter exit get flushed (weakly held: no leak, no resurrection).
_open_clients: weakref.WeakSet[Tracegraph] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for client in list(_open_clients):
        client.close()


class Tracegraph:
    """Emit pipeline events to a Tracegraph service without ever getting in the way.

    ``url`` defaults to ``TRACEGRAPH_URL`` (else http://127.0.0.1:8000) and ``api_key`` to
    ``TRACEGRAPH_API_KEY`` (an ``ingester`` key, sent as ``Authorization: Bearer``; a
    401/403 stops the sender, see ``stats.auth_refused``). Events are buffered (at most
    ``max_buffer``) and sent by a background thread; with ``spool_dir`` batches the service
    cannot take are written to disk and re-sent when it answers again (also at the next
    start-up).
    """

    def __init__(
        self,
        url: str | None = None,
        source: str | None = None,
        api_key: str | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        *,
        max_buffer: int = 10_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        timeout_s: float = 10.0,
        max_backoff_s: float = 30.0,
        close_timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = (url or os.environ.get("TRACEGRAPH_URL") or DEFAULT_URL).rstrip("/")
        self.source = source or f"sdk/python@{socket.gethostname()}"
        api_key = api_key or os.environ.get("TRACEGRAPH_API_KEY")
        headers = {"user-agent": "tracegraph-sdk-python"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        # Executors (sdk/executor.py) receive commands with the same credential.
        self.api_key = api_key
        self.close_timeout_s = close_timeout_s
        self._sender = Sender(
            self.url,
            headers=headers,
            max_buffer=max_buffer,
            batch_size=batch_size,
            flush_interval_s=flush_interval_s,
            timeout_s=timeout_s,
            max_backoff_s=max_backoff_s,
            spool_dir=Path(spool_dir) if spool_dir is not None else None,
            transport=transport,
        )
        _open_clients.add(self)

    # -- sending -----------------------------------------------------------------------------

    @property
    def stats(self) -> SenderStats:
        return self._sender.stats

    @property
    def spooled_files(self) -> int:
        return self._sender.spooled_files

    def emit(
        self,
        type_: str,
        *,
        pipeline: str | None = None,
        run: str | None = None,
        step: str | None = None,
        attempt: int | None = None,
        data: Mapping[str, Any] | None = None,
        time: str | None = None,
        id: str | None = None,
    ) -> str:
        """Queue one contract event (envelope filled in); returns its id. Never raises."""
        event_id = id or new_id()
        try:
            event = compact(
                {
                    "id": event_id,
                    "type": type_,
                    "time": time or now(),
                    "source": self.source,
                    "pipeline": pipeline,
                    "run": run,
                    "step": step,
                    "attempt": attempt,
                    "data": dict(data) if data is not None else {},
                }
            )
            self._sender.enqueue([event])
        except Exception:
            log.exception("tracegraph: emit failed (ignored)")
        return event_id

    def emit_raw(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Queue ready-made event dicts as they are (``source`` added when missing)."""
        try:
            batch = [ev if "source" in ev else {**ev, "source": self.source} for ev in events]
            self._sender.enqueue(cast(list[dict[str, Any]], batch))
        except Exception:
            log.exception("tracegraph: emit_raw failed (ignored)")

    def flush(self, timeout_s: float | None = 10.0) -> bool:
        """Wait until buffered events are sent or spooled; False on timeout."""
        try:
            return self._sender.flush(timeout_s)
        except Exception:
            log.exception("tracegraph: flush failed (ignored)")
            return False

    def close(self, timeout_s: float | None = None) -> None:
        """Flush (bounded by ``timeout_s``), then stop the sender. Idempotent."""
        try:
            self._sender.close(self.close_timeout_s if timeout_s is None else timeout_s)
        except Exception:
            log.exception("tracegraph: close failed (ignored)")
        _open_clients.discard(self)

    def __enter__(self) -> Tracegraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- definitions, runs, logs -------------------------------------------------------------

    def define_pipeline(
        self,
        name: str,
        steps: Sequence[str | Mapping[str, Any]] = (),
        *,
        owner: str | None = None,
        schedule: str | None = None,
        sla: Mapping[str, Any] | None = None,
        version: str | None = None,
        description: str | None = None,
    ) -> str:
        """``pipeline.defined``: steps as keys or dicts (``key, name, kind, depends_on, …``)."""
        step_dicts = [{"key": s} if isinstance(s, str) else dict(s) for s in steps]
        data = compact(
            {
                "version": version,
                "description": description,
                "owner": owner,
                "schedule": schedule,
                "sla": dict(sla) if sla is not None else None,
                "steps": step_dicts,
            }
        )
        return self.emit("pipeline.defined", pipeline=name, data=data)

    def run(
        self,
        pipeline: str,
        *,
        params: Mapping[str, Any] | None = None,
        trigger: str | None = "manual",
        triggered_by: str | None = None,
        run_id: str | None = None,
        pipeline_version: str | None = None,
    ) -> Run:
        """A run context manager (``with`` or ``async with``)."""
        return Run(
            self,
            pipeline,
            run_id=run_id,
            params=params,
            trigger=trigger,
            triggered_by=triggered_by,
            pipeline_version=pipeline_version,
        )

    def log(
        self,
        level: str,
        message: str,
        *,
        pipeline: str | None = None,
        **context: Any,
    ) -> str:
        """A ``log`` event outside any run (inside one, use ``run.log`` / ``step.log``)."""
        data = compact({"level": level, "message": message, "context": context or None})
        return self.emit("log", pipeline=pipeline, data=data)

    def executor(self, pipelines: Sequence[str], **options: Any) -> Executor:
        """An :class:`~tracegraph.sdk.executor.Executor` receiving the commands of
        ``pipelines`` with this client's credential (an ``executor`` role key)."""
        from tracegraph.sdk.executor import Executor

        return Executor(self, pipelines, **options)

    # -- decorators --------------------------------------------------------------------------

    def pipeline(self, name: str, **run_kwargs: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Each call of the decorated function (sync or async) is one run."""

        def decorate(fn: Callable[P, R]) -> Callable[P, R]:
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def arun(*args: P.args, **kwargs: P.kwargs) -> Any:
                    async with self.run(name, **run_kwargs):
                        return await fn(*args, **kwargs)

                return cast(Callable[P, R], arun)

            @functools.wraps(fn)
            def srun(*args: P.args, **kwargs: P.kwargs) -> R:
                with self.run(name, **run_kwargs):
                    return fn(*args, **kwargs)

            return srun

        return decorate

    def step(self, key: str, **step_kwargs: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Each call is a step run of the current run; outside a run it just calls through."""

        def decorate(fn: Callable[P, R]) -> Callable[P, R]:
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def astep(*args: P.args, **kwargs: P.kwargs) -> Any:
                    run = current_run()
                    if run is None:
                        log.debug("tracegraph: step %r called outside a run", key)
                        return await fn(*args, **kwargs)
                    async with run.step(key, **step_kwargs):
                        return await fn(*args, **kwargs)

                return cast(Callable[P, R], astep)

            @functools.wraps(fn)
            def sstep(*args: P.args, **kwargs: P.kwargs) -> R:
                run = current_run()
                if run is None:
                    log.debug("tracegraph: step %r called outside a run", key)
                    return fn(*args, **kwargs)
                with run.step(key, **step_kwargs):
                    return fn(*args, **kwargs)

            return sstep

        return decorate
