"""The synthetic workload generator (tracegraph.demo.workload); no database needed."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tracegraph.demo.governance import quarantine_example
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.events import InvalidEvent, parse_event

Event = dict[str, Any]

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
OWNER_RE = re.compile(r"^(team|user):[A-Za-z0-9._\-/:@]+$")
SLA_KEYS = {
    "max_duration_ms",
    "max_tokens",
    "max_cost_usd",
    "min_success_rate",
    "window",
    "max_start_delay_ms",
}
TERMINAL = {"run.completed", "run.failed", "run.cancelled"}
PIPELINES = {"rag-nightly", "support-agent", "eval-suite", "embedding-backfill"}


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def by_run(events: list[Event]) -> dict[str, list[Event]]:
    runs: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if "run" in e:
            runs[e["run"]].append(e)
    return runs


def complete_runs(events: list[Event]) -> list[list[Event]]:
    """Runs whose first and terminal events both made it into the (possibly cut) stream."""
    return [
        r
        for r in by_run(events).values()
        if r[0]["type"] in ("run.scheduled", "run.started") and r[-1]["type"] in TERMINAL
    ]


@pytest.fixture(scope="module")
def stream() -> list[Event]:
    return WorkloadGenerator(seed=11).events(20_000)


@pytest.fixture(scope="module")
def steps_by_pipeline() -> dict[str, dict[str, list[str]]]:
    return {
        d["pipeline"]: {s["key"]: s["depends_on"] for s in d["data"]["steps"]}
        for d in WorkloadGenerator().definitions()
    }


# -- determinism and shape ------------------------------------------------------------------------


def test_same_seed_same_events_other_seed_other_events() -> None:
    a = WorkloadGenerator(seed=3).events(3_000)
    b = WorkloadGenerator(seed=3).events(3_000)
    c = WorkloadGenerator(seed=4).events(3_000)
    assert a == b
    assert a != c
    assert WorkloadGenerator(seed=3).run_events("rag-nightly") == WorkloadGenerator(
        seed=3
    ).run_events("rag-nightly")


def test_other_start_gives_other_ids() -> None:
    # Same seed at another start time has other timestamps, so reusing ids would conflict.
    later = datetime(2027, 1, 1, tzinfo=UTC)
    a = {e["id"] for e in WorkloadGenerator(seed=3).events(500)}
    b = {e["id"] for e in WorkloadGenerator(seed=3, start=later).events(500)}
    assert not a & b


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 1_000, 12_345])
def test_events_returns_exactly_n_with_unique_ids(n: int) -> None:
    events = WorkloadGenerator(seed=5).events(n)
    assert len(events) == n
    assert len({e["id"] for e in events}) == n


@pytest.mark.parametrize("seed", range(5))
def test_short_streams_contain_every_pipeline(seed: int) -> None:
    events = WorkloadGenerator(seed=seed).events(1_000)
    assert {e["pipeline"] for e in events if "run" in e} == PIPELINES


def test_definitions_come_first_and_are_stable(stream: list[Event]) -> None:
    gen = WorkloadGenerator(seed=11)
    defs = gen.definitions()
    assert {d["pipeline"] for d in defs} == PIPELINES
    assert stream[: len(defs)] == defs
    assert all(e["type"] != "pipeline.defined" for e in stream[len(defs) :])
    assert gen.definitions() == defs


def test_definitions_follow_the_contract() -> None:
    for d in WorkloadGenerator().definitions():
        data = d["data"]
        assert OWNER_RE.match(data["owner"])
        assert set(data["sla"]) <= SLA_KEYS
        keys = [s["key"] for s in data["steps"]]
        assert len(keys) == len(set(keys))
        seen: set[str] = set()
        for s in data["steps"]:
            # Listed in a topological order, which also proves the DAG acyclic.
            assert set(s["depends_on"]) <= seen, (d["pipeline"], s["key"])
            seen.add(s["key"])
            assert s.get("owner") is None or OWNER_RE.match(s["owner"])
            assert set(s.get("sla", {})) <= SLA_KEYS
    schedules = {
        d["pipeline"]: d["data"].get("schedule") for d in WorkloadGenerator().definitions()
    }
    assert schedules["support-agent"] is None
    assert all(schedules[p] for p in PIPELINES - {"support-agent"})


def test_events_are_json_ready_with_utc_times(stream: list[Event]) -> None:
    assert json.loads(json.dumps(stream)) == stream
    for e in stream:
        assert TIME_RE.match(e["time"]), e["time"]
        assert 1 <= len(e["id"]) <= 128
        if e["type"] == "run.scheduled":
            assert TIME_RE.match(e["data"]["scheduled_for"])


def test_every_pipeline_runs_and_runs_overlap(stream: list[Event]) -> None:
    runs = by_run(stream)
    assert {r[0]["pipeline"] for r in runs.values()} == PIPELINES
    spans = sorted((ts(r[0]["time"]), ts(r[-1]["time"])) for r in runs.values())
    overlapping = sum(1 for (_, end), (start, _) in itertools.pairwise(spans) if start < end)
    assert overlapping > len(spans) / 2
    # The merged stream itself is in time order.
    times = [ts(e["time"]) for e in stream]
    assert times == sorted(times)


# -- per-run consistency -------------------------------------------------------------------------


def test_each_run_is_strictly_time_ordered(stream: list[Event]) -> None:
    for events in by_run(stream).values():
        times = [ts(e["time"]) for e in events]
        assert all(a < b for a, b in itertools.pairwise(times)), events[0]["run"]


def test_step_keys_exist_in_the_definition(
    stream: list[Event], steps_by_pipeline: dict[str, dict[str, list[str]]]
) -> None:
    for e in stream:
        if "step" in e:
            assert e["step"] in steps_by_pipeline[e["pipeline"]], e


def test_steps_run_in_dependency_order(
    stream: list[Event], steps_by_pipeline: dict[str, dict[str, list[str]]]
) -> None:
    for events in complete_runs(stream):
        deps = steps_by_pipeline[events[0]["pipeline"]]
        done: set[str] = set()
        for e in events:
            if e["type"] == "step.started":
                # Every dependency finished (completed or skipped) before the step starts.
                assert set(deps[e["step"]]) <= done, e
            elif e["type"] in ("step.completed", "step.skipped"):
                done.add(e["step"])


def test_run_lifecycle_shape(stream: list[Event]) -> None:
    runs = complete_runs(stream)
    assert len(runs) > 100
    for events in runs:
        types = [e["type"] for e in events]
        assert types.count("run.started") == 1
        assert sum(t in TERMINAL for t in types) == 1
        assert types[-1] in TERMINAL
        if types[0] == "run.scheduled":
            assert types[1] == "run.started"
            assert events[1]["data"]["trigger"] == "schedule"
        if types[-1] == "run.failed":
            assert events[-1]["data"]["error"]["message"]
            assert events[-1]["data"]["error"]["type"]


def check_llm_calls(events: list[Event]) -> int:
    """Every prompt has one response after it; chunks are in order and rebuild the text."""
    sent: dict[str, Event] = {}
    received: dict[str, Event] = {}
    chunks: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        call = e.get("data", {}).get("call")
        if e["type"] == "prompt.sent":
            assert call not in sent, f"call id {call} reused in run {e['run']}"
            sent[call] = e
        elif e["type"] == "response.chunk":
            assert call in sent and call not in received
            chunks[call].append(e)
        elif e["type"] == "response.received":
            assert call in sent and call not in received
            received[call] = e
    assert sent.keys() == received.keys()
    for call, parts in chunks.items():
        assert [p["data"]["index"] for p in parts] == list(range(len(parts)))
        assert "".join(p["data"]["delta"] for p in parts) == received[call]["data"]["text"]
    return len(sent)


def test_prompts_have_responses_in_complete_runs(stream: list[Event]) -> None:
    calls = sum(check_llm_calls(events) for events in complete_runs(stream))
    assert calls > 1_000


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_run_events_is_one_complete_run(pipeline: str) -> None:
    gen = WorkloadGenerator(seed=2)
    previous_end: datetime | None = None
    for _ in range(25):
        events = gen.run_events(pipeline, fail_rate=0.3)
        assert {e["run"] for e in events} == {events[0]["run"]}
        assert {e["pipeline"] for e in events} == {pipeline}
        assert events[-1]["type"] in TERMINAL
        check_llm_calls(events)
        # Without a start, consecutive runs follow one another.
        if previous_end is not None:
            assert ts(events[0]["time"]) > previous_end
        previous_end = ts(events[-1]["time"])


def test_run_events_honours_run_id_and_start() -> None:
    start = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    events = WorkloadGenerator().run_events("support-agent", run_id="run-x", start=start)
    assert {e["run"] for e in events} == {"run-x"}
    assert ts(events[0]["time"]) == start
    assert len({e["id"] for e in events}) == len(events)
    with pytest.raises(ValueError, match="unknown pipeline"):
        WorkloadGenerator().run_events("nope")


def test_zero_fail_rate_means_clean_runs() -> None:
    gen = WorkloadGenerator(seed=9)
    for pipeline in sorted(PIPELINES):
        for _ in range(20):
            types = {e["type"] for e in gen.run_events(pipeline, fail_rate=0.0)}
            assert not types & {"step.failed", "run.failed", "run.cancelled"}


# -- the mix --------------------------------------------------------------------------------------


def test_mix_has_failures_retries_skips_and_cancellations(stream: list[Event]) -> None:
    types = Counter(e["type"] for e in stream)
    for t in ("step.failed", "run.failed", "step.skipped", "run.cancelled", "response.chunk"):
        assert types[t] > 0, t
    retries = [e for e in stream if e["type"] == "step.started" and e["attempt"] == 2]
    assert retries
    failed_first = {
        (e["run"], e["step"])
        for e in stream
        if e["type"] == "step.failed" and e["attempt"] == 1 and e["data"]["retryable"] is True
    }
    assert all((e["run"], e["step"]) in failed_first for e in retries)
    levels = {e["data"]["level"] for e in stream if e["type"] == "log"}
    assert {"debug", "info", "warning", "error"} <= levels


def test_llm_calls_look_real(stream: list[Event]) -> None:
    prompts = [e["data"] for e in stream if e["type"] == "prompt.sent"]
    models = {(p["provider"], p["model"]) for p in prompts}
    assert {
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-3-5-sonnet"),
        ("mistral", "mistral-large"),
        ("local", "bge-large-en-v1.5"),
    } <= models
    assert all(("text" in p) != ("messages" in p) for p in prompts)
    assert any("messages" in p for p in prompts) and any("text" in p for p in prompts)
    templates = {
        f"{p['template']['name']}@{p['template']['version']}" for p in prompts if "template" in p
    }
    assert "rag-answer@v7" in templates

    responses = [e["data"] for e in stream if e["type"] == "response.received"]
    with_cost = sum("cost_usd" in r for r in responses)
    # Most report a cost; some leave it to the service's price table.
    assert 0.6 * len(responses) < with_cost < len(responses)
    ok = [r for r in responses if "error" not in r]
    assert all(r["output_tokens"] >= 0 and r["latency_ms"] > 0 for r in ok)


def test_lineage_crosses_pipelines(stream: list[Event]) -> None:
    writers: dict[str, set[str]] = defaultdict(set)
    readers: dict[str, set[str]] = defaultdict(set)
    written_versions: dict[tuple[str, str], str] = {}
    for e in stream:
        if e["type"] == "artifact.written":
            writers[e["data"]["uri"]].add(e["pipeline"])
            written_versions[(e["data"]["uri"], e["data"]["version"])] = e["pipeline"]
        elif e["type"] == "artifact.read":
            readers[e["data"]["uri"]].add(e["pipeline"])
    crossing = {uri for uri in writers if readers[uri] - writers[uri]}
    assert {"s3://support/index", "s3://support/answers", "s3://kb/article-embeddings"} <= crossing
    # support-agent reads index versions that rag-nightly wrote earlier in the stream.
    index_reads = [
        e["data"]["version"]
        for e in stream
        if e["type"] == "artifact.read"
        and e["pipeline"] == "support-agent"
        and e["data"]["uri"] == "s3://support/index"
    ]
    from_rag = [v for v in index_reads if written_versions.get(("s3://support/index", v))]
    assert len(set(from_rag)) > 1


# -- live -----------------------------------------------------------------------------------------


async def test_live_streams_batches_and_stops_on_cancel() -> None:
    gen = WorkloadGenerator(seed=1)
    batches: list[list[Event]] = []
    got_some = asyncio.Event()

    async def consume() -> None:
        async for batch in gen.live(speed=50):
            batches.append(batch)
            if len(batches) >= 5:
                got_some.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_some.wait(), timeout=3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()

    events = [e for b in batches for e in b]
    assert all(b for b in batches)
    assert len({e["id"] for e in events}) == len(events)
    now = datetime.now(UTC)
    for e in events:
        assert TIME_RE.match(e["time"])
        assert now - timedelta(seconds=10) < ts(e["time"]) <= now + timedelta(seconds=1)
    for run in by_run(events).values():
        times = [ts(e["time"]) for e in run]
        assert all(a < b for a, b in itertools.pairwise(times))


async def test_live_keeps_several_runs_going_and_closes() -> None:
    gen = WorkloadGenerator(seed=2)
    events: list[Event] = []
    stream = gen.live(speed=200, max_active_runs=4)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2
    async for batch in stream:
        events.extend(batch)
        if loop.time() > deadline:
            break
    await stream.aclose()
    runs = by_run(events)
    assert len(runs) >= 4
    assert any(r[-1]["type"] in TERMINAL for r in runs.values())
    # Never more than max_active_runs in flight at once.
    active, peak = 0, 0
    for e in events:
        if e["type"] == "run.scheduled" or (
            e["type"] == "run.started" and e["data"]["trigger"] != "schedule"
        ):
            active += 1
            peak = max(peak, active)
        elif e["type"] in TERMINAL:
            active -= 1
    assert peak <= 4


async def test_live_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        await anext(WorkloadGenerator().live(speed=0))


# -- against the real event model -----------------------------------------------------------------


def test_every_generated_event_parses(stream: list[Event]) -> None:
    events_module = pytest.importorskip("tracegraph.events")
    gen = WorkloadGenerator(seed=4)
    samples = [*stream, *(e for p in sorted(PIPELINES) for e in gen.run_events(p, fail_rate=0.5))]
    for e in samples:
        try:
            events_module.parse_event(e)
        except events_module.InvalidEvent as exc:  # pragma: no cover - shown on failure
            pytest.fail(f"{e['type']} {e['id']}: {exc}\n{json.dumps(e, indent=1)}")


def test_the_demos_quarantine_example_is_refused_for_its_level_alone() -> None:
    # What the reviewer finds in the demo's quarantine, and the fix the docs suggest.
    example = quarantine_example(datetime(2026, 12, 4, 2, 14, tzinfo=UTC))
    with pytest.raises(InvalidEvent) as caught:
        parse_event(example)
    assert "level" in str(caught.value)
    fixed = {**example, "data": {**example["data"], "level": "info"}}
    assert parse_event(fixed).type == "log"
