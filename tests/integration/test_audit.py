"""The audit trail: an entry for every change, none for a non-change, and the query.

Against a real Neo4j and the real running service: definitions arrive over HTTP, admin
changes and breach acknowledgements through GraphQL, each with a role's API key.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tests.support.eventually import eventually
from tests.support.faults import ANSWER_WITHIN_S, frozen
from tests.support.graph import rebuild
from tracegraph.audit import AuditRecord
from tracegraph.settings import Neo4jSettings
from tracegraph.store.audit_store import AuditStore
from tracegraph.store.cypher_files import cypher
from tracegraph.store.driver import open_driver

PIPE = "rag-nightly"


# -- helpers ---------------------------------------------------------------------------


def gql(service: RunningService, query: str, role: str = "admin", **variables: Any) -> dict:
    with service.client(role) as http:
        return http.post("/graphql", json={"query": query, "variables": variables}).json()


def ok(service: RunningService, query: str, role: str = "admin", **variables: Any) -> dict:
    body = gql(service, query, role, **variables)
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


def actor_of(service: RunningService, role: str) -> str:
    return ok(service, "{ me { actor } }", role)["me"]["actor"]  # type: ignore[no-any-return]


def forbidden(body: dict) -> bool:
    return any((e.get("extensions") or {}).get("code") == "FORBIDDEN" for e in body["errors"])


def post(service: RunningService, events: list[dict], role: str = "ingester") -> dict:
    with service.client(role) as http:
        resp = http.post("/v1/events", json=events)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


# Made by the fixtures themselves (test keys) or at start (the seeded redaction policy).
FIXTURE_ACTIONS = ("key.", "policy.")


def entries(driver: Driver) -> list[dict[str, Any]]:
    out = []
    for rec in fetch(driver, "audit_entries"):
        row = dict(rec)
        if row["action"].startswith(FIXTURE_ACTIONS):
            continue
        row["before"] = None if row["before"] is None else orjson.loads(row["before"])
        row["after"] = None if row["after"] is None else orjson.loads(row["after"])
        out.append(row)
    return out


def summary(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((r["action"], r["target"]) for r in rows)


def definition(example_events: list[dict], event_id: str, when: str, **changes: Any) -> dict:
    ev = copy.deepcopy(next(e for e in example_events if e["type"] == "pipeline.defined"))
    ev["id"], ev["time"] = event_id, when
    ev["data"].update(changes)
    return ev


# -- definitions over ingest -------------------------------------------------------------


def test_definitions_are_audited_once_per_change(
    service: RunningService, clean_graph: Driver, example_events: list[dict]
) -> None:
    ingester = actor_of(service, "ingester")
    first = definition(example_events, "def-1", "2026-11-20T02:00:00.000Z")
    post(service, [first])
    made = entries(clean_graph)
    assert summary(made) == [
        ("owner.changed", f"pipeline:{PIPE}"),
        ("owner.changed", f"step:{PIPE}/eval"),
        ("owner.changed", f"step:{PIPE}/fetch-docs"),
        ("pipeline.defined", f"pipeline:{PIPE}"),
        ("sla.changed", f"pipeline:{PIPE}"),
        ("sla.changed", f"step:{PIPE}/embed"),
        ("sla.changed", f"step:{PIPE}/eval"),
    ]
    assert {r["actor"] for r in made} == {ingester}
    defined = next(r for r in made if r["action"] == "pipeline.defined")
    assert defined["before"] is None
    assert defined["after"]["version"] == "3"
    assert [s["key"] for s in defined["after"]["steps"]] == [
        "fetch-docs",
        "chunk",
        "embed",
        "index",
        "eval",
    ]
    assert (defined["on_label"], defined["on_key"]) == ("Pipeline", PIPE)
    step_owner = next(
        r for r in made if r["target"] == f"step:{PIPE}/eval" and "owner" in r["action"]
    )
    assert step_owner["before"] == {"owner": None}
    assert step_owner["after"] == {"owner": "user:ana@example.com"}
    assert (step_owner["on_label"], step_owner["on_key"]) == ("Step", f"{PIPE}/eval")

    # The same event again, the same definition under a new id and a later time, and an
    # older definition arriving late (it does not win): no change, no entry.
    post(service, [first])
    post(service, [definition(example_events, "def-1-again", "2026-11-20T03:00:00.000Z")])
    post(
        service,
        [definition(example_events, "def-0-late", "2026-11-19T02:00:00.000Z", version="2")],
    )
    assert len(entries(clean_graph)) == 7

    # A new version that changes the owner and one step's SLA.
    steps = copy.deepcopy(first["data"]["steps"])
    steps[2]["sla"] = {"max_duration_ms": 600_000}
    newer = definition(
        example_events,
        "def-2",
        "2026-11-21T02:00:00.000Z",
        version="4",
        owner="team:ml",
        steps=steps,
    )
    post(service, [newer], role="admin")
    admin = actor_of(service, "admin")
    fresh = [r for r in entries(clean_graph) if r["id"] not in {m["id"] for m in made}]
    assert summary(fresh) == [
        ("owner.changed", f"pipeline:{PIPE}"),
        ("pipeline.defined", f"pipeline:{PIPE}"),
        ("sla.changed", f"step:{PIPE}/embed"),
    ]
    assert {r["actor"] for r in fresh} == {admin}
    by_action = {r["action"]: r for r in fresh}
    assert by_action["pipeline.defined"]["before"]["version"] == "3"
    assert by_action["pipeline.defined"]["after"]["version"] == "4"
    assert by_action["owner.changed"]["before"] == {"owner": "team:search"}
    assert by_action["owner.changed"]["after"] == {"owner": "team:ml"}
    assert by_action["sla.changed"]["before"] == {"sla": {"max_duration_ms": 900_000}}
    assert by_action["sla.changed"]["after"] == {"sla": {"max_duration_ms": 600_000}}


def test_one_batch_audits_each_winning_definition_in_turn(
    service: RunningService,
    clean_graph: Driver,
    example_events: list[dict],
    neo4j_settings: Neo4jSettings,
) -> None:
    # One request: v3, v5 (wins over v3), v1 from earlier (never wins), v3 again later.
    batch = [
        definition(example_events, "b-3", "2026-11-20T02:00:00.000Z"),
        definition(example_events, "b-5", "2026-11-22T02:00:00.000Z", version="5"),
        definition(example_events, "b-1", "2026-11-18T02:00:00.000Z", version="1"),
        definition(example_events, "b-3b", "2026-11-23T02:00:00.000Z", description="v3 again"),
    ]
    post(service, batch)
    defined = [r for r in entries(clean_graph) if r["action"] == "pipeline.defined"]
    assert [(r["before"] or {}).get("version") for r in defined] == [None, "3", "5"]
    assert [r["after"]["version"] for r in defined] == ["3", "5", "3"]
    assert defined[-1]["after"]["description"] == "v3 again"
    before = entries(clean_graph)

    # Replaying the event log (wipe, re-apply in seq order) gives the same entries.
    assert rebuild(neo4j_settings) == 4
    assert entries(clean_graph) == before


def test_event_principal_is_shown_to_auditors_only(
    service: RunningService, clean_graph: Driver, example_events: list[dict]
) -> None:
    post(service, example_events[:3])
    query = "{ events(first: 3) { id principal } }"
    ingester = actor_of(service, "ingester")
    for role in ("reviewer", "admin"):
        events = ok(service, query, role)["events"]
        assert [e["principal"] for e in events] == [ingester] * 3
    assert [e["principal"] for e in ok(service, query, "viewer")["events"]] == [None] * 3


# -- owners and SLAs by admins -------------------------------------------------------------

SET_OWNER = """mutation($p: String!, $s: String, $o: String!) {
  setOwner(pipeline: $p, step: $s, owner: $o) {
    name owner { id } steps { key owner { id } sla { maxDurationMs } }
  }
}"""
SET_SLA = """mutation($p: String!, $s: String, $sla: SLAInput!) {
  setSla(pipeline: $p, step: $s, sla: $sla) {
    name sla { id maxDurationMs minSuccessRate window } steps { key sla { id maxCostUsd } }
  }
}"""


def test_set_owner_and_sla_are_audited(
    service: RunningService, clean_graph: Driver, example_events: list[dict]
) -> None:
    post(service, example_events[:1])
    seen = {r["id"] for r in entries(clean_graph)}
    admin = actor_of(service, "admin")

    got = ok(service, SET_OWNER, p=PIPE, s=None, o="team:platform")["setOwner"]
    assert got["owner"] == {"id": "team:platform"}
    got = ok(service, SET_OWNER, p=PIPE, s="chunk", o="user:lee@example.com")["setOwner"]
    assert next(s for s in got["steps"] if s["key"] == "chunk")["owner"] == {
        "id": "user:lee@example.com"
    }
    # Setting the owner it already has changes nothing and records nothing.
    ok(service, SET_OWNER, p=PIPE, s=None, o="team:platform")

    sla = {"maxDurationMs": 120_000, "minSuccessRate": 0.9, "window": "P1D"}
    got = ok(service, SET_SLA, p=PIPE, s=None, sla=sla)["setSla"]
    assert got["sla"] == {
        "id": f"pipeline:{PIPE}",
        "maxDurationMs": 120_000,
        "minSuccessRate": 0.9,
        "window": "P1D",
    }
    got = ok(service, SET_SLA, p=PIPE, s="eval", sla={})["setSla"]  # removes it
    assert next(s for s in got["steps"] if s["key"] == "eval")["sla"] is None
    ok(service, SET_SLA, p=PIPE, s="eval", sla={})  # already none: no entry

    fresh = [r for r in entries(clean_graph) if r["id"] not in seen]
    assert [(r["action"], r["target"], r["before"], r["after"]) for r in fresh] == [
        (
            "owner.changed",
            f"pipeline:{PIPE}",
            {"owner": "team:search"},
            {"owner": "team:platform"},
        ),
        ("owner.changed", f"step:{PIPE}/chunk", {"owner": None}, {"owner": "user:lee@example.com"}),
        (
            "sla.changed",
            f"pipeline:{PIPE}",
            {"sla": {"max_duration_ms": 3_600_000, "min_success_rate": 0.95, "window": "P7D"}},
            {"sla": {"max_duration_ms": 120_000, "min_success_rate": 0.9, "window": "P1D"}},
        ),
        ("sla.changed", f"step:{PIPE}/eval", {"sla": {"max_cost_usd": 2.0}}, {"sla": None}),
    ]
    assert {r["actor"] for r in fresh} == {admin}
    assert [r["on_key"] for r in fresh] == [PIPE, f"{PIPE}/chunk", PIPE, f"{PIPE}/eval"]


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (SET_OWNER, {"p": "nope", "s": None, "o": "team:x"}, "unknown pipeline 'nope'"),
        (SET_OWNER, {"p": PIPE, "s": "nope", "o": "team:x"}, "unknown step 'nope'"),
        (SET_OWNER, {"p": PIPE, "s": None, "o": "someone"}, "is not a valid owner"),
        (SET_SLA, {"p": "nope", "s": None, "sla": {"maxTokens": 5}}, "unknown pipeline 'nope'"),
        (SET_SLA, {"p": PIPE, "s": "nope", "sla": {"maxTokens": 5}}, "unknown step 'nope'"),
        (SET_SLA, {"p": PIPE, "s": None, "sla": {"minSuccessRate": 0.5}}, "sla.window"),
        (SET_SLA, {"p": PIPE, "s": None, "sla": {"minSuccessRate": 1.5}}, "sla.min_success_rate"),
        (SET_SLA, {"p": PIPE, "s": None, "sla": {"window": "1 day"}}, "sla.window"),
    ],
)
def test_bad_owner_and_sla_changes_are_refused(
    service: RunningService,
    clean_graph: Driver,
    example_events: list[dict],
    query: str,
    variables: dict,
    message: str,
) -> None:
    post(service, example_events[:1])
    count = len(entries(clean_graph))
    body = gql(service, query, **variables)
    assert body["data"] is None
    assert message in body["errors"][0]["message"], body
    assert len(entries(clean_graph)) == count


def test_owner_and_sla_changes_need_their_permissions(
    service: RunningService, clean_graph: Driver, example_events: list[dict]
) -> None:
    post(service, example_events[:1])
    for role in ("viewer", "reviewer", "ingester"):
        assert forbidden(gql(service, SET_OWNER, role, p=PIPE, s=None, o="team:x"))
        assert forbidden(gql(service, SET_SLA, role, p=PIPE, s=None, sla={"maxTokens": 1}))
    assert [r["action"] for r in entries(clean_graph)].count("owner.changed") == 3


# -- SLA evaluation uses an admin's SLA; breach acknowledgements --------------------------

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def run_event(run: str, kind: str, seconds: float) -> dict:
    return {
        "id": f"{run}-{kind}",
        "type": kind,
        "time": ts(T0 + timedelta(seconds=seconds)),
        "source": "test/audit",
        "pipeline": "audited",
        "run": run,
        "data": {},
    }


BREACHES = "{ slaBreaches { id kind threshold status acknowledgedBy resolvedBy } }"
ACK = """mutation($id: ID!, $by: String) {
  acknowledgeBreach(id: $id, by: $by) { status acknowledgedBy }
}"""
RESOLVE = "mutation($id: ID!) { resolveBreach(id: $id) { status resolvedBy } }"


def wait_for_breach(service: RunningService) -> dict:
    found = eventually(lambda: ok(service, BREACHES)["slaBreaches"], timeout=15, what="a breach")
    return found[0]  # type: ignore[no-any-return]


def test_admin_sla_is_evaluated_and_breach_handling_is_audited(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    service = make_service(sla_check_interval_s=0.1)
    service.app.state.services.clock = lambda: T0 + timedelta(hours=1)
    post(
        service,
        [
            {
                "id": "audited-def",
                "type": "pipeline.defined",
                "time": ts(T0 - timedelta(days=1)),
                "source": "test/audit",
                "pipeline": "audited",
                "data": {"owner": "team:ops", "steps": [{"key": "work"}]},
            }
        ],
    )
    ok(service, SET_SLA, p="audited", s=None, sla={"maxDurationMs": 1000})
    post(service, [run_event("r1", "run.started", 0), run_event("r1", "run.completed", 5)])
    breach = wait_for_breach(service)
    assert (breach["kind"], breach["threshold"], breach["status"]) == (
        "MAX_DURATION_MS",
        1000.0,
        "OPEN",
    )

    admin, reviewer = actor_of(service, "admin"), actor_of(service, "reviewer")
    assert forbidden(gql(service, ACK, "viewer", id=breach["id"]))
    acked = ok(service, ACK, "reviewer", id=breach["id"], by="on call")["acknowledgeBreach"]
    assert acked == {"status": "ACKNOWLEDGED", "acknowledgedBy": reviewer}
    again = ok(service, ACK, "admin", id=breach["id"])["acknowledgeBreach"]
    assert again["acknowledgedBy"] == reviewer  # the first acknowledgement stands
    resolved = ok(service, RESOLVE, "admin", id=breach["id"])["resolveBreach"]
    assert resolved == {"status": "RESOLVED", "resolvedBy": admin}
    ok(service, RESOLVE, "reviewer", id=breach["id"])  # resolved already: no entry

    handled = [r for r in entries(clean_graph) if r["action"].startswith("breach.")]
    assert [(r["action"], r["actor"], r["target"]) for r in handled] == [
        ("breach.acknowledged", reviewer, f"breach:{breach['id']}"),
        ("breach.resolved", admin, f"breach:{breach['id']}"),
    ]
    assert handled[0]["after"]["note"] == "on call"
    assert handled[0]["after"]["by"] == reviewer
    assert {r["on_label"] for r in handled} == {"SLABreach"}


# -- the auditTrail query ----------------------------------------------------------------------

TRAIL = """query T($actor: String, $target: String, $action: String, $from: DateTime,
                   $to: DateTime, $first: Int, $after: String) {
  auditTrail(actor: $actor, target: $target, action: $action, from: $from, to: $to,
             first: $first, after: $after) {
    edges { cursor node { id actor action target before after at } }
    pageInfo { hasNextPage endCursor }
  }
}"""
BASE = datetime(2026, 10, 1, tzinfo=UTC)


def seeded_records() -> list[AuditRecord]:
    """40 entries a minute apart; actors, targets and actions cycle at different rates."""
    return [
        AuditRecord(
            actor=("user:ann", "user:bob", "key:ci")[i % 3],
            action=("owner.changed", "sla.changed")[i % 2],
            target=f"pipeline:p{i % 4}",
            before={"n": i - 1},
            after={"n": i},
            at=BASE + timedelta(minutes=i),
            id=f"entry-{i:02d}",
        )
        for i in range(40)
    ]


def seed(neo4j_settings: Neo4jSettings, records: list[AuditRecord]) -> None:
    async def go() -> None:
        driver = open_driver(neo4j_settings)
        try:
            await AuditStore(driver, neo4j_settings.database).record(records)
        finally:
            await driver.close()

    asyncio.run(go())


def trail(service: RunningService, role: str = "reviewer", **filters: Any) -> list[str]:
    """Every entry id the filters select, walking the pages."""
    ids: list[str] = []
    after = None
    while True:
        page = ok(service, TRAIL, role, after=after, **filters)["auditTrail"]
        ids += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            # Only the seeded entries (the test keys' own entries are newer).
            return [i for i in ids if i.startswith("entry-")]
        after = page["pageInfo"]["endCursor"]


def test_audit_trail_filters_and_pages(
    clean_graph: Driver,
    make_service: Callable[..., RunningService],
    neo4j_settings: Neo4jSettings,
) -> None:
    service = make_service(max_page_size=7)
    records = seeded_records()
    seed(neo4j_settings, records)
    seed(neo4j_settings, records[:5])  # recording the same entries again adds nothing

    def expect(pred: Callable[[AuditRecord], bool]) -> list[str]:
        return [r.id for r in sorted(records, key=lambda r: r.at, reverse=True) if pred(r)]

    assert trail(service) == expect(lambda r: True)
    assert trail(service, first=3) == expect(lambda r: True)
    assert trail(service, actor="user:bob") == expect(lambda r: r.actor == "user:bob")
    assert trail(service, target="pipeline:p1") == expect(lambda r: r.target == "pipeline:p1")
    assert trail(service, action="sla.changed") == expect(lambda r: r.action == "sla.changed")
    since, until = BASE + timedelta(minutes=10), BASE + timedelta(minutes=25)
    window = {"from": since.isoformat(), "to": until.isoformat()}
    assert trail(service, **window) == expect(lambda r: since <= r.at < until)
    assert trail(service, actor="key:ci", target="pipeline:p2", **window) == expect(
        lambda r: r.actor == "key:ci" and r.target == "pipeline:p2" and since <= r.at < until
    )
    assert trail(service, actor="user:ann", action="owner.changed") == expect(
        lambda r: r.actor == "user:ann" and r.action == "owner.changed"
    )
    assert trail(service, actor="nobody") == []

    seeded_only = {"to": (BASE + timedelta(days=1)).isoformat()}
    page = ok(service, TRAIL, "reviewer", first=50, **seeded_only)["auditTrail"]
    assert len(page["edges"]) == 7 and page["pageInfo"]["hasNextPage"]  # capped
    newest = page["edges"][0]["node"]
    assert newest == {
        "id": "entry-39",
        "actor": "user:ann",
        "action": "sla.changed",
        "target": "pipeline:p3",
        "before": {"n": 38},
        "after": {"n": 39},
        "at": "2026-10-01T00:39:00Z",
    }

    assert forbidden(gql(service, TRAIL, "viewer"))
    assert forbidden(gql(service, TRAIL, "ingester"))
    bad = gql(service, TRAIL, "reviewer", after="not-a-cursor")
    assert "invalid cursor" in bad["errors"][0]["message"]
    bad = gql(service, TRAIL, "reviewer", **{"from": until.isoformat(), "to": since.isoformat()})
    assert "from must be earlier than to" in bad["errors"][0]["message"]


@pytest.mark.parametrize(
    ("statement", "index"),
    [
        ("audit_trail_page", "AuditEntry(order_key)"),
        ("audit_trail_by_actor", "AuditEntry(actor, order_key)"),
        ("audit_trail_by_target", "AuditEntry(target, order_key)"),
        ("audit_trail_by_action", "AuditEntry(action, order_key)"),
    ],
)
def test_audit_trail_reads_walk_an_index_in_order(
    service: RunningService,
    clean_graph: Driver,
    neo4j_settings: Neo4jSettings,
    statement: str,
    index: str,
) -> None:
    """Each page is an index seek read in the index's order and cut at the page size:
    no label scan and no sort, so a page costs the page, not the trail's length."""
    seed(neo4j_settings, seeded_records())
    params = {
        "actor": "user:bob",
        "target": "pipeline:p1",
        "action": "sla.changed",
        "lower": "",
        "upper": "~",
        "limit": 2,
    }
    with clean_graph.session() as session:
        result = session.run(f"PROFILE {cypher(statement)}", params)
        assert len(list(result)) == 2
        plan = result.consume().profile
    assert plan is not None

    def operators(p: dict) -> list[tuple[str, str]]:
        here = (p["operatorType"].split("@")[0], str(p.get("args", {}).get("Details", "")))
        return [here] + [op for child in p.get("children", []) for op in operators(child)]

    ops = operators(plan)
    # The hinted index is walked in its order. The planner takes a seek, or, while the
    # index's statistics are still those of an empty index (as on a fresh test database),
    # sometimes an ordered scan of the same index: either way no sort and no label scan.
    walks = [d for op, d in ops if op.startswith(("NodeIndexSeek", "NodeIndexScan"))]
    assert len(walks) == 1 and f"RANGE INDEX a:{index}" in walks[0], ops
    names = {op for op, _ in ops}
    assert not names & {"Sort", "Top", "PartialSort", "PartialTop"}, ops
    assert not names & {"NodeByLabelScan", "AllNodesScan"}, ops


