"""Missing scheduled runs: cron fire times that no run covered within max_start_delay_ms.

The pure rule first, then the real service on a real Neo4j with its clock replaced
(``Services.clock``) and the SLA timer ticking every 0.1 s.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tracegraph.slas.missing_runs import (
    RunTimes,
    ScheduledPipeline,
    evaluate_missing_runs,
    missed_fires,
    overdue_fire_times,
)
from tracegraph.slas.rules import Sla, to_ms

T = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR


def at(minutes: float) -> int:
    """Epoch ms of T + minutes."""
    ms = to_ms(T + timedelta(minutes=minutes))
    assert ms is not None
    return ms


def started(minutes: float) -> RunTimes:
    return RunTimes(scheduled_for_ms=None, started_at_ms=at(minutes))


def scheduled(for_minutes: float, started_minutes: float | None = None) -> RunTimes:
    return RunTimes(
        scheduled_for_ms=at(for_minutes),
        started_at_ms=None if started_minutes is None else at(started_minutes),
    )


def fires(misses: list[Any]) -> list[int]:
    return [m.fire_ms for m in misses]


# -- pure rule --------------------------------------------------------------------------


def test_overdue_fire_times_respect_definition_deadline_and_horizon() -> None:
    every10 = "*/10 * * * *"
    # Defined at T (itself a fire time): only fire times strictly after it count.
    assert overdue_fire_times(every10, MIN, at(0), at(11) + 1, DAY) == [at(10)]
    # The deadline is strict: at exactly fire + delay the fire time is not overdue yet.
    assert overdue_fire_times(every10, MIN, at(0), at(11), DAY) == []
    assert overdue_fire_times(every10, MIN, at(0), at(41) + 1, DAY) == [
        at(10),
        at(20),
        at(30),
        at(40),
    ]
    # Fire times before the definition do not count, whatever the horizon.
    assert overdue_fire_times(every10, MIN, at(25), at(41) + 1, DAY) == [at(30), at(40)]
    # The lookback horizon bounds how far back it looks.
    assert overdue_fire_times(every10, MIN, None, at(41) + 1, 25 * MIN) == [at(20), at(30), at(40)]
    # ... and so does max_fires (the most recent ones are kept).
    assert overdue_fire_times(every10, MIN, None, at(41) + 1, DAY, max_fires=2) == [
        at(30),
        at(40),
    ]
    # Hourly at :15, daily at 06:00 (cron in UTC), and a macro.
    assert overdue_fire_times("15 * * * *", 5 * MIN, at(-60), at(140), DAY) == [
        at(-45),
        at(15),
        at(75),
    ]
    daily = overdue_fire_times("0 6 * * *", HOUR, None, at(3 * 24 * 60), 2 * DAY)
    assert [datetime.fromtimestamp(f / 1000, UTC).isoformat() for f in daily] == [
        "2026-11-03T06:00:00+00:00",
        "2026-11-04T06:00:00+00:00",
    ]
    assert overdue_fire_times("@hourly", MIN, at(0), at(121) + 1, DAY) == [at(60), at(120)]


def test_runs_that_cover_fire_times() -> None:
    every10 = "*/10 * * * *"
    now = at(51) + 1  # fire times 10..50 are overdue

    def missing(runs: list[RunTimes]) -> list[int]:
        return fires(missed_fires(every10, MIN, at(0), now, DAY, runs))

    assert missing([]) == [at(10), at(20), at(30), at(40), at(50)]
    # Started on time (at the fire time, inside the delay, at its very end).
    assert missing([started(10), started(20.5), started(31)]) == [at(40), at(50)]
    # Just before the fire time does not count for it.
    assert missing([started(9.99)]) == [at(10), at(20), at(30), at(40), at(50)]
    # Announced for the fire time: covers it even if never started (that is a late start,
    # which the max_start_delay_ms rule on the run reports — not counted twice).
    assert missing([scheduled(10), scheduled(20, 25)]) == [at(30), at(40), at(50)]
    # Each run covers at most one fire time: two starts for one fire window cover one.
    assert missing([started(10.1), started(10.2)]) == [at(20), at(30), at(40), at(50)]
    # Run matching takes fire times in order, so a start usable by two windows (long delay)
    # goes to the earlier one and the later one takes its own.
    long = missed_fires(every10, 15 * MIN, at(0), at(60) + 1, DAY, [started(18), started(22)])
    assert fires(long) == [at(30), at(40)]


def test_unannounced_late_start_is_a_missing_run_with_its_real_lateness() -> None:
    every10 = "*/10 * * * *"
    # The 12:10 run started at 12:13 without a run.scheduled: nothing else reports it, so
    # it is a missing run, and observed stops at the 3 minutes it was late.
    [late] = missed_fires(every10, MIN, at(0), at(15), DAY, [started(13)])
    assert (late.fire_ms, late.deadline_ms, late.late_ms) == (at(10), at(11), 3 * MIN)
    # No run at all: as late as the clock says.
    [miss] = missed_fires(every10, MIN, at(0), at(15), DAY, [])
    assert miss.late_ms == 5 * MIN
    # A run that started after the next fire time belongs to that one, not to this one.
    misses = missed_fires(every10, MIN, at(0), at(20.5), DAY, [started(20.2)])
    assert [(m.fire_ms, m.late_ms) for m in misses] == [(at(10), at(20.5) - at(10))]


def test_findings_ids_and_figures() -> None:
    sla = Sla("pipeline:nightly", max_start_delay_ms=MIN)
    p = ScheduledPipeline("nightly", "*/10 * * * *", sla, at(0), (started(20),))
    [f] = evaluate_missing_runs(p, at(21) + 1, DAY)
    assert f.id == "pipeline:nightly|missing_run|2026-11-01T12:10:00Z"
    assert (f.kind, f.threshold, f.at_ms, f.observed) == (
        "missing_run",
        MIN,
        at(11),
        at(21) + 1 - at(10),
    )
    assert (f.subject, f.subject_label, f.pipeline, f.step) == (None, "Pipeline", "nightly", None)
    assert (
        evaluate_missing_runs(ScheduledPipeline("x", "*/10 * * * *", Sla("s"), at(0)), at(60), DAY)
        == []
    )
    with pytest.raises(ValueError):
        evaluate_missing_runs(ScheduledPipeline("x", "61 * * * *", sla, at(0)), at(60), DAY)


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
    deadline = time.monotonic() + timeout
    while True:
        found = breaches(service)
        if pred(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met; breaches: {found}")
        time.sleep(0.1)


def settle(service: RunningService) -> list[dict]:
    """Breaches after several timer ticks (to assert that nothing more appears)."""
    time.sleep(0.6)
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
    deadline = time.monotonic() + 5
    while len(receiver[1]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
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
