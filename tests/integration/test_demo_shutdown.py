"""Ctrl+C on `tracegraph demo` stops it cleanly: the workload stops first and its last
events reach the service while it still runs, then the service stops; no traceback, no
dropped events, no lingering process (seen in session 8: a lifespan CancelledError
traceback, and the demo's executor retrying against the stopped service)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from neo4j import Driver

from tests.conftest import free_port
from tests.support.cypher import fetch
from tests.support.eventually import eventually
from tracegraph.settings import Neo4jSettings


def _events_stored(driver: Driver) -> int:
    return len(fetch(driver, "event_ids"))


def test_ctrl_c_stops_the_demo_cleanly_and_loses_no_event(
    clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_settings.uri,
        "NEO4J_USER": neo4j_settings.user,
        "NEO4J_PASSWORD": neo4j_settings.password,
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "120",
    }
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracegraph.cli.main", "demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        eventually(lambda: _events_stored(clean_graph), timeout=120, what="demo events stored")
        proc.send_signal(signal.SIGINT)  # Ctrl+C
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    assert "dropping events" not in out, out
