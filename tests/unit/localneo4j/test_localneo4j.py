"""The local Neo4j launcher: config rendering, fetch bookkeeping, process handling.

The end-to-end test runs a real server. It uses a throwaway ``home`` (so its
instance, data and logs vanish with tmp_path) but the real dist dir
``<repo>/.neo4j/dist/<version>`` (or ``$TRACEGRAPH_NEO4J_HOME/dist/<version>``)
through ``LocalNeo4j(dist_dir=...)``, so the ~125 MB of jars are fetched at most
once per machine.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from tracegraph.localneo4j import (
    NEO4J_VERSION,
    LocalNeo4j,
    LocalNeo4jError,
    bolt_port_from_uri,
    ensure_dist,
    render_config,
)
from tracegraph.localneo4j.config import jvm_args
from tracegraph.localneo4j.fetch import is_fetched, render_pom


def _conf(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return {key: value for key, value in pairs}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("uri", "port"),
    [
        ("bolt://127.0.0.1:7699", 7699),
        ("bolt://localhost", 7687),
        ("neo4j://127.0.0.1:9000", 9000),
        ("bolt://127.0.0.1", 7687),
    ],
)
def test_bolt_port_from_uri(uri: str, port: int) -> None:
    assert bolt_port_from_uri(uri) == port


def test_bolt_port_from_uri_rejects_remote_host() -> None:
    with pytest.raises(LocalNeo4jError, match="loopback"):
        bolt_port_from_uri("bolt://db.example.org:7687")


def test_render_config_binds_loopback_with_auth_off(tmp_path: Path) -> None:
    port = bolt_port_from_uri("bolt://127.0.0.1:7701")
    text = render_config(instance_dir=tmp_path, bolt_port=port, heap="1g", pagecache="512m")
    conf = _conf(text)
    assert conf["server.bolt.listen_address"] == "127.0.0.1:7701"
    assert conf["server.default_listen_address"] == "127.0.0.1"
    assert conf["dbms.security.auth_enabled"] == "false"
    assert conf["server.http.enabled"] == "false"
    assert conf["server.https.enabled"] == "false"
    assert conf["server.memory.heap.max_size"] == "1g"
    assert conf["server.memory.pagecache.size"] == "512m"
    assert conf["dbms.usage_report.enabled"] == "false"
    assert conf["server.directories.data"] == str(tmp_path / "data")
    assert "0.0.0.0" not in text


def test_render_config_rejects_bad_values(tmp_path: Path) -> None:
    with pytest.raises(LocalNeo4jError):
        render_config(instance_dir=tmp_path, bolt_port=0, heap="1g", pagecache="1g")
    with pytest.raises(LocalNeo4jError, match="heap"):
        render_config(instance_dir=tmp_path, bolt_port=7687, heap="lots", pagecache="1g")


def test_jvm_args_fix_the_heap() -> None:
    args = jvm_args("3g")
    assert args[:2] == ["-Xms3g", "-Xmx3g"]


def test_default_instance_layout(tmp_path: Path) -> None:
    server = LocalNeo4j(tmp_path)
    assert server.bolt_uri == "bolt://127.0.0.1:7687"
    assert server.instance_dir == tmp_path.resolve() / "instances" / "default"
    assert server.dist_dir == tmp_path.resolve() / "dist" / NEO4J_VERSION
    assert LocalNeo4j.from_uri(tmp_path, "bolt://127.0.0.1:7702").bolt_port == 7702
    with pytest.raises(LocalNeo4jError):
        LocalNeo4j(tmp_path, name="../escape")


# --------------------------------------------------------------------------- fetch


def test_pom_names_server_artifacts() -> None:
    pom = render_pom()
    assert "<artifactId>neo4j-server</artifactId>" in pom
    assert "<artifactId>neo4j</artifactId>" in pom
    assert f"<version>{NEO4J_VERSION}</version>" in pom


def _fake_mvn(bin_dir: Path, calls: Path) -> None:
    """An `mvn` that records each call and drops a fake entry jar where it is told."""
    script = bin_dir / "mvn"
    script.write_text(
        "#!/bin/sh\n"
        f'echo call >> "{calls}"\n'
        'for arg in "$@"; do case $arg in -DoutputDirectory=*) out=${arg#*=};; esac; done\n'
        'mkdir -p "$out"\n'
        f'touch "$out/neo4j-{NEO4J_VERSION}.jar" "$out/other.jar"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_fetch_redoes_an_interrupted_download_then_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    _fake_mvn(bin_dir, calls)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    dist = tmp_path / "dist"
    # What a killed download leaves: some jars, no completion marker.
    (dist / "lib").mkdir(parents=True)
    (dist / "lib" / "half.jar").touch()
    assert not is_fetched(dist)

    lib = ensure_dist(dist)
    assert is_fetched(dist)
    assert sorted(p.name for p in lib.iterdir()) == [f"neo4j-{NEO4J_VERSION}.jar", "other.jar"]
    ensure_dist(dist)
    assert calls.read_text().count("call") == 1


def test_fetch_without_mvn_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalNeo4jError, match="mvn"):
        ensure_dist(tmp_path / "dist")


# --------------------------------------------------------------------------- process


def test_status_of_a_never_started_instance(tmp_path: Path) -> None:
    st = LocalNeo4j(tmp_path, name="idle", bolt_port=_free_port()).status()
    assert not st.running
    assert not st.answering
    assert st.pid is None
    assert st.version is None
    assert st.home == tmp_path.resolve() / "instances" / "idle"


def test_stale_pid_file_is_ignored_and_cleaned(tmp_path: Path) -> None:
    server = LocalNeo4j(tmp_path, name="stale", bolt_port=_free_port())
    dead = subprocess.Popen(["true"])
    dead.wait()
    server.run_dir.mkdir(parents=True)
    server.pid_file.write_text(f"{dead.pid}\n")
    assert not server.status().running
    server.stop()  # idempotent and tidies up
    assert not server.pid_file.exists()
    server.stop()


def test_pid_of_an_unrelated_live_process_is_not_ours(tmp_path: Path) -> None:
    server = LocalNeo4j(tmp_path, name="reused", bolt_port=_free_port())
    server.run_dir.mkdir(parents=True)
    server.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not a Neo4j of this instance
    assert not server.status().running
    server.stop()  # must not signal the test runner itself
    assert not server.pid_file.exists()


def test_missing_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(LocalNeo4jError, match=r"[Jj]ava"):
        LocalNeo4j(tmp_path, bolt_port=_free_port()).start(timeout_s=5)


def test_port_taken_by_another_program(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = int(squatter.getsockname()[1])
        with pytest.raises(LocalNeo4jError, match=f"port {port}.*taken"):
            LocalNeo4j(tmp_path, name="squatted", bolt_port=port).start(timeout_s=5)


def test_log_tail_shows_only_the_latest_run(tmp_path: Path) -> None:
    server = LocalNeo4j(tmp_path, name="logs")
    server.logs_dir.mkdir(parents=True)
    server.log_file.write_text(
        "=== tracegraph.localneo4j start 1 ===\nold failure\n"
        "=== tracegraph.localneo4j start 2 ===\nnew failure\n"
    )
    (server.logs_dir / "neo4j.log").write_text("".join(f"line {i}\n" for i in range(30)))
    text = server._log_tail()
    assert "new failure" in text
    assert "old failure" not in text
    assert "line 29" in text
    assert "line 9\n" not in text  # only the last 20 lines


# --------------------------------------------------------------------------- real server
