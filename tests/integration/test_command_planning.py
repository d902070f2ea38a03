"""The command statements are planned once, whatever the size of a group (issue 18).

Neo4j caches a plan per size range of a list parameter (1, 2-10, 11-100, ...). The
issuing transaction groups whatever requests wait, so with list parameters every new
group size planned its five statements cold again: 7.4 s measured for one cold issue on
a loaded machine, past the 10 s query timeout for the first requests of a bench, and
seconds of p99 later. The statements take their lists in one map parameter, and the
service plans them at start in a transaction that is rolled back.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime

from neo4j import Driver

from tests.support.cypher import fetch
from tracegraph.commands.model import CommandKind, CommandRequest
from tracegraph.ingest.service import IngestService
from tracegraph.settings import Neo4jSettings
from tracegraph.store.command_store import CommandStore
from tracegraph.store.driver import open_driver
from tracegraph.store.event_writer import EventWriter

SIZES = (5, 20, 150)


def _plans_cached(driver: Driver) -> int:
    """How many plans Neo4j held (it forgets them all, so the next count starts at 0)."""
    answer = str(fetch(driver, "clear_query_caches")[0]["value"])
    held = re.search(r"cleared of (\d+) quer", answer)
    return int(held.group(1)) if held else 0


def _pipelines(n: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"plan-{tag}-{i}" for i in range(n)]


async def _define(writer: EventWriter, pipelines: list[str]) -> None:
    events = [
        {
            "id": f"def-{name}",
            "type": "pipeline.defined",
            "time": "2026-11-20T02:00:00Z",
            "source": "test/command-planning",
            "pipeline": name,
            "data": {"steps": [{"key": "work"}]},
        }
        for name in pipelines
    ]
    ingest = IngestService(None)  # type: ignore[arg-type]  # prepare() only
    await writer.write([ingest.prepare(events, principal="t")])


def _starts(pipelines: list[str]) -> list[tuple[list[CommandRequest], str]]:
    """One caller per pipeline, each issuing one start (a group of that many)."""
    return [
        ([CommandRequest(CommandKind.START, uuid.uuid4().hex, pipeline=p, params={"n": 1})], "t")
        for p in pipelines
    ]


async def _issue_and_deliver(store: CommandStore, pipelines: list[str]) -> None:
    """What a group of this size costs the store: the issue, the tailer's read, a catch-up
    (by id and by pipeline) and the delivered marking."""
    answers = await store.issue_units(_starts(pipelines), datetime.now(UTC), 600)
    ids = [c["id"] for answer in answers for c in answer]  # type: ignore[union-attr]
    assert len(ids) == len(pipelines), answers
    await store.after(0, 1000)
    assert set(await store.by_ids(ids)) == set(ids)
    await store.open_after(pipelines, 0, 10**9)
    assert await store.mark_delivered(ids, datetime.now(UTC)) == len(ids)


def test_a_group_of_any_size_plans_no_command_statement_again(
    clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    async def issue_groups() -> tuple[int, int]:
        driver = open_driver(neo4j_settings)
        try:
            writer = EventWriter(driver, neo4j_settings.database, {})
            pipelines = _pipelines(3 + sum(SIZES))
            await _define(writer, pipelines)
            store = CommandStore(driver, neo4j_settings.database)
            await _issue_and_deliver(store, pipelines[:1])  # the first: makes the counter
            _plans_cached(clean_graph)
            await _issue_and_deliver(store, pipelines[1:2])  # one command: plans it all
            planned = _plans_cached(clean_graph)
            await _issue_and_deliver(store, pipelines[2:3])
            start = 3
            for n in SIZES:
                await _issue_and_deliver(store, pipelines[start : start + n])
                start += n
            return planned, _plans_cached(clean_graph)
        finally:
            await driver.close()

    _plans_cached(clean_graph)
    planned, after_groups = asyncio.run(issue_groups())
    assert planned >= 5  # the issue's statements at least
    assert after_groups == planned, "a group size planned a command statement again"


def test_planning_ahead_plans_what_issuing_and_delivery_run_and_stores_nothing(
    clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    async def plan_then_issue() -> tuple[int, int, list[dict[str, object]]]:
        driver = open_driver(neo4j_settings)
        try:
            writer = EventWriter(driver, neo4j_settings.database, {})
            pipelines = _pipelines(2 + sum(SIZES))
            await _define(writer, pipelines)
            store = CommandStore(driver, neo4j_settings.database)
            await store.issue_units(_starts(pipelines[:1]), datetime.now(UTC), 600)
            before = await store.after(0, 1000)
            _plans_cached(clean_graph)
            await store.plan_ahead()
            planned = _plans_cached(clean_graph)
            await store.plan_ahead()
            after_planning = await store.after(0, 1000)
            assert after_planning == before  # nothing issued, nothing marked
            assert await store.last_seq() == 1
            start = 1
            for n in (1, *SIZES):
                await _issue_and_deliver(store, pipelines[start : start + n])
                start += n
            return planned, _plans_cached(clean_graph), before
        finally:
            await driver.close()

    _plans_cached(clean_graph)
    planned, after_issues, before = asyncio.run(plan_then_issue())
    assert len(before) == 1
    assert planned >= 9  # issuing's five, the tailer's read, by id, by pipeline, marking
    assert after_issues == planned, "issuing or delivery planned a statement at first use"
