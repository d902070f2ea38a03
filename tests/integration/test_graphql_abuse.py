"""Abuse of the GraphQL HTTP surface (issue 14): invalid documents are not free, the
schema does not leak in production, and broken bodies get a clear 4xx, never a 500.

Each test runs against the real service (uvicorn in a thread) over a real Neo4j.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import websockets
from graphql.validation import ValidationContext
from neo4j import Driver

from tests.conftest import RunningService

SUGGESTION = re.compile(r"did you mean", re.IGNORECASE)


def gql(http: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
    return http.post("/graphql", json={"query": query, "variables": variables or {}})


@pytest.fixture
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """Records uvicorn and starlette log for unhandled exceptions (500 + traceback)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.ERROR)
    loggers = [logging.getLogger(n) for n in ("uvicorn.error", "uvicorn", "starlette", "")]
    for logger in loggers:
        logger.addHandler(handler)
    yield records
    for logger in loggers:
        logger.removeHandler(handler)


# --- 1. invalid documents count, and validation cost is bounded ----------------------


def test_a_burst_of_invalid_queries_is_rate_limited(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(rate_limit="5/10 seconds")
    invalid = [
        "{ noSuchField }",  # fails validation
        "{ overview { activeRuns ",  # fails parsing
        "query { overview { activeRuns } } query { overview { lastSeq } }",  # ambiguous
        "{ overview { noSuchField } }",
        '{ pipelines(first: "x") { edges { cursor } } }',
    ]
    with svc.client() as http:
        for doc in invalid:
            resp = gql(http, doc)
            assert resp.status_code == 200, resp.text
            assert resp.json()["errors"], resp.text
        over = gql(http, "{ noSuchField }")
        assert over.status_code == 429, over.text
        assert 1 <= int(over.headers["Retry-After"]) <= 10
        (err,) = over.json()["errors"]
        assert err["extensions"]["code"] == "RATE_LIMITED"
        assert err["extensions"]["bucket"] == "read"
        # A valid query of the same principal is refused too: the budget is shared.
        assert gql(http, "{ overview { lastSeq } }").status_code == 429


def test_a_request_without_a_document_counts_too(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(rate_limit="3/10 seconds")
    with svc.client() as http:
        for _ in range(3):
            assert http.post("/graphql", json={"query": None}).status_code == 400
        assert gql(http, "{ overview { lastSeq } }").status_code == 429


def test_refused_bodies_count_too(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(rate_limit="3/10 seconds")
    with svc.client() as http:
        for body in (b"{not json", b"[]", b"\xff"):
            resp = http.post("/graphql", content=body, headers={"content-type": "application/json"})
            assert resp.status_code == 400, resp.text
        over = http.post("/graphql", content=b"[]", headers={"content-type": "application/json"})
        assert over.status_code == 429, over.text
        assert 1 <= int(over.headers["Retry-After"]) <= 10
        assert gql(http, "{ overview { lastSeq } }").status_code == 429


async def _subscribe_error(svc: RunningService, query: str) -> list[dict[str, Any]]:
    """The ``error`` payload a graphql-transport-ws subscribe gets."""
    url = svc.base_url.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": svc.headers()}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert msg["type"] == "error" and msg["id"] == "1", msg
    return msg["payload"]  # type: ignore[no-any-return]


async def test_websocket_subscriptions_get_the_field_limit_and_hidden_suggestions(
    clean_graph: Driver, make_service: Callable[..., RunningService], validations: list[int]
) -> None:
    prod = make_service(mode="production")
    wide = "subscription { events { " + " ".join(["seq"] * 201) + " } }"
    (err,) = await _subscribe_error(prod, wide)
    assert err["extensions"] == {"code": "TOO_MANY_FIELDS", "fields": 202, "limit": 200}
    assert validations == []
    errors = await _subscribe_error(prod, "subscription { events { sequ } }")
    assert errors and not any(SUGGESTION.search(e["message"]) for e in errors), errors


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often graphql-core's validation ran (one ValidationContext per run)."""
    calls: list[int] = []
    original = ValidationContext.__init__

    def counting(self: ValidationContext, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ValidationContext, "__init__", counting)
    return calls


def test_a_900_field_query_is_refused_before_validation(
    service: RunningService, validations: list[int]
) -> None:
    # 900 fields in ~900 tokens: within the token limit (1000), so parsed in full.
    fields = " ".join(["activeRuns"] * 899)
    with service.client() as http:
        resp = gql(http, f"query Wide {{ overview {{ {fields} }} }}")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["data"] is None
        (err,) = body["errors"]
        assert err["message"] == (
            "the document selects 900 fields; the limit is 200 (ask for fewer fields, or "
            "split the query)"
        )
        assert err["extensions"] == {"code": "TOO_MANY_FIELDS", "fields": 900, "limit": 200}
        assert validations == [], "validation ran on a document over the field limit"
        # A fragment counts where it is written, once, however often it is spread.
        spread = "fragment O on Overview { " + " ".join(["activeRuns"] * 120) + " }"
        resp = gql(http, f"{{ overview {{ ...O }} a: overview {{ ...O }} }} {spread}")
        assert "errors" not in resp.json(), resp.text[:300]
        assert len(validations) == 1
        # Validation still runs on documents within the limit.
        resp = gql(http, "{ overview { noSuchField } }")
        assert resp.json()["errors"][0]["message"].startswith("Cannot query field")
        assert len(validations) == 2


def test_the_field_limit_is_a_setting(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(graphql_max_fields=3)
    with svc.client() as http:
        ok = gql(http, "{ overview { activeRuns lastSeq } }")
        assert ok.json() == {"data": {"overview": {"activeRuns": 0, "lastSeq": 0}}}
        over = gql(http, "{ overview { activeRuns lastSeq healthy } }")
        assert over.json()["errors"][0]["extensions"] == {
            "code": "TOO_MANY_FIELDS",
            "fields": 4,
            "limit": 3,
        }


# --- 2. no schema leaks in production --------------------------------------------------

# Each names something real only in its suggestion: a field, an argument, a type, an
# enum value (literal and variable) and an input field.
LEAKY = [
    ('{ pipline(name: "x") { name } }', None),
    ("{ runs(frist: 1) { edges { cursor } } }", None),
    ("{ pipelines { edges { node { ... on Pipline { name } } } } }", None),
    ('{ impact(kind: STEPP, key: "x") { truncated } }', None),
    ('query($k: NodeKind!) { impact(kind: $k, key: "x") { truncated } }', {"k": "STEPP"}),
    (
        'mutation($s: SLAInput!) { setSla(pipeline: "p", sla: $s) { name } }',
        {"s": {"maxDuration": 5}},
    ),
    ('mutation { setSla(pipeline: "p", sla: { maxDuration: 5 }) { name } }', None),
]


def test_production_errors_suggest_no_names(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    dev, prod = make_service(), make_service(mode="production")
    with dev.client() as dev_http, prod.client() as prod_http:
        for doc, variables in LEAKY:
            dev_errors = gql(dev_http, doc, variables).json()["errors"]
            assert any(SUGGESTION.search(e["message"]) for e in dev_errors), (doc, dev_errors)
            prod_errors = gql(prod_http, doc, variables).json()["errors"]
            assert prod_errors, doc
            for err in prod_errors:
                assert not SUGGESTION.search(err["message"]), (doc, err)


def test_the_api_docs_are_off_in_production(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    prod = make_service(mode="production")
    for role in (None, "admin"):
        with prod.client(role) as http:
            for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
                assert http.get(path).status_code == 404, (role, path)


def test_the_api_docs_need_a_credential_in_development(service: RunningService) -> None:
    with service.client(None) as anon:
        for path in ("/openapi.json", "/docs", "/redoc"):
            resp = anon.get(path)
            assert resp.status_code == 401, (path, resp.status_code)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    with service.client("viewer") as http:
        spec = http.get("/openapi.json")
        assert spec.status_code == 200
        assert "/v1/events" in spec.json()["paths"]
        assert http.get("/docs").status_code == 200


# --- 3. broken bodies: a clear 4xx, no traceback ---------------------------------------


def test_broken_graphql_bodies_get_a_clear_4xx_and_no_traceback(
    service: RunningService, server_errors: list[logging.LogRecord]
) -> None:
    query = json.dumps({"query": "{ overview { lastSeq } }"}).encode()
    deep = b"[" * 100_000 + b"]" * 100_000
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (b"{not json", {}, 400, "Unable to parse request body as JSON"),
        (b'"just a string"', {}, 400, "the request body must be a JSON object"),
        (b"42", {}, 400, "the request body must be a JSON object"),
        (b"[]", {}, 400, "the request body must be a JSON object"),
        (deep, {}, 400, "the request body is nested too deeply"),
        (b'{"query": "\xff\xfe{ overview }"}', {}, 400, "the request body is not valid UTF-8"),
        (
            gzip.compress(query),
            {"content-encoding": "gzip"},
            415,
            "Content-Encoding 'gzip' is not supported; send the body uncompressed",
        ),
        (gzip.compress(query), {}, 400, "the request body is not valid UTF-8"),
        (
            query,
            {"content-type": "text/plain"},
            415,
            "Content-Type 'text/plain' is not supported; send application/json",
        ),
        (
            json.dumps({"query": "{ overview { lastSeq } }", "variables": [1]}).encode(),
            {},
            400,
            "The GraphQL operation's `variables` must be an object or null, if provided.",
        ),
    ]
    with service.client() as http:
        for body, headers, status, message in cases:
            resp = http.post(
                "/graphql",
                content=body,
                headers={"content-type": "application/json", **headers},
            )
            assert resp.status_code == status, (body[:40], resp.status_code, resp.text[:200])
            assert message in resp.text, (body[:40], resp.text[:200])
            assert "Traceback" not in resp.text
        # A GraphQL document nested too deeply for the parser: a GraphQL error, no 500.
        nested = gql(http, "{ overview " + "{ a " * 3_000 + "}" * 3_001)
        assert nested.status_code in (200, 400), nested.text[:200]
        assert nested.json()["errors"], nested.text[:200]
        # The service still answers normally.
        assert gql(http, "{ overview { lastSeq } }").json() == {
            "data": {"overview": {"lastSeq": 0}}
        }
    # uvicorn logs a traceback after the response is sent: stopping the server waits
    # for every request it handled, so all it could log is in by then.
    service.__exit__(None, None, None)
    tracebacks = [r for r in server_errors if r.exc_info or "Traceback" in r.getMessage()]
    assert tracebacks == [], [r.getMessage() for r in tracebacks]


def test_pipeline_level_owner_and_sla_work_without_a_step(
    service: RunningService, example_events: list[dict]
) -> None:
    with service.client() as http:
        assert http.post("/v1/events", json=example_events[:1]).status_code == 200
        pipeline = example_events[0]["pipeline"]
        owner = gql(
            http,
            'mutation($p: String!) { setOwner(pipeline: $p, owner: "team:ops") '
            "{ name owner { id } } }",
            {"p": pipeline},
        ).json()
        assert owner == {"data": {"setOwner": {"name": pipeline, "owner": {"id": "team:ops"}}}}
        sla = gql(
            http,
            "mutation($p: String!) { setSla(pipeline: $p, sla: { maxDurationMs: 60000 }) "
            "{ name sla { id maxDurationMs } } }",
            {"p": pipeline},
        ).json()
        assert sla == {
            "data": {
                "setSla": {
                    "name": pipeline,
                    "sla": {"id": f"pipeline:{pipeline}", "maxDurationMs": 60000},
                }
            }
        }
        # An unknown pipeline is a precise error, not an internal one.
        unknown = gql(http, 'mutation { setOwner(pipeline: "nope", owner: "team:x") { name } }')
        (err,) = unknown.json()["errors"]
        assert err["message"] == "unknown pipeline 'nope'"
