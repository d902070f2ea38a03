"""The Python SDK against a real running service: the graph it produces, and outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningService, free_port
from tests.support.eventually import eventually
from tracegraph.sdk import Tracegraph, current_run, current_step

RUN_QUERY = """
query Run($id: ID!) {
  run(id: $id) {
    id status trigger error inputTokens outputTokens
    pipeline { name }
    steps {
      attempt status percent tokenBudget provider model error
      step { key }
      llmCalls {
        provider model promptTemplate promptVersion prompt response
        inputTokens outputTokens latencyMs costUsd
      }
      reads { uri version kind }
      writes { uri version kind }
    }
  }
}
"""


def gql(svc: RunningService, query: str, **variables: Any) -> dict[str, Any]:
    with svc.client() as client:
        body = client.post("/graphql", json={"query": query, "variables": variables}).json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


def run_of(svc: RunningService, run_id: str) -> dict[str, Any] | None:
    return gql(svc, RUN_QUERY, id=run_id)["run"]  # type: ignore[no-any-return]


def stored_event_ids(svc: RunningService, run_id: str) -> set[str]:
    data = gql(svc, "query($run: ID) { events(run: $run, first: 1000) { id } }", run=run_id)
    return {e["id"] for e in data["events"]}


def wait_until(check: Callable[[], bool], timeout_s: float = 60, what: str = "condition") -> None:
    eventually(check, timeout=timeout_s, interval=0.2, what=what)


def client_for(svc: RunningService, **kwargs: Any) -> Tracegraph:
    kwargs.setdefault("api_key", svc.key("ingester"))
    return Tracegraph(url=svc.base_url, source="test-sdk", flush_interval_s=0.05, **kwargs)


def test_run_steps_llm_calls_and_artifacts_become_the_graph(service: RunningService) -> None:
    with client_for(service) as tg:
        tg.define_pipeline(
            "sdk-rag",
            steps=["load", {"key": "embed", "depends_on": ["load"]}],
            owner="team:search",
            sla={"max_duration_ms": 60_000},
        )
        with tg.run("sdk-rag", params={"corpus": "kb"}, trigger="manual") as run:
            with run.step("load") as step:
                step.read("s3://kb/raw", version="v1", kind="dataset")
                step.progress(50, message="half way", items_done=5, items_total=10)
                step.wrote("s3://kb/chunks", version="v7", kind="dataset")
            with run.step("embed", provider="openai", model="gpt-4o", token_budget=1000) as step:
                step.read("s3://kb/chunks", version="v7", kind="dataset")
                step.llm_call(
                    "openai",
                    "gpt-4o",
                    prompt="Summarise: {doc}",
                    response="A summary.",
                    template=("summarise", 3),
                    variables={"doc": "hello"},
                    input_tokens=12,
                    output_tokens=4,
                    latency_ms=250,
                    cost_usd=0.001,
                )
                with step.llm(prompt="Stream it", input_tokens=3) as call:
                    call.chunk("Hello ")
                    call.chunk("world")
                    call.finish(output_tokens=2)
                step.progress(100, tokens_used=21)
                step.log("info", "embedded", vectors=10)
                step.wrote("pgvector://kb/index", version="v2", kind="index")
            run.log("info", "done")
        assert tg.flush(30)
        assert tg.stats.dropped == 0 and tg.stats.rejected == 0
        emitted = tg.stats.emitted

    got = run_of(service, run.id)
    assert got is not None
    assert got["status"] == "SUCCEEDED"
    assert got["trigger"] == "manual"
    assert got["pipeline"]["name"] == "sdk-rag"
    steps = {s["step"]["key"]: s for s in got["steps"]}
    assert {k: s["status"] for k, s in steps.items()} == {"load": "SUCCEEDED", "embed": "SUCCEEDED"}
    embed = steps["embed"]
    assert (embed["provider"], embed["model"], embed["tokenBudget"]) == ("openai", "gpt-4o", 1000)
    assert embed["percent"] == 100
    calls = sorted(embed["llmCalls"], key=lambda c: c["prompt"])
    assert [c["prompt"] for c in calls] == ["Stream it", "Summarise: {doc}"]
    streamed, summarise = calls
    assert streamed["response"] == "Hello world"
    assert (streamed["provider"], streamed["model"]) == ("openai", "gpt-4o")  # from the step
    assert streamed["latencyMs"] is not None and streamed["latencyMs"] >= 0
    assert summarise["promptTemplate"] == "summarise" and summarise["promptVersion"] == "3"
    assert (summarise["inputTokens"], summarise["outputTokens"]) == (12, 4)
    assert summarise["latencyMs"] == 250 and summarise["costUsd"] == pytest.approx(0.001)
    assert [(a["uri"], a["version"]) for a in steps["load"]["reads"]] == [("s3://kb/raw", "v1")]
    assert {(a["uri"], a["version"]) for a in embed["writes"]} == {("pgvector://kb/index", "v2")}
    assert {(a["uri"], a["version"]) for a in embed["reads"]} == {("s3://kb/chunks", "v7")}
    # Every emitted event (but the definition, which has no run) is stored, once.
    assert len(stored_event_ids(service, run.id)) == emitted - 1


def test_failures_are_recorded_and_reraised_with_attempts(service: RunningService) -> None:
    class Flaky(RuntimeError):
        pass

    with client_for(service) as tg:
        with pytest.raises(Flaky, match="boom"), tg.run("sdk-fail") as run:
            with pytest.raises(TimeoutError), run.step("fetch", retryable=True):
                raise TimeoutError("slow upstream")
            with run.step("fetch") as retry:  # the second attempt of the same key
                assert retry.attempt == 2
            with run.step("judge"):
                raise Flaky("boom")
        assert tg.flush(30)

    got = run_of(service, run.id)
    assert got is not None
    assert got["status"] == "FAILED"
    assert "boom" in got["error"]
    by_attempt = {(s["step"]["key"], s["attempt"]): s for s in got["steps"]}
    assert by_attempt[("fetch", 1)]["status"] == "FAILED"
    assert "slow upstream" in by_attempt[("fetch", 1)]["error"]
    assert by_attempt[("fetch", 2)]["status"] == "SUCCEEDED"
    assert by_attempt[("judge", 1)]["status"] == "FAILED"


def test_decorators_sync_and_async(service: RunningService) -> None:
    tg = client_for(service)
    seen: dict[str, Any] = {}

    @tg.step("double")
    def double(x: int) -> int:
        step = current_step()
        if step is not None:  # None when called outside a run
            step.progress(100)
        return x * 2

    @tg.pipeline("sdk-sync", trigger="api")
    def sync_pipeline(x: int) -> int:
        run = current_run()
        assert run is not None
        seen["sync"] = run.id
        return double(x) + 1

    @tg.step("fetch")
    async def fetch(n: int) -> list[int]:
        await asyncio.sleep(0.01)  # the step's own work, part of the workload
        return list(range(n))

    @tg.pipeline("sdk-async")
    async def async_pipeline(n: int) -> int:
        run = current_run()
        assert run is not None
        seen["async"] = run.id
        items = await fetch(n)
        async with run.step("sum") as step:
            with step.llm("anthropic", "claude-3-5-sonnet", prompt="add") as call:
                call.finish("done", output_tokens=1)
            return sum(items)

    async def two_concurrent_runs() -> list[int]:
        # Each task has its own current run (contextvars), so steps attach correctly.
        return await asyncio.gather(async_pipeline(3), async_pipeline(4))

    assert sync_pipeline(20) == 41
    assert double(2) == 4  # outside a run: just a call, no events
    assert current_step() is None
    assert asyncio.run(two_concurrent_runs()) == [3, 6]
    assert current_run() is None
    tg.close()
    assert tg.stats.dropped == 0

    sync_run = run_of(service, seen["sync"])
    assert sync_run is not None
    assert sync_run["status"] == "SUCCEEDED" and sync_run["trigger"] == "api"
    assert [s["step"]["key"] for s in sync_run["steps"]] == ["double"]
    runs = gql(
        service,
        'query { runs(pipeline: "sdk-async") { edges { node { id status steps '
        "{ step { key } status llmCalls { model } } } } } }",
    )["runs"]["edges"]
    assert len(runs) == 2
    for edge in runs:
        node = edge["node"]
        assert node["status"] == "SUCCEEDED"
        assert sorted(s["step"]["key"] for s in node["steps"]) == ["fetch", "sum"]
        (summed,) = [s for s in node["steps"] if s["step"]["key"] == "sum"]
        assert [c["model"] for c in summed["llmCalls"]] == ["claude-3-5-sonnet"]


def test_spool_at_closed_port_is_sent_at_next_start_up(
    service: RunningService, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    down = Tracegraph(url=f"http://127.0.0.1:{free_port()}", spool_dir=spool, max_buffer=10)
    with down.run("sdk-spooled") as run:
        for i in range(30):  # more than max_buffer: the overflow goes to disk too
            run.log("info", f"line {i}")
    down.close(timeout_s=5)
    assert down.stats.dropped == 0
    assert down.stats.spooled == down.stats.emitted == 32
    assert any(spool.iterdir())

    up = client_for(service, spool_dir=spool)  # the same spool, the service reachable
    wait_until(lambda: up.spooled_files == 0, what="the spool to drain")
    up.close()
    assert up.stats.resent == 32
    wait_until(lambda: len(stored_event_ids(service, run.id)) == 32, what="all events stored")
    got = run_of(service, run.id)
    assert got is not None and got["status"] == "SUCCEEDED"


def test_database_outage_mid_run_loses_nothing(
    service: RunningService, stoppable_neo4j: Any, tmp_path: Path
) -> None:
    local = stoppable_neo4j
    # Two clients through the same outage: one spools to disk, one retries in memory.
    spooling = client_for(service, spool_dir=tmp_path / "spool", max_backoff_s=1.0)
    retrying = client_for(service, max_backoff_s=1.0)
    runs = []
    try:
        for tg in (spooling, retrying):
            run = tg.run("sdk-outage").__enter__()
            with run.step("before"):
                pass
            runs.append(run)
            assert tg.flush(30)
        local.stop()
        try:
            for run in runs:
                started = time.monotonic()
                with run.step("during", model="gpt-4o", provider="openai") as step:
                    for i in range(10):
                        step.progress(i * 10)
                        step.llm_call(prompt=f"p{i}", response=f"r{i}", output_tokens=1)
                run.__exit__(None, None, None)
                assert time.monotonic() - started < 1, "the pipeline must not wait"
            assert spooling.flush(30)  # spooled to disk counts as flushed
            wait_until(lambda: spooling.stats.spooled > 0, what="spooling")
            wait_until(lambda: retrying.stats.retries > 0, what="a retry")
        finally:
            local.start()
        wait_until(lambda: spooling.spooled_files == 0, timeout_s=90, what="the spool to drain")
        assert retrying.flush(90)
    finally:
        spooling.close()
        retrying.close()
    for tg, run in zip((spooling, retrying), runs, strict=True):
        assert tg.stats.dropped == 0
        wait_until(
            lambda tg=tg, run=run: len(stored_event_ids(service, run.id)) == tg.stats.emitted,
            what="every event stored",
        )
        got = run_of(service, run.id)
        assert got is not None and got["status"] == "SUCCEEDED"
        assert {s["step"]["key"] for s in got["steps"]} == {"before", "during"}
        (during,) = [s for s in got["steps"] if s["step"]["key"] == "during"]
        assert len(during["llmCalls"]) == 10
