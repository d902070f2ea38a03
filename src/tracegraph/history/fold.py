"""A run as it stood at a seq: its stored events folded in Python, nothing written.

Point-in-time views (``run(id, asOfSeq)``) fold the run's events with seq <= the asked
seq through the same rows (``store.graph_rows``) and the same rules as
``cypher/apply_batch.cypher`` applies them to stored state, one event at a time in seq
order. apply_batch is written so that the result does not depend on how events are
batched or ordered (its header), so folding event by event gives the state the live
graph held once that seq was committed. Kept in step with apply_batch by
``tests/integration/test_point_in_time.py`` (live answers captured at each seq against
this fold) — change both together.

Timestamps stay canonical RFC 3339 text (UTC, fixed width): they compare as text the
way the Cypher compares ``datetime()`` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from tracegraph.redaction import RedactionCount
from tracegraph.store.graph_rows import event_family_rows

Props = dict[str, Any]

_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event of the log as the fold needs it."""

    seq: int
    payload: Props
    received_at: str
    redactions: RedactionCount | None = None

    @classmethod
    def from_record(cls, rec: Any) -> StoredEvent:
        redactions = rec["redactions"]
        return cls(
            seq=int(rec["seq"]),
            payload=orjson.loads(rec["payload"]),
            received_at=rec["received_at"],
            redactions=None
            if redactions is None
            else RedactionCount(int(redactions), tuple(rec["redaction_kinds"] or ())),
        )


@dataclass
class FoldedRun:
    """The run node's properties, its step runs and calls, as of ``as_of_seq``."""

    as_of_seq: int
    run: Props
    step_runs: dict[str, Props] = field(default_factory=dict)
    calls: dict[str, Props] = field(default_factory=dict)
    # step run id -> call ids with a MADE edge from it; artifact links per step run.
    calls_of_step_run: dict[str, list[str]] = field(default_factory=dict)
    reads_of_step_run: dict[str, dict[str, Props]] = field(default_factory=dict)
    writes_of_step_run: dict[str, dict[str, Props]] = field(default_factory=dict)
    # approval id -> its state so far ("pending", then the first decision), as the
    # approvals block of apply_batch keeps it on the Approval node.
    approval_states: dict[str, str] = field(default_factory=dict)
    last_seq: int = 0  # the newest seq the fold saw (<= as_of_seq)
    last_received_at: str | None = None

    def step_runs_in_order(self) -> list[Props]:
        # Start order (the live list has no order: compare by id), unstarted last.
        return sorted(self.step_runs.values(), key=lambda s: (s.get("started_at") or "~", s["id"]))

    def links(self, step_run_id: str) -> dict[str, list[Props]]:
        return {
            "llm_calls": [self.calls[c] for c in self.calls_of_step_run.get(step_run_id, [])],
            "reads": list(self.reads_of_step_run.get(step_run_id, {}).values()),
            "writes": list(self.writes_of_step_run.get(step_run_id, {}).values()),
        }


def _epoch_ms(text: str) -> int:
    return (datetime.fromisoformat(text) - _EPOCH) // timedelta(milliseconds=1)


def _min_time(new: str | None, old: str | None) -> str | None:
    if new is not None and (old is None or new < old):
        return new
    return old


def _wins(row: Props, node: Props) -> bool:
    """apply_batch's status rule: rank only moves forward; between terminal events the
    later time wins, ties to the later seq."""
    current = node.get("status_rank", -1)
    if row["rank"] < 2:
        return bool(row["rank"] > current)
    return bool(
        current < 2
        or row["time"] > node["terminal_time"]
        or (row["time"] == node["terminal_time"] and row["seq"] > node["terminal_seq"])
    )


def _at_least_running(run: Props, pipeline: str) -> None:
    # The steps and touches blocks: activity inside a run makes it at least running.
    if run.get("pipeline") is None or run.get("status_rank", -1) < 1:
        run["pipeline"] = pipeline
        if run.get("status_rank", -1) < 1:
            run["status"], run["status_rank"] = "running", 1


