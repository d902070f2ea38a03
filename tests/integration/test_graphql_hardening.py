"""Hardened GraphQL: each limit hit by a malicious document, against the running service.

Depth, tokens, aliases, query cost, page-size caps, introspection and GraphiQL in
production, request body and WebSocket message limits, masked internal errors and the
Cypher transaction timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
import structlog
import websockets
from graphql import get_introspection_query
from neo4j import Driver

from tests.conftest import RunningService, free_port
from tracegraph.settings import Neo4jSettings, Settings

TRANSPORT_WS = "graphql-transport-ws"


def gql_post(
    svc: RunningService, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> httpx.Response:
    with svc.client() as http:
        return http.post("/graphql", json={"query": query, "variables": variables or {}}, **kw)


def only_error(resp: httpx.Response) -> dict[str, Any]:
    body = resp.json()
    assert body.get("data") is None, body
    assert len(body["errors"]) >= 1, body
    return body["errors"][0]  # type: ignore[no-any-return]


def codes(resp: httpx.Response) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in resp.json()["errors"]]


# --- document limits ---------------------------------------------------------------


def _nested(levels: int) -> str:
    inner = "key " + "dependsOn { " * (levels - 4) + "key" + " }" * (levels - 4)
    return f"query Deep {{ pipelines {{ edges {{ node {{ steps {{ {inner} }} }} }} }} }}"


def test_a_query_nested_too_deep_is_refused(
    service: RunningService, make_service: Callable[..., RunningService]
) -> None:
    resp = gql_post(service, _nested(14))
    assert resp.status_code == 200
    assert resp.json()["data"] is None
    errors = {e["extensions"]["code"]: e for e in resp.json()["errors"]}
    deep = errors["QUERY_TOO_DEEP"]
    assert deep["message"] == "operation 'Deep' is nested 14 levels deep; the limit is 12"
    assert deep["extensions"] == {"code": "QUERY_TOO_DEEP", "depth": 14, "limit": 12}
    # Depth alone (cost out of the way): 13 levels are refused, 12 are answered.
    cheap = make_service(graphql_max_cost=10**15)
    assert codes(gql_post(cheap, _nested(13))) == ["QUERY_TOO_DEEP"]
    assert gql_post(cheap, _nested(12)).json() == {"data": {"pipelines": {"edges": []}}}


def test_a_document_with_too_many_tokens_is_refused_before_parsing_it_all(
    service: RunningService,
) -> None:
    fields = " ".join(["activeRuns"] * 4_100)
    resp = gql_post(service, f"{{ overview {{ {fields} }} }}")
    err = only_error(resp)
    assert "Document contains more than 1000 tokens. Parsing aborted." in err["message"]


def test_an_alias_flood_is_refused(service: RunningService) -> None:
    flood = " ".join(f"a{i}: overview {{ activeRuns }}" for i in range(31))
    resp = gql_post(service, f"{{ {flood} }}")
    err = only_error(resp)
    assert err["message"] == "the operation uses 31 aliases; the limit is 30"
    assert err["extensions"]["code"] == "TOO_MANY_ALIASES"
    thirty = " ".join(f"a{i}: overview {{ activeRuns }}" for i in range(30))
    assert "errors" not in gql_post(service, f"{{ {thirty} }}").json()


def test_a_cost_bomb_is_refused_with_its_estimate_and_the_limit(service: RunningService) -> None:
    bomb = """{ pipelines(first: 200) { edges { node { name
        runs(first: 200) { id steps { id llmCalls { id prompt response model } } } } } } }"""
    resp = gql_post(service, bomb)
    err = only_error(resp)
    ext = err["extensions"]
    assert ext["code"] == "QUERY_TOO_COSTLY"
    assert ext["limit"] == 500_000
    # pipelines: 1 + 200 x (edges, node, name: 3 + runs: 1 + 200 x (id + steps: 1 + 10 x
    # (id + llmCalls: 1 + 10 x 4 fields))).
    assert ext["cost"] == 1 + 200 * (1 + 1 + 1 + 1 + 200 * (1 + 1 + 10 * (1 + 1 + 10 * 4)))
    assert err["message"].startswith(
        f"the operation has an estimated cost of {ext['cost']:,}; the limit is 500,000"
    )
    # A `first` given as a variable counts as the page-size cap (validation sees no values).
    var = gql_post(
        service,
        """query($n: Int) { pipelines(first: $n) { edges { node {
             runs(first: $n) { steps { llmCalls { id } } } } } } }""",
        {"n": 1},
    )
    assert codes(var) == ["QUERY_TOO_COSTLY"]


def test_a_fragment_fan_out_is_measured_once_per_fragment(service: RunningService) -> None:
    # 2^40 spreads of the last fragment: walking spreads naively never ends.
    frags = "\n".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    doc = "{ ...F0 }\n" + frags + "\nfragment F40 on Query { overview { activeRuns } }"
    started = time.monotonic()
    resp = gql_post(service, doc)
    assert time.monotonic() - started < 5
    err = only_error(resp)
    assert err["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert err["extensions"]["cost"] == 2**40 * 2
    # 3^80 spreads: the estimate saturates at 10^15 instead of growing without bound.
    frags = "\n".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} ...F{i + 1} }}" for i in range(80)
    )
    doc = "{ ...F0 }\n" + frags + "\nfragment F80 on Query { overview { activeRuns } }"
    err = only_error(gql_post(service, doc))
    assert err["extensions"]["cost"] == 10**15


def test_page_sizes_are_checked_and_capped(service: RunningService) -> None:
    neg = gql_post(service, "{ runs(first: -1) { edges { cursor } } }")
    assert only_error(neg)["message"] == "first must be >= 0 (got -1)"
    for field in ("events(first: -5) { seq }", "slaBreaches(first: -5) { id }"):
        err = only_error(gql_post(service, f"{{ {field} }}"))
        assert err["message"] == "first must be >= 0 (got -5)", field
    nested = gql_post(service, "{ pipelines { edges { node { runs(first: -2) { id } } } } }")
    assert nested.status_code == 200  # no pipelines yet: the nested argument is never read
    buckets = gql_post(
        service,
        """{ metrics(from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z",
             bucketSeconds: 1) { series { runs } } }""",
    )
    assert "at most 2000 buckets per series" in only_error(buckets)["message"]


def test_page_size_caps_hold_on_stored_data(
    service: RunningService, example_events: list[dict]
) -> None:
    with service.client() as http:
        assert http.post("/v1/events", json=example_events).status_code == 200
    capped = service.settings.max_page_size
    events = gql_post(service, "{ events(first: 100000) { seq } }").json()["data"]["events"]
    assert len(events) == min(capped, len(example_events))
    assert gql_post(service, "{ events(first: 0) { seq } }").json()["data"]["events"] == []


# --- introspection, GraphiQL ---------------------------------------------------------


def test_introspection_and_graphiql_are_off_in_production(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    prod = make_service(mode="production")
    for doc, field in (
        ("{ __schema { types { name } } }", "__schema"),
        ('{ __type(name: "Query") { fields { name } } }', "__type"),
        (get_introspection_query(), "__schema"),
    ):
        err = only_error(gql_post(prod, doc))
        assert err["message"] == (
            "GraphQL introspection has been disabled, but the requested query contained "
            f"the field '{field}'."
        )
    assert gql_post(prod, "{ __typename }").json() == {"data": {"__typename": "Query"}}
    with prod.client() as http:
        page = http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 404

    dev = make_service()
    assert "errors" not in gql_post(dev, "{ __schema { queryType { name } } }").json()
    with httpx.Client(base_url=dev.base_url) as anon:
        page = anon.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


# --- body and message sizes ------------------------------------------------------------


def test_an_oversized_graphql_body_is_refused_with_413(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(graphql_max_body_bytes=10_000)
    padding = "#" + "x" * 20_000 + "\n"
    body = json.dumps({"query": padding + "{ __typename }"}).encode()
    with svc.client() as http:
        resp = http.post("/graphql", content=body, headers={"content-type": "application/json"})
        assert resp.status_code == 413
        assert resp.json() == {
            "error": f"request body too large: {len(body)} bytes sent to /graphql, "
            "the limit is 10000"
        }

        def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
            for i in range(0, len(body), 4096):
                yield body[i : i + 4096]

        streamed = http.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert streamed.json() == {
            "error": "request body too large: more than 10000 bytes sent to /graphql, "
            "the limit is 10000"
        }
        small = http.post("/graphql", json={"query": "{ __typename }"})
        assert small.json() == {"data": {"__typename": "Query"}}


async def test_an_oversized_websocket_message_closes_the_socket(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(ws_max_message_bytes=4096)
    url = svc.base_url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=[TRANSPORT_WS]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": svc.headers()}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        big = {"id": "1", "type": "subscribe", "payload": {"query": "#" + "x" * 8000}}
        await ws.send(json.dumps(big))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_document_limits_apply_to_subscriptions_over_websocket(
    service: RunningService,
) -> None:
    url = service.base_url.replace("http", "ws") + "/graphql"
    flood = " ".join(f"a{i}: seq" for i in range(31))
    deep = "id pipeline { steps { " + "dependsOn { " * 10 + "key" + " }" * 10 + " } }"
    async with websockets.connect(url, subprotocols=[TRANSPORT_WS]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": service.headers()}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for op_id, query in (
            ("flood", f"subscription {{ events {{ {flood} }} }}"),
            ("deep", f"subscription {{ runUpdated {{ {deep} }} }}"),
        ):
            await ws.send(
                json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}})
            )
            msg = json.loads(await ws.recv())
            assert msg["type"] == "error" and msg["id"] == op_id, msg
            found = {e["extensions"]["code"] for e in msg["payload"]}
            assert {"flood": "TOO_MANY_ALIASES", "deep": "QUERY_TOO_DEEP"}[op_id] in found, msg


# --- masking, timeouts -------------------------------------------------------------------


def _jwt(secret: str, role: str = "admin") -> str:
    claims = {"sub": "ops@example.com", "roles": [role], "exp": int(time.time()) + 600}
    return jwt.encode(claims, secret, algorithm="HS256")


def test_a_database_outage_is_a_retryable_error_logged_with_its_id() -> None:
    # Neo4j "down": the service points at a closed port; people sign in with JWTs. An
    # outage is no bug: the client gets a retryable code (it was "Unexpected error."),
    # still without internals, and the operator finds the cause under the errorId.
    secret = "s" * 32
    settings = Settings(
        neo4j=Neo4jSettings(
            uri=f"bolt://127.0.0.1:{free_port()}",
            connection_timeout_s=1.0,
            connection_acquisition_timeout_s=1.0,
        ),
        jwt_hs256_secret=secret,
    )
    with (
        RunningService(settings, wait_ready=False) as svc,  # no database at all
        httpx.Client(base_url=svc.base_url, timeout=60) as http,
        structlog.testing.capture_logs() as logs,
    ):
        resp = http.post(
            "/graphql",
            json={"query": "{ runs { edges { node { id } } } }"},
            headers={"Authorization": f"Bearer {_jwt(secret)}"},
        )
    assert resp.status_code == 200
    err = only_error(resp)
    assert err["path"] == ["runs"]
    assert err["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert err["extensions"]["retryAfter"] == settings.retry_after_s
    assert "retry" in err["message"].lower()
    text = resp.text.lower()
    for leak in ("neo4j", "bolt", "127.0.0.1", "connect", "traceback", "serviceunavailable"):
        assert leak not in text, leak
    logged = [e for e in logs if e.get("error_id") == err["extensions"]["errorId"]]
    assert len(logged) == 1
    assert "ServiceUnavailable" in logged[0]["error"]


def test_an_internal_error_is_masked_and_logged_with_its_id(service: RunningService) -> None:
    # A bug (here: one injected into the read the resolver calls) is masked.
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug at 127.0.0.1: MATCH (n) secret internals")

    service.app.state.services.reads.runs_page = broken
    with structlog.testing.capture_logs() as logs:
        resp = gql_post(service, "{ runs { edges { node { id } } } }")
    err = only_error(resp)
    assert err["message"] == "Unexpected error."
    assert err["path"] == ["runs"]
    assert set(err["extensions"]) == {"code", "errorId"}
    assert err["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    for leak in ("127.0.0.1", "match", "secret", "traceback", "runtimeerror"):
        assert leak not in resp.text.lower(), leak
    logged = [e for e in logs if e.get("error_id") == err["extensions"]["errorId"]]
    assert len(logged) == 1
    assert logged[0]["event"] == "graphql.internal_error"
    assert "RuntimeError" in logged[0]["error"]


def _layered_dag(pipeline: str, layers: int, width: int) -> dict[str, Any]:
    """A pipeline whose steps form a dense layered DAG: every step depends on every step
    of the layer above, so there are width^(layers-1) dependency paths."""
    steps = []
    for layer in range(layers):
        for i in range(width):
            step: dict[str, Any] = {"key": f"l{layer}-{i}", "kind": "transform"}
            if layer:
                step["depends_on"] = [f"l{layer - 1}-{j}" for j in range(width)]
            steps.append(step)
    return {
        "id": f"{pipeline}-defined",
        "type": "pipeline.defined",
        "time": "2026-11-20T02:00:00Z",
        "source": "test/hardening",
        "pipeline": pipeline,
        "data": {"version": "1", "steps": steps},
    }


def test_a_query_over_the_transaction_timeout_is_cancelled_with_a_clear_error(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(query_timeout_s=1.0)
    with svc.client() as http:
        resp = http.post("/v1/events", json=[_layered_dag("dag", layers=18, width=4)])
        assert resp.status_code == 200, resp.text
        # The blast radius of the top step walks every dependency path below it.
        started = time.monotonic()
        resp = http.post(
            "/graphql",
            json={"query": '{ impact(kind: STEP, key: "dag/l0-0") { steps { key } } }'},
        )
        elapsed = time.monotonic() - started
    err = only_error(resp)
    assert err["message"] == (
        "The query ran longer than the 1 s limit and was cancelled; ask for less "
        "(smaller first, depth or time range) and retry."
    )
    assert err["extensions"]["code"] == "QUERY_TIMEOUT"
    assert len(err["extensions"]["errorId"]) == 16
    assert elapsed < 15  # cancelled by Neo4j, not left to run
