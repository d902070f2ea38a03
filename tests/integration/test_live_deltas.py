"""Versioned entity deltas over real WebSockets (docs/live-deltas.md): patches that
rebuild the server's document, chunks as appended text, redaction variants, resume by
version, pipeline and breach topics, snapshots, digestCheck and their /metrics."""

from __future__ import annotations

import asyncio
import copy
import hashlib
from collections.abc import Callable
from typing import Any

import httpx
import jsonpatch
import pytest
import rfc8785
from gql import gql
from gql.transport.exceptions import TransportQueryError
from neo4j import Driver

from tests.conftest import RunningService
from tests.integration.test_convergence import _wait_ready
from tests.support.eventually import eventually_async
from tests.support.live import (
    PROTOCOLS,
    TRANSPORT_WS,
    request,
    session,
    take,
    unique,
    until_subscribed,
)
from tracegraph.api.graphql import live_ws
from tracegraph.store.cypher_files import cypher

RUN_CHANGED = gql(
    """
    subscription R($run: ID!, $after: Int) {
      runChanged(run: $run, afterVersion: $after) { entity version baseVersion seq patch }
    }
    """
)
PIPELINE_CHANGED = gql(
    """
    subscription P($names: [String!], $known: [KnownVersion!]) {
      pipelineChanged(names: $names, known: $known) { entity version baseVersion seq patch }
    }
    """
)
BREACH_CHANGED = gql(
    """
    subscription B($known: [KnownVersion!]) {
      breachChanged(known: $known) { entity version baseVersion seq patch }
    }
    """
)
SNAPSHOTS = """query S($e: [String!]!, $r: ResyncReason) {
  snapshots(entities: $e, reason: $r) { entity version seq doc digest }
}"""
DIGESTS = """query D($d: [ClientDigest!]!) {
  digestCheck(digests: $d) { entity version digest status }
}"""
T = "2026-11-20T02:00:00Z"


def ev(pipeline: str, run: str, kind: str, n: int, step: str | None = None, **data: Any) -> dict:
    e: dict[str, Any] = {
        "id": f"{run}-{kind}-{n}",
        "type": kind,
        "time": f"2026-11-20T02:00:{n:02d}Z",
        "source": "test/deltas",
        "pipeline": pipeline,
        "run": run,
        "data": data,
    }
    if step:
        e["step"] = step
    return e


def stream(pipeline: str, run: str, chunks: list[str]) -> list[list[dict]]:
    """Posts, in order: the run and step start and the prompt, one per chunk, the
    response and the ends."""
    text = "".join(chunks)
    head = [
        ev(pipeline, run, "run.started", 0),
        ev(pipeline, run, "step.started", 1, step="gen"),
        ev(pipeline, run, "prompt.sent", 2, step="gen", call="c1", model="m", text="SECRET-PROMPT"),
    ]
    chunk_posts = [
        [ev(pipeline, run, "response.chunk", 3 + i, step="gen", call="c1", index=i, delta=d)]
        for i, d in enumerate(chunks)
    ]
    tail = [
        ev(
            pipeline,
            run,
            "response.received",
            40,
            step="gen",
            call="c1",
            text=text,
            output_tokens=len(chunks),
        ),
        ev(pipeline, run, "step.completed", 41, step="gen"),
        ev(pipeline, run, "run.completed", 42),
    ]
    return [head, *chunk_posts, tail]


def gql_http(service: RunningService, query: str, role: str = "admin", **variables: Any) -> dict:
    with service.client(role) as c:
        body = c.post("/graphql", json={"query": query, "variables": variables}).json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def digest(doc: Any) -> str:
    return hashlib.sha256(rfc8785.dumps(doc)).hexdigest()


