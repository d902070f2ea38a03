"""Command checks without a database (issue 18 review): a retry of a superseded or
already retried attempt is refused, and idempotency scopes never collide."""

from __future__ import annotations

from typing import Any

import pytest

from tracegraph.commands.model import (
    CommandKind,
    CommandRequest,
    InvalidCommand,
    Targets,
    resolve,
)
from tracegraph.store.command_store import idempotency_scope


def _targets(**step_run: Any) -> Targets:
    sr = {
        "id": "r/embed#1",
        "found": True,
        "status": "failed",
        "run": "r",
        "step": "embed",
        "attempt": 1,
        "pipeline": "p",
        "attempts": [1],
        "retrying": [],
        **step_run,
    }
    return Targets(runs={}, step_runs={sr["id"]: sr}, retry_steps={}, pipelines=set())


RETRY = CommandRequest(CommandKind.RETRY, "k", step_run="r/embed#1")


def test_the_latest_failed_attempt_with_no_retry_under_way_is_retried() -> None:
    assert resolve(RETRY, _targets(attempts=[1])).step_run == "r/embed#1"


def test_a_superseded_attempt_is_refused() -> None:
    with pytest.raises(InvalidCommand, match="superseded by attempt 2"):
        resolve(RETRY, _targets(attempts=[1, 2]))


def test_a_second_retry_while_one_is_under_way_is_refused() -> None:
    with pytest.raises(InvalidCommand, match=r"already under way \(command c-1\)"):
        resolve(RETRY, _targets(retrying=["c-1"]))


def test_a_run_retry_refuses_a_step_already_being_retried() -> None:
    targets = Targets(
        runs={"r": {"id": "r", "found": True, "status": "failed", "pipeline": "p"}},
        step_runs={},
        retry_steps={
            "r": [
                {
                    "id": "r/embed#1",
                    "step": "embed",
                    "attempt": 1,
                    "status": "failed",
                    "started_at": "t",
                    "retrying": ["c-9"],
                }
            ]
        },
        pipelines=set(),
    )
    with pytest.raises(InvalidCommand, match="already under way"):
        resolve(CommandRequest(CommandKind.RETRY, "k", run="r"), targets)


def test_idempotency_scopes_of_principals_with_a_bar_differ() -> None:
    assert idempotency_scope("auth0|1", "k") != idempotency_scope("auth0", "1|k")
