"""/readyz waits for the live tailer (issue 20): a replica whose tailer has not read where
the event log ends would take subscribers and not give them other replicas' events."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import RunningService
from tests.support.eventually import eventually
from tracegraph.store.command_store import CommandStore
from tracegraph.store.live_reads import LiveReader, TailPage


def test_readyz_is_503_until_the_live_tailer_has_read_where_the_log_ends(
    make_service: Callable[..., RunningService], monkeypatch: pytest.MonkeyPatch
) -> None:
    released = threading.Event()
    first_reads: list[float | None] = []
    real_tail = LiveReader.tail

    async def held_tail(self: LiveReader, *args: Any, **kwargs: Any) -> TailPage:
        # The tailer's first read, held as a cold server's planning holds it.
        if not released.is_set():
            first_reads.append(kwargs.get("timeout_s"))
            await asyncio.to_thread(released.wait, 120)
        return await real_tail(self, *args, **kwargs)

    monkeypatch.setattr(LiveReader, "tail", held_tail)
    service = make_service(wait_live=False)  # waits for the schema only
    with service.client() as client:
        eventually(lambda: first_reads, what="the tailer's first read under way")
        # Everything else gets ready (the command feed's first read is not held)...
        held = eventually(
            lambda: client.get("/readyz"),
            until=lambda r: r.json()["commands"] == "following" and r.json()["writer"] == "running",
            what="all but the live tailer ready",
        )
        # ...and the replica still says it is not: its tailer has not read yet.
        assert held.status_code == 503
        assert held.json()["live_tail"] == "starting"
        assert held.json()["schema_applied"] is True
        # The first read gets the transaction's time, not a request's 3 s answer timeout.
        assert first_reads[0] == service.settings.neo4j.transaction_timeout_s
        released.set()
        ready = eventually(
            lambda: client.get("/readyz"),
            until=lambda r: r.status_code == 200,
            what="ready once the tailer follows the log",
        )
        assert ready.json()["live_tail"] == "following"


def test_a_started_service_follows_the_log_and_the_commands_before_a_test_uses_it(
    make_service: Callable[..., RunningService], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tailer's and the command feed's first reads come a moment after the schema (on
    # a loaded machine, seconds): a test that emitted and subscribed at once raced them
    # (test_cli's emit tests flaked). Both first reads are slowed here, so that race
    # always happens; the fixture must wait for them as /readyz does.
    real_tail, real_last_seq = LiveReader.tail, CommandStore.last_seq
    slowed: list[str] = []

    async def slow_tail(self: LiveReader, *args: Any, **kwargs: Any) -> TailPage:
        if "tail" not in slowed:
            slowed.append("tail")
            await asyncio.sleep(2.0)  # time passing is the behaviour under test
        return await real_tail(self, *args, **kwargs)

    async def slow_last_seq(self: CommandStore) -> int:
        if "commands" not in slowed:
            slowed.append("commands")
            await asyncio.sleep(2.0)
        return await real_last_seq(self)

    monkeypatch.setattr(LiveReader, "tail", slow_tail)
    monkeypatch.setattr(CommandStore, "last_seq", slow_last_seq)
    service = make_service()
    services = service.app.state.services
    assert sorted(slowed) == ["commands", "tail"]
    assert services.hub.tail_ready
    assert services.command_feed.started
    with service.client() as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert (ready.json()["live_tail"], ready.json()["commands"]) == ("following", "following")
