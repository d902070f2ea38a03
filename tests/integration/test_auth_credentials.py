"""API key lifecycle, the first-start admin key, the `keys` CLI, and JWT sign-in
(HS256 with a secret; RS256 from a JWKS URL or an OIDC issuer served over real HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from neo4j import Driver

from tests.conftest import REPO_ROOT, RunningService, free_port
from tests.support.cypher import fetch
from tests.support.eventually import eventually

ME = {"query": "{ me { actor kind roles } }"}


def _me(service: RunningService, credential: str) -> httpx.Response:
    return httpx.post(
        f"{service.base_url}/graphql",
        json=ME,
        headers={"Authorization": f"Bearer {credential}"},
        timeout=30,
    )


def _gql(service: RunningService, role: str, query: str, **variables: Any) -> dict[str, Any]:
    with service.client(role) as http:
        body = http.post("/graphql", json={"query": query, "variables": variables}).json()
    assert not body.get("errors"), body
    return body["data"]  # type: ignore[no-any-return]


def test_first_start_prints_one_admin_key_once(
    clean_graph: Driver,
    make_service: Callable[..., RunningService],
    capfd: pytest.CaptureFixture[str],
) -> None:
    first = make_service()
    printed: list[str] = []

    def keys_printed() -> list[str]:
        printed.extend(w for w in capfd.readouterr().err.split() if w.startswith("tg_"))
        return printed

    eventually(keys_printed, timeout=20, what="the admin key on stderr")
    assert len(printed) == 1, printed
    me = _me(first, printed[0]).json()["data"]["me"]
    assert me == {"actor": "key:bootstrap-admin", "kind": "api_key", "roles": ["admin"]}
    keys = fetch(clean_graph, "api_keys_stored")
    assert [(k["name"], k["role"]) for k in keys] == [("bootstrap-admin", "admin")]
    # Later starts against the same database print nothing and mint nothing.
    # Nothing to wait for: start-up waits for the schema task, which ends with the
    # bootstrap (runtime.py), so a key would be printed before make_service returns.
    make_service()
    assert "tg_" not in capfd.readouterr().err
    names = [k["name"] for k in fetch(clean_graph, "api_keys_stored")]
    assert names == ["bootstrap-admin"]


def test_key_lifecycle_hash_only_last_used_and_revocation(
    service: RunningService, clean_graph: Driver
) -> None:
    created = _gql(
        service,
        "admin",
        'mutation { createApiKey(name: "nightly-emitter", role: "ingester") '
        "{ key record { id name role createdBy lastUsedAt } } }",
    )["createApiKey"]
    key, record = created["key"], created["record"]
    assert record["role"] == "ingester" and record["lastUsedAt"] is None
    assert record["createdBy"].startswith("key:test-admin-")
    # Only a hash is stored: the secret appears in no property of any node.
    secret = key.split("_", 2)[2]
    stored = [k for k in fetch(clean_graph, "api_keys_stored") if k["id"] == record["id"]]
    assert stored and all(secret not in str(v) for v in stored[0]["p"].values())
    assert stored[0]["p"]["hash"] != secret
    # The key works, and its use is recorded (in the background).
    with httpx.Client(base_url=service.base_url, headers={"Authorization": f"Bearer {key}"}) as h:
        assert h.post("/v1/events", json=[]).status_code == 200

    def last_used() -> str | None:
        keys = _gql(service, "admin", "{ apiKeys { id lastUsedAt } }")["apiKeys"]
        return next(k["lastUsedAt"] for k in keys if k["id"] == record["id"])  # type: ignore[no-any-return]

    eventually(last_used, what="the key's lastUsedAt")
    # A second key with the same name is refused clearly.
    with service.client("admin") as http:
        dup = http.post(
            "/graphql",
            json={
                "query": 'mutation { createApiKey(name: "nightly-emitter", role: "viewer") {'
                " key } }"
            },
        ).json()
    assert "already exists" in dup["errors"][0]["message"]
    # Revoked: refused at once on this replica.
    revoked = _gql(
        service,
        "admin",
        "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt revokedBy } }",
        id=record["id"],
    )["revokeApiKey"]
    assert revoked["revokedAt"] and revoked["revokedBy"].startswith("key:test-admin-")
    with httpx.Client(base_url=service.base_url, headers={"Authorization": f"Bearer {key}"}) as h:
        resp = h.post("/v1/events", json=[])
    assert resp.status_code == 401 and "invalid or revoked" in resp.json()["error"]
    # A wrong secret for an existing id is refused the same way (no oracle).
    forged = f"tg_{record['id']}_" + "A" * 43
    assert _me(service, forged).status_code == 401
    # Revoked keys are listed only on request.
    assert record["id"] not in [
        k["id"] for k in _gql(service, "admin", "{ apiKeys { id } }")["apiKeys"]
    ]
    listed = _gql(service, "admin", "{ apiKeys(includeRevoked: true) { id } }")["apiKeys"]
    assert record["id"] in [k["id"] for k in listed]


def test_revocation_reaches_other_replicas_within_the_cache_ttl(
    service: RunningService, make_service: Callable[..., RunningService]
) -> None:
    other = make_service(api_key_cache_ttl_s=0.5)
    key = service.key("viewer")
    assert _me(other, key).status_code == 200  # cached on `other` now
    key_id = key.split("_")[1]
    _gql(service, "admin", "mutation($id: ID!) { revokeApiKey(id: $id) { id } }", id=key_id)
    # Refused once `other`'s cached verdict is older than its TTL (plus a poll's margin).
    eventually(lambda: _me(other, key).status_code == 401, timeout=0.5 + 0.5, interval=0.1)


def test_keys_cli_create_list_revoke(
    clean_graph: Driver, make_service: Callable[..., RunningService], neo4j_settings: Any
) -> None:
    # The CLI revokes in the database; the service notices within its key cache TTL.
    service = make_service(api_key_cache_ttl_s=0.5)
    env = {**os.environ, "NEO4J_URI": neo4j_settings.uri, "NEO4J_PASSWORD": neo4j_settings.password}
    cli = [str(REPO_ROOT / ".venv" / "bin" / "tracegraph"), "keys"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=120)

    made = run("create", "--role", "reviewer", "--name", "ana", "--quiet")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    me = _me(service, key).json()["data"]["me"]
    assert me == {"actor": "key:ana", "kind": "api_key", "roles": ["reviewer"]}
    bad = run("create", "--role", "owner", "--name", "x")
    assert bad.returncode == 2 and "unknown role 'owner'" in bad.stderr
    dup = run("create", "--role", "viewer", "--name", "ana")
    assert dup.returncode == 2 and "already exists" in dup.stderr
    listed = run("list")
    assert listed.returncode == 0 and "ana" in listed.stdout and "reviewer" in listed.stdout
    revoked = run("revoke", key.split("_")[1])
    assert revoked.returncode == 0, revoked.stderr
    # The CLI is another process: the service learns of it within its key-cache TTL.
    eventually(
        lambda: _me(service, key).status_code == 401,
        timeout=service.settings.api_key_cache_ttl_s + 1,
        interval=0.1,
        what="the revoked key refused",
    )
    missing = run("revoke", "000000000000")
    assert missing.returncode == 2 and "no API key" in missing.stderr


# --- JWT ------------------------------------------------------------------------------


def _token(key: Any, alg: str, **claims: Any) -> str:
    body = {"sub": "ana", "exp": int(time.time()) + 300, **claims}
    headers = {"kid": "k1"} if alg == "RS256" else None
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def test_hs256_jwts(make_service: Callable[..., RunningService], clean_graph: Driver) -> None:
    secret = "correct horse battery staple, long enough for HS256"
    svc = make_service(jwt_hs256_secret=secret, jwt_audience="tracegraph")
    good = _token(secret, "HS256", email="ana@example.com", roles=["reviewer"], aud="tracegraph")
    me = _me(svc, good).json()["data"]["me"]
    assert me == {"actor": "user:ana@example.com", "kind": "jwt", "roles": ["reviewer"]}
    refused = {
        "expired": _token(
            secret, "HS256", roles="viewer", aud="tracegraph", exp=int(time.time()) - 120
        ),
        "signature": _token(
            "another secret entirely, also long", "HS256", roles="viewer", aud="tracegraph"
        ),
        "audience": _token(secret, "HS256", roles="viewer", aud="someone-else"),
        "no role": _token(secret, "HS256", roles=["owner"], aud="tracegraph"),
        "none alg": jwt.encode(
            {"sub": "x", "roles": "admin", "aud": "tracegraph"}, None, algorithm="none"
        ),
    }
    expect = {
        "expired": "expired",
        "signature": "Signature verification failed",
        "audience": "Audience",
        "no role": "no Tracegraph role",
        "none alg": "not accepted",
    }
    for case, token in refused.items():
        resp = _me(svc, token)
        assert resp.status_code == 401, (case, resp.text)
        assert expect[case] in resp.json()["error"], (case, resp.json())


class _Issuer:
    """A tiny real OIDC issuer: discovery document and JWKS over HTTP."""

    def __init__(self) -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        docs = {
            "/.well-known/openid-configuration": {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/jwks",
            },
            "/jwks": {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]},
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                doc = docs.get(self.path)
                body = json.dumps(doc).encode()
                self.send_response(200 if doc else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def issuer() -> Iterator[_Issuer]:
    it = _Issuer()
    yield it
    it.server.shutdown()


@pytest.mark.parametrize("source", ["jwks_url", "oidc_issuer"])
def test_rs256_jwts_from_jwks_or_oidc_discovery(
    make_service: Callable[..., RunningService], clean_graph: Driver, issuer: _Issuer, source: str
) -> None:
    settings = (
        {"jwt_jwks_url": f"{issuer.url}/jwks", "jwt_issuer": issuer.url}
        if source == "jwks_url"
        else {"oidc_issuer": issuer.url}
    )
    svc = make_service(**settings)
    good = _token(issuer.private_key, "RS256", roles=["viewer", "reviewer"], iss=issuer.url)
    me = _me(svc, good).json()["data"]["me"]
    assert me == {"actor": "user:ana", "kind": "jwt", "roles": ["reviewer", "viewer"]}
    wrong_issuer = _token(issuer.private_key, "RS256", roles="viewer", iss="https://elsewhere")
    assert "issuer" in _me(svc, wrong_issuer).json()["error"].lower()
    # An HS256 token cannot pass where only RS256 is configured (no alg confusion).
    hs = _token("a shared secret that nobody configured", "HS256", roles="admin", iss=issuer.url)
    assert "not accepted" in _me(svc, hs).json()["error"]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = _token(other_key, "RS256", roles="admin", iss=issuer.url)
    assert _me(svc, forged).status_code == 401


def test_jwts_refused_when_not_configured(service: RunningService) -> None:
    token = _token("some secret that is long enough", "HS256", roles="admin")
    resp = _me(service, token)
    assert resp.status_code == 401 and "JWT sign-in is not configured" in resp.json()["error"]
