"""The governance gate on a real Neo4j and a real service (docs/governance.md, "The
gate"): gate policies, change requests decided four-eyes, rejection changing nothing,
stale requests, versions and rollback through the gate, and a rebuild from the log alone
reproducing policies, requests, decisions and the changes they let through."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gql import gql
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.definitions import V1, V2_YAML, define
from tests.support.eventually import eventually_async
from tests.support.graph import governance_state, rebuild, snapshot, wipe_all_but_event_log
from tests.support.live import session, unique, until_subscribed
from tracegraph.auth.roles import Role
from tracegraph.settings import Neo4jSettings

SUBMIT = """mutation($p: String!, $y: String!) { submitDefinition(pipeline: $p, yaml: $y) {
  version seq changeRequest { id state kind author diff { toVersion changes { field } } } } }"""
POLICY = """mutation($p: String, $g: [GateKind!]!) { setGatePolicy(pipeline: $p, gated: $g) {
  pipeline gated inherited } }"""
APPROVE = """mutation($id: ID!, $c: String) { approveChange(id: $id, comment: $c) {
  id state reviewer comment appliedSeq } }"""
REJECT = """mutation($id: ID!, $c: String!) { rejectChange(id: $id, comment: $c) {
  id state reviewer comment } }"""
ROLLBACK = """mutation($p: String!, $v: String!) { rollbackPipeline(name: $p, toVersion: $v) {
  version seq changeRequest { id kind payload } } }"""
SET_OWNER = """mutation($p: String!, $o: String!) { setOwner(pipeline: $p, owner: $o) {
  owner { id } pendingChanges { id kind author diff { changes { field before after } } } } }"""
SET_SLA = """mutation($p: String!, $sla: SLAInput!) { setSla(pipeline: $p, sla: $sla) {
  sla { maxTokens } pendingChanges { id kind } } }"""
DIFF = """query($p: String!) { pipeline(name: $p) {
  diff(from: "2", to: "3") { fromVersion toVersion changes { kind step field } } } }"""
CURRENT = """query($p: String!) { pipelineDefinition(pipeline: $p) { version yaml }
  pipeline(name: $p) { owner { id } sla { maxTokens }
    versions { version author approvedBy changeRequest } } }"""


def call(service: RunningService, role: str, query: str, **variables: Any) -> dict[str, Any]:
    with service.client(role) as http:
        resp = http.post("/graphql", json={"query": query, "variables": variables})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def ok(service: RunningService, role: str, query: str, **variables: Any) -> dict[str, Any]:
    body = call(service, role, query, **variables)
    assert "errors" not in body, body
    return dict(body["data"])


def error(service: RunningService, role: str, query: str, **variables: Any) -> dict[str, Any]:
    body = call(service, role, query, **variables)
    assert body.get("errors"), body
    return dict(body["errors"][0])


def second_admin(service: RunningService) -> str:
    """Another admin (a second person with changes:review): registered as role 'admin2'."""
    services = service.app.state.services
    _, text = service.call(services.keys.create(unique("admin-b"), Role.ADMIN, "system:tests"))
    service._keys["admin2"] = text
    return "admin2"


def actor(service: RunningService, role: str) -> str:
    return str(ok(service, role, "{ me { actor } }")["me"]["actor"])


def test_definition_changes_wait_for_a_reviewer_and_roll_back_through_the_gate(
    service: RunningService,
) -> None:
    pipe = unique("gated")
    define(service, pipe, V1)
    # Ungated (no policy yet): live at once, as before.
    assert ok(
        service,
        "operator",
        SUBMIT,
        p=pipe,
        y=V2_YAML.replace("owner: team:platform", "owner: team:search"),
    )["submitDefinition"]["seq"]
    assert ok(service, "viewer", CURRENT, p=pipe)["pipelineDefinition"]["version"] == "2"

    # Only admin:policy sets the gate; everyone who reads can see it.
    assert (
        error(service, "reviewer", POLICY, p=None, g=["DEFINITIONS"])["extensions"]["code"]
        == "FORBIDDEN"
    )
    bad = error(service, "admin", POLICY, p=None, g=["NOPE"])
    assert "NOPE" in bad["message"]
    ok(service, "admin", POLICY, p=None, g=["DEFINITIONS"])
    policy = ok(
        service,
        "viewer",
        "query($p: String) { gatePolicy(pipeline: $p) { gated inherited } }",
        p=pipe,
    )
    assert policy["gatePolicy"] == {"gated": ["DEFINITIONS"], "inherited": True}

    v3 = (
        V2_YAML.replace('version: "2"', 'version: "3"')
        .replace("owner: team:platform", "owner: team:search")
        .replace("key: index", "key: publish")
    )
    sub = ok(service, "operator", SUBMIT, p=pipe, y=v3)["submitDefinition"]
    request = sub["changeRequest"]
    assert sub["seq"] is None and request["state"] == "PENDING" and request["kind"] == "DEFINITION"
    assert request["diff"]["toVersion"] == "3" and request["diff"]["changes"]
    assert ok(service, "viewer", CURRENT, p=pipe)["pipelineDefinition"]["version"] == "2"

    # Four-eyes: the operator cannot review at all, nor can a viewer.
    for role in ("operator", "viewer"):
        denied = error(service, role, APPROVE, id=request["id"], c=None)
        assert denied["extensions"]["code"] == "FORBIDDEN"
        assert denied["extensions"]["permission"] == "changes:review"
    approved = ok(service, "reviewer", APPROVE, id=request["id"], c="looks right")["approveChange"]
    assert approved["state"] == "APPROVED" and approved["comment"] == "looks right"
    assert approved["reviewer"] == actor(service, "reviewer") and approved["appliedSeq"]
    again = error(service, "admin", APPROVE, id=request["id"], c=None)
    assert (
        again["extensions"]["code"] == "BAD_USER_INPUT" and "approved already" in again["message"]
    )
    now = ok(service, "viewer", CURRENT, p=pipe)
    assert now["pipelineDefinition"]["version"] == "3"
    versions = now["pipeline"]["versions"]
    assert [v["version"] for v in versions] == ["1", "2", "3"]
    assert versions[2]["approvedBy"] == approved["reviewer"]
    assert versions[2]["changeRequest"] == request["id"]
    assert versions[2]["author"] == actor(service, "operator")
    diff = ok(
        service,
        "viewer",
        DIFF,
        p=pipe,
    )
    changes = diff["pipeline"]["diff"]["changes"]
    assert {"kind": "ADDED", "step": "publish", "field": None} in changes

    # A rollback is gated too; rejected, nothing changes.
    rb = ok(service, "operator", ROLLBACK, p=pipe, v="1")["rollbackPipeline"]
    assert (
        rb["changeRequest"]["kind"] == "ROLLBACK"
        and rb["changeRequest"]["payload"]["rollback_of"] == "1"
    )
    assert (
        error(service, "reviewer", REJECT, id=rb["changeRequest"]["id"], c=" ")["extensions"][
            "code"
        ]
        == "BAD_USER_INPUT"
    )
    before = ok(service, "viewer", CURRENT, p=pipe)
    rejected = ok(service, "reviewer", REJECT, id=rb["changeRequest"]["id"], c="not now")[
        "rejectChange"
    ]
    assert rejected["state"] == "REJECTED"
    after = ok(service, "viewer", CURRENT, p=pipe)
    assert after["pipelineDefinition"] == before["pipelineDefinition"]
    assert len(after["pipeline"]["versions"]) == 3

    # Two pending rollbacks: approving one makes the other stale.
    first = ok(service, "operator", ROLLBACK, p=pipe, v="1")["rollbackPipeline"]["changeRequest"]
    second = ok(service, "operator", ROLLBACK, p=pipe, v="2")["rollbackPipeline"]["changeRequest"]
    ok(service, "reviewer", APPROVE, id=first["id"], c=None)
    live = ok(service, "viewer", CURRENT, p=pipe)["pipelineDefinition"]
    assert live["version"] == "4" and "publish" not in live["yaml"] and "index" not in live["yaml"]
    stale = error(service, "reviewer", APPROVE, id=second["id"], c=None)
    assert stale["extensions"]["code"] == "BAD_USER_INPUT" and "stale" in stale["message"]
    pending = ok(
        service,
        "viewer",
        "query($p: String) { changeRequests(state: PENDING, pipeline: $p) { id } }",
        p=pipe,
    )
    assert pending["changeRequests"] == [{"id": second["id"]}]
    unknown = error(service, "reviewer", APPROVE, id="cr-nope", c=None)
    assert unknown["extensions"]["code"] == "BAD_USER_INPUT"


def test_owner_and_sla_changes_through_the_gate_survive_a_rebuild_from_the_log(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    pipe = unique("owned")
    define(service, pipe, V1)
    other = second_admin(service)
    ok(service, "admin", POLICY, p=pipe, g=["OWNERS", "SLAS"])
    assert ok(
        service,
        "viewer",
        "query($p: String) { gatePolicy(pipeline: $p) { gated inherited } }",
        p=pipe,
    )["gatePolicy"] == {"gated": ["OWNERS", "SLAS"], "inherited": False}

    async def watch() -> list[dict[str, Any]]:
        doc = gql(
            f'subscription {{ changeRequestChanged(pipeline: "{pipe}") {{ id state kind }} }}'
        )
        alerts = gql('subscription { alerts(owner: "team:search") { kind status subject } }')
        got: list[dict[str, Any]] = []
        async with session(service, role="viewer") as s, session(service, role="viewer") as a:

            async def listen() -> None:
                async for result in s.subscribe(doc):
                    got.append(result["changeRequestChanged"])

            async def listen_alerts() -> None:
                async for result in a.subscribe(alerts):
                    got.append(result["alerts"])

            tasks = [asyncio.create_task(listen()), asyncio.create_task(listen_alerts())]
            await until_subscribed(service, 1)
            await until_subscribed(service, 1, alerts=True)
            requested = await asyncio.to_thread(
                ok, service, "admin", SET_OWNER, p=pipe, o="team:platform"
            )
            pipeline = requested["setOwner"]
            # Gated: nothing changed yet; the request is pending on the pipeline.
            assert pipeline["owner"] == {"id": "team:search"}
            [pending] = pipeline["pendingChanges"]
            assert pending["kind"] == "OWNER"
            assert {"field": "owner", "before": "team:search", "after": "team:platform"} in pending[
                "diff"
            ]["changes"]
            own = await asyncio.to_thread(
                error, service, "admin", APPROVE, id=pending["id"], c=None
            )
            assert own["extensions"]["code"] == "FORBIDDEN" and "four-eyes" in own["message"]
            await asyncio.to_thread(
                ok, service, other, APPROVE, id=pending["id"], c="handover agreed"
            )

            def arrived() -> bool:
                for t in tasks:  # a subscription that failed says why
                    if t.done():
                        t.result()
                return len(got) >= 4

            await eventually_async(arrived, what=f"request and decision, live and as alerts: {got}")
            for t in tasks:
                t.cancel()
            return got

    got = asyncio.run(watch())
    request_id = got[0].get("id") or got[0]["subject"]
    # Live from the committed events, and to the owners (old and new) as alerts.
    assert {"id": request_id, "state": "PENDING", "kind": "OWNER"} in got
    assert {"id": request_id, "state": "APPROVED", "kind": "OWNER"} in got
    assert {"kind": "CHANGE_REQUEST", "status": "OPEN", "subject": request_id} in got
    assert {"kind": "CHANGE_REQUEST", "status": "RESOLVED", "subject": request_id} in got
    assert ok(service, "viewer", CURRENT, p=pipe)["pipeline"]["owner"] == {"id": "team:platform"}

    sla = ok(service, "admin", SET_SLA, p=pipe, sla={"maxTokens": 10})["setSla"]
    assert sla["sla"] is None and sla["pendingChanges"][0]["kind"] == "SLA"
    ok(service, "reviewer", REJECT, id=sla["pendingChanges"][0]["id"], c="too tight")
    assert ok(service, "viewer", CURRENT, p=pipe)["pipeline"]["sla"] is None
    # Ungated again: applies at once.
    ok(service, "admin", POLICY, p=pipe, g=[])
    assert ok(service, "admin", SET_SLA, p=pipe, sla={"maxTokens": 20})["setSla"]["sla"] == {
        "maxTokens": 20
    }

    before, governance_before = snapshot(clean_graph), governance_state(clean_graph)
    labels = {n[0] for n in before[0]}
    assert ("ChangeRequest",) in labels and ("GatePolicy",) in labels
    wipe_all_but_event_log(clean_graph)
    rebuild(neo4j_settings)
    assert snapshot(clean_graph) == before
    # The audit entries of policies, requests and decisions too (the redaction policy's
    # seed is not an event: test_replay.py covers it).
    assert governance_state(clean_graph)[1] == governance_before[1]


def test_a_change_request_alert_reaches_the_owners_subscribers_on_another_replica(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    # Issue 20: alerts travel between replicas by id (LiveNotes); a change request's id is
    # looked up as one (with the owners it goes to), not as a breach (which found nothing).
    a, b = make_service(), make_service()
    pipe = unique("relayed")
    define(a, pipe, V1)
    ok(a, "admin", POLICY, p=pipe, g=["OWNERS"])
    alerts = gql('subscription { alerts(owner: "team:search") { kind status subject } }')

    async def watch() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with session(b, role="viewer") as s:

            async def listen() -> None:
                async for result in s.subscribe(alerts):
                    got.append(result["alerts"])

            task = asyncio.create_task(listen())
            await until_subscribed(b, 1, alerts=True)
            await asyncio.to_thread(ok, a, "admin", SET_OWNER, p=pipe, o="team:platform")

            def arrived() -> bool:
                if task.done():
                    task.result()
                return bool(got)

            await eventually_async(arrived, what="the change request's alert on replica B")
            task.cancel()
        return got

    [alert] = asyncio.run(watch())
    assert alert["kind"] == "CHANGE_REQUEST" and alert["status"] == "OPEN"
