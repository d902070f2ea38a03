"""Replaying the event log: it never touches the log, and a replay killed midway is
finished by running it again, ending in the same graph as a clean replay.

``tracegraph replay`` runs as a real subprocess against the real Neo4j and is SIGKILLed
after a few committed pages (it prints one line per page).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from neo4j import Driver

from tests.conftest import RunningService
from tests.integration.test_convergence import _post_in_batches
from tests.support.cypher import fetch
from tests.support.graph import snapshot
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.settings import Neo4jSettings

EVENTS = 3000
PAGE = 50


def _replay_command(settings: Neo4jSettings) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "NEO4J_URI": settings.uri,
        "NEO4J_USER": settings.user,
        "NEO4J_PASSWORD": settings.password,
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [sys.executable, "-m", "tracegraph.cli.main", "replay", "--page-size", str(PAGE)]
    return cmd, env


def _seqs(driver: Driver) -> list[int]:
    return [r["seq"] for r in fetch(driver, "event_seqs")]


def test_a_killed_replay_keeps_the_log_and_a_rerun_gives_the_same_graph(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    _post_in_batches(service, WorkloadGenerator(seed=5).events(EVENTS), [500])
    before = snapshot(clean_graph)
    log = _seqs(clean_graph)
    assert len(log) == EVENTS

    cmd, env = _replay_command(neo4j_settings)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pages = 0
        for line in proc.stdout:
            pages += line.startswith("replayed ")
            if pages == 5:
                break
        assert pages == 5, "the replay ended before five pages"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    # Killed midway: the log is whole, the derived graph half built.
    assert _seqs(clean_graph) == log
    [state] = fetch(clean_graph, "replay_state")
    assert state["phase"] == "applying" and 5 * PAGE <= state["applied_seq"] < log[-1]

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(
        f"replay done: {EVENTS - state['applied_seq']} events applied"
    )
    assert fetch(clean_graph, "replay_state") == []
    assert snapshot(clean_graph) == before

    # A clean replay from there gives the same graph again.
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert snapshot(clean_graph) == before
