"""The point-in-time fold keeps what apply_batch's approvals block keeps on a step run:
the approval it waits for while that is pending, nothing once it is decided."""

from __future__ import annotations

from typing import Any

from tracegraph.history.fold import StoredEvent, fold_run

_AT = "2026-11-20T02:00:00.000Z"


def ev(seq: int, type_: str, second: int, data: dict[str, Any] | None = None) -> StoredEvent:
    payload = {
        "id": f"e{seq}",
        "type": type_,
        "time": f"2026-11-20T02:00:{second:02d}.000Z",
        "source": "test",
        "pipeline": "p",
        "run": "r1",
        "step": "gate",
        "data": data or {},
    }
    return StoredEvent(seq=seq, payload=payload, received_at=_AT)


ASKED = {"approval": "a1", "question": "Ship?", "approvers": ["owner"], "timeout_s": 90.0}
LOG = [
    ev(1, "step.started", 0),
    ev(2, "approval.requested", 1, ASKED),
    ev(3, "approval.granted", 30, {"approval": "a1", "by": "key:ana"}),
    ev(4, "approval.denied", 40, {"approval": "a1", "by": "key:bo"}),  # too late: ignored
]


def awaiting(as_of_seq: int) -> object:
    folded = fold_run("r1", as_of_seq, LOG, prices={})
    assert folded is not None
    (step_run,) = folded.step_runs.values()
    return step_run.get("awaiting_approval")


def test_a_step_run_waits_for_its_approval_only_until_the_first_decision() -> None:
    assert awaiting(1) is None
    assert awaiting(2) == "a1"
    assert awaiting(3) is None
    assert awaiting(4) is None  # a second decision does not reopen it
