"""Runs, steps and LLM calls: context managers that emit contract events.

Every method here is "safe": a failure inside the SDK is logged and swallowed, because
instrumentation must never break the pipeline it observes. Exceptions raised by the
user's own code inside a ``with`` block are recorded (``*.failed``) and re-raised.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

if TYPE_CHECKING:
    from tracegraph.sdk.client import Tracegraph

log = logging.getLogger("tracegraph.sdk")

P = ParamSpec("P")
R = TypeVar("R")

_current_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
    "tracegraph_run", default=None
)
_current_step: contextvars.ContextVar[Step | None] = contextvars.ContextVar(
    "tracegraph_step", default=None
)


class Cancelled(Exception):
    """Raised by ``run.checkpoint()`` when a cancel command reached the run: the run ends
    as cancelled (``run.cancelled`` with the command's reason), not as failed."""

    def __init__(self, reason: str | None = None, by: str | None = None) -> None:
        super().__init__(reason or "cancelled")
        self.reason = reason
        self.by = by


@dataclass(frozen=True)
class ApprovalResult:
    """What ``step.await_approval`` returns: ``state`` is ``granted``, ``denied`` or
    ``expired`` (the service expired it; also when no decision reached this executor
    within the timeout and its grace), ``by`` who decided (``system:approvals`` for an
    expiry), ``comment`` theirs."""

    approval: str
    state: str
    by: str | None = None
    comment: str | None = None

    @property
    def granted(self) -> bool:
        return self.state == "granted"


class ApprovalNotGranted(Exception):
    """For a pipeline to raise when its approval was not granted: the step fails with
    the decision in its error (``approval <id> denied by user:ana: not today``)."""

    def __init__(self, result: ApprovalResult) -> None:
        who = f" by {result.by}" if result.by else ""
        note = f": {result.comment}" if result.comment else ""
        super().__init__(f"approval {result.approval} {result.state}{who}{note}")
        self.result = result


class RunControl(Protocol):
    """What an executor attaches to a run it runs (``sdk/executor.py``)."""

    def checkpoint(self, run: Run) -> None: ...

    def await_approval(self, run: Run, approval: str, wait_s: float) -> ApprovalResult: ...

    def retry_requested(self, run: Run, step: str) -> bool: ...

    def finished(self, run: Run, exc: BaseException | None) -> None: ...


# Exceptions that mean "stopped", not "broken": the run/step is cancelled, not failed.
_CANCELLATIONS: tuple[type[BaseException], ...] = (
    asyncio.CancelledError,
    KeyboardInterrupt,
    Cancelled,
)


def current_run() -> Run | None:
    """The run of the enclosing ``with tg.run(...)`` (or ``@tg.pipeline`` call), if any."""
    return _current_run.get()


def current_step() -> Step | None:
    """The step of the enclosing ``with run.step(...)`` (or ``@tg.step`` call), if any."""
    return _current_step.get()


def now() -> str:
    """RFC 3339 UTC with microseconds, as the contract's ``time`` wants."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    return str(uuid.uuid4())


def error_of(exc: BaseException) -> dict[str, str]:
    return {
        "type": type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
        "stack": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }


def compact(data: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None values: absent and null mean the same to the service, absent is smaller."""
    return {k: v for k, v in data.items() if v is not None}


def safe(fn: Callable[P, R]) -> Callable[P, R | None]:
    """Log and swallow SDK errors: observability must never take the pipeline down."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return fn(*args, **kwargs)
        except Exception:
            log.exception("tracegraph: %s failed (ignored)", fn.__qualname__)
            return None

    return wrapper


def _template(template: Any) -> dict[str, Any] | None:
    if template is None:
        return None
    if isinstance(template, Mapping):
        return dict(template)
    if isinstance(template, str):
        return {"name": template}
    name, version = template
    return {"name": name, "version": None if version is None else str(version)}


class _Scope:
    """Shared by Run and Step: enter/exit in both sync and async form."""

    _var: contextvars.ContextVar[Any]
    _token: contextvars.Token[Any] | None = None
    _finished = False

    _kind: str  # "run" or "step": the prefix of the lifecycle event types
    _started = False
    outputs: dict[str, Any]

    def emit(self, type_: str, data: Mapping[str, Any] | None = None) -> str:
        raise NotImplementedError

    def fail(self, error: BaseException | str) -> None:
        raise NotImplementedError

    def _started_data(self) -> dict[str, Any]:
        raise NotImplementedError

    def _interrupted(self, exc: BaseException) -> None:
        """Ctrl+C or task cancellation: the run is cancelled, the step skipped."""
        raise NotImplementedError

    def _start(self) -> None:
        self.start()

    @safe
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.emit(f"{self._kind}.started", compact(self._started_data()))

    def _finish(self, exc: BaseException | None) -> None:
        if self._finished:
            return
        if exc is None:
            self.complete()
        elif isinstance(exc, _CANCELLATIONS):
            self._interrupted(exc)
        else:
            self.fail(exc)

    @safe
    def complete(self, outputs: Mapping[str, Any] | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        if outputs:
            self.outputs.update(outputs)
        self.emit(f"{self._kind}.completed", {"outputs": self.outputs} if self.outputs else {})

    def __enter__(self) -> Any:
        safe(self._start)()
        self._token = self._var.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            try:
                self._var.reset(self._token)
            except ValueError:
                # Exited in another context (e.g. a generator finalised elsewhere).
                self._var.set(None)
            self._token = None
        # Returning None (not a bool) tells callers and the type checker that the user's
        # exception always propagates unchanged.
        safe(self._finish)(exc)

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class Run(_Scope):
    """One execution of a pipeline: ``run.started`` on enter, a terminal event on exit."""

    _var = _current_run

    def __init__(
        self,
        tg: Tracegraph,
        pipeline: str,
        *,
        run_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        trigger: str | None = "manual",
        triggered_by: str | None = None,
        pipeline_version: str | None = None,
    ) -> None:
        self.tg = tg
        self.pipeline = pipeline
        self.id = run_id or new_id()
        self.params = dict(params) if params is not None else None
        self.trigger = trigger
        self.triggered_by = triggered_by
        self.pipeline_version = pipeline_version
        self.outputs: dict[str, Any] = {}
        self._attempts: dict[str, int] = {}
        self._started = False
        # Set by an executor that runs this run: commands reach it through here.
        self.control: RunControl | None = None

    def emit(self, type_: str, data: Mapping[str, Any] | None = None, **envelope: Any) -> str:
        """A raw contract event of this run (``pipeline`` and ``run`` filled in)."""
        return self.tg.emit(type_, pipeline=self.pipeline, run=self.id, data=data, **envelope)

    # -- commands (issue 18) -----------------------------------------------------------------

    def checkpoint(self) -> None:
        """A safe point to stop: blocks while the run is paused (emitting ``run.paused``,
        then ``run.resumed``) and raises :class:`Cancelled` once it is cancelled. Call it
        between units of work; without an executor it returns at once."""
        if self.control is not None:
            self.control.checkpoint(self)

    def retry_requested(self, step: str) -> bool:
        """True once for each retry command of ``step`` that reached this run: the caller
        runs the step again (``run.step(step)`` is then the next attempt)."""
        return self.control is not None and self.control.retry_requested(self, step)

    # -- lifecycle ---------------------------------------------------------------------------

    _kind = "run"

    def _started_data(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "triggered_by": self.triggered_by,
            "params": self.params,
            "pipeline_version": self.pipeline_version,
        }

    def _interrupted(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self.cancel(reason=exc.reason, by=exc.by)
        else:
            self.cancel(reason=f"interrupted ({type(exc).__name__})")

    def _finish(self, exc: BaseException | None) -> None:
        super()._finish(exc)
        if self.control is not None:
            self.control.finished(self, exc)

    @safe
    def fail(self, error: BaseException | str) -> None:
        if self._finished:
            return
        self._finished = True
        err = error_of(error) if isinstance(error, BaseException) else {"message": str(error)}
        self.emit("run.failed", {"error": err})

    @safe
    def cancel(self, reason: str | None = None, by: str | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        self.emit("run.cancelled", compact({"reason": reason, "by": by}))

    # -- children ----------------------------------------------------------------------------

    def step(
        self,
        key: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        token_budget: int | None = None,
        params: Mapping[str, Any] | None = None,
        attempt: int | None = None,
        retryable: bool | None = None,
    ) -> Step:
        """A step run; without ``attempt``, re-running a key in this run is the next attempt."""
        if attempt is None:
            attempt = self._attempts.get(key, 0) + 1
        self._attempts[key] = max(attempt, self._attempts.get(key, 0))
        return Step(
            self,
            key,
            attempt=attempt,
            provider=provider,
            model=model,
            token_budget=token_budget,
            params=params,
            retryable=retryable,
        )

    @safe
    def log(self, level: str, message: str, **context: Any) -> None:
        self.emit("log", compact({"level": level, "message": message, "context": context or None}))

    @safe
    def read(self, uri: str, **artifact: Any) -> None:
        self.emit("artifact.read", compact({"uri": uri, **artifact}))

    @safe
    def wrote(self, uri: str, **artifact: Any) -> None:
        self.emit("artifact.written", compact({"uri": uri, **artifact}))


class Step(_Scope):
    """One attempt of a step in a run: ``step.started`` on enter, a terminal event on exit."""

    _var = _current_step

    def __init__(
        self,
        run: Run,
        key: str,
        *,
        attempt: int = 1,
        provider: str | None = None,
        model: str | None = None,
        token_budget: int | None = None,
        params: Mapping[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.run = run
        self.key = key
        self.attempt = attempt
        self.provider = provider
        self.model = model
        self.token_budget = token_budget
        self.params = dict(params) if params is not None else None
        self.retryable = retryable
        self.outputs: dict[str, Any] = {}
        self._started = False

    def emit(self, type_: str, data: Mapping[str, Any] | None = None) -> str:
        return self.run.emit(type_, data, step=self.key, attempt=self.attempt)

    _kind = "step"

    def _started_data(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "params": self.params,
            "token_budget": self.token_budget,
        }

    def _interrupted(self, exc: BaseException) -> None:
        self.skip(f"interrupted ({type(exc).__name__})")

    @safe
    def fail(self, error: BaseException | str, retryable: bool | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        err = error_of(error) if isinstance(error, BaseException) else {"message": str(error)}
        retry = self.retryable if retryable is None else retryable
        self.emit("step.failed", compact({"error": err, "retryable": retry}))

    @safe
    def skip(self, reason: str | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        self.emit("step.skipped", compact({"reason": reason}))

    # -- approvals (issue 19) ----------------------------------------------------------------

    def await_approval(
        self,
        question: str,
        approvers: Sequence[str] = ("owner",),
        timeout_s: float = 3600.0,
        *,
        grace_s: float = 30.0,
    ) -> ApprovalResult:
        """Ask for a human decision and wait for it: emits ``approval.requested`` and
        blocks until the decision reaches this executor (an ``approval`` command) —
        granted, denied, or expired by the service once ``timeout_s`` passed. Returns an
        :class:`ApprovalResult`; the pipeline decides what a denial means (raising
        ``ApprovalNotGranted(result)`` fails the step). Raises :class:`Cancelled` when
        the run is cancelled while waiting. ``approvers``: ``"owner"`` (the pipeline's
        owner) and/or role names; admins may always decide. If no decision arrives by
        ``timeout_s + grace_s`` (the service unreachable), it returns ``expired`` without
        an event. Needs a run an executor runs (``launch``, ``attach``, ``on_start``)."""
        control = self.run.control
        if control is None:
            raise RuntimeError(
                "await_approval needs a run an executor runs (Executor.launch / attach): "
                "the decision arrives through the executor's commands"
            )
        approval = new_id()
        self.emit(
            "approval.requested",
            {
                "approval": approval,
                "question": question,
                "approvers": list(approvers),
                "timeout_s": float(timeout_s),
            },
        )
        return control.await_approval(self.run, approval, float(timeout_s) + grace_s)

    @safe
    def progress(
        self,
        percent: float | None = None,
        message: str | None = None,
        *,
        tokens_used: int | None = None,
        items_done: int | None = None,
        items_total: int | None = None,
    ) -> None:
        if percent is not None:
            percent = min(100.0, max(0.0, float(percent)))
        self.emit(
            "step.progress",
            compact(
                {
                    "percent": percent,
                    "message": message,
                    "tokens_used": tokens_used,
                    "items_done": items_done,
                    "items_total": items_total,
                }
            ),
        )

    @safe
    def log(self, level: str, message: str, **context: Any) -> None:
        self.emit("log", compact({"level": level, "message": message, "context": context or None}))

    @safe
    def read(self, uri: str, **artifact: Any) -> None:
        """``artifact.read``: ``version``, ``kind``, ``hash``, ``records``, ``size_bytes``…"""
        self.emit("artifact.read", compact({"uri": uri, **artifact}))

    @safe
    def wrote(self, uri: str, **artifact: Any) -> None:
        """``artifact.written``: ``version``, ``kind``, ``hash``, ``records``, ``size_bytes``,
        ``schema``, ``column_lineage`` (docs/columns.md)…"""
        self.emit("artifact.written", compact({"uri": uri, **artifact}))

    def llm(
        self,
        provider: str | None = None,
        model: str | None = None,
        *,
        prompt: str | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        template: Any = None,
        variables: Mapping[str, Any] | None = None,
        input_tokens: int | None = None,
        params: Mapping[str, Any] | None = None,
        call_id: str | None = None,
    ) -> LLMCall:
        """An LLM call as a context manager: measures latency, lets you stream chunks."""
        return LLMCall(
            self,
            provider or self.provider,
            model or self.model,
            prompt=prompt,
            messages=messages,
            template=template,
            variables=variables,
            input_tokens=input_tokens,
            params=params,
            call_id=call_id,
        )

    @safe
    def llm_call(
        self,
        provider: str | None = None,
        model: str | None = None,
        *,
        prompt: str | None = None,
        messages: Sequence[Mapping[str, Any]] | None = None,
        response: str | None = None,
        response_messages: Sequence[Mapping[str, Any]] | None = None,
        template: Any = None,
        variables: Mapping[str, Any] | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        latency_ms: float | None = None,
        cost_usd: float | None = None,
        finish_reason: str | None = None,
        error: str | None = None,
        params: Mapping[str, Any] | None = None,
        call_id: str | None = None,
    ) -> str:
        """A finished LLM call: ``prompt.sent`` + ``response.received``; returns the call id."""
        call = self.llm(
            provider,
            model,
            prompt=prompt,
            messages=messages,
            template=template,
            variables=variables,
            input_tokens=input_tokens,
            params=params,
            call_id=call_id,
        )
        call.send()
        call.finish(
            response,
            messages=response_messages,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency_ms,
            cost_usd=cost_usd,
            finish_reason=finish_reason,
            error=error,
        )
        call.close()
        return call.id


class LLMCall:
    """``with step.llm(...) as call: call.chunk(...); call.finish(text, output_tokens=...)``."""

    def __init__(
        self,
        step: Step,
        provider: str | None,
        model: str | None,
        *,
        prompt: str | None,
        messages: Sequence[Mapping[str, Any]] | None,
        template: Any,
        variables: Mapping[str, Any] | None,
        input_tokens: int | None,
        params: Mapping[str, Any] | None,
        call_id: str | None,
    ) -> None:
        self.step = step
        self.id = call_id or new_id()
        self.provider = provider
        self.model = model or "unknown"
        self._prompt = prompt
        self._messages = [dict(m) for m in messages] if messages is not None else None
        self._template = _template(template)
        self._variables = dict(variables) if variables is not None else None
        self.input_tokens = input_tokens
        self._params = dict(params) if params is not None else None
        self._chunks: list[str] = []
        self._t0: float | None = None
        self._result: dict[str, Any] | None = None
        self._closed = False

    @safe
    def send(self) -> None:
        """Emit ``prompt.sent`` and start the latency clock (``__enter__`` does this)."""
        if self._t0 is not None:
            return
        self._t0 = time.perf_counter()
        self.step.emit(
            "prompt.sent",
            compact(
                {
                    "call": self.id,
                    "provider": self.provider,
                    "model": self.model,
                    "template": self._template,
                    "text": self._prompt,
                    "messages": self._messages,
                    "variables": self._variables,
                    "input_tokens": self.input_tokens,
                    "params": self._params,
                }
            ),
        )

    @safe
    def chunk(self, delta: str) -> None:
        """One streamed piece of the response (``response.chunk``), delivered live."""
        self.step.emit(
            "response.chunk", {"call": self.id, "index": len(self._chunks), "delta": delta}
        )
        self._chunks.append(delta)

    @safe
    def finish(
        self,
        text: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        latency_ms: float | None = None,
        cost_usd: float | None = None,
        finish_reason: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record the response; ``response.received`` goes out when the call closes."""
        self._result = {
            "text": text,
            "messages": [dict(m) for m in messages] if messages is not None else None,
            "input_tokens": input_tokens if input_tokens is not None else self.input_tokens,
            "output_tokens": output_tokens,
            "latency_ms": latency_ms,
            "cost_usd": cost_usd,
            "finish_reason": finish_reason,
            "error": error,
        }

    @safe
    def close(self, exc: BaseException | None = None) -> None:
        if self._closed:
            return
        self._closed = True
        self.send()  # a call closed without being entered still has its prompt
        result = dict(self._result or {})
        if result.get("text") is None and result.get("messages") is None and self._chunks:
            result["text"] = "".join(self._chunks)
        if result.get("input_tokens") is None:
            result["input_tokens"] = self.input_tokens
        if result.get("latency_ms") is None and self._t0 is not None:
            result["latency_ms"] = round((time.perf_counter() - self._t0) * 1000)
        elif result.get("latency_ms") is not None:
            result["latency_ms"] = round(result["latency_ms"])
        if exc is not None and result.get("error") is None:
            result["error"] = f"{type(exc).__name__}: {exc}"
        self.step.emit("response.received", compact({"call": self.id, **result}))

    def __enter__(self) -> LLMCall:
        self.send()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(exc)  # the user's exception propagates unchanged

    async def __aenter__(self) -> LLMCall:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
