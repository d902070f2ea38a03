"""Constraints and indexes, applied idempotently."""

from __future__ import annotations

from neo4j import AsyncDriver

from tracegraph.store.cypher_files import query, script_queries


async def apply_schema(driver: AsyncDriver, database: str) -> None:
    async with driver.session(database=database) as session:
        for statement in script_queries("schema"):
            await (await session.run(statement)).consume()
        await (await session.run(query("await_indexes"))).consume()
        # After the constraints: two replicas starting at once merge one marker.
        await (await session.run(query("rollup_state_init"))).consume()
