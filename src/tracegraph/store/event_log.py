"""Reading the stored event log back, and rebuilding the graph from it (replay)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from neo4j import AsyncDriver

from tracegraph.events.records import SequencedEvent
from tracegraph.store.cypher_files import cypher, query
from tracegraph.store.event_writer import EventWriter, stored_event

PAGE = 5_000


async def read_event_log(
    driver: AsyncDriver, database: str, after_seq: int = 0, limit: int | None = None
) -> list[SequencedEvent]:
    """Stored events with seq > after_seq, in seq order: all of them, or the first
    ``limit``."""
    events: list[SequencedEvent] = []
    size = PAGE if limit is None else min(PAGE, limit)
    async with driver.session(database=database) as session:
        while True:
            result = await session.run(cypher("event_log_page"), after_seq=after_seq, limit=size)
            page = [stored_event(rec) async for rec in result]
            events.extend(page)
            if len(page) < size or (limit is not None and len(events) >= limit):
                return events
            after_seq = page[-1].seq


async def wipe_graph(driver: AsyncDriver, database: str) -> None:
    """Delete the graph derived from events; the log, the quarantine, keys, policy and
    the audit trail stay."""
    async with driver.session(database=database) as session:
        await (await session.run(query("replay_wipe_derived"))).consume()
        await (await session.run(query("replay_wipe_rollup_marks"))).consume()


async def _run(driver: AsyncDriver, database: str, name: str, **params: Any) -> list[Any]:
    async with driver.session(database=database) as session:
        result = await session.run(cypher(name), params)
        return [rec async for rec in result]


async def rebuild_from_log(
    writer: EventWriter,
    driver: AsyncDriver,
    database: str,
    page: int = PAGE,
    on_page: Callable[[int, int], None] | None = None,
) -> int:
    """Rebuild the derived graph from the stored log, in seq order; returns the number
    of events applied in this call.

    Non-destructive: the log (``Event`` nodes) is only read, never deleted or rewritten.
    Crash-safe: a ``ReplayState`` node records the phase and the last seq applied, and
    moves in the same transaction as each page, so a replay killed at any point is
    resumed by running it again and ends in the same graph as a clean one (a kill
    during the wipe wipes again; one while applying continues after the last committed
    page). API keys, the redaction policy, the quarantine and the audit trail are not
    rebuilt from the log and survive; the audit entries of definitions are re-merged
    identically (ids, times and actors derive from the stored events). ``on_page(count,
    last_seq)`` reports progress after each committed page.
    """
    [state] = await _run(driver, database, "replay_begin", now_ms=int(time.time() * 1000))
    after = int(state["applied_seq"])
    if state["phase"] != "applying":
        await wipe_graph(driver, database)
        await _run(driver, database, "replay_wiped")
        after = 0
    applied = 0
    while True:
        events = await read_event_log(driver, database, after_seq=after, limit=page)
        if not events:
            break
        await writer.replay(events)
        applied += len(events)
        after = events[-1].seq
        if on_page is not None:
            on_page(applied, after)
    # Commands are kept (not built from events): link them to the rebuilt nodes.
    await _run(driver, database, "replay_command_links")
    await _run(driver, database, "replay_end")
    return applied
