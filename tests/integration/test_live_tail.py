"""The live tailer (issue 20) reads on past what it cannot deliver: an Event without its
payload (a wipe, a replay or a retention delete under way) must not stop the live view
of this replica's subscribers, nor the replay of a resumed subscription; nor must a seq
that was never stored (a hole) followed by more than one page of the tailer's reads."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

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


# More than the tailer's page (LiveHub's page_size, 1,000): the hole is followed by more
# than one page of events.
AFTER_THE_HOLE = 1_200


def test_a_hole_followed_by_more_than_a_page_of_events_is_skipped_on_every_replica(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    # A ingests; B only tails the log. A's subscriber waits on A's own commits behind
    # the hole, B's on what its tailer reads: both must get every event after it.
    settings = {"live_gap_hold_s": 0.2, "subscriber_queue_size": 5 * AFTER_THE_HOLE}
    a, b = make_service(**settings), make_service(**settings)
    pipe = unique("p")
    hub = a.app.state.services.hub
    assert hub._page_size < AFTER_THE_HOLE

    async def follow(svc: RunningService, into: list[dict]) -> None:
        async with session(svc, TRANSPORT_WS) as sess:
            # What arrived in time is compared below (a stalled tailer: only the first).
            with contextlib.suppress(TimeoutError):
                await take(sess, EVENTS_SUB, {"pipeline": pipe}, 1 + AFTER_THE_HOLE, 90, into)

    async def scenario() -> tuple[int, list[dict], list[dict]]:
        got_a: list[dict] = []
        got_b: list[dict] = []
        followers = [
            asyncio.create_task(follow(a, got_a)),
            asyncio.create_task(follow(b, got_b)),
        ]
        await until_subscribed(a, 1)
        await until_subscribed(b, 1)
        async with a.async_client() as http:
            await post(http, [log_event(pipe, 0)])
            [row] = fetch(clean_graph, "reserve_seq")
            await post(http, [log_event(pipe, i) for i in range(1, 1 + AFTER_THE_HOLE)])
        await asyncio.gather(*followers)
        return int(row["seq"]), got_a, got_b

    hole, got_a, got_b = asyncio.run(scenario())
    stored = stored_seqs(clean_graph, pipe)
    assert len(stored) == 1 + AFTER_THE_HOLE and hole not in stored
    assert stored[1] == hole + 1  # the events right after the hole
    for got in (got_a, got_b):
        assert [r["events"]["seq"] for r in got] == stored  # every one, once, in order
