"""Commands, their state machine and the checks on what a caller asks for.

A command is issued ``pending``; the service marks it ``delivered`` once an executor
received it; the executor that takes it on ``acknowledged`` it (the first one wins: an
acknowledgement is the claim) and reports ``done`` or ``rejected``; one nobody
acknowledged within ``TRACEGRAPH_COMMAND_TTL_S`` becomes ``expired``. Every terminal state
carries a reason. Transitions only move forward (:func:`may_move`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tracegraph.events.env import env_problem, secret_reference
from tracegraph.redaction import Redactions, Scrubber


class CommandKind(enum.StrEnum):
    PAUSE = "pause"  # a running run stops at its next checkpoint
    RESUME = "resume"  # a paused run goes on
    CANCEL = "cancel"  # a run ends as cancelled at its next checkpoint
    RETRY = "retry"  # a failed step run again (a new attempt), or a failed run anew
    START = "start"  # a new run of a pipeline with parameters and environment overrides
    # A human decision on an approval a step run waits for (issue 19): issued by the
    # service (approveStep / denyStep / the approval's expiry), never by an operator.
    APPROVAL = "approval"


class CommandState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    DONE = "done"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Outcome(enum.StrEnum):
    DONE = "done"
    REJECTED = "rejected"


# Still waiting for an executor: delivered (again) to executors, and may expire.
OPEN_STATES = frozenset({CommandState.PENDING, CommandState.DELIVERED})
TERMINAL_STATES = frozenset({CommandState.DONE, CommandState.REJECTED, CommandState.EXPIRED})

# The run statuses (graph values) each run command accepts; anything else is refused.
RUN_STATUSES_FOR: dict[CommandKind, frozenset[str]] = {
    CommandKind.PAUSE: frozenset({"scheduled", "running"}),
    CommandKind.RESUME: frozenset({"paused"}),
    CommandKind.CANCEL: frozenset({"scheduled", "running", "paused"}),
}

MAX_PARAMS_BYTES = 64 * 1024
MAX_ENV_VARS = 100
MAX_IDEMPOTENCY_KEY = 200


class InvalidCommand(ValueError):
    """A request that cannot be issued, with a message naming what is wrong."""


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """One command as asked for (targets not yet checked against the graph)."""

    kind: CommandKind
    idempotency_key: str
    run: str | None = None
    step_run: str | None = None
    pipeline: str | None = None
    params: dict[str, Any] | None = None
    env: dict[str, Any] | None = None
    reason: str | None = None

    def fingerprint(self) -> str:
        """What a repeat with the same idempotency key must match to be the same command."""
        return orjson.dumps(
            [self.kind, self.run, self.step_run, self.pipeline, self.params, self.env],
            option=orjson.OPT_SORT_KEYS,
        ).decode()


def check_idempotency_key(key: str) -> str:
    key = key.strip()
    if not key:
        raise InvalidCommand("idempotencyKey: must not be empty")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidCommand(f"idempotencyKey: at most {MAX_IDEMPOTENCY_KEY} characters")
    return key


def check_params(params: Any, scrubber: Scrubber) -> dict[str, Any] | None:
    """Run parameters: a JSON object (at most 64 KiB), stored scrubbed like run.started's."""
    if params is None:
        return None
    if not isinstance(params, Mapping):
        raise InvalidCommand(f"params: must be a JSON object, not {type(params).__name__}")
    size = len(orjson.dumps(params))
    if size > MAX_PARAMS_BYTES:
        raise InvalidCommand(f"params: {size} bytes, at most {MAX_PARAMS_BYTES}")
    counts: Redactions = Redactions()
    return dict(scrubber.scrub_value(dict(params), counts))


def check_env(env: Any, scrubber: Scrubber) -> dict[str, Any] | None:
    """Environment overrides: ``NAME: "value"`` or ``NAME: {"secret": "SECRET_NAME"}``.

    Secrets are never stored: a plain value under a name that says secret
    (``events.env``: ``*_KEY``, ``*TOKEN*``, ``*PASSWORD*``…) or that the redaction rules
    would scrub (an API key, a token…) is refused with a hint to reference it by name;
    the executor resolves ``{"secret": …}`` from its own environment.
    """
    if env is None:
        return None
    if not isinstance(env, Mapping):
        raise InvalidCommand(f"env: must be a JSON object, not {type(env).__name__}")
    if len(env) > MAX_ENV_VARS:
        raise InvalidCommand(f"env: at most {MAX_ENV_VARS} variables")
    checked: dict[str, Any] = {}
    for name, value in env.items():
        problem = env_problem(name, value)
        if problem is not None:
            raise InvalidCommand(f"env.{name}: {problem}")
        ref = secret_reference(value)
        if ref is not None:
            checked[name] = {"secret": ref}
            continue
        text = str(value)
        counts: Redactions = Redactions()
        if scrubber.scrub_text(text, counts) != text:
            kinds = ", ".join(sorted(counts))
            raise InvalidCommand(
                f"env.{name}: the value looks like a secret ({kinds}); secrets are never "
                f'stored: reference it by name, {{"secret": "{name}"}}'
            )
        checked[name] = text
    return checked


