"""Entity documents, digests, patches and the delta feed in isolation (a fake document
store instead of Neo4j, no sockets)."""

from __future__ import annotations

import asyncio
import copy
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.eventually import eventually_async
from tracegraph.events.records import SequencedEvent
from tracegraph.live.deltas import DeltaFeed, DeltaItem, DeltaScope
from tracegraph.live.doc_source import DocumentSource
from tracegraph.live.documents import (
    FULL,
    REDACTED,
    apply,
    digest,
    make_patch,
    redacted,
    stream_chunks,
)
from tracegraph.live.hub import LiveHub, SubscriberClosed


def test_digest_is_sha256_of_the_rfc8785_canonical_json() -> None:
    doc = {"b": [1, 2.5, None], "a": "é", "c": {"y": 1e21, "x": 0.0}}
    # RFC 8785: keys sorted by UTF-16 code units, ECMAScript numbers, UTF-8, no spaces.
    canonical = '{"a":"é","b":[1,2.5,null],"c":{"x":0,"y":1e+21}}'
    assert digest(doc) == hashlib.sha256(canonical.encode()).hexdigest()
    assert digest(None) == hashlib.sha256(b"null").hexdigest()


def test_a_list_emptied_at_once_is_one_replace_not_a_remove_per_item() -> None:
    old = {"calls": {"c": {"chunks": ["a", "b", "c"], "response": None}}}
    new = {"calls": {"c": {"chunks": [], "response": "abc"}}}
    patch = make_patch(old, new)
    assert {"op": "replace", "path": "/calls/c/chunks", "value": []} in patch
    assert not [op for op in patch if op["op"] == "remove"]
    assert apply(old, patch) == new
    # Appending is one add of the new item only.
    grown = {"calls": {"c": {"chunks": ["a", "b", "c", "d"], "response": None}}}
    assert make_patch(old, grown) == [{"op": "add", "path": "/calls/c/chunks/3", "value": "d"}]


def test_stream_chunks_are_in_index_order_with_gaps_as_null() -> None:
    def chunk(i: int, delta: str, call: str = "c1") -> dict[str, Any]:
        return {"step": "gen", "data": {"call": call, "index": i, "delta": delta}}

    found = stream_chunks([chunk(2, "c"), chunk(0, "a"), chunk(0, "x", "c2"), {"data": {}}], "r")
    assert found == {"r/gen#1": {"r/c1": ["a", None, "c"], "r/c2": ["x"]}}
    # An index above the ingest bound (stored before it existed) is left out, not a
    # list of two billion entries (review finding 3 of issue 17).
    huge = stream_chunks([chunk(0, "a"), chunk(2_000_000_000, "z")], "r")
    assert huge == {"r/gen#1": {"r/c1": ["a"]}}


def test_redacted_documents_hide_text_and_chunks_only() -> None:
    doc = {
        "id": "r",
        "steps": {"s": {"calls": {"c": {"prompt": "p", "response": "x", "chunks": ["x"], "n": 1}}}},
    }
    before = copy.deepcopy(doc)
    assert redacted("run", doc) == {
        "id": "r",
        "steps": {"s": {"calls": {"c": {"prompt": None, "response": None, "chunks": [], "n": 1}}}},
    }
    assert doc == before  # not changed in place (it is the full variant)
    assert redacted("breach", {"a": 1}) == {"a": 1}


