"""Missing scheduled runs: cron fire times that no run covered within max_start_delay_ms.

The pure rule first, then the real service on a real Neo4j with its clock replaced
(``Services.clock``) and the SLA timer ticking every 0.1 s.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tests.support.eventually import eventually

T = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MIN = 60_000


# -- pure rule --------------------------------------------------------------------------


# -- the running service ----------------------------------------------------------------

PIPE = "cron-demo"
SLA_ID = f"pipeline:{PIPE}"


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def when(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def definition(schedule: str | None = "*/10 * * * *") -> dict[str, Any]:
    data: dict[str, Any] = {"owner": "team:ops", "sla": {"max_start_delay_ms": MIN}}
    if schedule:
        data["schedule"] = schedule
    return {
        "id": f"{PIPE}-def-{'cron' if schedule else 'none'}",
        "type": "pipeline.defined",
        "time": ts(T),
        "source": "test/missing-runs",
        "pipeline": PIPE,
        "data": data,
    }


def ev(run: str, kind: str, minutes: float, **data: Any) -> dict[str, Any]:
    return {
        "id": f"{run}-{kind}-{minutes}",
        "type": kind,
        "time": ts(when(minutes)),
        "source": "test/missing-runs",
        "pipeline": PIPE,
        "run": run,
        "data": data,
    }


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


@pytest.fixture
def svc(
    clean_graph: Driver,
    make_service: Callable[..., RunningService],
    receiver: tuple[str, list[dict]],
) -> RunningService:
    s = make_service(sla_check_interval_s=0.1, webhook_urls=[receiver[0]])
    set_clock(s, when(0))
    return s


def set_clock(service: RunningService, now: datetime) -> None:
    service.app.state.services.clock = lambda: now


def post(service: RunningService, events: list[dict[str, Any]]) -> None:
    with service.client() as c:
        r = c.post("/v1/events", json=events)
        assert r.status_code == 200, r.text


BREACHES = """
query B($pipeline: String) {
  slaBreaches(pipeline: $pipeline) {
    id kind status observed threshold at pipeline step subject sla { id } owners { id }
  }
}
"""


def breaches(service: RunningService, pipeline: str | None = None) -> list[dict[str, Any]]:
    with service.client() as c:
        r = c.post("/graphql", json={"query": BREACHES, "variables": {"pipeline": pipeline}})
    body = r.json()
    assert "errors" not in body, body
    return body["data"]["slaBreaches"]  # type: ignore[no-any-return]


def wait_for(
    service: RunningService, pred: Callable[[list[dict]], bool], timeout: float = 10
) -> list[dict]:
    return eventually(lambda: breaches(service), until=pred, timeout=timeout, what="breaches")


def settle(service: RunningService) -> list[dict]:
    """Breaches once every touched run and the timer's checks are evaluated (for
    asserting that nothing more appears): evaluated now, not waited for."""
    service.call(service.app.state.services.sla_evaluator.evaluate_now())
    return breaches(service)


def test_missing_scheduled_run_breaches_once(
    svc: RunningService, clean_graph: Driver, receiver: tuple[str, list[dict]]
) -> None:
    post(svc, [definition()])
    set_clock(svc, when(11))  # 12:10 fired; its deadline (12:11) has not passed yet
    assert settle(svc) == []
    set_clock(svc, when(11) + timedelta(milliseconds=1))
    [b] = wait_for(svc, lambda b: len(b) == 1)
    assert b["id"] == f"{SLA_ID}|missing_run|2026-11-01T12:10:00Z"
    assert (b["kind"], b["status"], b["threshold"]) == ("MISSING_RUN", "OPEN", MIN)
    assert b["at"] == "2026-11-01T12:11:00Z"
    assert (b["pipeline"], b["step"], b["subject"]) == (PIPE, None, None)
    assert b["sla"] == {"id": SLA_ID} and b["owners"] == [{"id": "team:ops"}]
    assert b["observed"] >= MIN
    # Repeated ticks: still one breach; the figure grows with the clock.
    set_clock(svc, when(15))
    # The timer's next tick updates the figure (waited for, not slept for: CI is slow).
    [b] = wait_for(svc, lambda f: len(f) == 1 and f[0]["observed"] == 5 * MIN)
    # A run started on time for 12:20 covers it: no breach for that fire time.
    post(svc, [ev("on-time", "run.started", 20.5, trigger="schedule")])
    set_clock(svc, when(25))
    assert [x["id"] for x in settle(svc)] == [b["id"]]
    # A run announced for 12:30 that starts late is a late start, not a missing run.
    post(svc, [ev("late", "run.scheduled", 29, scheduled_for=ts(when(30)))])
    set_clock(svc, when(33))
    found = wait_for(svc, lambda f: len(f) == 2)
    assert sorted((x["kind"], x["subject"]) for x in settle(svc)) == [
        ("MAX_START_DELAY_MS", "late"),
        ("MISSING_RUN", None),
    ]
    assert len(found) == 2 and len(breaches(svc, pipeline=PIPE)) == 2
    assert breaches(svc, pipeline="other") == []
    # Graph: OF the SLA, ON the pipeline (there is no run to point at).
    links = {r["id"]: r for r in fetch(clean_graph, "sla_breach_links")}
    missing = links[f"{SLA_ID}|missing_run|2026-11-01T12:10:00Z"]
    assert (missing["sla"], missing["on_labels"], missing["on_ids"]) == (
        SLA_ID,
        ["Pipeline"],
        [PIPE],
    )
    assert links[f"{SLA_ID}|max_start_delay_ms|late"]["on_labels"] == ["Run"]
    # The webhook got each new breach once, the missing run among them.
    eventually(lambda: receiver[1], until=lambda sent: len(sent) >= 2, what="two webhooks")
    settle(svc)  # anything still to breach has breached (and been queued) by now
    sent = sorted(p["breach"]["kind"] for p in receiver[1])
    assert sent == ["max_start_delay_ms", "missing_run"]
    hook = next(p for p in receiver[1] if p["breach"]["kind"] == "missing_run")
    assert hook["type"] == "sla.breach" and hook["breach"]["pipeline"] == PIPE


def test_no_missing_runs_without_a_schedule_or_before_the_definition(
    svc: RunningService,
) -> None:
    post(svc, [definition(schedule=None)])
    set_clock(svc, when(60))
    assert settle(svc) == []
    # A schedule added by a later definition (12:45) counts from that time only: at
    # 13:01 the fire times 12:50 and 13:00 are overdue, the earlier ones never count.
    post(svc, [{**definition(), "time": ts(when(45))}])
    set_clock(svc, when(61) + timedelta(milliseconds=1))
    found = wait_for(svc, lambda b: len(b) == 2)
    assert sorted(b["id"].rsplit("|", 1)[1] for b in found) == [
        "2026-11-01T12:50:00Z",
        "2026-11-01T13:00:00Z",
    ]
