"""Several replicas on one database (issue 20): live fan-out across them.

Three real services share the test Neo4j; each tails the event log, so a subscriber on
any replica receives what was ingested through every replica, once and in seq order,
and resumes on another replica without gap or duplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from neo4j import Driver

from tests.conftest import RunningService
from tests.integration.test_live_deltas import BREACH_CHANGED, RUN_CHANGED
from tests.support.eventually import eventually_async
from tests.support.live import (
    EVENTS_SUB,
    TRANSPORT_WS,
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
from tracegraph.settings import Neo4jSettings, Settings

POSTS_PER_REPLICA = 8
EVENTS_PER_POST = 5


async def _follow(svc: RunningService, variables: dict[str, Any], n: int) -> list[dict]:
    async with session(svc, TRANSPORT_WS) as sess:
        got = await take(sess, EVENTS_SUB, variables, n, within_s=60)
    return [g["events"] for g in got]


def test_every_replica_delivers_what_any_replica_committed_once_in_order(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    replicas = [make_service() for _ in range(3)]
    pipe = unique("p")
    total = len(replicas) * POSTS_PER_REPLICA * EVENTS_PER_POST

    async def scenario() -> tuple[list[list[dict]], list[dict]]:
        followers = [
            asyncio.create_task(_follow(svc, {"pipeline": pipe}, total)) for svc in replicas
        ]
        for svc in replicas:
            await until_subscribed(svc, 1)

        async def ingest_through(index: int, svc: RunningService) -> None:
            async with svc.async_client() as http:
                for p in range(POSTS_PER_REPLICA):
                    first = (index * POSTS_PER_REPLICA + p) * EVENTS_PER_POST
                    await post(http, [log_event(pipe, first + i) for i in range(EVENTS_PER_POST)])

        # Ingest through all three at once: their commits interleave in the log.
        await asyncio.gather(*(ingest_through(i, svc) for i, svc in enumerate(replicas)))
        got = await asyncio.gather(*followers)
        # A subscriber of the first replica resumes on the third after a seq it saw.
        seen = got[0][total // 2 - 1]["seq"]
        resumed = await _follow(replicas[2], {"pipeline": pipe, "after": seen}, total // 2)
        return got, resumed

    got, resumed = asyncio.run(scenario())
    stored = stored_seqs(clean_graph, pipe)
    assert len(stored) == total
    for events in got:
        assert [e["seq"] for e in events] == stored  # every event, once, in seq order
    assert [e["seq"] for e in resumed] == stored[total // 2 :]


def test_run_and_breach_deltas_reach_subscribers_of_another_replica(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    from tests.integration.test_slas import definition, ms, set_clock
    from tests.integration.test_slas import ev as sla_ev

    # Either may hold the SLA lease (and find the breach): both on the same clock.
    a, b = make_service(sla_check_interval_s=0.1), make_service(sla_check_interval_s=0.1)
    set_clock(a, ms(0))
    set_clock(b, ms(0))
    run, pipe = unique("r"), unique("p")

    async def scenario() -> tuple[list[dict], list[dict]]:
        runs: list[dict] = []
        breaches: list[dict] = []
        first_run_document = asyncio.Event()
        async with session(b, TRANSPORT_WS) as s1, session(b, TRANSPORT_WS) as s2:

            async def follow_run() -> None:
                async for result in s1.subscribe(request(RUN_CHANGED, {"run": run})):
                    runs.append(result["runChanged"])
                    first_run_document.set()
                    if "'SUCCEEDED'" in repr(runs[-1]["patch"]):
                        return

            async def follow_breaches() -> None:
                async for result in s2.subscribe(request(BREACH_CHANGED, {"known": []})):
                    breaches.append(result["breachChanged"])
                    if any(op.get("value") == "ACKNOWLEDGED" for op in breaches[-1]["patch"]):
                        return

            run_task = asyncio.create_task(follow_run())
            breach_task = asyncio.create_task(follow_breaches())
            await until_subscribed(b, 2)
            # The run's first document (version 0: nothing yet) before its first event:
            # posted earlier, the start could already be in it.
            await asyncio.wait_for(first_run_document.wait(), 30)
            async with a.async_client() as http:
                # The run, through A: B's subscriber sees it start and complete.
                await post(http, [run_event(pipe, run, "started")])
                await eventually_async(
                    lambda: "'RUNNING'" in repr(runs), what="the run started through A, on B"
                )
                await post(http, [run_event(pipe, run, "completed")])
                await asyncio.wait_for(run_task, 30)
                # A breach found by A's evaluator, then acknowledged through A.
                events = [definition(), sla_ev("r1", "run.started", 0)]
                await post(http, [*events, sla_ev("r1", "run.completed", 100)])
                await eventually_async(lambda: breaches, what="the breach's document on B")
                breach_id = breaches[0]["entity"].split(":", 1)[1]
                body = (
                    await http.post(
                        "/graphql",
                        json={
                            "query": "mutation A($id: ID!) { acknowledgeBreach(id: $id) { id } }",
                            "variables": {"id": breach_id},
                        },
                    )
                ).json()
                assert "errors" not in body, body
            await asyncio.wait_for(breach_task, 30)
        return runs, breaches

    runs, breaches = asyncio.run(scenario())
    # Nothing yet (version 0), the start and the completion through A, as patches or
    # whole documents (when B's diff cache had no base), versions growing.
    assert runs[0]["version"] == 0
    assert [r["version"] for r in runs] == sorted({r["version"] for r in runs})
    assert breaches[0]["patch"][0]["value"]["status"] == "OPEN"
    assert breaches[-1]["baseVersion"] == breaches[-2]["version"]


RUN_QUERY = "query R($id: ID!) { run(id: $id) { id status } }"


def test_routing_uris_and_read_your_writes_across_replicas(
    clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    # neo4j:// (routing: reads to readers, writes to the leader) on the local server.
    routed = neo4j_settings.model_copy(
        update={"uri": neo4j_settings.uri.replace("bolt://", "neo4j://")}
    )
    assert routed.uri.startswith("neo4j://")
    with RunningService(Settings(neo4j=routed)) as a, RunningService(Settings(neo4j=routed)) as b:
        _read_your_writes(a, b)


def _read_your_writes(a: RunningService, b: RunningService) -> None:
    run, pipe = unique("r"), unique("p")
    with a.client() as http_a, b.client() as http_b:
        answer = http_a.post("/v1/events", json=[run_event(pipe, run, "started")])
        assert answer.status_code == 200, answer.text
        seq = answer.json()["last_seq"]

        def read(min_seq: str) -> httpx.Response:
            return http_b.post(
                "/graphql",
                json={"query": RUN_QUERY, "variables": {"id": run}},
                headers={"X-Tracegraph-Min-Seq": min_seq},
            )

        # Through B, with the seq A answered: B answers only once it has that commit.
        got = read(str(seq))
        assert got.status_code == 200, got.text
        assert got.json()["data"]["run"] == {"id": run, "status": "RUNNING"}
        bad = read("soon")
        assert bad.status_code == 400 and "X-Tracegraph-Min-Seq" in bad.text
        # A seq no replica has committed: a retryable 503, not a stale answer.
        ahead = read(str(seq + 1000))
        assert ahead.status_code == 503 and ahead.headers["Retry-After"]
