"""Live subscriptions through real WebSocket clients (gql) on the real service."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.eventually import eventually_async
from tests.support.live import (
    EVENTS_SUB,
    PROTOCOLS,
    RUN_SUB,
    TRANSPORT_WS,
    chunk_event,
    log_event,
    post,
    request,
    run_event,
    session,
    stored_seqs,
    take,
    unique,
    until_subscribed,
)


@pytest.fixture
def live(service: RunningService) -> RunningService:
    return service


def _client(svc: RunningService) -> httpx.AsyncClient:
    return svc.async_client()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_replay_then_live_on_both_subprotocols(
    live: RunningService, clean_graph: Driver, protocol: str
) -> None:
    pipe = unique("p")
    async with _client(live) as http:
        await post(http, [log_event(pipe, i) for i in range(5)])
        async with session(live, protocol) as sess:
            got: list[dict] = []

            async def consume() -> None:
                async for r in sess.subscribe(request(EVENTS_SUB, {"after": 0, "pipeline": pipe})):
                    got.append(r["events"])
                    if len(got) == 10:
                        return

            task = asyncio.create_task(consume())
            await until_subscribed(live, 1)
            # Live part: a response.chunk and more logs, committed after the replay.
            await post(http, [chunk_event(pipe, "run-x", 0)])
            await post(http, [log_event(pipe, i) for i in range(5, 9)])
            await asyncio.wait_for(task, 30)
    seqs = [e["seq"] for e in got]
    assert seqs == stored_seqs(clean_graph, pipe)
    assert [e["type"] for e in got].count("response.chunk") == 1
    chunk = next(e for e in got if e["type"] == "response.chunk")
    assert chunk["data"] == {"call": "c1", "index": 0, "delta": "tok0 "}
    assert chunk["run"] == "run-x" and chunk["pipeline"] == pipe
    assert got[0]["id"] == f"{pipe}-log-0" and got[0]["time"].endswith("Z")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_resume_after_disconnect_has_no_gap_and_no_duplicate(
    live: RunningService, clean_graph: Driver, protocol: str
) -> None:
    pipe = unique("p")
    async with _client(live) as http:
        await post(http, [log_event(pipe, i) for i in range(6)])
        async with session(live, protocol) as sess:
            first = await take(sess, EVENTS_SUB, {"after": 0, "pipeline": pipe}, 4)
        last = first[-1]["events"]["seq"]
        # Posted while nobody listens.
        for i in range(6, 12):
            await post(http, [log_event(pipe, i)])
        async with session(live, protocol) as sess:
            rest = await take(sess, EVENTS_SUB, {"after": last, "pipeline": pipe}, 8)
    seqs = [r["events"]["seq"] for r in first + rest]
    assert seqs == stored_seqs(clean_graph, pipe)
    assert len(set(seqs)) == 12


async def test_replay_to_live_switch_under_concurrent_ingest(
    live: RunningService, clean_graph: Driver
) -> None:
    """Subscribers join with afterSeq while events keep arriving: each sees every event
    of its pipeline exactly once, in order, whatever moment it switched to live."""
    pipe = unique("race")
    total = 240
    n_subs = 25
    done = asyncio.Event()

    async def ingest() -> None:
        async with _client(live) as http:
            for start in range(0, total, 4):
                await post(http, [log_event(pipe, i) for i in range(start, start + 4)])
                await asyncio.sleep(0.01)  # paced on purpose: subscribers join mid-stream
        done.set()

    async def subscriber(k: int) -> list[int]:
        await asyncio.sleep(0.05 * k)  # on purpose: join at different points of the stream
        seqs: list[int] = []
        async with session(live, PROTOCOLS[k % 2]) as sess:
            async for r in sess.subscribe(request(EVENTS_SUB, {"after": 0, "pipeline": pipe})):
                seqs.append(r["events"]["seq"])
                if len(seqs) == total:
                    break
        return seqs

    results = await asyncio.wait_for(
        asyncio.gather(ingest(), *(subscriber(k) for k in range(n_subs))), 120
    )
    expected = stored_seqs(clean_graph, pipe)
    assert len(expected) == total
    for seqs in results[1:]:
        assert seqs == expected


async def test_filters_apply_to_replay_and_live(live: RunningService, clean_graph: Driver) -> None:
    pipe, other = unique("p"), unique("q")
    run_a, run_b = unique("run"), unique("run")

    def batch(offset: int) -> list[dict]:
        return [
            log_event(pipe, offset + 0, run_a),
            log_event(pipe, offset + 1, run_b),
            chunk_event(pipe, run_a, offset + 2),
            log_event(other, offset + 3, run_a),
        ]

    async with _client(live) as http:
        await post(http, batch(0))
        async with session(live) as sess:
            cases = {
                "pipeline": ({"after": 0, "pipeline": pipe}, 3),
                "run": ({"after": 0, "run": run_a}, 3),
                "types": ({"after": 0, "pipeline": pipe, "types": ["response.chunk"]}, 1),
                "run+pipeline": ({"after": 0, "pipeline": pipe, "run": run_a}, 2),
            }
            tasks = {
                name: asyncio.create_task(take(sess, EVENTS_SUB, variables, 2 * n))
                for name, (variables, n) in cases.items()
            }
            await until_subscribed(live, len(tasks))
            await post(http, batch(10))
            got = {name: await asyncio.wait_for(t, 30) for name, t in tasks.items()}

    def ids(name: str) -> list[str]:
        return [r["events"]["id"] for r in got[name]]

    assert ids("pipeline") == [
        f"{pipe}-log-0", f"{pipe}-log-1", f"{run_a}-chunk-2",
        f"{pipe}-log-10", f"{pipe}-log-11", f"{run_a}-chunk-12",
    ]  # fmt: skip
    assert ids("run") == [
        f"{pipe}-log-0", f"{run_a}-chunk-2", f"{other}-log-3",
        f"{pipe}-log-10", f"{run_a}-chunk-12", f"{other}-log-13",
    ]  # fmt: skip
    assert ids("types") == [f"{run_a}-chunk-2", f"{run_a}-chunk-12"]
    assert ids("run+pipeline") == [
        f"{pipe}-log-0", f"{run_a}-chunk-2", f"{pipe}-log-10", f"{run_a}-chunk-12",
    ]  # fmt: skip


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_run_updated_pushes_the_new_status(
    live: RunningService, clean_graph: Driver, protocol: str
) -> None:
    pipe, run = unique("p"), unique("run")
    other_run = unique("run")
    async with _client(live) as http, session(live, protocol) as sess:
        seen_by_run: list[dict] = []
        seen_by_pipe: list[dict] = []
        by_run = asyncio.create_task(take(sess, RUN_SUB, {"run": run}, 2, into=seen_by_run))
        by_pipe = asyncio.create_task(take(sess, RUN_SUB, {"pipeline": pipe}, 3, into=seen_by_pipe))
        await until_subscribed(live, 2)
        await post(http, [run_event(pipe, run, "started", trigger="manual")])
        # Each change is pushed before the next is posted: updates of one run that land
        # in one round are pushed once, with the latest state (not what is tested here).
        await eventually_async(lambda: len(seen_by_run) == 1 and len(seen_by_pipe) == 1)
        await post(http, [run_event(pipe, other_run, "started")])
        await eventually_async(lambda: len(seen_by_pipe) == 2)
        await post(http, [run_event(pipe, run, "failed", error={"type": "X", "message": "boom"})])
        first, second = await asyncio.wait_for(by_run, 30)
        pipe_updates = await asyncio.wait_for(by_pipe, 30)
    assert first["runUpdated"]["id"] == run and first["runUpdated"]["status"] == "RUNNING"
    assert second["runUpdated"]["status"] == "FAILED"
    assert second["runUpdated"]["error"] == "boom"
    assert [(u["runUpdated"]["id"], u["runUpdated"]["status"]) for u in pipe_updates] == [
        (run, "RUNNING"),
        (other_run, "RUNNING"),
        (run, "FAILED"),
    ]


async def test_root_fragment_subscription_takes_the_generic_path(
    live: RunningService, clean_graph: Driver
) -> None:
    """A document the shared path does not take (fragment at the root) still works."""
    from gql import gql

    doc = gql(
        """
        subscription S($after: Int, $pipeline: String) { ...F }
        fragment F on Subscription {
          events(afterSeq: $after, pipeline: $pipeline) { seq id }
        }
        """
    )
    pipe = unique("p")
    async with _client(live) as http:
        await post(http, [log_event(pipe, i) for i in range(3)])
        async with session(live, TRANSPORT_WS) as sess:
            task = asyncio.create_task(take(sess, doc, {"after": 0, "pipeline": pipe}, 5))
            await until_subscribed(live, 1)
            await post(http, [log_event(pipe, i) for i in range(3, 5)])
            got = await asyncio.wait_for(task, 30)
    assert [r["events"]["seq"] for r in got] == stored_seqs(clean_graph, pipe)


async def test_subscribers_sharing_a_subscription_share_one_rendering(
    live: RunningService, clean_graph: Driver
) -> None:
    from tracegraph.api.graphql.live_ws import STATS

    pipe = unique("p")
    async with _client(live) as http:
        await post(http, [log_event(pipe, 0)])
        sessions = [session(live, PROTOCOLS[k % 2]) for k in range(6)]
        opened = [await s.__aenter__() for s in sessions]
        try:
            # Live-only or resuming, same document and filters: one rendering per event.
            first_seq = stored_seqs(clean_graph, pipe)[0]
            tasks = [
                asyncio.create_task(
                    take(sess, EVENTS_SUB, {"after": [None, first_seq][k % 2], "pipeline": pipe}, 4)
                )
                for k, sess in enumerate(opened)
            ]
            await until_subscribed(live, len(tasks))
            before = STATS["renders"]
            for i in range(1, 5):
                await post(http, [log_event(pipe, i)])
            got = [await asyncio.wait_for(t, 30) for t in tasks]
            rendered = STATS["renders"] - before
        finally:
            for s in sessions:
                await s.__aexit__(None, None, None)
    expected = stored_seqs(clean_graph, pipe)[1:]
    for results in got:
        assert [r["events"]["seq"] for r in results] == expected
    assert rendered == 4, STATS


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_subscriptions_without_variables_take_literal_or_no_arguments(
    live: RunningService, clean_graph: Driver, protocol: str
) -> None:
    """The dashboard subscribes with no arguments at all; literal arguments work too."""
    from gql import gql

    pipe, run = unique("p"), unique("run")
    every_run = gql("subscription { runUpdated { id status } }")
    literal = gql(f'subscription {{ runUpdated(pipeline: "{pipe}") {{ id status }} }}')
    every_event = gql("subscription { events { type run } }")
    async with _client(live) as http, session(live, protocol) as sess:
        tasks = [
            asyncio.create_task(take(sess, every_run, {}, 1)),
            asyncio.create_task(take(sess, literal, {}, 1)),
            asyncio.create_task(take(sess, every_event, {}, 1)),
        ]
        await until_subscribed(live, len(tasks))
        await post(http, [run_event(pipe, run, "started")])
        all_runs, by_literal, events = await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert all_runs[0]["runUpdated"] == {"id": run, "status": "RUNNING"}
    assert by_literal[0]["runUpdated"] == {"id": run, "status": "RUNNING"}
    assert events[0]["events"] == {"type": "run.started", "run": run}