class Replica:
    """The contract's client rule, as the dashboard applies it."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[int, Any]] = {}
        self.gaps = 0

    def apply(self, delta: dict) -> None:
        entity, version, base = delta["entity"], delta["version"], delta["baseVersion"]
        have = self.docs.get(entity)
        if have is not None and version <= have[0]:
            return  # stale
        if base is None:
            doc = jsonpatch.apply_patch(None, delta["patch"])
        elif have is not None and have[0] == base:
            doc = jsonpatch.apply_patch(copy.deepcopy(have[1]), delta["patch"])
        else:
            self.gaps += 1
            return
        self.docs[entity] = (version, doc)


async def _post(service: RunningService, events: list[dict]) -> None:
    async with service.async_client() as c:
        r = await c.post("/v1/events", json=events)
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_run_changed_patches_rebuild_the_snapshot_and_stream_chunks_as_appends(
    service: RunningService, clean_graph: Driver, protocol: str
) -> None:
    _wait_ready(service)
    pipeline, run = unique("deltas"), unique("run")
    chunks = [f"piece{i} " for i in range(6)]
    posts = stream(pipeline, run, chunks)

    async def scenario() -> tuple[list[dict], list[dict]]:
        got: dict[str, list[dict]] = {"admin": [], "viewer": []}
        async with (
            session(service, protocol) as admin,
            session(service, protocol, "viewer") as viewer,
        ):

            async def follow(sess: Any, into: list[dict]) -> None:
                async for result in sess.subscribe(request(RUN_CHANGED, {"run": run})):
                    into.append(result["runChanged"])
                    if into[-1]["patch"] and _ended(into):
                        return

            tasks = [
                asyncio.create_task(follow(admin, got["admin"])),
                asyncio.create_task(follow(viewer, got["viewer"])),
            ]
            await until_subscribed(service, 2)
            await eventually_async(  # the initial documents first
                lambda: got["admin"] and got["viewer"], what="the initial documents"
            )
            # Each post is committed (and so published) before the next is sent.
            for events in posts:
                await _post(service, events)
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
        return got["admin"], got["viewer"]

    shared_before = live_ws.STATS["shared"]
    admin, viewer = asyncio.run(scenario())
    # Both went through the shared WebSocket path (rendered once per delta and variant).
    assert live_ws.STATS["shared"] >= shared_before + 2

    # The first message is the whole document of a run not seen yet (version 0, null).
    assert admin[0] == {
        "entity": f"run:{run}",
        "version": 0,
        "baseVersion": None,
        "seq": 0,
        "patch": [{"op": "replace", "path": "", "value": None}],
    }
    for got, role in ((admin, "admin"), (viewer, "viewer")):
        replica = Replica()
        for delta in got:
            replica.apply(delta)
        assert replica.gaps == 0
        [snap] = gql_http(service, SNAPSHOTS, role, e=[f"run:{run}"])["snapshots"]
        version, doc = replica.docs[f"run:{run}"]
        assert (version, doc) == (snap["version"], snap["doc"])
        assert digest(doc) == snap["digest"]
        # Versions grow by one per event, and every delta but the first is a patch.
        assert snap["version"] == sum(len(p) for p in posts)
        assert all(d["baseVersion"] is not None for d in got[2:])

    # Streaming: each chunk arrives as an appended item, never the text so far again.
    call_path = f"/steps/{run}~1gen#1/calls/{run}~1c1"
    chunk_ops = [
        op for d in admin for op in d["patch"] if op["path"].startswith(call_path + "/chunks")
    ]
    adds = [op for op in chunk_ops if op["op"] == "add"]
    assert [op["value"] for op in adds] == chunks
    assert [op["path"] for op in adds] == [f"{call_path}/chunks/{i}" for i in range(6)]
    text = "".join(chunks)
    carrying_text = [d for d in admin if text in str(d["patch"])]
    assert len(carrying_text) == 1  # the response, once
    final = snap_doc(service, run)["steps"][f"{run}/gen#1"]["calls"][f"{run}/c1"]
    assert (final["response"], final["chunks"], final["prompt"]) == (text, [], "SECRET-PROMPT")

    # A viewer's variant: no prompt or response text, no chunks, ever.
    assert "SECRET-PROMPT" not in str(viewer) and "piece" not in str(viewer)
    [vsnap] = gql_http(service, SNAPSHOTS, "viewer", e=[f"run:{run}"])["snapshots"]
    vcall = vsnap["doc"]["steps"][f"{run}/gen#1"]["calls"][f"{run}/c1"]
    assert (vcall["prompt"], vcall["response"], vcall["chunks"]) == (None, None, [])


def _ended(deltas: list[dict]) -> bool:
    return any(
        op.get("path") == "/status" and op.get("value") == "SUCCEEDED"
        for d in deltas
        for op in d["patch"]
    )


def snap_doc(service: RunningService, run: str) -> dict:
    [snap] = gql_http(service, SNAPSHOTS, e=[f"run:{run}"])["snapshots"]
    return snap["doc"]  # type: ignore[no-any-return]


def test_resume_sends_the_whole_document_only_when_the_version_differs(
    service: RunningService, clean_graph: Driver
) -> None:
    _wait_ready(service)
    pipeline, run = unique("deltas"), unique("run")
    with service.client() as c:
        r = c.post("/v1/events", json=stream(pipeline, run, ["a", "b"])[0])
        assert r.status_code == 200
    [snap] = gql_http(service, SNAPSHOTS, e=[f"run:{run}"])["snapshots"]
    assert snap["version"] == 3

    async def first_after(after: int | None, then: list[dict]) -> dict:
        async with session(service, TRANSPORT_WS) as s:

            async def one() -> dict:
                async for result in s.subscribe(request(RUN_CHANGED, {"run": run, "after": after})):
                    return result["runChanged"]  # type: ignore[no-any-return]
                raise AssertionError("stream ended")

            task = asyncio.create_task(one())
            if then:  # else the initial document is the first message
                await until_subscribed(service, 1)
                # The subscription has read the current version (and keeps it to diff
                # against) before the next change is committed.
                await eventually_async(
                    lambda: service.app.state.services.hub.deltas.cached_version(f"run:{run}"),
                    until=lambda v: v == after,
                    what="the run's document read by the subscription",
                )
                await _post(service, then)
            return await asyncio.wait_for(task, 30)

    # Up to date: nothing is resent; the first message is the next change, a patch.
    nxt = [ev(pipeline, run, "step.progress", 5, step="gen", percent=50.0)]
    first = asyncio.run(first_after(3, nxt))
    assert (first["version"], first["baseVersion"]) == (4, 3)
    assert {"op": "replace", "path": f"/steps/{run}~1gen#1/percent", "value": 50.0} in first[
        "patch"
    ]
    # Behind (or nothing known): the whole current document first.
    first = asyncio.run(first_after(1, []))
    assert (first["version"], first["baseVersion"]) == (4, None)
    assert first["patch"][0]["value"] == snap_doc(service, run)


def test_pipeline_changed_covers_every_pipeline_and_new_ones(
    service: RunningService, clean_graph: Driver
) -> None:
    _wait_ready(service)
    old, new = unique("old"), unique("new")
    first_run = unique("r")
    with service.client() as c:
        events = [
            ev(old, first_run, "run.started", 0),
            ev(old, first_run, "step.started", 1, step="gen"),
            ev(old, first_run, "prompt.sent", 2, step="gen", call="c1", model="m", text="hi"),
        ]
        assert c.post("/v1/events", json=events).status_code == 200

    async def scenario() -> list[dict]:
        got: list[dict] = []
        initial_sent = asyncio.Event()
        async with session(service, TRANSPORT_WS, "viewer") as s:

            async def follow() -> None:
                async for result in s.subscribe(
                    request(PIPELINE_CHANGED, {"names": None, "known": []})
                ):
                    got.append(result["pipelineChanged"])
                    initial_sent.set()
                    if got[-1]["entity"] == f"pipeline:{new}":
                        return

            task = asyncio.create_task(follow())
            await until_subscribed(service, 1)
            # The new pipeline must appear after the subscription's first read; posted
            # before it, it would arrive in the initial batch (CI saw it first there).
            await asyncio.wait_for(initial_sent.wait(), 30)
            await _post(service, [ev(new, "r-new", "run.started", 0)])
            await asyncio.wait_for(task, 30)
        return got

    got = asyncio.run(scenario())
    assert got[0]["entity"] == f"pipeline:{old}" and got[0]["baseVersion"] is None
    card = got[0]["patch"][0]["value"]
    assert card["cardVersion"] == 3 and card["runs"][first_run]["status"] == "RUNNING"
    # Light runs: step runs with their scalar fields and version, no calls or lineage.
    [step_run] = card["runs"][first_run]["steps"].values()
    assert step_run["version"] == 2 and step_run["status"] == "RUNNING"
    assert not {"calls", "reads", "writes"} & set(step_run)
    [snap] = gql_http(service, SNAPSHOTS, e=[f"pipeline:{new}"])["snapshots"]
    assert got[-1]["version"] == snap["version"] == 1
    assert got[-1]["patch"][0]["value"] == snap["doc"]


def test_breach_changed_patches_an_acknowledgement(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    from tests.integration.test_slas import definition, ms, set_clock
    from tests.integration.test_slas import ev as sla_ev

    svc = make_service(sla_check_interval_s=0.1)
    set_clock(svc, ms(0))
    _wait_ready(svc)
    with svc.client() as c:
        events = [definition(), sla_ev("r1", "run.started", 0), sla_ev("r1", "run.completed", 100)]
        assert c.post("/v1/events", json=events).status_code == 200

    async def scenario() -> list[dict]:
        got: list[dict] = []
        async with session(svc, TRANSPORT_WS) as s:

            async def follow() -> None:
                async for result in s.subscribe(request(BREACH_CHANGED, {"known": []})):
                    got.append(result["breachChanged"])
                    if any(op.get("value") == "ACKNOWLEDGED" for op in got[-1]["patch"]):
                        return

            task = asyncio.create_task(follow())
            await until_subscribed(svc, 1)
            # The breach, found by the evaluator, as a whole document.
            await eventually_async(lambda: got, what="the breach's document")
            breach_id = got[0]["entity"].split(":", 1)[1]
            async with svc.async_client() as c:
                body = (
                    await c.post(
                        "/graphql",
                        json={
                            "query": "mutation A($id: ID!) { acknowledgeBreach(id: $id) { id } }",
                            "variables": {"id": breach_id},
                        },
                    )
                ).json()
                assert "errors" not in body, body
            await asyncio.wait_for(task, 30)
        return got

    got = asyncio.run(scenario())
    assert got[0]["baseVersion"] is None and got[0]["patch"][0]["value"]["status"] == "OPEN"
    last = got[-1]
    assert last["baseVersion"] == got[-2]["version"] and last["version"] == last["baseVersion"] + 1
    replica = Replica()
    for d in got:
        replica.apply(d)
    [snap] = gql_http(svc, SNAPSHOTS, e=[got[0]["entity"]])["snapshots"]
    assert replica.docs[got[0]["entity"]] == (snap["version"], snap["doc"])


def _metric(service: RunningService, name: str, **labels: str) -> float:
    with service.client() as c:
        text = c.get("/metrics").text
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_snapshots_and_digest_check_with_their_counters(
    service: RunningService, clean_graph: Driver
) -> None:
    _wait_ready(service)
    pipeline, run = unique("deltas"), unique("run")
    with service.client() as c:
        assert c.post("/v1/events", json=stream(pipeline, run, ["x"])[0]).status_code == 200
    gaps = _metric(service, "tracegraph_live_resyncs_total", reason="GAP")
    mism = _metric(service, "tracegraph_live_digest_mismatches_total")

    snaps = gql_http(
        service, SNAPSHOTS, e=[f"run:{run}", f"pipeline:{pipeline}", "breach:none"], r="GAP"
    )["snapshots"]
    assert [(s["entity"], s["version"]) for s in snaps] == [
        (f"run:{run}", 3),
        (f"pipeline:{pipeline}", 3),
        ("breach:none", 0),
    ]
    assert snaps[2]["doc"] is None and snaps[2]["digest"] == digest(None)
    assert all(s["digest"] == digest(s["doc"]) for s in snaps)
    assert _metric(service, "tracegraph_live_resyncs_total", reason="GAP") == gaps + 3

    run_snap = snaps[0]
    verdicts = gql_http(
        service,
        DIGESTS,
        d=[
            {"entity": run_snap["entity"], "version": 3, "digest": run_snap["digest"]},
            {"entity": run_snap["entity"], "version": 3, "digest": "0" * 64},
            {"entity": run_snap["entity"], "version": 2, "digest": run_snap["digest"]},
        ],
    )["digestCheck"]
    assert [v["status"] for v in verdicts] == ["MATCH", "MISMATCH", "STALE"]
    assert all(v["digest"] == run_snap["digest"] and v["version"] == 3 for v in verdicts)
    assert _metric(service, "tracegraph_live_digest_mismatches_total") == mism + 1

    # Bad input: a clear error naming the problem, nothing else answered.
    with service.client() as c:
        for variables, needle in (
            ({"e": ["job:1"]}, "not an entity key"),
            ({"e": [f"run:{i}" for i in range(201)]}, "at most 200 entities"),
        ):
            body = c.post("/graphql", json={"query": SNAPSHOTS, "variables": variables}).json()
            assert body["data"] is None
            [error] = body["errors"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT" and needle in error["message"]


def test_permessage_deflate_is_negotiated_when_offered(service: RunningService) -> None:
    import websockets
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    url = f"ws://127.0.0.1:{service.port}/graphql"

    async def handshake(offer: bool) -> str | None:
        async with websockets.connect(
            url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            compression="deflate" if offer else None,
            extensions=None,
        ) as ws:
            header = ws.response.headers.get("Sec-WebSocket-Extensions")
            return header  # type: ignore[no-any-return]

    assert ClientPerMessageDeflateFactory  # the client offers it with compression="deflate"
    accepted = asyncio.run(handshake(True))
    assert accepted is not None and "permessage-deflate" in accepted
    assert asyncio.run(handshake(False)) is None


__all__ = ["httpx"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_bad_entity_key_is_an_error_of_that_subscription_only(
    service: RunningService, clean_graph: Driver, protocol: str
) -> None:
    # Review finding 4 (issue 17): bad keys reached the initial read shared with other
    # subscribers and failed it for everyone with an internal error.
    _wait_ready(service)
    pipeline, run = unique("deltas"), unique("run")
    with service.client() as c:
        assert c.post("/v1/events", json=stream(pipeline, run, ["a"])[0]).status_code == 200
    K = range(1001)  # one more known version than allowed
    bad_args = [
        (PIPELINE_CHANGED, {"names": None, "known": [{"entity": "pipeline:", "version": 1}]}),
        (RUN_CHANGED, {"run": ""}),
        (BREACH_CHANGED, {"known": [{"entity": "nope:1", "version": 1}]}),
        (PIPELINE_CHANGED, {"names": [f"p{i}" for i in range(201)]}),
        (PIPELINE_CHANGED, {"known": [{"entity": f"pipeline:p{i}", "version": 1} for i in K]}),
    ]

    async def bad(document: Any, variables: dict[str, Any]) -> dict:
        async with session(service, protocol) as s:
            with pytest.raises(TransportQueryError) as err:
                await take(s, document, variables, 1)
            return err.value.errors[0]  # type: ignore[no-any-return,index]

    async def main() -> tuple[list[dict], list[dict]]:
        async with session(service, protocol) as s:
            # Good and bad subscriptions start together (their initial reads coalesce).
            good = asyncio.create_task(take(s, RUN_CHANGED, {"run": run}, 1))
            errors = await asyncio.gather(*(bad(d, v) for d, v in bad_args))
            return await good, list(errors)

    [first], errors = asyncio.run(main())
    assert first["runChanged"]["version"] == 3  # the good subscriber got its document
    for error, (_, variables) in zip(errors, bad_args, strict=True):
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (variables, error)
    assert "'pipeline:' is not an entity key" in errors[0]["message"]
    assert "'run:' is not an entity key" in errors[1]["message"]
    assert "at most 200 names" in errors[3]["message"]
    assert "at most 1000 known versions" in errors[4]["message"]


def test_run_documents_read_chunks_only_of_step_runs_still_streaming(
    service: RunningService, clean_graph: Driver
) -> None:
    # Review finding 5 (issue 17): every change of a run re-read all of its chunk events,
    # O(n^2) over a long stream; once the response arrived they are not in the document.
    _wait_ready(service)
    pipeline, run = unique("deltas"), unique("run")
    posts = stream(pipeline, run, ["a", "b", "c"])

    def chunk_rows() -> list[dict]:
        records, _, _ = clean_graph.execute_query(cypher("doc_runs"), ids=[run])
        return records[0]["chunks"]  # type: ignore[no-any-return]

    with service.client() as c:
        for events in posts[:-1]:
            assert c.post("/v1/events", json=events).status_code == 200
        streaming = snap_doc(service, run)
        assert len(chunk_rows()) == 3  # streaming: the chunks are the document's
        assert c.post("/v1/events", json=posts[-1]).status_code == 200
    assert chunk_rows() == []  # responded: nothing to read
    done = snap_doc(service, run)
    [call] = done["steps"][f"{run}/gen#1"]["calls"].values()
    assert (call["chunks"], call["response"]) == ([], "abc")
    [call] = streaming["steps"][f"{run}/gen#1"]["calls"].values()
    assert call["chunks"] == ["a", "b", "c"]
