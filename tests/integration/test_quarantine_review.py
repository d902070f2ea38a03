"""Quarantine review (issue 19 item 6): every resolution is audited with its actor, and
the GraphQL operations (quarantine, discardQuarantined, resubmitQuarantined) reuse the
HTTP routes' service. Against a real Neo4j and the real running service.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningService
from tests.support.live import log_event, unique

TRAIL = """query($target: String) {
  auditTrail(target: $target) { edges { node { actor action target before after } } }
}"""
PAGE = """query($status: QuarantineStatus, $first: Int, $after: String) {
  quarantine(status: $status, first: $first, after: $after) {
    edges { cursor node { id eventId reason principal pipeline receivedAt raw payload
                          resolvedAt resolvedBy resolution discardReason resolvedSeq } }
    pageInfo { hasNextPage endCursor }
  }
}"""
DISCARD = """mutation($id: ID!, $reason: String!) {
  discardQuarantined(id: $id, reason: $reason) { id resolution discardReason resolvedBy }
}"""
RESUBMIT = """mutation($id: ID!, $event: JSON) {
  resubmitQuarantined(id: $id, event: $event) {
    seq accepted duplicates entry { id resolution resolvedSeq resolvedBy }
  }
}"""


def gql(service: RunningService, query: str, role: str = "reviewer", **variables: Any) -> dict:
    with service.client(role) as http:
        return http.post("/graphql", json={"query": query, "variables": variables}).json()


def ok(service: RunningService, query: str, role: str = "reviewer", **variables: Any) -> dict:
    body = gql(service, query, role, **variables)
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


def actor(service: RunningService, role: str) -> str:
    return str(ok(service, "{ me { actor } }", role)["me"]["actor"])


def quarantine_broken(service: RunningService, pipeline: str, n: int) -> list[dict[str, Any]]:
    """``n`` log events with a bad level, quarantined; their open entries, oldest first."""
    events = [log_event(pipeline, i) for i in range(n)]
    for ev in events:
        ev["data"]["level"] = "loud"  # not a log level
    with service.client("ingester") as http:
        resp = http.post("/v1/events", json=events)
    assert resp.status_code == 207, resp.text
    with service.client("reviewer") as http:
        items = http.get("/v1/quarantine", params={"limit": 500}).json()["items"]
    mine = [e for e in items if (e.get("payload") or {}).get("pipeline") == pipeline]
    assert len(mine) == n, items
    return mine


def trail(service: RunningService, entry_id: str) -> list[dict[str, Any]]:
    edges = ok(service, TRAIL, target=f"quarantine:{entry_id}")["auditTrail"]["edges"]
    return [e["node"] for e in edges]


def test_resubmitting_over_http_is_audited_with_the_actor(service: RunningService) -> None:
    [entry] = quarantine_broken(service, unique("q-http"), 1)
    fixed = {**entry["payload"], "data": {"level": "info", "message": "fixed"}}
    with service.client("reviewer") as http:
        resp = http.post(f"/v1/quarantine/{entry['id']}/resubmit", json=fixed)
    assert resp.status_code == 200, resp.text
    [audited] = trail(service, entry["id"])
    assert audited["actor"] == actor(service, "reviewer")
    assert audited["action"] == "quarantine.resubmitted"
    assert audited["before"]["reason"] == entry["reason"]
    assert audited["after"]["event_id"] == fixed["id"]
    assert audited["after"]["seq"] == resp.json()["seq"]
    assert resp.json()["entry"]["resolved_by"] == audited["actor"]


def test_discarding_over_http_needs_a_reason_and_is_audited(service: RunningService) -> None:
    [entry] = quarantine_broken(service, unique("q-discard"), 1)
    with service.client("reviewer") as http:
        refused = http.post(f"/v1/quarantine/{entry['id']}/discard", json={"reason": " "})
        done = http.post(f"/v1/quarantine/{entry['id']}/discard", json={"reason": "test noise"})
        again = http.post(f"/v1/quarantine/{entry['id']}/discard", json={"reason": "twice"})
    assert refused.status_code == 400 and "reason" in refused.json()["error"]
    assert done.status_code == 200, done.text
    assert done.json()["resolution"] == "discarded"
    assert again.status_code == 409
    [audited] = trail(service, entry["id"])
    assert (audited["action"], audited["actor"]) == (
        "quarantine.discarded",
        actor(service, "reviewer"),
    )
    assert audited["after"] == {"resolution": "discarded", "reason": "test noise"}


def test_graphql_lists_discards_and_resubmits(service: RunningService) -> None:
    pipeline = unique("q-gql")
    entries = quarantine_broken(service, pipeline, 3)
    first = ok(service, PAGE, status="OPEN", first=2)["quarantine"]
    assert first["pageInfo"]["hasNextPage"]
    nodes = [e["node"] for e in first["edges"]]
    rest = ok(service, PAGE, status="OPEN", first=50, after=first["pageInfo"]["endCursor"])
    nodes += [e["node"] for e in rest["quarantine"]["edges"]]
    mine = [n for n in nodes if n["pipeline"] == pipeline]
    assert [n["id"] for n in mine] == [e["id"] for e in entries]
    assert mine[0]["principal"].startswith("key:test-ingester-")
    assert "level" in mine[0]["reason"] and mine[0]["payload"]["data"]["level"] == "loud"

    # Still invalid: refused with the reason, nothing resolved, nothing audited.
    still = gql(service, RESUBMIT, id=mine[0]["id"])
    [error] = still["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "level" in error["message"]
    assert trail(service, mine[0]["id"]) == []

    fixed = {**mine[0]["payload"], "data": {"level": "warning", "message": "fixed"}}
    done = ok(service, RESUBMIT, id=mine[0]["id"], event=fixed)["resubmitQuarantined"]
    assert done["accepted"] == 1 and done["seq"] == done["entry"]["resolvedSeq"] > 0
    assert done["entry"]["resolution"] == "resubmitted"
    assert done["entry"]["resolvedBy"] == actor(service, "reviewer")

    gone = ok(service, DISCARD, id=mine[1]["id"], reason="duplicate of a fixed one")
    assert gone["discardQuarantined"]["resolution"] == "discarded"
    assert [a["action"] for a in trail(service, mine[1]["id"])] == ["quarantine.discarded"]

    blank = gql(service, DISCARD, id=mine[2]["id"], reason="")
    assert blank["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    unknown = gql(service, DISCARD, id="nope", reason="x")
    assert "no quarantine entry" in unknown["errors"][0]["message"]
    twice = gql(service, DISCARD, id=mine[1]["id"], reason="x")
    assert "already resolved" in twice["errors"][0]["message"]

    resolved = ok(service, PAGE, status="RESOLVED", first=50)["quarantine"]["edges"]
    assert {e["node"]["id"] for e in resolved} >= {mine[0]["id"], mine[1]["id"]}
    denied = gql(service, DISCARD, "viewer", id=mine[2]["id"], reason="x")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
