"""Row folding (store/graph_rows.py): a batch's events become one row per entity, folded
with the rules the Cypher applies to stored state, so any arrival order of the same
events plans the same rows. The Cypher side is tested on Neo4j (tests/integration/)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from tracegraph.events.records import SequencedEvent
from tracegraph.store.graph_rows import plan_statements

_AT = datetime(2026, 11, 20, tzinfo=UTC)


def ev(
    seq: int, type_: str, time: str, data: dict[str, Any] | None = None, **env: Any
) -> SequencedEvent:
    payload = {
        "id": f"e{seq}",
        "type": type_,
        "time": f"2026-11-20T02:{time}Z",
        "source": "test",
        "pipeline": "p",
        "run": "r1",
        "data": data or {},
        **env,
    }
    return SequencedEvent(seq, payload, f"fp{seq}", _AT)


def plan(*events: SequencedEvent) -> dict[str, list[Any]]:
    return plan_statements(list(events), prices={}).batch


def only(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


def test_run_status_only_moves_forward_whatever_the_order_in_the_batch() -> None:
    started = ev(1, "run.started", "00:00.000", {"trigger": "schedule"})
    done = ev(2, "run.completed", "05:00.000", {"outputs": {"n": 3}})
    scheduled = ev(3, "run.scheduled", "00:00.000", {"scheduled_for": "2026-11-20T02:00:00.000Z"})
    run = only(plan(done, scheduled, started)["runs"])
    assert (run["status"], run["rank"], run["seq"]) == ("succeeded", 2, 2)
    assert run["started_at"] == "2026-11-20T02:00:00.000Z"
    # Fields of other events are kept when the winner does not carry them.
    assert run["trigger"] == "schedule"
    assert run["scheduled_for"] == "2026-11-20T02:00:00.000Z"
    assert run["outputs"] == '{"n":3}'


def test_the_later_terminal_event_wins_and_a_tie_goes_to_the_later_seq() -> None:
    failed = ev(1, "run.failed", "09:00.000", {"error": {"type": "Timeout", "message": "slow"}})
    done = ev(2, "run.completed", "05:00.000")
    run = only(plan(done, failed)["runs"])
    assert (run["status"], run["error"], run["error_type"]) == ("failed", "slow", "Timeout")
    cancelled = ev(3, "run.cancelled", "05:00.000", {"reason": "operator"})
    run = only(plan(cancelled, ev(2, "run.completed", "05:00.000"))["runs"])
    assert (run["status"], run["reason"], run["seq"]) == ("cancelled", "operator", 3)


def test_pause_and_resume_fold_to_the_latest_and_leave_the_run_status_alone() -> None:
    # run.paused / run.resumed are their own family (issue 18): the latest of them by
    # (time, seq) says whether the run is paused, whatever the order in the batch, and
    # they never move the run's status rank (a terminal event still wins over them).
    started = ev(1, "run.started", "00:00.000")
    paused = ev(2, "run.paused", "01:00.000", {"reason": "incident", "command": "c1"})
    resumed = ev(3, "run.resumed", "02:00.000", {"command": "c2"})
    batch = plan(resumed, paused, started)
    assert only(batch["runs"])["status"] == "running"
    pause = only(batch["pauses"])
    assert (pause["paused"], pause["seq"], pause["command"]) == (False, 3, "c2")
    again = only(plan(ev(4, "run.paused", "02:00.000"), resumed)["pauses"])
    assert (again["paused"], again["seq"]) == (True, 4)  # a tie in time: the later seq
    assert plan(started)["pauses"] == []


def test_step_progress_only_grows_and_the_latest_message_is_kept() -> None:
    step = {"step": "embed"}
    rows = plan(
        ev(1, "step.started", "00:00.000", {"model": "m"}, **step),
        ev(4, "step.progress", "03:00.000", {"percent": 40, "message": "late but lower"}, **step),
        ev(3, "step.progress", "02:00.000", {"percent": 75, "tokens_used": 90}, **step),
        ev(2, "step.progress", "01:00.000", {"percent": 50, "message": "half"}, **step),
    )["steps"]
    row = only(rows)
    assert row["id"] == "r1/embed#1"
    assert (row["percent"], row["tokens_used"]) == (75, 90)
    assert (row["message"], row["message_seq"]) == ("late but lower", 4)
    assert (row["status"], row["model"]) == ("running", "m")


def test_attempts_are_separate_step_runs() -> None:
    rows = plan(
        ev(1, "step.failed", "01:00.000", {"error": "boom"}, step="s"),
        ev(2, "step.completed", "02:00.000", step="s", attempt=2),
    )["steps"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["r1/s#1"]["status"] == "failed" and by_id["r1/s#1"]["error"] == "boom"
    assert by_id["r1/s#2"]["status"] == "succeeded"


def test_an_artifact_version_takes_its_content_from_the_latest_write() -> None:
    uri = "s3://kb/chunks"
    rows = plan(
        ev(1, "artifact.read", "01:00.000", {"uri": uri, "version": 7, "records": 1}),
        ev(
            2,
            "artifact.written",
            "00:30.000",
            {"uri": uri, "version": 7, "records": 500, "owner": "team:search"},
        ),
        ev(
            3,
            "artifact.read",
            "02:00.000",
            {"uri": uri, "version": 7, "kind": "dataset", "owner": "team:search"},
        ),
    )
    version = only(rows["artifact_versions"])
    assert version["version_id"] == f"{uri}@7"  # integer versions read as text
    assert version["records"] == 500  # the write beats a later read
    assert version["kind"] == "dataset"  # the latest event naming a kind
    assert version["first_seen"] == "2026-11-20T02:00:30.000Z"
    assert version["owners"] == [{"id": "team:search", "kind": "team", "name": "search"}]
    assert [link["written"] for link in rows["artifact_links"]] == [False, True, False]


def test_calls_and_runs_to_price_are_listed_once() -> None:
    call = {"call": "c1", "model": "gpt-4o", "provider": "openai", "text": "hi"}
    rows = plan(
        ev(1, "prompt.sent", "00:00.000", call, step="s"),
        ev(2, "response.received", "00:01.000", {"call": "c1", "output_tokens": 3}, step="s"),
        ev(3, "prompt.sent", "00:02.000", {**call, "call": "c2"}),  # no step: run level
    )
    assert rows["priced_calls"] == ["r1/c1", "r1/c2"]
    assert rows["total_runs"] == ["r1"]
    assert rows["token_step_runs"] == ["r1/s#1"]
    assert [r["model_id"] for r in rows["prompts"]] == ["openai/gpt-4o"] * 2
    assert rows["touches"] == [{"run": "r1", "pipeline": "p"}]  # the step-less prompt


def test_only_the_newest_definition_of_a_pipeline_in_a_batch_is_planned() -> None:
    older = ev(2, "pipeline.defined", "00:00.000", {"version": "1", "steps": [{"key": "a"}]})
    newer = ev(1, "pipeline.defined", "01:00.000", {"version": "2", "steps": [{"key": "b"}]})
    for event in (older, newer):
        del event.payload["run"]
    planned = plan_statements([older, newer], prices={})
    assert [p["version"] for p in planned.pipelines] == ["2"]
    assert [s["key"] for s in planned.pipeline_steps["p"]["row"]["steps"]] == ["b"]
    assert [row["seq"] for row in planned.batch["events"]] == [2, 1]  # the log keeps both


@pytest.mark.parametrize("seed", range(5))
def test_any_arrival_order_plans_the_same_rows(seed: int) -> None:
    events = [
        ev(1, "run.scheduled", "00:00.000"),
        ev(2, "run.started", "00:01.000"),
        ev(3, "step.started", "00:02.000", step="s"),
        ev(4, "step.progress", "00:03.000", {"percent": 30, "message": "a"}, step="s"),
        ev(5, "step.progress", "00:04.000", {"percent": 60, "message": "b"}, step="s"),
        ev(6, "artifact.written", "00:05.000", {"uri": "u", "version": "1"}, step="s"),
        ev(7, "step.completed", "00:06.000", step="s"),
        ev(8, "run.completed", "00:07.000"),
    ]
    in_order = plan(*events)
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    other = plan(*shuffled)
    for family in ("runs", "steps", "artifact_versions"):
        assert other[family] == in_order[family], family
    assert only(in_order["steps"])["status"] == "succeeded"


def test_versions_are_counted_once_per_entity_and_batch() -> None:
    from tracegraph.store.graph_rows import count_versions

    rows = [
        {"seq": 5, "run": "a", "pipeline": "p"},
        {"seq": 3, "run": "b", "pipeline": "p"},
        {"seq": 9, "run": "a", "pipeline": "p"},
        {"seq": 4, "run": None, "pipeline": "q"},
    ]
    count_versions(rows)
    marks = [(r["run_n"], r["run_seq"], r["pipeline_n"], r["pipeline_seq"]) for r in rows]
    # The first row of each run / pipeline carries the count and the highest seq.
    assert marks == [(2, 9, 3, 9), (1, 3, 0, 0), (0, 0, 0, 0), (0, 0, 1, 4)]
    # Recomputed, not accumulated, when the transaction is retried.
    count_versions(rows)
    assert [(r["run_n"], r["pipeline_n"]) for r in rows] == [(2, 3), (1, 0), (0, 0), (0, 1)]


def test_an_approval_folds_to_its_request_and_its_first_decision_by_seq() -> None:
    # Issue 19: a request and decisions in one batch (a replay page) give one row; the
    # log holds one decision per approval, and the fold keeps the first by seq anyway.
    asked = {"approval": "a1", "question": "Ship?", "approvers": ["owner"], "timeout_s": 90.0}
    request = ev(1, "approval.requested", "00:00.000", asked, step="gate")
    granted = ev(
        2, "approval.granted", "00:30.000", {"approval": "a1", "by": "key:ana"}, step="gate"
    )
    denied = ev(3, "approval.denied", "00:40.000", {"approval": "a1", "by": "key:bo"}, step="gate")
    batch = plan(denied, granted, request)
    row = only(batch["approvals"])
    assert (row["id"], row["step_run"], row["question"]) == ("a1", "r1/gate#1", "Ship?")
    assert (row["decision"], row["by"], row["decision_seq"], row["request_seq"]) == (
        "granted",
        "key:ana",
        2,
        1,
    )
    assert row["requested_at"] == "2026-11-20T02:00:00.000Z"
    assert row["deadline"] == "2026-11-20T02:01:30.000000Z"
    # Each approval event also counts in its step run (version) like any in-step event.
    assert only(batch["steps"])["events"] == 3
