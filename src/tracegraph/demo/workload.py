"""Synthetic AI-pipeline workload: contract-exact event dicts for the demo and the benchmark.

    gen = WorkloadGenerator(seed=7)
    gen.definitions()                     # the pipeline.defined events
    gen.run_events("rag-nightly")         # one complete run, chronological
    gen.events(10_000)                    # definitions + overlapping runs of every pipeline
    async for batch in gen.live(speed=1): # endless, wall-clock paced, for `tracegraph demo`
        ...

Everything is drawn from `random.Random(seed)` instances owned by the generator, so the same
seed (and `start`) gives the same events. Run ids are seeded UUIDs in the batch methods; `live()`
uses fresh UUIDs so that two demo sessions never send the same id with different content.

How it works: each run is first simulated on its own relative clock as a list of drafts
(offset + type + data). A timeline merges the drafts of concurrently active runs in time order
and renders them into events; rendering is where artifact versions are resolved, so a reader
always sees the version most recently written by whichever pipeline wrote it (lineage is
consistent across pipelines and across overlapping runs).
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import json
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from tracegraph.demo.catalog import (
    ALL_ARTIFACTS,
    PIPELINES,
    ArtifactSpec,
    FailureSpec,
    LlmSpec,
    PipelineSpec,
    StepSpec,
)
from tracegraph.demo.control import DemoControl
from tracegraph.demo.corpus import (
    ANSWER_SYSTEM,
    CASES,
    DOC_CHUNKS,
    JUDGE_FAIL_REASONS,
    JUDGE_PASS_REASONS,
    JUDGE_SYSTEM,
    KB_ARTICLES,
    PLAN_SYSTEM,
    SupportCase,
)

__all__ = ["DEFAULT_START", "WorkloadGenerator", "format_time"]

_T = TypeVar("_T")

# Fixed default so that a seed alone reproduces the stream (timestamps included).
DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC)

# USD per 1k tokens (input, output): the figure emitters report when they know it.
_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (0.0025, 0.01),
    "gpt-4o-mini": (0.00015, 0.0006),
    "claude-3-5-sonnet": (0.003, 0.015),
    "mistral-large": (0.002, 0.006),
}
# Time to first token (ms range) and ms per output token (range), per chat model.
_TIMING: dict[str, tuple[int, int, float, float]] = {
    "gpt-4o": (300, 900, 10.0, 18.0),
    "gpt-4o-mini": (180, 500, 5.0, 9.0),
    "claude-3-5-sonnet": (450, 1200, 12.0, 20.0),
    "mistral-large": (350, 1000, 14.0, 24.0),
}
# Share of responses that report cost_usd (self-hosted models report 0.0 through the gateway);
# the rest are left for the service to estimate from its price table.
_COST_REPORTED = 0.85
# Runs of the batch methods: one new run every ~30 s (simulated), at most 8 at once.
_BATCH_MEAN_GAP_MS = 30_000
_BATCH_MAX_ACTIVE = 8
# live(): a new run every ~2.5 s of stream time while below max_active_runs.
_LIVE_MEAN_GAP_MS = 2_500
# live(): how much non-LLM work a run does, in seconds at speed 1.0 (LLM latency adds to it).
_LIVE_WORK_SECONDS = (15.0, 55.0)
_LIVE_MAX_BATCH = 200


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision and a 'Z' suffix."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclass
class _Draft:
    """One event of a simulated run before it gets an id, a time and resolved versions."""

    number: int
    offset_ms: int
    type: str
    step: str | None
    attempt: int | None
    data: dict[str, Any]
    artifact: ArtifactSpec | None = None


@dataclass
class _Run:
    """A simulated run being rendered: drafts plus where it sits on the timeline."""

    run_id: str
    spec: PipelineSpec
    source: str
    drafts: list[_Draft]
    start_vt: float = 0.0
    index: int = 0
    last_time: datetime | None = None
    extra: int = 0  # events added by commands (run.paused, …), numbered from 9001
    # Human approval (issue 19): the step that asks before it completes, and the id of
    # the approval once asked (the run holds until its decision arrives).
    approval_step: str | None = None
    approval: str | None = None


@dataclass
class _Version:
    version: str
    hash: str


@dataclass
class _Registry:
    """Latest version of every artifact, shared by all runs of one generator."""

    latest: dict[str, _Version] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    @classmethod
    def seeded(cls, start: datetime) -> _Registry:
        # Artifacts exist before the stream begins, so the first reader finds a version.
        reg = cls()
        for art in ALL_ARTIFACTS:
            if art.versioning == "seq":
                n = int(hashlib.sha256(art.uri.encode()).hexdigest()[:4], 16) % 50 + 10
                reg.counters[art.uri] = n
                version = f"v{n}"
            else:
                version = f"{start - timedelta(days=1):%Y-%m-%d}"
            reg.latest[art.uri] = _Version(version, _digest(art.uri, version, "seed"))
        return reg

    def read(self, uri: str) -> _Version:
        return self.latest[uri]

    def write(self, art: ArtifactSpec, when: datetime, run_id: str) -> _Version:
        if art.versioning == "seq":
            n = self.counters.get(art.uri, 0) + 1
            self.counters[art.uri] = n
            version = f"v{n}"
        else:
            version = f"{when:%Y-%m-%d}"
        written = _Version(version, _digest(art.uri, version, run_id))
        self.latest[art.uri] = written
        return written


def _digest(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _topo_order(spec: PipelineSpec) -> list[StepSpec]:
    """Steps in dependency order, ties kept in definition order (Kahn's algorithm)."""
    pending = {s.key: set(s.depends_on) for s in spec.steps}
    order: list[StepSpec] = []
    while pending:
        ready = [s for s in spec.steps if s.key in pending and not pending[s.key]]
        if not ready:
            raise ValueError(f"{spec.name}: step graph has a cycle")
        step = ready[0]
        order.append(step)
        del pending[step.key]
        for deps in pending.values():
            deps.discard(step.key)
    return order


def _descendants(spec: PipelineSpec, key: str) -> set[str]:
    found: set[str] = set()
    frontier = [key]
    while frontier:
        current = frontier.pop()
        for s in spec.steps:
            if current in s.depends_on and s.key not in found:
                found.add(s.key)
                frontier.append(s.key)
    return found


def _weighted(rng: random.Random, items: list[tuple[_T, float]]) -> _T:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


def _split_stream(text: str, pieces: int, rng: random.Random) -> list[str]:
    """Cut `text` at word boundaries into up to `pieces` deltas that concatenate back to it."""
    cuts_at = [i + 1 for i, ch in enumerate(text) if ch == " "]
    cuts = sorted(rng.sample(cuts_at, min(pieces - 1, len(cuts_at))))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _tokens(text: str) -> int:
    # ~4 characters per token is the usual rule of thumb for English.
    return max(1, round(len(text) / 4))


def _run_params(spec: PipelineSpec, rng: random.Random) -> dict[str, Any]:
    if spec.name == "support-agent":
        return {
            "ticket": f"SUP-{rng.randint(40_000, 99_999)}",
            "channel": rng.choice(["chat", "email", "widget"]),
            "locale": rng.choice(["en", "en", "en", "de", "fr"]),
        }
    if spec.name == "rag-nightly":
        return {"corpus": "help-center", "full_refresh": rng.random() < 0.1}
    if spec.name == "eval-suite":
        return {
            "suite": "support-goldens",
            "candidate": "mistral/mistral-large",
            "baseline": "anthropic/claude-3-5-sonnet",
        }
    if spec.name == "embedding-backfill":
        return {"since": "last_success", "batch_size": 64}
    return {}


class _RunSimulation:
    """Simulates one run on a relative millisecond clock and returns its drafts.

    `scale` multiplies the non-LLM work of steps (1.0 in batch mode; live mode picks it so a
    run lasts 20-90 s). LLM latency and streaming are never scaled, so chunks arrive at a
    believable pace in live mode too. `fail_rate` is the chance a run hits a step failure;
    a fifth of it is the chance of a cancellation.
    """

    def __init__(
        self, spec: PipelineSpec, rng: random.Random, *, scale: float, fail_rate: float
    ) -> None:
        self.spec = spec
        self.rng = rng
        self.scale = scale
        # Waiting (start delays, backoffs, timeouts) is compressed but never stretched: a short
        # run stretched to live length should not sit in a five-minute backoff.
        self.wait_scale = min(scale, 1.0)
        self.fail_rate = fail_rate
        self.clock = 0
        self.drafts: list[_Draft] = []
        self.call_seq = 0
        self.case: SupportCase = rng.choice(CASES)
        self.ticket = ""
        self.llm_calls = 0
        self.tokens = 0
        self.cost = 0.0
        self.verdicts = {"pass": 0, "fail": 0}

    # -- clock and emission -----------------------------------------------------------------

    def emit(
        self,
        type_: str,
        data: dict[str, Any],
        *,
        after_ms: float = 1,
        step: str | None = None,
        attempt: int | None = None,
        artifact: ArtifactSpec | None = None,
    ) -> None:
        # Strictly increasing offsets keep every run unambiguously ordered by time.
        if self.drafts:
            self.clock += max(1, round(after_ms))
        number = len(self.drafts) + 1
        self.drafts.append(_Draft(number, self.clock, type_, step, attempt, data, artifact))

    def work_ms(self, seconds: float) -> float:
        return seconds * 1000 * self.scale

    # -- the run ------------------------------------------------------------------------------

    def simulate(self) -> list[_Draft]:
        spec, rng = self.spec, self.rng
        trigger, triggered_by = _weighted(rng, [((t, by), w) for t, by, w in spec.triggers])
        params = _run_params(spec, rng)
        self.ticket = str(params.get("ticket", ""))
        start_delay = 0.0
        if trigger == "schedule":
            # scheduled_for is filled in at render time: it equals this event's time.
            self.emit("run.scheduled", {})
            late = rng.random() < 0.04
            start_delay = (rng.uniform(360, 900) if late else rng.uniform(0.3, 4)) * 1000
            start_delay *= self.wait_scale
        self.emit(
            "run.started",
            {
                "trigger": trigger,
                "triggered_by": triggered_by,
                "params": params,
                "pipeline_version": spec.version,
            },
            after_ms=start_delay,
        )

        order = _topo_order(spec)
        failing = [s for s in order if s.failures]
        fail_step: StepSpec | None = None
        failure: FailureSpec | None = None
        cancel_step: StepSpec | None = None
        if failing and rng.random() < self.fail_rate:
            fail_step = rng.choice(failing)
            failure = _weighted(rng, [(f, f.weight) for f in fail_step.failures])
        elif rng.random() < self.fail_rate / 5:
            cancel_step = rng.choice(order)

        skipped: dict[str, str] = {}
        outcome = "ok"
        final_reason = ""
        final_error: dict[str, str] | None = None
        for step in order:
            if outcome != "ok":
                reason = "run cancelled" if outcome == "cancelled" else final_reason
                self.emit("step.skipped", {"reason": reason}, after_ms=5, step=step.key)
                continue
            if step.key in skipped:
                self.emit("step.skipped", {"reason": skipped[step.key]}, after_ms=20, step=step.key)
                continue
            if step.skip and rng.random() < step.skip[0]:
                self.emit("step.skipped", {"reason": step.skip[1]}, after_ms=30, step=step.key)
                if step.skip[2]:
                    for key in _descendants(spec, step.key):
                        skipped[key] = f"upstream step '{step.key}' was skipped"
                continue

            step_failure = failure if step is fail_step else None
            result = self.attempt(step, 1, step_failure, cancel=step is cancel_step)
            if result == "failed" and step_failure is not None and step_failure.retryable:
                backoff = rng.choice([5, 10, 15, 30])
                self.emit(
                    "log",
                    {
                        "level": "info",
                        "message": f"retrying {step.key} in {backoff}s (attempt 2 of 2)",
                        "context": {"attempt": 2, "backoff_s": backoff},
                    },
                    after_ms=10,
                    step=step.key,
                    attempt=1,
                )
                self.clock += round(backoff * 1000 * self.wait_scale)
                # Most transient errors clear on the retry; some persist and sink the run.
                again = step_failure if rng.random() < 0.3 else None
                result = self.attempt(step, 2, again, cancel=False)
            if result == "failed" and step_failure is not None:
                outcome = "failed"
                final_reason = f"upstream step '{step.key}' failed"
                final_error = self.error(step, step_failure)
            elif result == "cancelled":
                outcome = "cancelled"

        if outcome == "failed" and final_error is not None:
            if rng.random() < 0.3:
                self.emit(
                    "log",
                    {
                        "level": "critical",
                        "message": f"run aborted: {final_error['message']}",
                        "context": {"error_type": final_error["type"]},
                    },
                    after_ms=15,
                )
            self.emit("run.failed", {"error": final_error}, after_ms=40)
        elif outcome == "cancelled":
            self.emit(
                "run.cancelled",
                {"reason": "superseded by a newer run", "by": "user:ops@example.com"},
                after_ms=40,
            )
        else:
            self.finish_ok()
        return self.drafts

    def finish_ok(self) -> None:
        outputs: dict[str, Any] = {"llm_calls": self.llm_calls, "tokens": self.tokens}
        judged = self.verdicts["pass"] + self.verdicts["fail"]
        if judged:
            outputs["pass_rate"] = round(self.verdicts["pass"] / judged, 3)
        if self.ticket:
            outputs["ticket"] = self.ticket
            outputs["resolved"] = self.rng.random() < 0.8
        if self.rng.random() < 0.5:
            seconds = round(self.clock / 1000, 1)
            self.emit(
                "log",
                {
                    "level": "info",
                    "message": f"run finished in {seconds}s: {self.llm_calls} LLM calls, "
                    f"{self.tokens} tokens",
                    "context": {"duration_s": seconds, "cost_usd": round(self.cost, 6)},
                },
                after_ms=20,
            )
        self.emit("run.completed", {"outputs": outputs}, after_ms=30)

    def error(self, step: StepSpec, failure: FailureSpec) -> dict[str, str]:
        func = step.key.replace("-", "_")
        line = 40 + sum(map(ord, step.key)) % 300
        return {
            "type": failure.type,
            "message": f"step '{step.key}' failed: {failure.message}",
            "stack": (
                "Traceback (most recent call last):\n"
                f'  File "/app/{self.spec.code_path}", line {line}, in {func}\n'
                f"    result = run_{func}(ctx)\n"
                f"{failure.type}: {failure.message}"
            ),
        }

    # -- one step attempt ---------------------------------------------------------------------

    def attempt(
        self, step: StepSpec, attempt: int, failure: FailureSpec | None, *, cancel: bool
    ) -> str:
        """Emit one attempt of a step; returns "ok", "failed" or "cancelled"."""
        rng = self.rng
        key = step.key
        llm = step.llm
        provider, model = rng.choice(llm.models) if llm else ("", "")

        started: dict[str, Any] = {}
        if llm:
            started = {"provider": provider, "model": model}
            if llm.token_budget:
                started["token_budget"] = llm.token_budget
            if llm.style == "embed_batch":
                started["params"] = {"batch_size": rng.choice([64, 128, 256]), "normalize": True}
            elif llm.style != "embed_query":
                started["params"] = {"temperature": rng.choice([0.0, 0.2, 0.3, 0.7])}
        elif step.items:
            started["params"] = {"workers": rng.choice([4, 8, 16])}
        # A scheduler hands the next step out within a fraction of a second.
        self.emit("step.started", started, after_ms=rng.uniform(15, 400), step=key, attempt=attempt)
        for art in step.reads:
            self.emit(
                "artifact.read",
                {"uri": art.uri, "kind": art.kind},
                after_ms=rng.uniform(5, 120),
                step=key,
                attempt=attempt,
                artifact=art,
            )

        segments = max(1, rng.randint(*step.progress)) if step.progress[1] else 1
        n_calls = rng.randint(*llm.calls) if llm else 0
        calls = [
            n_calls // segments + (1 if i < n_calls % segments else 0) for i in range(segments)
        ]
        rng.shuffle(calls)
        total_ms = self.work_ms(rng.uniform(*step.seconds))
        items_total = rng.randint(*step.items) if step.items else None
        log_at = [
            (rng.randrange(segments), log) for log in step.logs if rng.random() < log.probability
        ]
        stop_at = rng.randrange(segments) if (failure or cancel) else -1
        tokens_used = 0

        for seg in range(segments):
            seg_ms = total_ms / segments * rng.uniform(0.7, 1.3)
            self.clock += round(seg_ms / 2)
            for _ in range(calls[seg]):
                tokens_used += self.llm_call(step, attempt, provider, model)
            for at, log in log_at:
                if at == seg:
                    context = {k: rng.randint(*bounds) for k, bounds in log.context.items()}
                    self.emit(
                        "log",
                        {
                            "level": log.level,
                            "message": log.message.format(**context),
                            "context": context,
                        },
                        after_ms=rng.uniform(5, 500),
                        step=key,
                        attempt=attempt,
                    )
            self.clock += round(seg_ms / 2)

            if seg == stop_at and failure is not None:
                if failure.via_llm and llm:
                    self.llm_call(step, attempt, provider, model, error=failure)
                err = self.error(step, failure)
                self.emit(
                    "log",
                    {
                        "level": "error",
                        "message": f"{failure.type}: {failure.message}",
                        "context": {"attempt": attempt, "retryable": failure.retryable},
                    },
                    after_ms=rng.uniform(5, 50),
                    step=key,
                    attempt=attempt,
                )
                self.emit(
                    "step.failed",
                    {"error": err, "retryable": failure.retryable},
                    after_ms=rng.uniform(5, 50),
                    step=key,
                    attempt=attempt,
                )
                return "failed"
            if seg == stop_at and cancel:
                by = "user:ops@example.com"
                self.emit(
                    "log",
                    {"level": "warning", "message": f"cancellation requested by {by}"},
                    after_ms=rng.uniform(5, 50),
                    step=key,
                    attempt=attempt,
                )
                self.emit(
                    "step.failed",
                    {
                        "error": {"type": "Cancelled", "message": "run cancelled"},
                        "retryable": False,
                    },
                    after_ms=rng.uniform(50, 400),
                    step=key,
                    attempt=attempt,
                )
                return "cancelled"

            if step.progress[1]:
                percent = round(100 * (seg + 1) / segments)
                progress: dict[str, Any] = {"percent": percent}
                if items_total is not None:
                    done = (
                        items_total if seg == segments - 1 else items_total * (seg + 1) // segments
                    )
                    progress["items_done"] = done
                    progress["items_total"] = items_total
                    progress["message"] = f"{done:,}/{items_total:,} {step.item_noun}"
                if llm:
                    progress["tokens_used"] = tokens_used
                self.emit("step.progress", progress, after_ms=1, step=key, attempt=attempt)

        outputs: dict[str, Any] = {}
        for art in step.writes:
            records = items_total if items_total and art.records[1] > 1 else None
            if records is None:
                records = rng.randint(*art.records) if art.records[1] else None
            written: dict[str, Any] = {"uri": art.uri, "kind": art.kind}
            if art.owner:
                written["owner"] = art.owner
            if records:
                written["records"] = records
                written["size_bytes"] = records * art.bytes_per_record
                outputs["records"] = records
            if art.schema:
                written["schema"] = {"fields": [{"name": n, "type": t} for n, t in art.schema]}
            if art.columns:
                written["column_lineage"] = [
                    {
                        "field": name,
                        "description": description,
                        "type": kind,
                        "inputs": [
                            {"uri": uri, "field": source, "type": kind, "subtype": subtype}
                            for uri, source, subtype in inputs
                        ],
                    }
                    for name, description, kind, inputs in art.columns
                ]
            self.emit(
                "artifact.written",
                written,
                after_ms=rng.uniform(50, 1500),
                step=key,
                attempt=attempt,
                artifact=art,
            )
        if llm:
            outputs["llm_calls"] = n_calls
            outputs["tokens"] = tokens_used
        if llm and llm.style == "judge":
            outputs["verdicts"] = dict(self.verdicts)
        self.emit(
            "step.completed",
            {"outputs": outputs},
            after_ms=rng.uniform(5, 200),
            step=key,
            attempt=attempt,
        )
        return "ok"

    # -- LLM calls ----------------------------------------------------------------------------

    def llm_call(
        self,
        step: StepSpec,
        attempt: int,
        provider: str,
        model: str,
        error: FailureSpec | None = None,
    ) -> int:
        """Emit prompt.sent, chunks and response.received; returns the tokens used."""
        assert step.llm is not None
        rng = self.rng
        llm = step.llm
        self.call_seq += 1
        call = f"{step.key}-{self.call_seq}"
        prompt, reply, input_tokens, finish = self.content(llm)

        sent: dict[str, Any] = {"call": call, "provider": provider, "model": model}
        if llm.template:
            sent["template"] = {"name": llm.template[0], "version": llm.template[1]}
        sent.update(prompt)
        sent["input_tokens"] = input_tokens
        if llm.style not in ("embed_query", "embed_batch"):
            sent["params"] = {"temperature": 0.2, "max_tokens": 1024 if reply else 16}
        self.emit("prompt.sent", sent, after_ms=rng.uniform(5, 80), step=step.key, attempt=attempt)
        sent_at = self.clock
        self.llm_calls += 1

        received: dict[str, Any] = {"call": call, "input_tokens": input_tokens}
        if error is not None:
            if "Timeout" in error.type:
                latency = rng.uniform(30_000, 60_000) * self.wait_scale
            else:
                latency = rng.uniform(80, 900)
            received.update(
                output_tokens=0,
                latency_ms=round(latency),
                finish_reason="error",
                error={"type": error.type, "message": error.message},
            )
            self.emit(
                "response.received", received, after_ms=latency, step=step.key, attempt=attempt
            )
            return input_tokens

        if reply is None:
            # Embeddings: no text back, latency grows with the batch.
            output_tokens = 0
            latency = rng.uniform(15, 60) + input_tokens * rng.uniform(0.004, 0.012)
        else:
            output_tokens = _tokens(reply)
            ttft_lo, ttft_hi, per_lo, per_hi = _TIMING[model]
            ttft = rng.uniform(ttft_lo, ttft_hi)
            generation = output_tokens * rng.uniform(per_lo, per_hi)
            latency = ttft + generation
            if llm.stream:
                pieces = 2 + (output_tokens > 12) * rng.randint(1, 6)
                deltas = _split_stream(reply, pieces, rng)
                for i, delta in enumerate(deltas):
                    target = ttft + generation * i / len(deltas)
                    self.emit(
                        "response.chunk",
                        {"call": call, "index": i, "delta": delta},
                        after_ms=sent_at + target - self.clock,
                        step=step.key,
                        attempt=attempt,
                    )
            received["text"] = reply
            received["finish_reason"] = finish
        received["output_tokens"] = output_tokens
        received["latency_ms"] = round(latency)
        if rng.random() < _COST_REPORTED:
            price_in, price_out = _PRICES.get(model, (0.0, 0.0))
            cost = round((input_tokens * price_in + output_tokens * price_out) / 1000, 6)
            received["cost_usd"] = cost
            self.cost += cost
        self.emit(
            "response.received",
            received,
            after_ms=sent_at + latency - self.clock,
            step=step.key,
            attempt=attempt,
        )
        self.tokens += input_tokens + output_tokens
        return input_tokens + output_tokens

    def content(self, llm: LlmSpec) -> tuple[dict[str, Any], str | None, int, str]:
        """Prompt fields, reply text (None for embeddings), input tokens and finish reason."""
        rng = self.rng
        case = self.case
        # One type for every branch: text prompts and chat prompts both end up here.
        prompt: dict[str, Any]
        if llm.style == "embed_query":
            return {"text": case.question}, None, _tokens(case.question), "stop"
        if llm.style == "embed_batch":
            batch = rng.choice([64, 128, 256])
            first = rng.choice(DOC_CHUNKS + KB_ARTICLES)
            prompt = {"text": first, "variables": {"batch_size": batch}}
            return prompt, None, batch * rng.randint(180, 420), "stop"
        if llm.style == "plan":
            user = (
                f"Customer: {case.question}\n\nPassages:\n- {case.doc}\n\n"
                "Tools: lookup_order, lookup_account, lookup_invoice, search_incidents, "
                "create_refund"
            )
            prompt = {
                "messages": [
                    {"role": "system", "content": PLAN_SYSTEM},
                    {"role": "user", "content": user},
                ],
                "variables": {"question": case.question, "passages": rng.randint(4, 8)},
            }
            return prompt, case.plan, _tokens(PLAN_SYSTEM + user) + rng.randint(400, 900), "stop"
        if llm.style == "tool":
            text = (
                f"Fill the arguments of {case.tool} for this request. Reply with JSON only.\n"
                f"Request: {case.question}\nPlan: {case.plan}"
            )
            reply = json.dumps({"tool": case.tool, "arguments": case.tool_args})
            prompt = {"text": text, "variables": {"tool": case.tool}}
            return prompt, reply, _tokens(text), "tool_calls"
        if llm.style in ("answer", "generate"):
            if llm.style == "generate":
                case = rng.choice(CASES)
            context = rng.choice(DOC_CHUNKS)
            user = f"Context:\n{context}\n\nQuestion: {case.question}"
            variables: dict[str, Any] = {"question": case.question, "doc": case.doc}
            if self.ticket:
                variables["ticket"] = self.ticket
            prompt = {
                "messages": [
                    {"role": "system", "content": ANSWER_SYSTEM},
                    {"role": "user", "content": user},
                ],
                "variables": variables,
            }
            finish = "length" if rng.random() < 0.03 else "stop"
            tokens = _tokens(ANSWER_SYSTEM + user) + rng.randint(900, 2200)
            return prompt, case.answer, tokens, finish
        # judge
        golden = rng.choice(CASES)
        passed = rng.random() < 0.85
        self.verdicts["pass" if passed else "fail"] += 1
        reason = rng.choice(JUDGE_PASS_REASONS if passed else JUDGE_FAIL_REASONS)
        reply = f"{'PASS' if passed else 'FAIL'}: {reason}"
        user = f"Question: {golden.question}\nReference: {golden.answer}\nAnswer: {golden.answer}"
        variables = {"question": golden.question, "golden_id": f"g-{CASES.index(golden):03d}"}
        if llm.as_text:
            prompt = {"text": f"{JUDGE_SYSTEM}\n\n{user}", "variables": variables}
        else:
            prompt = {
                "messages": [
                    {"role": "system", "content": JUDGE_SYSTEM},
                    {"role": "user", "content": user},
                ],
                "variables": variables,
            }
        return prompt, reply, _tokens(JUDGE_SYSTEM + user), "stop"


# Human approvals in the live demo (issue 19): which step of which pipeline asks for
# approval before it completes, how often (the first such run always does, so a new user
# sees one), whom it asks, and when the service expires it.
APPROVAL_STEPS = {"rag-nightly": "index"}
_APPROVAL_RATE = 0.35
_APPROVAL_TIMEOUT_S = 900.0
_APPROVAL_QUESTION = "Publish the rebuilt {pipeline} index?"


class _Timeline:
    """Merges concurrently active runs in time order; new runs arrive at random gaps.

    Times are "virtual" milliseconds from the timeline's origin. An arrival finding
    `max_active` runs in flight is dropped, which bounds concurrency like a worker pool.
    """

    def __init__(
        self,
        gen: WorkloadGenerator,
        *,
        fail_rate: float,
        max_active: int,
        mean_gap_ms: float,
        live: bool,
        control: DemoControl | None = None,
    ) -> None:
        self._gen = gen
        self._control = control
        self._fail_rate = fail_rate
        self._max_active = max_active
        self._mean_gap_ms = mean_gap_ms
        self._live = live
        self._active = 0
        self._seq = itertools.count()
        # The first arrivals start one run of every pipeline, so that even a short stream
        # (or the first seconds of the demo) shows all of them.
        self._warmup = list(PIPELINES)
        gen._rng.shuffle(self._warmup)
        # (virtual time, tie-breaker, run or None for "a new run arrives")
        self._heap: list[tuple[float, int, _Run | None]] = [(0.0, next(self._seq), None)]
        # Until one run asked for approval, every run of a gated pipeline may ask (so the
        # demo shows one early even if the first runs fail before the gated step).
        self._gated_once = False

    def next_due(self) -> float:
        return self._heap[0][0]

    # Commands (demo/control.py): how long a paused run waits before it looks again.
    _HOLD_MS = 250.0

    def add(
        self, spec: PipelineSpec, run_id: str, params: dict[str, Any], by: str | None, vt: float
    ) -> _Run:
        """A run started by a command: the simulation with the given parameters."""
        run = self._gen._simulate(spec, run_id, self._fail_rate, live=self._live)
        for draft in run.drafts:
            if draft.type == "run.started":
                draft.data.update(trigger="api", triggered_by=by)
                draft.data["params"] = {**(draft.data.get("params") or {}), **params}
        self._begin(run, vt)
        return run

    def _begin(self, run: _Run, vt: float) -> None:
        run.start_vt = vt
        self._maybe_gate(run)
        self._active += 1
        heapq.heappush(self._heap, (vt + run.drafts[0].offset_ms, next(self._seq), run))
        if self._control is not None:
            started = next((d for d in run.drafts if d.type == "run.started"), None)
            params = (started.data.get("params") if started else None) or {}
            self._control.on_created(run.run_id, run.spec.name, params)

    def _end(self, run: _Run) -> None:
        self._active -= 1
        if self._control is not None:
            self._control.on_finished(run.run_id)
            self._control.runs.pop(run.run_id, None)

    def _commanded(
        self, vt: float, run: _Run
    ) -> tuple[float, _Run, _Draft] | Literal[False] | None:
        """The event a command makes the run emit now, None to hold it (paused), or
        False when no command concerns it."""
        assert self._control is not None
        state = self._control.runs.get(run.run_id)
        if state is None:
            return False
        settle = self._control.settle

        def draft(type_: str, command: dict[str, Any]) -> _Draft:
            run.extra += 1
            data = {"reason": command.get("note"), "by": command.get("issuedBy")}
            if type_ != "run.cancelled":
                data["command"] = command["id"]
            data = {k: v for k, v in data.items() if v is not None}
            return _Draft(9000 + run.extra, 0, type_, None, None, data)

        if state.cancel is not None:
            settle(state.cancel, "DONE", "cancelled", None)
            for cmd in (state.pause, state.resume):
                if cmd is not None and cmd is not state.cancel:
                    settle(cmd, "REJECTED", "the run was cancelled", None)
            cancel = state.cancel
            self._end(run)
            return vt, run, draft("run.cancelled", cancel)
        if state.pause is not None and state.resume is not None:
            resume, pause, announced = state.resume, state.pause, state.announced
            state.pause = state.resume = None
            settle(resume, "DONE", "resumed", None)
            if announced:
                self._hold(vt, run, 1)
                return vt, run, draft("run.resumed", resume)
            settle(pause, "REJECTED", "resumed before it paused", None)
            return False
        if state.pause is not None:
            self._hold(vt, run, self._HOLD_MS)
            if not state.announced:
                state.announced = True
                settle(state.pause, "DONE", "paused at a checkpoint", None)
                return vt, run, draft("run.paused", state.pause)
            return None
        return False

    def _maybe_gate(self, run: _Run) -> None:
        """Live with an executor: now and then (always the first time) a run's step asks
        for approval before it completes."""
        step = APPROVAL_STEPS.get(run.spec.name)
        if step is None or self._control is None or not self._live:
            return
        if self._gated_once and self._gen._rng.random() >= _APPROVAL_RATE:
            return
        run.approval_step = step

    def _approval_gate(
        self, vt: float, run: _Run
    ) -> tuple[float, _Run, _Draft] | Literal[False] | None:
        """The approval.requested the run emits now, None to hold it for the decision,
        or False to go on (no approval here, or granted)."""
        assert self._control is not None
        draft = run.drafts[run.index]
        if (
            run.approval_step is None
            or draft.type != "step.completed"
            or draft.step != run.approval_step
        ):
            return False
        if run.approval is None:
            self._gated_once = True
            run.approval = str(uuid.uuid4())
            run.extra += 1
            data = {
                "approval": run.approval,
                "question": _APPROVAL_QUESTION.format(pipeline=run.spec.name),
                "approvers": ["owner", "operator"],
                "timeout_s": _APPROVAL_TIMEOUT_S,
            }
            self._hold(vt, run, self._HOLD_MS)
            return (
                vt,
                run,
                _Draft(9000 + run.extra, 0, "approval.requested", draft.step, draft.attempt, data),
            )
        decision = self._control.approvals.pop(run.approval, None)
        if decision is None:
            self._hold(vt, run, self._HOLD_MS)
            return None
        params = decision.get("params") or {}
        state = params.get("decision") or "expired"
        self._control.settle(decision, "DONE", f"{state}: the step went on", None)
        run.approval_step = None
        if state == "granted":
            return False
        # Denied or expired: the step fails with the decision, and so does the run.
        who = f" by {params['by']}" if params.get("by") else ""
        note = f": {params['comment']}" if params.get("comment") else ""
        error = {"type": "ApprovalNotGranted", "message": f"approval {state}{who}{note}"}
        offset = int(vt - run.start_vt)
        run.drafts[run.index :] = [
            _Draft(
                draft.number, offset, "step.failed", draft.step, draft.attempt, {"error": error}
            ),
            _Draft(draft.number + 1, offset + 1, "run.failed", None, None, {"error": error}),
        ]
        return False

    def _hold(self, vt: float, run: _Run, ms: float) -> None:
        # The run's remaining events shift by the hold: it goes on where it stopped.
        run.start_vt += ms
        heapq.heappush(self._heap, (vt + ms, next(self._seq), run))

    def pop(self) -> tuple[float, _Run, _Draft] | None:
        """The next draft in time order, or None when the popped item was a run arrival."""
        vt, _, run = heapq.heappop(self._heap)
        if run is None:
            rng = self._gen._rng
            if self._active < self._max_active:
                if self._warmup:
                    spec = self._warmup.pop()
                else:
                    spec = _weighted(rng, [(p, p.weight) for p in PIPELINES])
                run = self._gen._simulate(spec, None, self._fail_rate, live=self._live)
                self._begin(run, vt)
            gap = min(rng.expovariate(1 / self._mean_gap_ms), 6 * self._mean_gap_ms)
            heapq.heappush(self._heap, (vt + gap, next(self._seq), None))
            return None
        if self._control is not None:
            commanded = self._commanded(vt, run)
            if commanded is not False:
                return commanded
            gated = self._approval_gate(vt, run)
            if gated is not False:
                return gated
        draft = run.drafts[run.index]
        run.index += 1
        if run.index < len(run.drafts):
            nxt = run.start_vt + run.drafts[run.index].offset_ms
            heapq.heappush(self._heap, (nxt, next(self._seq), run))
        else:
            self._end(run)
        return vt, run, draft


class WorkloadGenerator:
    """Deterministic synthetic events for four interlinked AI pipelines.

    Pipelines: rag-nightly, support-agent, eval-suite, embedding-backfill (see `catalog`).
    Calendar time is compressed: scheduled pipelines start far more often than their cron
    says, so that even a short stream contains runs of every pipeline.
    """

    def __init__(self, seed: int = 7, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.seed = seed
        self.start = (start or DEFAULT_START).astimezone(UTC)
        self._rng = random.Random(seed)
        # Separate stream for ids, keyed by start too: the same seed at another start gives
        # other timestamps, so it must not reuse ids (that would be an id conflict).
        self._ids = random.Random(f"tracegraph-demo|{seed}|{self.start.isoformat()}")
        self._registry = _Registry.seeded(self.start)
        # Where the next run_events()/events() call starts when no start is given.
        self._cursor = self.start + timedelta(seconds=1)
        self._specs = {p.name: p for p in PIPELINES}

    @property
    def pipelines(self) -> list[str]:
        return list(self._specs)

    # -- public API ---------------------------------------------------------------------------

    def definitions(self) -> list[dict[str, Any]]:
        """The pipeline.defined events, timed at `start`. Same ids and content on every call."""
        stamp = self.start.strftime("%Y%m%dT%H%M%S") + f"{self.start.microsecond // 1000:03d}Z"
        return [
            {
                # Content depends only on (pipeline, version, start): so does the id.
                "id": f"def-{spec.name}-v{spec.version}-{stamp}",
                "type": "pipeline.defined",
                "time": format_time(self.start),
                "source": "sdk/python@deployer",
                "pipeline": spec.name,
                "data": spec.definition_data(),
            }
            for spec in PIPELINES
        ]

    def run_events(
        self,
        pipeline: str,
        run_id: str | None = None,
        start: datetime | None = None,
        fail_rate: float = 0.1,
    ) -> list[dict[str, Any]]:
        """One complete run of `pipeline`, chronological.

        Without `start`, runs follow one another after the previous call's last event.
        """
        spec = self._specs.get(pipeline)
        if spec is None:
            raise ValueError(f"unknown pipeline {pipeline!r} (known: {', '.join(self._specs)})")
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        origin = (start or self._cursor).astimezone(UTC)
        run = self._simulate(spec, run_id, fail_rate, live=False)
        events = [
            self._render(run, draft, origin + timedelta(milliseconds=draft.offset_ms))
            for draft in run.drafts
        ]
        self._cursor = max(self._cursor, origin + timedelta(milliseconds=run.drafts[-1].offset_ms))
        self._cursor += timedelta(seconds=1)
        return events

    def iter_events(self, fail_rate: float = 0.1) -> Iterator[dict[str, Any]]:
        """Endless stream: the definitions, then overlapping runs of all pipelines."""
        yield from self.definitions()
        origin = self._cursor
        timeline = _Timeline(
            self,
            fail_rate=fail_rate,
            max_active=_BATCH_MAX_ACTIVE,
            mean_gap_ms=_BATCH_MEAN_GAP_MS,
            live=False,
        )
        while True:
            item = timeline.pop()
            if item is None:
                continue
            vt, run, draft = item
            when = origin + timedelta(milliseconds=vt)
            self._cursor = max(self._cursor, when + timedelta(seconds=1))
            yield self._render(run, draft, when)

    def events(self, n: int, *, fail_rate: float = 0.1) -> list[dict[str, Any]]:
        """Exactly `n` events: definitions first, then interleaved runs (the last may be cut)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        return list(itertools.islice(self.iter_events(fail_rate), n))

    async def live(
        self,
        speed: float = 1.0,
        max_active_runs: int = 6,
        *,
        fail_rate: float = 0.15,
        control: DemoControl | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Endless wall-clock stream of event batches, `time` = now (UTC).

        Keeps up to `max_active_runs` runs going; at speed 1.0 a step takes a few seconds and a
        run 20-90 s. Does not repeat the definitions: post `definitions()` first. Cancelling
        the consuming task (or `aclose()`) stops it; there is nothing to clean up.
        """
        if speed <= 0:
            raise ValueError("speed must be > 0")
        if max_active_runs < 1:
            raise ValueError("max_active_runs must be >= 1")
        loop = asyncio.get_running_loop()
        anchor_wall = datetime.now(UTC)
        anchor_loop = loop.time()
        timeline = _Timeline(
            self,
            fail_rate=fail_rate,
            max_active=max_active_runs,
            mean_gap_ms=_LIVE_MEAN_GAP_MS,
            live=True,
            control=control,
        )
        while True:
            now_vt = (loop.time() - anchor_loop) * 1000 * speed
            if control is not None:
                # Commands (demo/control.py): applied between two ticks of the timeline.
                for new in control.drain():
                    run = timeline.add(
                        self._specs[new.pipeline],
                        new.run_id,
                        new.params,
                        new.triggered_by,
                        now_vt,
                    )
                    if new.command is not None:
                        control.settle(new.command, "DONE", "retried as a new run", run.run_id)
            batch: list[dict[str, Any]] = []
            while timeline.next_due() <= now_vt and len(batch) < _LIVE_MAX_BATCH:
                item = timeline.pop()
                if item is None:
                    continue
                vt, run, draft = item
                # The moment the event was due, on the wall clock: at most one tick ago.
                when = anchor_wall + timedelta(milliseconds=vt / speed)
                batch.append(self._render(run, draft, when))
            if batch:
                yield batch
                continue
            wait_s = (timeline.next_due() - now_vt) / speed / 1000
            # Sleep at least 50 ms so events gather into small batches, at most 0.5 s.
            await asyncio.sleep(min(max(wait_s, 0.05), 0.5))

    # -- internals ----------------------------------------------------------------------------

    def _simulate(
        self, spec: PipelineSpec, run_id: str | None, fail_rate: float, *, live: bool
    ) -> _Run:
        # One child RNG per run: a run's content does not depend on how it interleaves.
        rng = random.Random(self._rng.getrandbits(64))
        if live:
            # Fresh UUIDs: live events carry wall-clock times, so reusing ids across sessions
            # would be conflicts. uuid4 uses os.urandom, not the global random state.
            run_id = run_id or str(uuid.uuid4())
            expected = sum((lo + hi) / 2 for lo, hi in (s.seconds for s in spec.steps))
            scale = min(max(rng.uniform(*_LIVE_WORK_SECONDS) / expected, 0.02), 10.0)
        else:
            run_id = run_id or str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
            scale = 1.0
        drafts = _RunSimulation(spec, rng, scale=scale, fail_rate=fail_rate).simulate()
        return _Run(run_id=run_id, spec=spec, source=rng.choice(spec.hosts), drafts=drafts)

    def _render(self, run: _Run, draft: _Draft, when: datetime) -> dict[str, Any]:
        # Compare at the precision we print, or two events could share a printed time.
        when = when.replace(microsecond=when.microsecond // 1000 * 1000)
        if run.last_time is not None and when <= run.last_time:
            # Sub-millisecond spacing at high live speeds: keep the run strictly ordered.
            when = run.last_time + timedelta(milliseconds=1)
        run.last_time = when
        data = draft.data
        if draft.type == "run.scheduled":
            data["scheduled_for"] = format_time(when)
        elif draft.artifact is not None and draft.type == "artifact.read":
            version = self._registry.read(draft.artifact.uri)
            data["version"] = version.version
            data["hash"] = version.hash
        elif draft.artifact is not None and draft.type == "artifact.written":
            version = self._registry.write(draft.artifact, when, run.run_id)
            data["version"] = version.version
            data["hash"] = version.hash
        event: dict[str, Any] = {
            "id": f"{run.run_id}-{draft.number:04d}",
            "type": draft.type,
            "time": format_time(when),
            "source": run.source,
            "pipeline": run.spec.name,
            "run": run.run_id,
        }
        if draft.step is not None:
            event["step"] = draft.step
            event["attempt"] = draft.attempt or 1
        event["data"] = data
        return event