class FakeDocuments:
    """Run documents as the store would give them: just a version and a status."""

    def __init__(self) -> None:
        self.state: dict[str, dict[str, Any]] = {}
        self.reads = 0

    async def runs_doc(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        self.reads += 1
        await asyncio.sleep(0)
        return {
            i: {"run": {**self.state[i], "id": i}, "step_runs": [], "chunks": []}
            for i in ids
            if i in self.state
        }

    async def runs(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return await self.runs_doc(ids)

    async def pipelines(self, names: Sequence[str], runs: int) -> dict[str, dict[str, Any]]:
        return {}

    async def breaches(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {}

    async def pipeline_names(self, limit: int) -> list[str]:
        return []

    async def open_breach_ids(self, limit: int) -> list[str]:
        return []


class NoLog:
    async def events_after(self, *a: Any, **k: Any) -> list[SequencedEvent]:
        return []

    async def runs_by_ids(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {}


def _commit(hub: LiveHub, docs: FakeDocuments, run: str, seq: int, **props: Any) -> None:
    state = docs.state.setdefault(run, {"version": 0, "pipeline": "p"})
    state.update(props, version=state["version"] + 1, seq=seq)
    payload = {"id": f"e{seq}", "type": "log", "time": "t", "pipeline": "p", "run": run}
    hub.publish([SequencedEvent(seq, payload, "fp", datetime.now(UTC))])


async def _next(stream: Any) -> DeltaItem:
    return await asyncio.wait_for(stream.__anext__(), 5)  # type: ignore[no-any-return]


async def test_one_delta_per_change_shared_between_subscribers_of_a_variant() -> None:
    docs = FakeDocuments()
    hub = LiveHub(NoLog(), queue_size=10, documents=DocumentSource(docs))
    hub.start()
    try:
        docs.state["r"] = {"version": 1, "status": "running", "seq": 1, "pipeline": "p"}
        scope = DeltaScope("run", frozenset(["r"]))
        a = hub.entity_deltas(scope, {}, FULL)
        b = hub.entity_deltas(scope, {"run:r": 1}, FULL)
        v = hub.entity_deltas(scope, {"run:r": 1}, REDACTED)
        first = await _next(a)  # a knew nothing: the whole document
        assert (first.version, first.base_version) == (1, None)
        tasks = [asyncio.create_task(_next(s)) for s in (a, b, v)]
        await eventually_async(lambda: hub.subscriber_count == 3, what="3 subscribers")
        _commit(hub, docs, "r", 2, status="succeeded")
        got_a, got_b, got_v = await asyncio.gather(*tasks)
        assert got_a is got_b  # built once, the same object for every full-variant subscriber
        assert got_v is not got_a
        assert (got_a.version, got_a.base_version, got_a.seq) == (2, 1, 2)
        assert {"op": "replace", "path": "/status", "value": "SUCCEEDED"} in got_a.patch
        for s in (a, b, v):
            await s.aclose()
        assert hub.subscriber_count == 0
    finally:
        await hub.close()


async def test_a_subscriber_not_holding_the_base_gets_the_whole_document() -> None:
    docs = FakeDocuments()
    hub = LiveHub(NoLog(), queue_size=10, documents=DocumentSource(docs))
    hub.start()
    try:
        docs.state["r"] = {"version": 1, "status": "running", "seq": 1, "pipeline": "p"}
        scope = DeltaScope("run", frozenset(["r"]))
        s = hub.entity_deltas(scope, {"run:r": 1}, FULL)
        task = asyncio.create_task(_next(s))
        await eventually_async(lambda: hub.deltas and hub.deltas.cached_version("run:r") == 1)
        # Two commits read in one round: one delta 1 -> 3 (versions may skip).
        _commit(hub, docs, "r", 2, status="running")
        _commit(hub, docs, "r", 3, status="failed")
        item = await task
        assert (item.version, item.base_version) == (3, 1)
        await s.aclose()
        # A new subscriber that says it has version 2 (not the base of anything sent
        # next) is sent the whole document at once.
        s2 = hub.entity_deltas(scope, {"run:r": 2}, FULL)
        item = await _next(s2)
        assert (item.version, item.base_version) == (3, None)
        assert item.patch[0]["value"]["status"] == "FAILED"
        await s2.aclose()
    finally:
        await hub.close()


async def test_a_slow_delta_subscriber_is_closed_with_a_resubscribe_hint() -> None:
    docs = FakeDocuments()
    hub = LiveHub(NoLog(), queue_size=2, documents=DocumentSource(docs))
    hub.start()
    try:
        docs.state["r"] = {"version": 1, "status": "running", "seq": 1, "pipeline": "p"}
        s = hub.entity_deltas(DeltaScope("run", frozenset(["r"])), {}, FULL)
        await _next(s)  # the initial document; then it stops reading
        for seq in range(2, 8):
            _commit(hub, docs, "r", seq, percent=seq)
            await eventually_async(lambda: not hub.deltas.pending)  # type: ignore[union-attr]
            await asyncio.sleep(0)
        with pytest.raises(SubscriberClosed) as info:
            while True:
                await _next(s)
        assert info.value.code == "SUBSCRIBER_TOO_SLOW"
        assert "subscribe again with the versions you hold" in info.value.message
        assert hub.dropped_subscribers == 1
    finally:
        await hub.close()


async def test_subscriptions_starting_together_share_their_initial_reads() -> None:
    docs = FakeDocuments()
    hub = LiveHub(NoLog(), queue_size=10, documents=DocumentSource(docs))
    hub.start()
    try:
        docs.state["r"] = {"version": 1, "status": "running", "seq": 1, "pipeline": "p"}
        scope = DeltaScope("run", frozenset(["r"]))
        streams = [hub.entity_deltas(scope, {}, FULL) for _ in range(50)]
        firsts = await asyncio.gather(*(_next(s) for s in streams))
        assert {(f.version, f.base_version) for f in firsts} == {(1, None)}
        # One read starts at once; the other 49 asked while it ran: one more for all.
        assert docs.reads <= 2
        for s in streams:
            await s.aclose()
    finally:
        await hub.close()


class _Sub:
    """A delta subscriber as the feed sees one: just a redaction variant."""

    variant = FULL


async def test_a_subscription_starting_before_a_round_does_not_swallow_its_delta() -> None:
    # Review finding 1 (issue 17): viewer A holds v1; a commit makes v2; viewer B's
    # initial read sees v2 before the hub's round runs. The round must still send v2
    # (to A); B drops it by version on delivery.
    docs = FakeDocuments()
    feed = DeltaFeed(DocumentSource(docs))
    docs.state["r"] = {"version": 1, "status": "running", "seq": 1, "pipeline": "p"}
    scope = DeltaScope("run", frozenset(["r"]))
    a, b = _Sub(), _Sub()
    feed.add(scope, a)
    assert [d.version for d in await feed.initial(scope, {}, FULL)] == [1]
    docs.state["r"].update(version=2, status="succeeded", seq=2)
    payload = {"id": "e2", "type": "log", "time": "t", "pipeline": "p", "run": "r"}
    assert feed.note_events([SequencedEvent(2, payload, "fp", datetime.now(UTC))])
    feed.add(scope, b)
    assert [d.version for d in await feed.initial(scope, {}, FULL)] == [2]
    deltas = await feed.round()
    assert [(d.version, subs) for d, subs in deltas] == [(2, {a, b})]
    # A (at v1) gets it; B, whose initial document was v2, has it already.
    assert deltas[0][0].full.patch[0]["value"]["status"] == "SUCCEEDED"


async def test_a_failed_round_keeps_its_entities_for_the_next_round() -> None:
    # Review finding 2 (issue 17): a transient read failure must not lose the deltas.
    docs = FakeDocuments()
    feed = DeltaFeed(DocumentSource(docs))
    docs.state["r"] = {"version": 1, "status": "running", "seq": 1, "pipeline": "p"}
    scope = DeltaScope("run", frozenset(["r"]))
    a = _Sub()
    feed.add(scope, a)
    await feed.initial(scope, {}, FULL)
    docs.state["r"].update(version=2, status="succeeded", seq=2)
    payload = {"id": "e2", "type": "log", "time": "t", "pipeline": "p", "run": "r"}
    feed.note_events([SequencedEvent(2, payload, "fp", datetime.now(UTC))])
    real = docs.runs_doc

    async def down(ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        raise ConnectionError("database briefly unavailable")

    docs.runs_doc = down  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await feed.round()
    assert feed.pending  # kept for a retry
    docs.runs_doc = real  # type: ignore[method-assign]
    deltas = await feed.round()
    assert [(d.version, d.base_version) for d, _ in deltas] == [(2, 1)]


async def test_the_hub_retries_a_round_whose_read_failed_without_a_new_commit() -> None:
    docs = FakeDocuments()
    hub = LiveHub(NoLog(), queue_size=10, documents=DocumentSource(docs), retry_after_s=0)
    hub.start()
    try:
        docs.state["r"] = {"version": 1, "status": "running", "seq": 1, "pipeline": "p"}
        s = hub.entity_deltas(DeltaScope("run", frozenset(["r"])), {}, FULL)
        assert (await _next(s)).version == 1
        real, failures = docs.runs_doc, []

        async def flaky(ids: Sequence[str]) -> dict[str, dict[str, Any]]:
            if not failures:
                failures.append(ids)
                raise ConnectionError("database briefly unavailable")
            return await real(ids)

        docs.runs_doc = flaky  # type: ignore[method-assign]
        task = asyncio.create_task(_next(s))
        _commit(hub, docs, "r", 2, status="succeeded")
        item = await task  # no further commit: the hub retried the failed round
        assert failures and (item.version, item.base_version) == (2, 1)
        await s.aclose()
    finally:
        await hub.close()
