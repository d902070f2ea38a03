"""DefinitionService with stand-ins for the store and ingest: what it publishes (one
``pipeline.defined`` event, id from pipeline and version, the caller as principal), what
it refuses before publishing, and the race another replica can win."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tracegraph.definitions.service import (
    DefinitionService,
    DefinitionState,
    InvalidDefinition,
    NeedsPermission,
    event_id,
)

NOW = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
STORED = {"version": "1", "steps": [{"key": "a", "depends_on": []}]}
OPERATOR = frozenset({"read", "operate"})


@dataclass
class Outcome:
    accepted: int
    duplicates: int = 0
    rejected: list[Any] = field(default_factory=list)
    last_seq: int = 0


class Fakes:
    def __init__(self, accept: bool = True, defined_at: datetime = NOW - timedelta(days=1)) -> None:
        self.accept = accept
        self.defined_at = defined_at
        self.ingested: list[tuple[list[Any], str | None]] = []

    async def definition_state(self, pipeline: str) -> DefinitionState:
        return DefinitionState(pipeline, True, STORED, 7, self.defined_at, frozenset({"1"}))

    async def ingest(self, raw_events: Sequence[Any], principal: str | None = None) -> Outcome:
        self.ingested.append((list(raw_events), principal))
        if self.accept:
            return Outcome(accepted=1, last_seq=42)
        return Outcome(accepted=0, rejected=["id already used"])


async def test_submit_publishes_one_pipeline_defined_event() -> None:
    fakes = Fakes()
    service = DefinitionService(fakes, fakes, lambda: NOW)
    done = await service.submit(
        "p", "steps:\n  - key: a\n  - key: b\n    depends_on: [a]\n", "key:op", OPERATOR
    )
    assert (done.version, done.seq, done.event_id) == ("2", 42, event_id("p", "2"))
    [([event], principal)] = fakes.ingested
    assert principal == "key:op"
    assert event == {
        "id": event_id("p", "2"),
        "type": "pipeline.defined",
        "time": "2026-12-03T19:00:00.000000Z",
        "source": "tracegraph/definitions",
        "pipeline": "p",
        "data": {
            "version": "2",
            "steps": [{"key": "a", "depends_on": []}, {"key": "b", "depends_on": ["a"]}],
        },
    }
    assert [(c.kind, c.step) for c in done.diff.changes] == [("added", "b")]


async def test_invalid_text_or_used_version_publishes_nothing() -> None:
    fakes = Fakes()
    service = DefinitionService(fakes, fakes, lambda: NOW)
    for text, line in (("steps: [\n", 2), ("version: 1\nsteps: []\n", 1)):
        with pytest.raises(InvalidDefinition) as err:
            await service.submit("p", text, "key:op", OPERATOR)
        assert err.value.problems[0].line == line
    assert fakes.ingested == []


async def test_a_version_stored_meanwhile_by_another_replica_is_refused() -> None:
    fakes = Fakes(accept=False)
    service = DefinitionService(fakes, fakes, lambda: NOW)
    with pytest.raises(InvalidDefinition, match="version '5' was stored meanwhile"):
        await service.submit("p", "version: 5\n", "key:op", OPERATOR)


async def test_the_current_text_is_valid_but_there_is_nothing_to_submit() -> None:
    fakes = Fakes()
    service = DefinitionService(fakes, fakes, lambda: NOW)
    current = "version: '1'\nsteps:\n- key: a\n"
    v = await service.validate("p", current)
    assert (v.valid, v.current, v.diff and v.diff.changes) == (True, True, ())
    with pytest.raises(InvalidDefinition, match="nothing to submit: this is the current"):
        await service.submit("p", current, "key:op", OPERATOR)
    # Changed but with the old version: that version exists.
    changed = await service.validate("p", current + "- key: b\n")
    assert "version '1' already exists" in changed.problems[0].message
    assert fakes.ingested == []


async def test_a_stored_definition_dated_later_than_our_clock_is_still_superseded() -> None:
    # The later time wins: the new event is dated just after the current definition when
    # that one's emitter clock ran ahead of ours.
    ahead = NOW + timedelta(hours=3)
    fakes = Fakes(defined_at=ahead)
    service = DefinitionService(fakes, fakes, lambda: NOW)
    await service.submit("p", "steps:\n  - key: a\n  - key: b\n", "key:op", OPERATOR)
    [([event], _)] = fakes.ingested
    assert event["time"] == "2026-12-03T22:00:00.001000Z"


@pytest.mark.parametrize(
    ("text", "permission"),
    [
        ("owner: team:x\nsteps:\n  - key: a\n", "admin:owners"),
        ("sla: {max_tokens: 5}\nsteps:\n  - key: a\n", "admin:slas"),
        ("steps:\n  - key: a\n    owner: user:ana\n", "admin:owners"),
        ("steps:\n  - key: a\n  - key: b\n    sla: {max_tokens: 5}\n", "admin:slas"),
    ],
)
async def test_an_owner_or_sla_change_needs_the_admin_permission(
    text: str, permission: str
) -> None:
    fakes = Fakes()
    service = DefinitionService(fakes, fakes, lambda: NOW)
    with pytest.raises(NeedsPermission) as err:
        await service.submit("p", text, "key:op", OPERATOR)
    assert err.value.permission == permission and permission in str(err.value)
    assert fakes.ingested == []
    await service.submit("p", text, "key:admin", OPERATOR | {permission})
    assert len(fakes.ingested) == 1
