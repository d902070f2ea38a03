"""The live tailer (issue 20) reads on past what it cannot deliver: an Event without its
payload (a wipe, a replay or a retention delete under way) must not stop the live view
of this replica's subscribers, nor the replay of a resumed subscription."""

from __future__ import annotations

import asyncio

from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tests.support.live import (
    EVENTS_SUB,
    TRANSPORT_WS,
    log_event,
    post,
    session,
    stored_seqs,
    take,
    unique,
    until_subscribed,
)


def test_subscribers_receive_the_events_after_an_event_without_its_payload(
    clean_graph: Driver, service: RunningService
) -> None:
    pipe = unique("p")

    async def scenario() -> tuple[int, list[dict], list[dict]]:
        async with service.async_client() as http:
            await post(http, [log_event(pipe, i) for i in range(2)])
        async with session(service, TRANSPORT_WS) as live_sess:
            got: list[dict] = []
            live = asyncio.create_task(take(live_sess, EVENTS_SUB, {"pipeline": pipe}, 3, 60, got))
            await until_subscribed(service, 1)
            [row] = fetch(clean_graph, "event_without_payload", id=unique("bare"), pipeline=pipe)
            async with service.async_client() as http:
                await post(http, [log_event(pipe, i) for i in range(2, 5)])
            await live
        async with session(service, TRANSPORT_WS) as replay_sess:
            replayed = await take(replay_sess, EVENTS_SUB, {"pipeline": pipe, "after": 0}, 5, 60)
        return int(row["seq"]), got, replayed

    bare, live, replayed = asyncio.run(scenario())
    stored = [s for s in stored_seqs(clean_graph, pipe) if s != bare]
    assert len(stored) == 5 and bare == stored[2] - 1  # between the two posts
    assert [r["events"]["seq"] for r in live] == stored[2:]
    assert [r["events"]["seq"] for r in replayed] == stored
