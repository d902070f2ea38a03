"""The role x operation matrix, over HTTP and over WebSocket, against a running service.

The expected table is written out here from the issue's role definitions (not derived
from the code's own role table), so a wrong grant in the code fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from typing import Any

import httpx
import jwt
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import RunningService
from tests.support.live import LEGACY_WS, TRANSPORT_WS, log_event, unique, until_subscribed, ws_url
from tracegraph.settings import REPO_ROOT

ROLES = ("viewer", "reviewer", "ingester", "admin", "operator", "executor")
READERS = {"viewer", "reviewer", "admin", "operator"}
REVIEWERS = {"reviewer", "admin"}
INGESTERS = {"ingester", "admin", "executor"}
ADMINS = {"admin"}
# Issue 18: operators act on pipelines (and read); executors receive and settle commands.
OPERATORS = {"operator", "admin"}
EXECUTORS = {"executor", "admin"}
_K = 'idempotencyKey: "matrix"'

# operation -> (GraphQL document, roles allowed)
GRAPHQL_OPERATIONS: dict[str, tuple[str, set[str]]] = {
    "overview": ("{ overview { activeRuns lastSeq } }", READERS),
    "pipelines": ("{ pipelines { edges { node { name } } } }", READERS),
    "pipeline": ('{ pipeline(name: "rag-nightly") { name } }', READERS),
    "runs": ("{ runs(first: 5) { edges { node { id status } } } }", READERS),
    "run": ('{ run(id: "run-rag-0001") { id } }', READERS),
    "lineage": (
        '{ lineage(uri: "s3://corpus/chunks", direction: UPSTREAM) { truncated } }',
        READERS,
    ),
    "impact": ('{ impact(kind: PIPELINE, key: "rag-nightly") { truncated } }', READERS),
    # Columns (issue 22): column-level lineage and impact, fields, schema changes.
    "lineage field": (
        '{ lineage(uri: "s3://corpus/chunks", field: "text") { truncated } }',
        READERS,
    ),
    "impact field": (
        '{ impact(kind: ARTIFACT, key: "s3://corpus/chunks", field: "text") { truncated } }',
        READERS,
    ),
    "artifactFields": ('{ artifactFields(uri: "s3://corpus/chunks") { versionId } }', READERS),
    "schemaChanges": ('{ schemaChanges(uri: "s3://corpus/chunks") { versionId } }', READERS),
    "events": ("{ events(first: 2) { seq type } }", READERS),
    "metrics": (
        '{ metrics(from: "2026-01-01T00:00:00Z", to: "2026-12-31T00:00:00Z") { totals { runs } } }',
        READERS,
    ),
    "costBreakdown": (
        '{ costBreakdown(by: MODEL, from: "2026-01-01T00:00:00Z", '
        'to: "2026-12-31T00:00:00Z") { key } }',
        READERS,
    ),
    "slaBreaches": ("{ slaBreaches { id } }", READERS),
    "snapshots": ('{ snapshots(entities: ["run:run-rag-0001"]) { version digest } }', READERS),
    "digestCheck": (
        '{ digestCheck(digests: [{entity: "run:x", version: 0, digest: "0"}]) { status } }',
        READERS,
    ),
    "me": ("{ me { actor roles } }", set(ROLES)),
    "apiKeys": ("{ apiKeys { id name } }", ADMINS),
    "ingestEvents": ("mutation($e: [JSON!]!) { ingestEvents(events: $e) { accepted } }", INGESTERS),
    "createApiKey": (
        'mutation($n: String!) { createApiKey(name: $n, role: "viewer") { key } }',
        ADMINS,
    ),
    # Issue 19: write scopes of ingest keys are set and shown by admins only.
    "createApiKey with scopes": (
        'mutation($n: String!) { createApiKey(name: $n, role: "ingester", scopes: ["rag-*"]) '
        "{ record { scopes } } }",
        ADMINS,
    ),
    "apiKeys scopes": ("{ apiKeys { id scopes } }", ADMINS),
    "acknowledgeBreach": ('mutation { acknowledgeBreach(id: "no-such-breach") { id } }', REVIEWERS),
    "resolveBreach": ('mutation { resolveBreach(id: "no-such-breach") { id } }', REVIEWERS),
    "auditTrail": ("{ auditTrail(first: 5) { edges { node { action actor } } } }", REVIEWERS),
    # Issue 19 item 6: the quarantine review screen's operations.
    "quarantine": ("{ quarantine(first: 5) { edges { node { id reason } } } }", REVIEWERS),
    "discardQuarantined": (
        'mutation { discardQuarantined(id: "no-such-entry", reason: "matrix") { id } }',
        REVIEWERS,
    ),
    "resubmitQuarantined": (
        'mutation { resubmitQuarantined(id: "no-such-entry") { seq } }',
        REVIEWERS,
    ),
    # Issue 19 item 7: point-in-time views.
    "runTimeline": ('{ runTimeline(id: "run-rag-0001") { seq } }', READERS),
    "run(asOfSeq)": ('{ run(id: "run-rag-0001", asOfSeq: 5) { id status asOfSeq } }', READERS),
    "pipeline(asOfSeq)": ('{ pipeline(name: "rag-nightly", asOfSeq: 5) { version } }', READERS),
    "redactionPolicy": ("{ redactionPolicy { version builtins } }", ADMINS),
    "setRedactionPolicy": (
        'mutation { setRedactionPolicy(builtins: ["email"], customRules: []) { version } }',
        ADMINS,
    ),
    "setOwner": (
        'mutation { setOwner(pipeline: "rag-nightly", owner: "team:search") { name } }',
        ADMINS,
    ),
    # Erasure (docs/retention.md): admin:erase, admins only.
    "eraseSubject": ('mutation { eraseSubject(subject: "user-4711") { nodes } }', ADMINS),
    "setSla": (
        'mutation { setSla(pipeline: "rag-nightly", sla: {maxTokens: 100000}) { name } }',
        ADMINS,
    ),
    "command": ('{ command(id: "no-such-command") { id state } }', READERS),
    "commands": ("{ commands(first: 5) { id state } }", READERS),
    "pauseRun": (f'mutation {{ pauseRun(run: "run-rag-0001", {_K}) {{ id }} }}', OPERATORS),
    "resumeRun": (f'mutation {{ resumeRun(run: "run-rag-0001", {_K}) {{ id }} }}', OPERATORS),
    "cancelRun": (f'mutation {{ cancelRun(run: "run-rag-0001", {_K}) {{ id }} }}', OPERATORS),
    "retry": (f'mutation {{ retry(run: "run-rag-0001", {_K}) {{ id }} }}', OPERATORS),
    "startRun": (f'mutation {{ startRun(pipeline: "rag-nightly", {_K}) {{ id }} }}', OPERATORS),
    "pauseRuns": (f'mutation {{ pauseRuns(runs: ["no-such"], {_K}) {{ id }} }}', OPERATORS),
    "resumeRuns": (f'mutation {{ resumeRuns(runs: ["no-such"], {_K}) {{ id }} }}', OPERATORS),
    "cancelRuns": (f'mutation {{ cancelRuns(runs: ["no-such"], {_K}) {{ id }} }}', OPERATORS),
    "retryRuns": (f'mutation {{ retryRuns(runs: ["no-such"], {_K}) {{ id }} }}', OPERATORS),
    "startRuns": (
        f'mutation {{ startRuns(pipeline: "no-such", paramSets: [{{}}], {_K}) {{ id }} }}',
        OPERATORS,
    ),
    # Definitions as YAML: reading and validating need read; submitting needs operate
    # (a text that is not valid YAML: allowed roles get BAD_USER_INPUT, nothing stored).
    "pipelineDefinition": ('{ pipelineDefinition(pipeline: "rag-nightly") { yaml } }', READERS),
    "validateDefinition": (
        '{ validateDefinition(pipeline: "rag-nightly", yaml: "steps: [") { valid } }',
        READERS,
    ),
    "submitDefinition": (
        'mutation { submitDefinition(pipeline: "rag-nightly", yaml: "steps: [") { version } }',
        OPERATORS,
    ),
    # Review finding: an owner or an SLA set by a definition needs what setOwner / setSla
    # need (each role defines a pipeline of its own, so each is a first definition).
    "submitDefinition setting an owner": (
        "mutation($p: String!) { submitDefinition(pipeline: $p, "
        'yaml: "owner: team:matrix\\nsteps: [{key: a}]") { version } }',
        ADMINS,
    ),
    "submitDefinition setting an SLA": (
        "mutation($p: String!) { submitDefinition(pipeline: $p, "
        'yaml: "sla: {max_tokens: 5}\\nsteps: [{key: a}]") { version } }',
        ADMINS,
    ),
    # Issue 19, approvals inside runs: reading them and trying a decision need read; who
    # may decide a given approval is its approvers list (test_approvals.py), so on an
    # unknown approval readers get BAD_USER_INPUT and the others FORBIDDEN.
    "approval": ('{ approval(id: "no-such-approval") { id state } }', READERS),
    "approvals": ("{ approvals(first: 5) { id state } }", READERS),
    "approveStep": ('mutation { approveStep(approvalId: "no-such") { id } }', READERS),
    "denyStep": ('mutation { denyStep(approvalId: "no-such", comment: "no") { id } }', READERS),
    # The governance gate: policies set by admin:policy, read by readers; requests
    # reviewed by changes:review (reviewer, admin); rollback needs operate.
    "gatePolicy": ('{ gatePolicy(pipeline: "rag-nightly") { gated inherited } }', READERS),
    "changeRequests": ("{ changeRequests(state: PENDING) { id } }", READERS),
    "pipeline versions": (
        '{ pipeline(name: "rag-nightly") { versions { version author } } }',
        READERS,
    ),
    "setGatePolicy": (
        'mutation { setGatePolicy(pipeline: "no-such-matrix", gated: []) { gated } }',
        ADMINS,
    ),
    "approveChange": ('mutation { approveChange(id: "no-such") { id } }', REVIEWERS),
    "rejectChange": ('mutation { rejectChange(id: "no-such", comment: "no") { id } }', REVIEWERS),
    "rollbackPipeline": (
        'mutation { rollbackPipeline(name: "rag-nightly", toVersion: "no-such") { version } }',
        OPERATORS,
    ),
    "acknowledgeCommand": (
        'mutation { acknowledgeCommand(id: "no-such", executor: "e") { id } }',
        EXECUTORS,
    ),
    "reportCommandOutcome": (
        'mutation { reportCommandOutcome(id: "no-such", executor: "e", outcome: DONE) { id } }',
        EXECUTORS,
    ),
}


def _variables(op: str, role: str) -> dict[str, Any]:
    if op == "ingestEvents":
        return {"e": [log_event(unique("matrix"), 0)]}
    if op.startswith("createApiKey"):
        return {"n": unique(f"made-by-{role}")}
    if op.startswith("submitDefinition "):
        return {"p": unique(f"matrix-{role}")}
    return {}


def _forbidden(body: dict[str, Any]) -> bool:
    return any(
        (e.get("extensions") or {}).get("code") == "FORBIDDEN" for e in body.get("errors") or []
    )


def test_graphql_over_http_role_matrix(service: RunningService, example_events: list) -> None:
    with service.client("admin") as admin:
        assert admin.post("/v1/events", json=example_events).status_code == 200
    mismatches = []
    for op, (document, allowed) in GRAPHQL_OPERATIONS.items():
        for role in ROLES:
            with service.client(role) as http:
                resp = http.post(
                    "/graphql", json={"query": document, "variables": _variables(op, role)}
                )
            assert resp.status_code == 200, (op, role, resp.text)
            body = resp.json()
            denied = _forbidden(body)
            if denied == (role in allowed):
                mismatches.append((op, role, "denied" if denied else "allowed", body))
            if denied:
                # A denial names the missing permission and leaks no data.
                assert (body.get("data") or {}).get(op) is None, (op, role, body)
    assert not mismatches, mismatches


def test_graphql_without_or_with_bad_credentials_is_401(service: RunningService) -> None:
    query = {"query": "{ overview { activeRuns } }"}
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "authentication required"),
        ({"Authorization": "Bearer tg_000000000000_" + "x" * 43}, "invalid or revoked"),
        ({"Authorization": "Bearer tg_short"}, "malformed API key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "authentication required"),
        ({"X-API-Key": "nonsense.jwt.value"}, "JWT"),
    ]
    for headers, message in cases:
        resp = httpx.post(f"{service.base_url}/graphql", json=query, headers=headers, timeout=30)
        assert resp.status_code == 401, (headers, resp.text)
        assert resp.headers["www-authenticate"].startswith("Bearer")
        assert message in resp.json()["error"], (headers, resp.json())


def test_x_api_key_header_is_accepted(service: RunningService) -> None:
    resp = httpx.post(
        f"{service.base_url}/graphql",
        json={"query": "{ me { actor roles } }"},
        headers={"X-API-Key": service.key("viewer")},
        timeout=30,
    )
    assert resp.status_code == 200
    me = resp.json()["data"]["me"]
    assert me["roles"] == ["viewer"] and me["actor"].startswith("key:test-viewer-")


# HTTP route -> (method, path, body kind, roles allowed); None = public.
ROUTES: dict[str, tuple[str, str, str, set[str] | None]] = {
    "events": ("POST", "/v1/events", "event", INGESTERS),
    "openlineage": ("POST", "/api/v1/lineage", "openlineage", INGESTERS),
    "openlineage batch": ("POST", "/api/v1/lineage/batch", "openlineage batch", INGESTERS),
    "otlp": ("POST", "/v1/traces", "otlp", INGESTERS),
    "quarantine": ("GET", "/v1/quarantine", "", REVIEWERS),
    # An allowed role reaches the handler: 404 for the unknown entry.
    "quarantine discard": ("POST", "/v1/quarantine/no-such-entry/discard", "discard", REVIEWERS),
    "commands long poll": ("GET", "/api/commands?pipelines=rag-nightly&wait=0", "", EXECUTORS),
    "prometheus": ("GET", "/metrics", "", READERS),
    "healthz": ("GET", "/healthz", "", None),
    "readyz": ("GET", "/readyz", "", None),
    "dashboard shell": ("GET", "/", "", None),
}


def _body(kind: str) -> dict[str, Any] | None:
    if kind == "event":
        return log_event(unique("route"), 0)
    if kind == "openlineage":
        return {
            "eventType": "START",
            "eventTime": "2026-11-20T02:00:00.000Z",
            "run": {"runId": "0191f1f0-0000-7000-8000-000000000001"},
            "job": {"namespace": "matrix", "name": "job"},
            "producer": "https://example.com/matrix",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        }
    if kind == "openlineage batch":
        return {"events": [_body("openlineage")]}
    if kind == "otlp":
        return {"resourceSpans": []}
    if kind == "discard":
        return {"reason": "matrix"}
    return None


def test_http_routes_role_matrix(service: RunningService) -> None:
    mismatches = []
    for name, (method, path, kind, allowed) in ROUTES.items():
        for role in (None, *ROLES):
            with service.client(role) as http:
                body = _body(kind)
                resp = http.request(method, path, json=body) if body else http.request(method, path)
            if allowed is None:
                ok = resp.status_code == 200
            elif role is None:
                ok = resp.status_code == 401
            elif role in allowed:
                ok = resp.status_code in (200, 207) or (
                    kind == "discard" and resp.status_code == 404
                )
            else:
                ok = resp.status_code == 403 and "lacks the" in resp.json()["error"]
            if not ok:
                mismatches.append((name, role, resp.status_code, resp.text[:200]))
    assert not mismatches, mismatches


# --- WebSocket ----------------------------------------------------------------------

EVENTS_SUB = "subscription($p: String) { events(afterSeq: 0, pipeline: $p) { seq type } }"


async def _ws_subscribe(
    service: RunningService,
    init_payload: dict[str, Any] | None,
    pipeline: str,
    query: str = EVENTS_SUB,
    **kw: Any,
) -> dict[str, Any]:
    """connection_init, then one subscription; the first answer (or the close)."""
    async with connect(ws_url(service), subprotocols=[TRANSPORT_WS], **kw) as ws:
        init: dict[str, Any] = {"type": "connection_init"}
        if init_payload is not None:
            init["payload"] = init_payload
        await ws.send(orjson.dumps(init).decode())
        try:
            ack = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        except ConnectionClosed as exc:
            return {"closed": exc.rcvd.code if exc.rcvd else None}
        assert ack["type"] == "connection_ack", ack
        payload = {"query": query, "variables": {"p": pipeline}}
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
        return orjson.loads(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[no-any-return]


async def test_websocket_role_matrix(service: RunningService) -> None:
    pipeline = unique("ws")
    with service.client("ingester") as http:
        assert http.post("/v1/events", json=[log_event(pipeline, 0)]).status_code == 200
    for role in ROLES:
        answer = await _ws_subscribe(
            service, {"Authorization": f"Bearer {service.key(role)}"}, pipeline
        )
        if role in READERS:
            assert answer["type"] == "next", (role, answer)
            assert answer["payload"]["data"]["events"]["type"] == "log"
        else:
            assert answer["type"] == "error", (role, answer)
            assert answer["payload"][0]["extensions"]["code"] == "FORBIDDEN"


DELTA_SUBS = {
    "runChanged": "subscription($p: ID!) { runChanged(run: $p) { entity version } }",
    "pipelineChanged": (
        "subscription($p: String!) { pipelineChanged(names: [$p]) { entity version } }"
    ),
    "breachChanged": (
        "subscription($p: String!) { breachChanged(known: [{entity: $p, version: 1}]) "
        "{ entity version } }"
    ),
}


@pytest.mark.parametrize("field", sorted(DELTA_SUBS))
async def test_websocket_delta_subscriptions_role_matrix(
    service: RunningService, field: str
) -> None:
    """Readers get the first (whole) document; every other role FORBIDDEN."""
    for role in ROLES:
        key = {"Authorization": f"Bearer {service.key(role)}"}
        entity = "breach:none" if field == "breachChanged" else unique("ws")
        answer = await _ws_subscribe(service, key, entity, DELTA_SUBS[field])
        if role in READERS:
            assert answer["type"] == "next", (role, answer)
            assert answer["payload"]["data"][field]["version"] == 0
        else:
            assert answer["type"] == "error", (role, answer)
            assert answer["payload"][0]["extensions"]["code"] == "FORBIDDEN"


COMMANDS_SUB = 'subscription { commands(pipelines: ["matrix"]) { id } }'


async def test_websocket_commands_subscription_role_matrix(service: RunningService) -> None:
    # Only executors (and admins) receive commands; the others are refused at once.
    for role in ROLES:
        async with connect(ws_url(service), subprotocols=[TRANSPORT_WS]) as ws:
            init = {"type": "connection_init", "payload": {"apiKey": service.key(role)}}
            await ws.send(orjson.dumps(init).decode())
            assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
            payload = {"query": COMMANDS_SUB}
            await ws.send(
                orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode()
            )
            if role in EXECUTORS:
                # Allowed: subscribed, nothing to say yet (no command).
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.5)
            else:
                answer = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                assert answer["type"] == "error", (role, answer)
                assert answer["payload"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    "init_payload",
    [None, {}, {"Authorization": "Bearer tg_000000000000_" + "y" * 43}, {"token": "garbage"}],
)
async def test_websocket_without_valid_credentials_is_closed_4403(
    service: RunningService, init_payload: dict[str, Any] | None
) -> None:
    answer = await _ws_subscribe(service, init_payload, unique("ws"))
    assert answer == {"closed": 4403}


async def test_websocket_credential_forms(service: RunningService) -> None:
    pipeline = unique("ws")
    with service.client("ingester") as http:
        http.post("/v1/events", json=[log_event(pipeline, 0)])
    key = service.key("viewer")
    for payload in ({"authorization": f"Bearer {key}"}, {"apiKey": key}, {"token": key}):
        answer = await _ws_subscribe(service, payload, pipeline)
        assert answer["type"] == "next", (payload, answer)


async def test_websocket_origin_allow_list(service: RunningService, make_service: Any) -> None:
    auth = {"Authorization": f"Bearer {service.key('viewer')}"}
    pipeline = unique("origin")
    with service.client("ingester") as http:
        http.post("/v1/events", json=[log_event(pipeline, 0)])
    # A foreign page in a browser: refused at the handshake.
    with pytest.raises(InvalidStatus) as refused:
        await _ws_subscribe(service, auth, pipeline, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    # The service's own origin (the dashboard) and non-browser clients (no Origin) pass.
    same = f"http://127.0.0.1:{service.port}"
    assert (await _ws_subscribe(service, auth, pipeline, origin=same))["type"] == "next"
    assert (await _ws_subscribe(service, auth, pipeline))["type"] == "next"
    # Configured origins are allowed, others still refused.
    other = make_service(allowed_origins=["https://ops.example.com"])
    auth2 = {"Authorization": f"Bearer {other.key('viewer')}"}
    ok = await _ws_subscribe(other, auth2, pipeline, origin="https://ops.example.com")
    assert ok["type"] == "next"
    with pytest.raises(InvalidStatus):
        await _ws_subscribe(other, auth2, pipeline, origin="https://ops.example.com.evil.io")


# --- WebSocket sessions and the credential's current state -----------------------------
# A socket is authorised against its credential's state now, not at connection_init:
# a JWT that expires closes it with 4401 at expiry, a revoked key closes it with 4403
# within the key cache TTL on every replica, and an operation sent after either is
# never run.

JWT_SECRET = "correct horse battery staple, long enough for HS256"
ALL_KEY_NAMES = "{ apiKeys(includeRevoked: true) { name } }"


def _jwt(roles: list[str], expires_in_s: float) -> str:
    claims = {"sub": "ana", "roles": roles, "exp": int(time.time() + expires_in_s)}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


async def _open(service: RunningService, credential: str, protocol: str = TRANSPORT_WS) -> Any:
    ws = await connect(ws_url(service), subprotocols=[protocol])
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {credential}"}}
    await ws.send(orjson.dumps(init).decode())
    ack = await _next_message(ws)
    assert ack["type"] == "connection_ack", ack
    return ws


async def _next_message(ws: Any) -> dict[str, Any]:
    """The next protocol message, past graphql-ws keep-alives ("ka")."""
    while True:
        message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        if message.get("type") != "ka":
            return message


def _start(protocol: str, op_id: str, query: str, variables: dict[str, Any]) -> str:
    kind = "subscribe" if protocol == TRANSPORT_WS else "start"
    payload = {"query": query, "variables": variables}
    return orjson.dumps({"id": op_id, "type": kind, "payload": payload}).decode()


async def _messages_until_closed(ws: Any, within_s: float) -> tuple[list[dict[str, Any]], int]:
    """Every message the socket receives until the server closes it, and the close code."""
    received: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(within_s):
            while True:
                message = orjson.loads(await ws.recv())
                if message.get("type") != "ka":
                    received.append(message)
    except ConnectionClosed as exc:
        return received, exc.rcvd.code if exc.rcvd else -1
    except TimeoutError:
        return received, -1


def _data_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("type") in ("next", "data")]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_websocket_jwt_expiry_closes_the_socket_4401(
    clean_graph: Any, make_service: Any, protocol: str
) -> None:
    svc = make_service(jwt_hs256_secret=JWT_SECRET, jwt_leeway_s=0)
    pipeline = unique("jwt-exp")
    with svc.client("ingester") as http:
        assert http.post("/v1/events", json=[log_event(pipeline, 0)]).status_code == 200
    token = _jwt(["admin"], expires_in_s=3)
    expires_at = int(time.time() + 3)
    ws = await _open(svc, token, protocol)
    await ws.send(_start(protocol, "1", EVENTS_SUB, {"p": pipeline}))
    first = await _next_message(ws)
    assert first["type"] in ("next", "data"), first  # streaming while the token is valid
    messages, code = await _messages_until_closed(ws, within_s=20)
    assert code == 4401, (code, messages)
    # Closed at expiry, not at some later housekeeping round.
    assert time.time() - expires_at < 3
    assert not _data_of(messages)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_websocket_operation_after_jwt_expiry_never_runs(
    clean_graph: Any, make_service: Any, protocol: str
) -> None:
    # The expiry close and a new operation race: whichever the server sees first, the
    # expired admin token must not mint a key.
    svc = make_service(jwt_hs256_secret=JWT_SECRET, jwt_leeway_s=0)
    ws = await _open(svc, _jwt(["admin"], expires_in_s=2), protocol)
    name = unique("minted-after-expiry")
    create = 'mutation($n: String!) { createApiKey(name: $n, role: "admin") { key } }'
    await asyncio.sleep(2.1)  # on purpose: exp is whole seconds, at most 2 s away: past it
    with contextlib.suppress(ConnectionClosed):
        await ws.send(_start(protocol, "1", create, {"n": name}))
    messages, code = await _messages_until_closed(ws, within_s=20)
    assert code == 4401, (code, messages)
    assert not _data_of(messages), messages
    with svc.client("admin") as http:
        keys = http.post("/graphql", json={"query": ALL_KEY_NAMES})
    names = [k["name"] for k in keys.json()["data"]["apiKeys"]]
    assert names and name not in names, keys.text


@pytest.mark.parametrize("revoked_by", ["another replica", "the CLI"])
async def test_websocket_key_revocation_closes_the_socket_4403_on_every_replica(
    clean_graph: Any, make_service: Any, neo4j_settings: Any, revoked_by: str
) -> None:

    ttl = 1.0
    svc = make_service(api_key_cache_ttl_s=ttl)
    pipeline = unique("revoked")
    key = svc.key("reviewer")
    ws = await _open(svc, key)
    await ws.send(_start(TRANSPORT_WS, "1", EVENTS_SUB, {"p": pipeline}))
    await until_subscribed(svc, 1)
    key_id = key.split("_")[1]
    if revoked_by == "another replica":
        other = make_service(api_key_cache_ttl_s=ttl)
        with other.client("admin") as http:
            revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { id } }"
            resp = http.post("/graphql", json={"query": revoke, "variables": {"id": key_id}})
        assert resp.json()["data"]["revokeApiKey"]["id"] == key_id, resp.text
    else:
        env = {**os.environ, "NEO4J_URI": neo4j_settings.uri}
        cli = [str(REPO_ROOT / ".venv" / "bin" / "tracegraph"), "keys", "revoke", key_id]
        done = await asyncio.to_thread(
            subprocess.run, cli, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    revoked_at = time.monotonic()
    messages, code = await _messages_until_closed(ws, within_s=15)
    assert code == 4403, (code, messages)
    # Within the cache TTL (plus one key read), not "whenever the client goes away".
    assert time.monotonic() - revoked_at < ttl + 2
    assert not _data_of(messages)


async def test_websocket_operation_after_key_revocation_never_runs(
    service: RunningService, example_events: list
) -> None:
    with service.client("admin") as admin:
        assert admin.post("/v1/events", json=example_events).status_code == 200
    key = service.key("reviewer")
    ws = await _open(service, key)
    with service.client("admin") as admin:
        revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { id } }"
        admin.post("/graphql", json={"query": revoke, "variables": {"id": key.split("_")[1]}})
    prompts = "{ events(first: 50) { seq type data } }"
    with contextlib.suppress(ConnectionClosed):
        await ws.send(_start(TRANSPORT_WS, "1", prompts, {}))
    messages, code = await _messages_until_closed(ws, within_s=15)
    assert code == 4403, (code, messages)
    assert not _data_of(messages), messages
