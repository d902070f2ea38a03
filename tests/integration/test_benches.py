"""Benchmarks stop the local Neo4j they start: when they finish and when interrupted.

Each runs as a real subprocess with a tiny workload, on an instance and port of its own
(the test port + 5), and the instance is checked through the launcher afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.eventually import eventually
from tracegraph.localneo4j import LocalNeo4j
from tracegraph.settings import REPO_ROOT

pytestmark = pytest.mark.neo4j

INSTANCE = "bench-cleanup-test"
PORT = int(os.environ.get("TRACEGRAPH_TEST_BOLT_PORT", "7697")) + 5


@pytest.fixture
def bench_env() -> Iterator[dict[str, str]]:
    local = LocalNeo4j(REPO_ROOT / ".neo4j", name=INSTANCE, bolt_port=PORT)
    local.stop()
    env = {k: v for k, v in os.environ.items() if k != "NEO4J_URI"}
    env.update(TRACEGRAPH_BENCH_INSTANCE=INSTANCE, TRACEGRAPH_BENCH_BOLT_PORT=str(PORT))
    yield env
    local.stop()  # whatever the test saw, leave nothing behind


def _running() -> bool:
    return LocalNeo4j(REPO_ROOT / ".neo4j", name=INSTANCE, bolt_port=PORT).status().running


def test_a_finished_benchmark_stops_the_neo4j_it_started(bench_env: dict[str, str]) -> None:
    args = ["--pipelines", "2", "--runs-per-pipeline", "3", "--requests", "2"]
    args += ["--events", "3000", "--target-events", "10", "--walk-repeats", "1"]
    done = subprocess.run(
        [sys.executable, "bench/query.py", *args],
        cwd=REPO_ROOT,
        env=bench_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "query nodes=" in done.stdout and "run_vs_all=" in done.stdout
    assert not _running(), "bench/query.py left its Neo4j running"


def test_an_interrupted_benchmark_stops_the_neo4j_it_started(bench_env: dict[str, str]) -> None:
    # Big enough to be still building its graph when interrupted.
    proc = subprocess.Popen(
        [sys.executable, "bench/metrics.py", "--runs", "1000000"],
        cwd=REPO_ROOT,
        env=bench_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def started_its_neo4j() -> bool:
            if proc.poll() is not None:  # ended before: no point in waiting
                raise RuntimeError(proc.communicate()[0])
            return _running()

        eventually(started_its_neo4j, timeout=300, interval=0.5, what="the bench's Neo4j")
        proc.send_signal(signal.SIGINT)  # Ctrl+C
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stopping local Neo4j" in out, out
    assert not _running(), "bench/metrics.py left its Neo4j running after Ctrl+C"
