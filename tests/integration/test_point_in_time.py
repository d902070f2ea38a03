"""Point-in-time views (issue 19 item 7): run(id, asOfSeq) equals the live run captured
at that seq, field by field, every time it is asked, without writing anything.

A real run (the rag-nightly example, plus a pause and a resume) is ingested in stages,
shuffled inside each stage; after each stage the live run is captured with the log's
last seq. Then every captured seq is asked again as asOfSeq.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch

RUN = "run-rag-0001"
RUN_FIELDS = """
  id version status scheduledFor startedAt endedAt durationMs inputTokens outputTokens
  costUsd costEstimated error trigger
  steps {
    id version attempt status startedAt endedAt durationMs percent tokensUsed tokenBudget
    provider model error step { key }
    llmCalls { id provider model promptTemplate promptVersion inputTokens outputTokens
               latencyMs costUsd redactions redactionKinds }
    reads { id uri version } writes { id uri version }
  }
"""
LIVE = f"query($id: ID!) {{ run(id: $id) {{ {RUN_FIELDS} asOfSeq }} }}"
AS_OF = f"query($id: ID!, $s: Int) {{ run(id: $id, asOfSeq: $s) {{ {RUN_FIELDS} asOfSeq }} }}"
AS_OF_TIME = "query($id: ID!, $t: DateTime) { run(id: $id, asOf: $t) { status version asOfSeq } }"
TIMELINE = "query($id: ID!) { runTimeline(id: $id) { seq receivedAt type } }"


def ok(service: RunningService, query: str, role: str = "viewer", **variables: Any) -> dict:
    with service.client(role) as http:
        body = http.post("/graphql", json={"query": query, "variables": variables}).json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


def post(service: RunningService, events: list[dict]) -> None:
    with service.client("ingester") as http:
        resp = http.post("/v1/events", json=events)
    assert resp.status_code == 200, resp.text


def last_seq(service: RunningService) -> int:
    return int(ok(service, "{ overview { lastSeq } }")["overview"]["lastSeq"])


def comparable(run: dict[str, Any] | None) -> dict[str, Any] | None:
    # The live lists have no order (graph order); the fold's are start / arrival order.
    def by_id(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(items, key=lambda item: item["id"])

    if run is None:
        return None
    steps = [
        {**s, **{k: by_id(s[k]) for k in ("llmCalls", "reads", "writes")}} for s in run["steps"]
    ]
    return {**run, "steps": by_id(steps), "asOfSeq": None}


def differences(a: Any, b: Any, path: str = "run") -> list[str]:
    """Where two answers differ, as paths (a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if "steps" in a and path == "run":
            a, b = comparable(a), comparable(b)
        return [
            d for k in a.keys() | b.keys() for d in differences(a.get(k), b.get(k), f"{path}.{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def stream(example_events: list[dict]) -> list[dict]:
    """The example run with a pause and a resume in its middle, shuffled in stages."""
    events = [e for e in example_events if e.get("run") == RUN or e["type"] == "pipeline.defined"]
    extra = [
        {
            "id": f"pit-{kind}",
            "source": "tests/point-in-time",
            "type": f"run.{kind}",
            "time": time,
            "pipeline": "rag-nightly",
            "run": RUN,
            "data": {"reason": "incident"} if kind == "paused" else {},
        }
        for kind, time in (
            ("paused", "2026-11-20T02:02:00.000Z"),
            ("resumed", "2026-11-20T02:03:00.000Z"),
        )
    ]
    events[14:14] = extra
    return events


def graph_state(driver: Driver) -> list[Any]:
    counts = [dict(r) for r in fetch(driver, "graph_counts")]
    return counts + [dict(r["r"]) for r in fetch(driver, "run_by_id", id=RUN)]


def test_as_of_each_seq_equals_the_live_run_then(
    service: RunningService, sync_driver: Driver, example_events: list[dict]
) -> None:
    events = stream(example_events)
    rng = random.Random(19)
    stages, i = [], 0
    for size in (1, 1, 3, 1, 6, 3, 2, 4, 7, 100):
        stage = events[i : i + size]
        rng.shuffle(stage)  # out of order inside a batch, as emitters deliver
        stages.append(stage)
        i += size
    captured: list[tuple[int, dict[str, Any]]] = []
    for stage in stages:
        post(service, stage)
        captured.append((last_seq(service), ok(service, LIVE, id=RUN)["run"]))
    post(service, stages[2])  # duplicates: no new seq, no change
    assert captured[0][1] is None  # only the definition: no run yet
    statuses = {run["status"] for _, run in captured[1:]}
    assert {"SCHEDULED", "RUNNING", "PAUSED", "SUCCEEDED"} <= statuses, statuses

    graph_before = graph_state(sync_driver)
    for seq, live in captured:
        first = ok(service, AS_OF, id=RUN, s=seq)["run"]
        assert first is None or first["asOfSeq"] == seq
        assert comparable(first) == comparable(live), (seq, differences(first, live))
        again = ok(service, AS_OF, id=RUN, s=seq)["run"]
        assert again == first, f"as of seq {seq}: a second answer differs"
    assert graph_state(sync_driver) == graph_before

    # Past the last seq it is the live run.
    assert comparable(ok(service, AS_OF, id=RUN, s=10**9)["run"]) == comparable(captured[-1][1])


def test_as_of_a_time_maps_to_the_last_seq_received_by_then(
    service: RunningService, example_events: list[dict]
) -> None:
    events = stream(example_events)
    post(service, events[:4])
    post(service, events[4:])
    stops = ok(service, TIMELINE, id=RUN)["runTimeline"]
    assert [s["seq"] for s in stops] == sorted(s["seq"] for s in stops)
    assert len(stops) == len([e for e in events if e.get("run") == RUN])
    early = stops[2]  # received with the first request: same instant as stops[0..2]
    answer = ok(service, AS_OF_TIME, id=RUN, t=early["receivedAt"])["run"]
    by_seq = ok(service, AS_OF, id=RUN, s=answer["asOfSeq"])["run"]
    assert answer["asOfSeq"] >= early["seq"]
    assert answer["status"] == by_seq["status"] == "RUNNING"
    assert answer["version"] == by_seq["version"] < len(stops)


def test_bad_as_of_arguments_are_refused_with_the_reason(service: RunningService) -> None:
    with service.client("viewer") as http:
        both = http.post(
            "/graphql",
            json={"query": '{ run(id: "x", asOfSeq: 3, asOf: "2026-01-01T00:00:00Z") { id } }'},
        ).json()
        negative = http.post(
            "/graphql", json={"query": '{ run(id: "x", asOfSeq: 0) { id } }'}
        ).json()
    for body, words in ((both, "not both"), (negative, "at least 1")):
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert words in error["message"]


PIPELINE_FIELDS = """
  name version cardVersion owner { id } sla { id maxDurationMs maxTokens }
  steps { id key name owner { id } sla { id maxDurationMs } dependsOn { key } }
  runs { id status version }
"""
PIPE_LIVE = f"query($p: String!) {{ pipeline(name: $p) {{ {PIPELINE_FIELDS} asOfSeq }} }}"
PIPE_AS_OF = (
    "query($p: String!, $s: Int) { pipeline(name: $p, asOfSeq: $s) { "
    f"{PIPELINE_FIELDS} asOfSeq }} }}"
)
SET_OWNER = """mutation($p: String!, $s: String, $o: String!) {
  setOwner(pipeline: $p, step: $s, owner: $o) { name } }"""
SET_SLA = """mutation($p: String!, $s: String, $ms: Int) {
  setSla(pipeline: $p, step: $s, sla: {maxDurationMs: $ms}) { name } }"""


def test_pipeline_as_of_each_seq_equals_the_live_card_then(
    service: RunningService, example_events: list[dict]
) -> None:
    events = stream(example_events)
    redefined = copy.deepcopy(events[0])
    redefined["id"] = "pit-redefined"
    redefined["time"] = "2026-11-20T03:00:00.000Z"
    redefined["data"]["version"] = "4"
    redefined["data"]["owner"] = "team:redefined"
    steps: list[Callable[[], None]] = [
        lambda: post(service, events[:1]),
        lambda: ok(service, SET_OWNER, "admin", p="rag-nightly", s=None, o="team:ops"),
        lambda: ok(service, SET_SLA, "admin", p="rag-nightly", s="embed", ms=1234),
        lambda: post(service, events[1:10]),
        lambda: ok(service, SET_OWNER, "admin", p="rag-nightly", s="chunk", o="user:lee"),
        lambda: post(service, events[10:]),
        lambda: post(service, [redefined]),
        lambda: ok(service, SET_SLA, "admin", p="rag-nightly", s=None, ms=99),
    ]
    captured = []
    for step in steps:
        step()
        captured.append((last_seq(service), ok(service, PIPE_LIVE, p="rag-nightly")["pipeline"]))
    assert len({c["version"] for _, c in captured}) == 2  # the redefinition won
    for seq, live in captured:
        first = ok(service, PIPE_AS_OF, p="rag-nightly", s=seq)["pipeline"]
        assert first["asOfSeq"] == seq
        assert {**first, "asOfSeq": None} == live, (seq, differences(first, live, "pipeline"))
        assert ok(service, PIPE_AS_OF, p="rag-nightly", s=seq)["pipeline"] == first
