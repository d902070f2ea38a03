"""Background duties on one replica at a time (issue 20): the SLA lease.

Two real services share the test Neo4j: only the lease holder runs the SLA timer and
sends webhooks; a leader that stops renewing (frozen, killed) loses the duty to the
other within the lease time; a write fenced with a stale token is refused.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from neo4j import Driver

from tests.conftest import RunningService
from tests.integration.test_slas import PIPE, SLA_ID, definition, ev, ms, post, set_clock
from tests.support.cypher import fetch
from tests.support.eventually import eventually
from tracegraph.slas.rules import Finding

TTL_S = 2.0


@pytest.fixture
def hooks() -> Iterator[tuple[str, list[str]]]:
    """A webhook receiver recording the breach id of every alert it got."""
    got: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            got.append(body["breach"]["id"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()


def _held(svc: RunningService) -> bool:
    return bool(svc.app.state.services.sla_lease.held)


def _breach_ids(driver: Driver) -> int:
    return int(fetch(driver, "sla_breach_counts")[0]["ids"])


def test_one_replica_runs_the_sla_timer_and_another_takes_over_from_a_frozen_leader(
    clean_graph: Driver,
    make_service: Callable[..., RunningService],
    hooks: tuple[str, list[str]],
) -> None:
    url, got = hooks
    settings = {"lease_ttl_s": TTL_S, "sla_check_interval_s": 0.1, "webhook_urls": [url]}
    replicas = [make_service(**settings), make_service(**settings)]
    for svc in replicas:
        set_clock(svc, ms(3600))
    eventually(lambda: sum(map(_held, replicas)) == 1, what="one lease holder")
    leader, follower = sorted(replicas, key=_held, reverse=True)
    # Ingested through the follower: the leader's evaluator (fed by its tailer) finds it.
    post(follower, [definition(), ev("r1", "run.started", 0), ev("r1", "run.completed", 61)])
    eventually(lambda: got, what="the first breach's webhook")
    assert _held(leader) and not _held(follower)
    assert follower.app.state.services.sla_evaluator.rounds == 0  # its timer never ran

    # The leader freezes: it stops renewing (and evaluating) without giving the lease up.
    old = leader.app.state.services.sla_lease
    stale = old.fence()
    leader.call(old._task.stop())
    leader.call(leader.app.state.services.sla_evaluator.stop())
    eventually(lambda: _held(follower), timeout=3 * TTL_S, what="the follower took over")
    [state] = fetch(clean_graph, "lease_state", lease="sla")
    assert state["token"] == stale["token"] + 1

    # The frozen leader wakes and writes with its old token: refused by the database.
    finding = Finding(
        id=f"{SLA_ID}|max_duration_ms|stale",
        sla_id=SLA_ID,
        kind="max_duration_ms",
        observed=99_000,
        threshold=60_000,
        at_ms=0,
        subject=None,
        subject_label=None,
        pipeline=PIPE,
        step=None,
    )
    slas = leader.app.state.services.slas
    slas.fence = lambda: stale
    assert leader.call(slas.merge_breaches([finding], 0)) == []
    # The new holder evaluates what is ingested through the old one; every breach is
    # alerted once, by one replica (the re-evaluation of r1 by the new holder finds it
    # stored already: no second alert).
    before = _breach_ids(clean_graph)
    post(leader, [ev("r2", "run.started", 0), ev("r2", "run.completed", 62)])
    eventually(lambda: len(got) == 2, what="the second breach's webhook")
    assert _breach_ids(clean_graph) == before + 1
    assert sorted(got) == [f"{SLA_ID}|max_duration_ms|r1", f"{SLA_ID}|max_duration_ms|r2"]
