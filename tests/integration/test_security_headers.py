"""Security headers on every HTTP answer (issue 14): the dashboard keeps a credential in
browser storage, so its page allows only the service's own scripts and styles and may
not be framed; every other answer forbids everything a browser could do with it.

The browser side (the dashboard still works under its policy, an injected inline script
is refused) is in tests/browser/test_dashboard.py.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from neo4j import Driver

from tests.conftest import RunningService

COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def directives(resp: httpx.Response) -> dict[str, list[str]]:
    policy = resp.headers.get("content-security-policy")
    assert policy, f"{resp.request.url} has no Content-Security-Policy"
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def assert_common(resp: httpx.Response) -> None:
    for name, value in COMMON.items():
        assert resp.headers.get(name) == value, (resp.request.url, name, resp.headers.get(name))


def test_the_dashboard_page_allows_only_its_own_scripts_and_no_framing(
    service: RunningService,
) -> None:
    with service.client(None) as anon:
        for path in ("/", "/runs/some-run", "/lineage"):
            page = anon.get(path)
            assert page.status_code == 200
            assert_common(page)
            csp = directives(page)
            assert csp["default-src"] == ["'self'"]
            assert csp["script-src"] == ["'self'"]  # no inline scripts, no eval, no CDN
            assert csp["style-src"] == ["'self'"]
            assert csp["connect-src"] == ["'self'"]  # /graphql and its WebSocket
            assert csp["frame-ancestors"] == ["'none'"]
            assert csp["object-src"] == ["'none'"]
            assert csp["base-uri"] == ["'none'"]
        module = anon.get("/static/app/main.js")
        assert module.status_code == 200
        assert_common(module)


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("GET", "/healthz", None),
        ("POST", "/graphql", "viewer"),
        ("POST", "/graphql", None),  # 401
        ("GET", "/v1/quarantine", "viewer"),  # 403
        ("GET", "/metrics", "admin"),
        ("GET", "/openapi.json", "admin"),
        ("GET", "/no-such-path", None),  # 404
    ],
)
def test_every_other_answer_forbids_everything(
    service: RunningService, method: str, path: str, role: str | None
) -> None:
    with service.client(role) as http:
        resp = http.request(method, path, json={"query": "{ overview { lastSeq } }"})
    assert_common(resp)
    assert directives(resp) == {
        "default-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }


def test_graphiql_and_the_api_docs_get_their_own_policies_in_development(
    service: RunningService,
) -> None:
    with service.client(None) as anon:
        graphiql = anon.get("/graphql", headers={"accept": "text/html"})
    assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()
    assert_common(graphiql)
    csp = directives(graphiql)
    # strawberry's GraphiQL page loads React and GraphiQL from unpkg with inline glue.
    assert "https://unpkg.com" in csp["script-src"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    with service.client("viewer") as http:
        docs = http.get("/docs")
    assert docs.status_code == 200
    assert_common(docs)
    csp = directives(docs)
    assert "https://cdn.jsdelivr.net" in csp["script-src"]
    assert csp["frame-ancestors"] == ["'none'"]


def test_websocket_upgrades_still_work_behind_the_headers(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    import asyncio
    import json

    import websockets

    svc = make_service()

    async def ack() -> str:
        url = svc.base_url.replace("http", "ws") + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": svc.headers()}))
            return json.loads(await ws.recv())["type"]  # type: ignore[no-any-return]

    assert asyncio.run(ack()) == "connection_ack"