class RunFold:
    """Folds one run's events (seq order) into :class:`FoldedRun`."""

    def __init__(self, run_id: str, as_of_seq: int, prices: dict[str, Any]) -> None:
        self._prices = prices
        self.state = FoldedRun(as_of_seq=as_of_seq, run={"id": run_id})

    def apply(self, event: StoredEvent) -> None:
        p, seq, state = event.payload, event.seq, self.state
        run = state.run
        # The events block: every event about the run counts towards its version.
        run["version"] = run.get("version", 0) + 1
        run["seq"] = max(run.get("seq", 0), seq)
        state.last_seq, state.last_received_at = seq, event.received_at
        priced: set[str] = set()
        token_step_runs: set[str] = set()
        for family, row in event_family_rows(p, seq, event.redactions):
            if family == "run":
                self._run(row)
            elif family == "pause":
                self._pause(row)
            elif family == "step":
                self._step(row)
                if row["tokens_used"] is not None:
                    token_step_runs.add(row["id"])
            elif family == "touch":
                _at_least_running(run, row["pipeline"])
            elif family in ("prompt", "response"):
                self._call(row, prompt=family == "prompt")
                priced.add(row["id"])
                if row["step_run"]:
                    token_step_runs.add(row["step_run"])
            elif family == "artifact":
                self._artifact(row)
            elif family == "approval":
                self._approval(row)
        for call_id in sorted(priced):
            self._price(state.calls[call_id])
        if priced:
            self._total_run()
        for step_run_id in sorted(token_step_runs):
            self._step_tokens(step_run_id)

    def _approval(self, row: Props) -> None:
        """apply_batch's approvals block: the first decision wins; the step run shows the
        approval it waits for while that is pending (its status is not changed)."""
        sr = self.state.step_runs.get(row["step_run"])
        if sr is None:  # the block MATCHes the step run: nothing without it
            return
        states = self.state.approval_states
        state = states.setdefault(row["id"], "pending")
        if row["decision"] is not None and state == "pending":
            state = states[row["id"]] = row["decision"]
        if state == "pending":
            sr["awaiting_approval"] = row["id"]
        elif sr.get("awaiting_approval") == row["id"]:
            sr["awaiting_approval"] = None

    # -- runs, pauses ---------------------------------------------------------------

    def _run(self, row: Props) -> None:
        r = self.state.run
        current = r.get("status_rank", -1)
        wins = _wins(row, r)
        terminal = wins and row["rank"] == 2
        r["pipeline"] = row["pipeline"]
        if wins:
            r["status"] = "paused" if row["rank"] == 1 and r.get("paused") else row["status"]
        r["status_rank"] = row["rank"] if wins else current
        if terminal:
            r["terminal_time"] = r["ended_at"] = row["time"]
            r["terminal_seq"] = row["seq"]
            r["error"], r["error_type"] = row["error"], row["error_type"]
            r["outputs"], r["cancel_reason"] = row["outputs"], row["reason"]
        if row["scheduled_for"] is not None:
            r["scheduled_for"] = row["scheduled_for"]
        r["started_at"] = _min_time(row["started_at"], r.get("started_at"))
        for name in ("trigger", "triggered_by", "params", "pipeline_version"):
            if row[name] is not None:
                r[name] = row[name]
        if r.get("started_at") and r.get("ended_at"):
            r["duration_ms"] = _epoch_ms(r["ended_at"]) - _epoch_ms(r["started_at"])
        else:
            r["duration_ms"] = None

    def _pause(self, row: Props) -> None:
        r = self.state.run
        if not (
            r.get("pause_time") is None
            or row["time"] > r["pause_time"]
            or (row["time"] == r["pause_time"] and row["seq"] > r["pause_seq"])
        ):
            return
        rank0 = r.get("status_rank", -1)
        r["pipeline"] = row["pipeline"]
        r["paused"], r["pause_time"], r["pause_seq"] = row["paused"], row["time"], row["seq"]
        r["pause_reason"] = row["reason"] if row["paused"] else None
        r["status_rank"] = 1 if rank0 < 1 else rank0
        if rank0 <= 1:
            r["status"] = "paused" if row["paused"] else "running"

    # -- step runs ------------------------------------------------------------------

    def _step(self, row: Props) -> None:
        _at_least_running(self.state.run, row["pipeline"])
        sr = self.state.step_runs.setdefault(
            row["id"],
            {
                "id": row["id"],
                "run": row["run"],
                "step": row["step"],
                "attempt": row["attempt"],
                "pipeline": row["pipeline"],
            },
        )
        current = sr.get("status_rank", -1)
        wins = _wins(row, sr)
        terminal = wins and row["rank"] == 2
        sr["version"] = sr.get("version", 0) + 1
        if wins:
            sr["status"] = row["status"]
        sr["status_rank"] = row["rank"] if wins else current
        if terminal:
            sr["terminal_time"] = sr["ended_at"] = row["time"]
            sr["terminal_seq"] = row["seq"]
            for name, source in (
                ("error", "error"),
                ("error_type", "error_type"),
                ("retryable", "retryable"),
                ("skip_reason", "reason"),
                ("outputs", "outputs"),
            ):
                sr[name] = row[source]
        if row["scheduled_for"] is not None:
            sr["scheduled_for"] = row["scheduled_for"]
        sr["started_at"] = _min_time(row["started_at"], sr.get("started_at"))
        for name in ("provider", "model", "params", "token_budget", "items_total"):
            if row[name] is not None:
                sr[name] = row[name]
        # Progress figures only grow.
        for name, source in (
            ("percent", "percent"),
            ("reported_tokens", "tokens_used"),
            ("items_done", "items_done"),
        ):
            if row[source] is not None and (sr.get(name) is None or row[source] > sr[name]):
                sr[name] = row[source]
        if row["message"] is not None and (
            sr.get("progress_time") is None
            or row["message_time"] > sr["progress_time"]
            or (
                row["message_time"] == sr["progress_time"]
                and row["message_seq"] > sr["progress_seq"]
            )
        ):
            sr["progress_message"], sr["progress_seq"] = row["message"], row["message_seq"]
            sr["progress_time"] = row["message_time"]
        if sr.get("started_at") and sr.get("ended_at"):
            sr["duration_ms"] = _epoch_ms(sr["ended_at"]) - _epoch_ms(sr["started_at"])
        else:
            sr["duration_ms"] = None
        if sr.get("status") == "succeeded":
            sr["percent"] = 100.0

    # -- LLM calls, cost, tokens ----------------------------------------------------

    def _call(self, row: Props, *, prompt: bool) -> None:
        state = self.state
        c = state.calls.setdefault(row["id"], {"id": row["id"]})
        c["run"], c["call"], c["pipeline"] = row["run"], row["call"], row["pipeline"]
        if row["step"] is not None:
            c["step"] = row["step"]
        if row["step_run"] is not None:
            c["step_run"] = row["step_run"]
        if prompt:
            for name in ("provider", "model", "template", "template_version", "prompt"):
                c[name] = row[name]
            c["prompt_input_tokens"] = row["input_tokens"]
            c["input_tokens"] = (
                c["response_input_tokens"]
                if c.get("response_input_tokens") is not None
                else row["input_tokens"]
            )
            c["prompt_redactions"] = row["redactions"]
            c["prompt_redaction_kinds"] = row["redaction_kinds"]
            c["redactions"] = row["redactions"] + (c.get("response_redactions") or 0)
            theirs = c.get("response_redaction_kinds") or []
            c["redaction_kinds"] = row["redaction_kinds"] + [
                k for k in theirs if k not in row["redaction_kinds"]
            ]
        else:
            c["response"] = row["response"]
            c["response_input_tokens"] = row["input_tokens"]
            c["input_tokens"] = (
                row["input_tokens"]
                if row["input_tokens"] is not None
                else c.get("prompt_input_tokens")
            )
            for name in ("output_tokens", "latency_ms", "finish_reason", "error"):
                c[name] = row[name]
            c["cost_reported"] = row["cost_usd"]
            c["response_redactions"] = row["redactions"]
            c["response_redaction_kinds"] = row["redaction_kinds"]
            mine = c.get("prompt_redaction_kinds") or []
            c["redactions"] = (c.get("prompt_redactions") or 0) + row["redactions"]
            c["redaction_kinds"] = mine + [k for k in row["redaction_kinds"] if k not in mine]
        # The MADE edge: from the step run the event names, else from the run.
        if row["step_run"] is not None:
            made = state.calls_of_step_run.setdefault(row["step_run"], [])
            if row["id"] not in made:
                made.append(row["id"])

    def _price(self, c: Props) -> None:
        price = self._prices.get(f"{c.get('provider')}/{c.get('model')}") or self._prices.get(
            f"{c.get('provider')}/*"
        )
        reported, output = c.get("cost_reported"), c.get("output_tokens")
        if reported is not None:
            c["cost_usd"] = reported
        elif price is None or output is None:
            c["cost_usd"] = None
        else:
            c["cost_usd"] = (
                (c.get("input_tokens") or 0) * price["input"] + output * price["output"]
            ) / 1000.0
        c["cost_estimated"] = reported is None and price is not None and output is not None

    def _total_run(self) -> None:
        calls = [self.state.calls[k] for k in sorted(self.state.calls)]  # call-id order
        r = self.state.run
        r["input_tokens"] = sum(c.get("input_tokens") or 0 for c in calls)
        r["output_tokens"] = sum(c.get("output_tokens") or 0 for c in calls)
        total = 0.0
        for c in calls:
            total += c.get("cost_usd") or 0.0
        r["cost_usd"] = total
        r["cost_estimated"] = any(c.get("cost_estimated") for c in calls)

    def _step_tokens(self, step_run_id: str) -> None:
        sr = self.state.step_runs.get(step_run_id)
        if sr is None:
            return
        calls = sorted(
            (c for c in self.state.calls.values() if c.get("step_run") == step_run_id),
            key=lambda c: c["id"],
        )
        llm_tokens = sum(
            (c.get("input_tokens") or 0) + (c.get("output_tokens") or 0) for c in calls
        )
        cost = 0.0
        for c in calls:
            cost += c.get("cost_usd") or 0.0
        sr["llm_tokens"], sr["cost_usd"] = llm_tokens, cost
        reported = sr.get("reported_tokens") or 0
        sr["tokens_used"] = sr["reported_tokens"] if reported > llm_tokens else llm_tokens

    # -- artifacts ------------------------------------------------------------------

    def _artifact(self, row: Props) -> None:
        if row["step_run"] is None:
            return  # run-level reads/writes: not on a step run
        links = self.state.writes_of_step_run if row["written"] else self.state.reads_of_step_run
        mine = links.setdefault(row["step_run"], {})
        seen = mine.get(row["version_id"])
        if seen is None:
            seen = mine[row["version_id"]] = {
                "id": row["version_id"],
                "uri": row["uri"],
                "version": row["version"],
                "hash": None,
                "kind": None,
            }
        # apply_batch's rules, over this run's events: the content (hash) of the latest
        # write else read by (written, time, seq); the kind of the latest event naming one.
        content = (row["written_rank"], row["time"], row["seq"])
        if seen.get("_content") is None or content > seen["_content"]:
            seen["_content"], seen["hash"] = content, row["hash"]
        if row["kind"] is not None and (
            seen.get("_kind") is None or (row["time"], row["seq"]) > seen["_kind"]
        ):
            seen["_kind"], seen["kind"] = (row["time"], row["seq"]), row["kind"]


