"""How the service is wired: every store under the query timeout, errors typed in one place.

Against a real Neo4j and the real running service.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import time
import typing
from collections.abc import Callable
from pathlib import Path

import httpx
from neo4j import Driver

import tracegraph.api
import tracegraph.store
from tests.conftest import RunningService
from tests.support import cypher as statements
from tests.support.eventually import eventually
from tracegraph.runtime import Services

PIPE = "rag-nightly"
SET_OWNER = """mutation($p: String!, $o: String!) {
  setOwner(pipeline: $p, owner: $o) { name owner { id } }
}"""


def _store(service: RunningService, events: list[dict]) -> None:
    # A cold or busy database may pass the ingest deadline: a 503 is sent again after
    # its Retry-After, as clients do (duplicates are recognised).
    deadline = time.monotonic() + 120
    with service.client() as http:
        while True:
            resp = http.post("/v1/events", json=events)
            if resp.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(float(resp.headers.get("Retry-After", "1")))
    assert resp.status_code == 200, resp.text


def test_an_admin_change_waiting_on_a_lock_answers_within_the_ingest_deadline(
    clean_graph: Driver,
    make_service: Callable[..., RunningService],
    example_events: list[dict],
) -> None:
    # setOwner is an event (issue 19): the writer applies it, locking the pipeline
    # first, while another transaction holds that lock. The request answers at the
    # ingest deadline with a retryable error, as ingestion does, instead of waiting for
    # the lock as long as the other transaction lives; once the lock is free the writer
    # commits the change (an answer of DATABASE_UNAVAILABLE may or may not be stored).
    svc = make_service(query_timeout_s=3.0, ingest_deadline_s=2.0)
    _store(svc, example_events[:1])
    with clean_graph.session() as session, session.begin_transaction() as holder:
        assert holder.run(statements.test_cypher("lock_pipeline"), name=PIPE).single() is not None
        headers = svc.headers()
        with httpx.Client(base_url=svc.base_url, headers=headers, timeout=30) as http:
            try:
                resp = http.post(
                    "/graphql",
                    json={"query": SET_OWNER, "variables": {"p": PIPE, "o": "team:x"}},
                )
            except httpx.ReadTimeout:
                raise AssertionError("setOwner still waited on the lock after 30 s") from None
        holder.rollback()
    [error] = resp.json()["errors"]
    assert error["extensions"]["code"] == "DATABASE_UNAVAILABLE", error
    assert error["extensions"]["retryAfter"] >= 1
    assert "may not be stored" in error["message"]

    def owner() -> list[str]:
        records = clean_graph.execute_query(
            statements.test_cypher("pipeline_owner"), name=PIPE
        ).records
        return [r["owner"] for r in records]

    eventually(lambda: owner() == ["team:x"], timeout=30, what="the change committed")


def _errors(service: RunningService, query: str, **variables: object) -> list[dict]:
    with service.client() as http:
        body = http.post("/graphql", json={"query": query, "variables": variables}).json()
    errors: list[dict] = body.get("errors") or []
    assert errors, body
    return errors


def test_bad_arguments_answer_a_typed_error_code(
    service: RunningService, example_events: list[dict]
) -> None:
    # One code for every argument the service cannot answer, whichever resolver refused it.
    _store(service, example_events[:1])
    cases = [
        ("{ runs(first: -1) { edges { cursor } } }", {}, "first must be >= 0"),
        ('{ pipelines(after: "@@") { edges { cursor } } }', {}, "invalid cursor"),
        ('{ auditTrail(after: "@@") { edges { cursor } } }', {}, "invalid cursor"),
        ('{ lineage(uri: "s3://nope", depth: -1) { truncated } }', {}, "depth must be >= 0"),
        (SET_OWNER, {"p": "nope", "o": "team:x"}, "unknown pipeline 'nope'"),
        (
            '{ metrics(from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z") { pipeline } }',
            {},
            "'to' must be after 'from'",
        ),
        ('mutation { acknowledgeBreach(id: "nope") { id } }', {}, "unknown SLA breach"),
    ]
    for query, variables, message in cases:
        [error] = _errors(service, query, **variables)
        assert message in error["message"], (query, error)
        assert error["extensions"] == {"code": "BAD_USER_INPUT"}, (query, error)


def test_services_are_built_whole() -> None:
    # Every part is there once the service runs: no optional field for a caller to check
    # (the schema error is a fact, not a part).
    hints = typing.get_type_hints(Services)
    optional = [
        name
        for name, hint in hints.items()
        if name != "schema_error" and type(None) in typing.get_args(hint)
    ]
    assert optional == []


def test_the_api_builds_no_store_of_its_own() -> None:
    # Stores are reached through Services only, so each runs under the configured
    # timeouts; a route or resolver that built its own would escape them.
    store_classes = {
        name
        for module in pkgutil.iter_modules(tracegraph.store.__path__, "tracegraph.store.")
        for name, obj in vars(importlib.import_module(module.name)).items()
        if isinstance(obj, type)
        and obj.__module__ == module.name
        and name.endswith(("Store", "Reads", "Reader", "Writer"))
    }
    assert {"GraphReads", "GovernanceStore", "QuarantineStore"} <= store_classes
    api_root = Path(tracegraph.api.__file__).parent
    built = [
        f"{path.relative_to(api_root)}:{node.lineno} {node.func.id}"
        for path in sorted(api_root.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in store_classes
    ]
    assert built == []