def test_set_owner_and_sla_answer_a_frozen_database_within_the_request_deadline(
    make_service: Callable[..., RunningService],
    clean_graph: Driver,
    stoppable_neo4j: Any,
    example_events: list[dict],
) -> None:
    """The target check runs within the request's answer budget, not only the query
    timeout: a frozen Neo4j costs setOwner / setSla seconds, not ~12 s."""
    service = make_service(api_key_cache_ttl_s=600)  # the outage is not the key lookups'
    post(service, example_events[:1])
    ok(service, SET_OWNER, p=PIPE, s=None, o="team:platform")  # keys cached, plans made
    with frozen(stoppable_neo4j):
        for document, variables in (
            (SET_OWNER, {"p": PIPE, "s": None, "o": "team:data"}),
            (SET_SLA, {"p": PIPE, "s": None, "sla": {"maxDurationMs": 1000}}),
        ):
            started = time.monotonic()
            [error] = gql(service, document, **variables)["errors"]
            elapsed = time.monotonic() - started
            assert error["extensions"]["code"] == "DATABASE_UNAVAILABLE", error
            assert error["extensions"]["retryAfter"] >= 1, error
            assert elapsed <= ANSWER_WITHIN_S, (document, elapsed)


def test_a_change_the_database_refuses_is_a_precise_client_error(
    service: RunningService, clean_graph: Driver, example_events: list[dict]
) -> None:
    """A refused admin change (its event quarantined by the writer) names the reason as
    BAD_USER_INPUT, not "Unexpected error." INTERNAL_SERVER_ERROR."""
    post(service, example_events[:1])
    ok(service, SET_OWNER, p=PIPE, s=None, o="team:lee")
    fetch(clean_graph, "test_owner_name_unique_create")  # a constraint the next write breaks
    try:
        body = gql(service, SET_OWNER, p=PIPE, s="chunk", o="user:lee")
    finally:
        fetch(clean_graph, "test_owner_name_unique_drop")
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["message"].startswith(
        "the change was not applied: not stored: the database refused the batch ("
    ), error