def fold_run(
    run_id: str, as_of_seq: int, events: list[StoredEvent], prices: dict[str, Any]
) -> FoldedRun | None:
    """The run as of ``as_of_seq`` from its events in seq order; None if it had none."""
    fold = RunFold(run_id, as_of_seq, prices)
    for event in events:
        if event.seq <= as_of_seq:
            fold.apply(event)
    return fold.state if fold.state.last_seq else None


@dataclass
class FoldedPipeline:
    """A pipeline's card as of ``as_of_seq``: its winning definition (version, steps),
    owners and SLAs after the admin changes before that seq, and its card version."""

    as_of_seq: int
    node: Props
    owner: Props | None = None
    sla: Props | None = None
    steps: list[Props] = field(
        default_factory=list
    )  # {id, key, name, kind, owner, sla, depends_on}
    defined: tuple[str, int] | None = None  # the winning definition's (time, seq)


def _owner_node(owner_id: str | None) -> Props | None:
    if not owner_id:
        return None
    kind, _, name = owner_id.partition(":")
    return {"id": owner_id, "kind": kind, "name": name}


def _sla_node(sla_id: str, sla: Props | None) -> Props | None:
    return {"id": sla_id, **sla} if sla else None


def fold_pipeline(
    name: str, as_of_seq: int, events: list[StoredEvent], card_version: int
) -> FoldedPipeline | None:
    """The pipeline from its own events (definitions, owner/SLA changes) in seq order,
    with apply_pipeline_defined's rule (the newest definition by time, ties to the later
    seq, replaces owners and SLAs) and the admin changes applied in log order; None when
    the log held no event of it by then."""
    if card_version == 0 and not events:
        return None
    folded = FoldedPipeline(as_of_seq, {"name": name, "card_version": card_version})
    for event in events:
        if event.seq > as_of_seq:
            break
        p = event.payload
        data = p.get("data") or {}
        step = p.get("step")
        if p["type"] == "pipeline.defined":
            key = (p["time"], event.seq)
            if folded.defined is not None and key <= folded.defined:
                continue
            folded.defined = key
            folded.node["version"] = data.get("version")
            folded.owner = _owner_node(data.get("owner"))
            folded.sla = _sla_node(f"pipeline:{name}", data.get("sla"))
            folded.steps = [
                {
                    "id": f"{name}/{s['key']}",
                    "key": s["key"],
                    "name": s.get("name"),
                    "kind": s.get("kind"),
                    "owner": _owner_node(s.get("owner")),
                    "sla": _sla_node(f"step:{name}/{s['key']}", s.get("sla")),
                    "depends_on": list(s.get("depends_on") or []),
                }
                for s in data.get("steps") or []
            ]
        elif p["type"] == "pipeline.owner_set" and step is None:
            folded.owner = _owner_node(data.get("owner"))
        elif p["type"] == "pipeline.sla_set" and step is None:
            folded.sla = _sla_node(f"pipeline:{name}", data.get("sla"))
        elif p["type"] in ("pipeline.owner_set", "pipeline.sla_set"):
            target = next((s for s in folded.steps if s["key"] == step), None)
            if target is None:
                continue  # an unknown step: the change changed nothing
            if p["type"] == "pipeline.owner_set":
                target["owner"] = _owner_node(data.get("owner"))
            else:
                target["sla"] = _sla_node(f"step:{name}/{step}", data.get("sla"))
    return folded
