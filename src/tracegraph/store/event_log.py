"""Reading the stored event log back, and rebuilding the graph from it (replay)."""

from __future__ import annotations

import orjson
from neo4j import AsyncDriver

from tracegraph.redaction import RedactionCount
from tracegraph.store.cypher_files import cypher, query
from tracegraph.store.event_writer import EventWriter
from tracegraph.store.graph_rows import SequencedEvent

PAGE = 5_000


async def read_event_log(
    driver: AsyncDriver, database: str, after_seq: int = 0
) -> list[SequencedEvent]:
    """Every stored event with seq > after_seq, in seq order."""
    events: list[SequencedEvent] = []
    async with driver.session(database=database) as session:
        while True:
            result = await session.run(cypher("event_log_page"), after_seq=after_seq, limit=PAGE)
            page = [
                SequencedEvent(
                    seq=rec["seq"],
                    payload=orjson.loads(rec["payload"]),
                    fingerprint=rec["fingerprint"],
                    received_at=rec["received_at"].to_native(),
                    principal=rec["principal"],
                    redactions=None
                    if rec["redactions"] is None
                    else RedactionCount(rec["redactions"], tuple(rec["redaction_kinds"] or ())),
                )
                async for rec in result
            ]
            events.extend(page)
            if len(page) < PAGE:
                return events
            after_seq = page[-1].seq


async def wipe_graph(driver: AsyncDriver, database: str) -> None:
    """Delete the event-built graph; keys, policy and the audit trail stay."""
    async with driver.session(database=database) as session:
        await (await session.run(query("wipe_event_graph"))).consume()


async def rebuild_from_log(writer: EventWriter, driver: AsyncDriver, database: str) -> int:
    """Deterministic replay: wipe the graph and re-apply the stored log in seq order.

    API keys, the redaction policy and the audit trail are not rebuilt from the log and
    survive the wipe; the audit entries of definitions are re-merged identically (ids,
    times and actors derive from the stored events)."""
    events = await read_event_log(driver, database)
    await wipe_graph(driver, database)
    for start in range(0, len(events), PAGE):
        await writer.replay(events[start : start + PAGE])
    return len(events)