@dataclass(frozen=True, slots=True)
class Targets:
    """What the graph holds about a batch's targets (read in the issuing transaction)."""

    runs: dict[str, dict[str, Any]]
    step_runs: dict[str, dict[str, Any]]
    # Step runs of runs to retry, by run id.
    retry_steps: dict[str, list[dict[str, Any]]]
    pipelines: set[str]


@dataclass(frozen=True, slots=True)
class Resolved:
    """A request checked against the graph: the pipeline it belongs to and, for a retry,
    the failed step run (of a run retried as a whole: its first failed step)."""

    pipeline: str
    run: str | None = None
    step_run: str | None = None
    step: str | None = None


def first_failed_step(step_runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The earliest-started step whose latest attempt failed (a run's retry point)."""
    latest: dict[str, dict[str, Any]] = {}
    for sr in step_runs:
        seen = latest.get(sr["step"])
        if seen is None or (sr.get("attempt") or 1) > (seen.get("attempt") or 1):
            latest[sr["step"]] = sr
    failed = [sr for sr in latest.values() if sr.get("status") == "failed"]
    return min(failed, key=lambda sr: (sr.get("started_at") or "", sr["id"]), default=None)


def _refuse_second_retry(step_run: str, retrying: list[str]) -> None:
    """One retry of a failed attempt at a time: a second one (two operators at once, or
    a retry of a retry still under way) would start an extra attempt."""
    if retrying:
        raise InvalidCommand(
            f"a retry of step run {step_run!r} is already under way (command "
            f"{sorted(retrying)[0]}): wait for its outcome"
        )


def resolve(req: CommandRequest, targets: Targets) -> Resolved:
    """The request's target as the graph has it, or :class:`InvalidCommand` saying why
    it cannot be issued (unknown, finished, not failed…)."""
    if req.kind == CommandKind.START:
        assert req.pipeline is not None
        if req.pipeline not in targets.pipelines:
            raise InvalidCommand(f"unknown pipeline {req.pipeline!r}")
        return Resolved(req.pipeline)
    if req.kind == CommandKind.APPROVAL:
        sr = targets.step_runs.get(req.step_run or "")
        if sr is None or not sr["found"]:
            raise InvalidCommand(f"unknown step run {req.step_run!r}")
        return Resolved(sr["pipeline"], sr["run"], sr["id"], sr["step"])
    if req.kind == CommandKind.RETRY and req.step_run is not None:
        sr = targets.step_runs.get(req.step_run)
        if sr is None or not sr["found"]:
            raise InvalidCommand(f"unknown step run {req.step_run!r}")
        if sr["status"] != "failed":
            raise InvalidCommand(
                f"step run {req.step_run!r} did not fail (it is {sr['status']}): only a "
                "failed step can be retried"
            )
        attempt, latest = sr.get("attempt") or 1, max(sr.get("attempts") or [1])
        if latest > attempt:
            raise InvalidCommand(
                f"step run {req.step_run!r} is attempt {attempt} of step {sr['step']!r}, "
                f"superseded by attempt {latest}: retry the latest attempt"
            )
        _refuse_second_retry(req.step_run, sr.get("retrying") or [])
        return Resolved(sr["pipeline"], sr["run"], sr["id"], sr["step"])
    assert req.run is not None
    run = targets.runs.get(req.run)
    if run is None or not run["found"]:
        raise InvalidCommand(f"unknown run {req.run!r}")
    status = run["status"] or "scheduled"
    if req.kind == CommandKind.RETRY:
        failed = first_failed_step(targets.retry_steps.get(req.run, []))
        if status != "failed" and failed is None:
            raise InvalidCommand(
                f"run {req.run!r} has no failed step and did not fail (it is {status}): "
                "nothing to retry"
            )
        if failed is None:
            return Resolved(run["pipeline"], req.run)
        _refuse_second_retry(failed["id"], failed.get("retrying") or [])
        return Resolved(run["pipeline"], req.run, failed["id"], failed["step"])
    allowed = RUN_STATUSES_FOR[req.kind]
    if status not in allowed:
        finished = status in {"succeeded", "failed", "cancelled"}
        what = "finished" if finished else status
        raise InvalidCommand(
            f"cannot {req.kind.value} run {req.run!r}: it is {what} ({status}); "
            f"{req.kind.value} needs a run that is {' or '.join(sorted(allowed))}"
        )
    return Resolved(run["pipeline"], req.run)


@dataclass(slots=True)
class IssueTiming:
    """Where one issuing transaction's wall time went, in seconds (of its last attempt,
    if the driver ran it again): the read statement, the write statement (which waits
    for the command counter's lock while another issuing transaction commits) and the
    commit (after the last statement until the server confirmed it)."""

    reads_s: float = 0.0
    write_s: float = 0.0
    commit_s: float = 0.0
