"""The local Neo4j launcher end to end: a real server from a throwaway ``home`` but the real
dist dir ``<repo>/.neo4j/dist/<version>`` (or ``$TRACEGRAPH_NEO4J_HOME/dist/<version>``)
through ``LocalNeo4j(dist_dir=...)``, so the ~125 MB of jars are fetched at most once
per machine. The launcher's pure parts are in tests/unit/localneo4j/."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import GraphDatabase

from tests.support.skips import unavailable
from tracegraph.localneo4j import (
    NEO4J_VERSION,
    LocalNeo4j,
    LocalNeo4jError,
)
from tracegraph.localneo4j.fetch import default_dist_dir, is_fetched

REPO_ROOT = Path(__file__).resolve().parents[2]


REAL_HOME = Path(os.environ.get("TRACEGRAPH_NEO4J_HOME", REPO_ROOT / ".neo4j"))


REAL_DIST = default_dist_dir(REAL_HOME)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def launcher_test(tmp_path: Path) -> Iterator[LocalNeo4j]:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        unavailable("needs Java 17+")
    if not is_fetched(REAL_DIST) and shutil.which("mvn") is None:
        unavailable("needs Maven to download Neo4j once")
    server = LocalNeo4j(
        tmp_path / "home",
        name="launcher-test",
        bolt_port=_free_port(),
        heap="1g",
        pagecache="256m",
        dist_dir=REAL_DIST,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.neo4j
def test_start_query_status_stop(launcher_test: LocalNeo4j) -> None:
    server = launcher_test
    uri = server.start(timeout_s=180)
    assert uri == server.bolt_uri

    with GraphDatabase.driver(uri, auth=None) as driver:
        records, _, _ = driver.execute_query("RETURN 1 AS one")
    assert records[0]["one"] == 1

    st = server.status()
    assert st.running and st.answering
    assert st.pid is not None
    assert st.version == NEO4J_VERSION

    # Already running: a second start returns at once with the same server.
    began = time.monotonic()
    assert server.start() == uri
    assert time.monotonic() - began < 5
    assert server.status().pid == st.pid

    # A fresh launcher object (as in another process) sees the same truth.
    other = LocalNeo4j(server.home, name=server.name, bolt_port=server.bolt_port)
    assert other.status().pid == st.pid
    # Asking the running instance for another port fails fast instead of timing out.
    moved = LocalNeo4j(server.home, name=server.name, bolt_port=_free_port())
    assert moved.status().bolt_uri == uri
    with pytest.raises(LocalNeo4jError, match="already runs"):
        moved.start(timeout_s=5)

    server.stop()
    st = server.status()
    assert not st.running and not st.answering and st.pid is None
    assert not server.pid_file.exists()
    server.stop()  # idempotent

    server.wipe()
    assert not server.data_dir.exists()
