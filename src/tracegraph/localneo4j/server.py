"""Start, stop and inspect a named local Neo4j instance.

Layout under ``home`` (normally ``settings.neo4j_home``, i.e. ``<repo>/.neo4j``)::

    dist/<version>/lib/            jars shared by all instances (see fetch.py)
    instances/<name>/conf/         neo4j.conf, rewritten on every start
    instances/<name>/data/         databases and transaction logs
    instances/<name>/logs/         console.log (JVM stdout/stderr) and Neo4j's own logs
    instances/<name>/run/          neo4j.pid and the launcher's lock file

``dist_dir`` may point elsewhere so tests can use a throwaway ``home`` while
reusing the jars already downloaded into the real one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from neo4j import GraphDatabase
from neo4j.exceptions import DriverError, Neo4jError

from tracegraph.localneo4j.config import (
    DEFAULT_BOLT_PORT,
    DEFAULT_HEAP,
    DEFAULT_PAGECACHE,
    LOOPBACK,
    bolt_port_from_uri,
    bolt_uri,
    check_size,
    jvm_args,
    render_config,
)
from tracegraph.localneo4j.errors import LocalNeo4jError
from tracegraph.localneo4j.fetch import (
    ENTRY_POINT,
    NEO4J_VERSION,
    default_dist_dir,
    ensure_dist,
    file_lock,
    tail,
)

_MIN_JAVA = 17
_POLL_S = 0.5
_PROBE_TIMEOUT_S = 2.0
_KILL_WAIT_S = 10.0
_LOG_TAIL_LINES = 20
_START_BANNER = "=== tracegraph.localneo4j start"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Neo4jStatus:
    """What is true right now about one instance.

    running: our server process (the pid in the pid file, checked to be this
        instance's java) is alive.
    answering: running, and a Bolt handshake on ``bolt_uri`` succeeds.
    version: the server's own version (e.g. "5.26.30") when answering, else None.
    home: the instance directory (the server's --home-dir).
    """

    running: bool
    pid: int | None
    bolt_uri: str
    answering: bool
    version: str | None
    home: Path
    log_file: Path


class LocalNeo4j:
    """One named Neo4j Community server on 127.0.0.1, run as a background java process."""

    def __init__(
        self,
        home: Path,
        name: str = "default",
        bolt_port: int = DEFAULT_BOLT_PORT,
        heap: str = DEFAULT_HEAP,
        pagecache: str = DEFAULT_PAGECACHE,
        *,
        dist_dir: Path | None = None,
        version: str = NEO4J_VERSION,
    ) -> None:
        if not _NAME.match(name):
            raise LocalNeo4jError(f"instance name must be a simple folder name, not {name!r}")
        self.home = Path(home).resolve()
        self.name = name
        self.bolt_port = bolt_port
        self.heap = check_size(heap, "heap")
        self.pagecache = check_size(pagecache, "pagecache")
        self.version = version
        self.dist_dir = (
            Path(dist_dir).resolve() if dist_dir else default_dist_dir(self.home, version)
        )
        self.instance_dir = self.home / "instances" / name
        self.conf_dir = self.instance_dir / "conf"
        self.data_dir = self.instance_dir / "data"
        self.logs_dir = self.instance_dir / "logs"
        self.run_dir = self.instance_dir / "run"
        self.pid_file = self.run_dir / "neo4j.pid"
        self.log_file = self.logs_dir / "console.log"
        # Kept so we can reap our own child (else it lingers as a zombie that looks alive).
        self._proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_uri(
        cls,
        home: Path,
        uri: str,
        name: str = "default",
        heap: str = DEFAULT_HEAP,
        pagecache: str = DEFAULT_PAGECACHE,
        *,
        dist_dir: Path | None = None,
    ) -> LocalNeo4j:
        """An instance serving the port of ``uri`` (e.g. ``settings.neo4j.uri``)."""
        return cls(home, name, bolt_port_from_uri(uri), heap, pagecache, dist_dir=dist_dir)

    @property
    def bolt_uri(self) -> str:
        return bolt_uri(self.bolt_port)

    # ------------------------------------------------------------------ public API

    def start(self, timeout_s: float = 120.0) -> str:
        """Start the server if needed and return its Bolt URI once it answers.

        Downloads the jars on first use. Returns at once if this instance already
        runs and answers; if it runs but does not answer yet (e.g. started by a
        process that died while waiting), waits for it like for a fresh start.
        """
        deadline = time.monotonic() + timeout_s
        for d in (self.conf_dir, self.data_dir, self.logs_dir, self.run_dir):
            d.mkdir(parents=True, exist_ok=True)
        with file_lock(self.run_dir / "launcher.lock"):
            pid = self._live_pid()
            if pid is not None:
                running_port = self._configured_port()
                if running_port not in (None, self.bolt_port):
                    raise LocalNeo4jError(
                        f"instance {self.name!r} already runs (pid {pid}) on port "
                        f"{running_port}, not {self.bolt_port}; stop it first to change ports"
                    )
                if self._probe() is not None:
                    return self.bolt_uri
                self._wait_until_answering(pid, deadline, timeout_s)
                return self.bolt_uri
            self.pid_file.unlink(missing_ok=True)  # stale: its process is gone
            self._check_port_free()
            java = _find_java()
            lib = ensure_dist(self.dist_dir, self.version)
            (self.conf_dir / "neo4j.conf").write_text(
                render_config(
                    instance_dir=self.instance_dir,
                    bolt_port=self.bolt_port,
                    heap=self.heap,
                    pagecache=self.pagecache,
                ),
                encoding="utf-8",
            )
            (self.instance_dir / "import").mkdir(exist_ok=True)
            (self.instance_dir / "plugins").mkdir(exist_ok=True)
            pid = self._spawn(java, lib)
            try:
                self._wait_until_answering(pid, deadline, timeout_s)
            except LocalNeo4jError:
                # Do not leave a half-started server holding the port and the data dir.
                self._stop_locked(timeout_s=30.0)
                raise
            return self.bolt_uri

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the server: SIGTERM (clean shutdown), then SIGKILL after ``timeout_s``.

        A no-op when nothing runs; always leaves no pid file behind.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.run_dir / "launcher.lock"):
            self._stop_locked(timeout_s)

    def status(self) -> Neo4jStatus:
        pid = self._live_pid()
        # Report the port the live server was configured with, even if this object
        # was built with another one: status must describe what actually runs.
        port = (self._configured_port() or self.bolt_port) if pid is not None else self.bolt_port
        agent = probe_bolt(bolt_uri(port)) if pid is not None else None
        return Neo4jStatus(
            running=pid is not None,
            pid=pid,
            bolt_uri=bolt_uri(port),
            answering=agent is not None,
            version=agent.removeprefix("Neo4j/") if agent else None,
            home=self.instance_dir,
            log_file=self.log_file,
        )

    def wipe(self) -> None:
        """Stop the server and delete its databases (config and logs are kept)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # ------------------------------------------------------------------ internals

    def _spawn(self, java: str, lib: Path) -> int:
        cmd = [
            java,
            *jvm_args(self.heap),
            "-cp",
            f"{lib}/*",
            ENTRY_POINT,
            f"--home-dir={self.instance_dir}",
            f"--config-dir={self.conf_dir}",
        ]
        with self.log_file.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"\n{_START_BANNER} {stamp} ===\n".encode())
            log.flush()
            # Own session: a Ctrl-C in the terminal that started us must not kill the
            # server, and it must outlive this Python process.
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.instance_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n", encoding="utf-8")
        return self._proc.pid

    def _wait_until_answering(self, pid: int, deadline: float, timeout_s: float) -> None:
        while True:
            if not self._alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise LocalNeo4jError(
                    f"Neo4j ({self.name}) exited during startup:\n{self._log_tail()}"
                )
            if self._probe() is not None:
                return
            if time.monotonic() >= deadline:
                raise LocalNeo4jError(
                    f"Neo4j ({self.name}, pid {pid}) did not answer on {self.bolt_uri} "
                    f"within {timeout_s:g} s:\n{self._log_tail()}"
                )
            time.sleep(_POLL_S)

    def _stop_locked(self, timeout_s: float) -> None:
        pid = self._live_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not self._wait_dead(pid, timeout_s):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                if not self._wait_dead(pid, _KILL_WAIT_S):
                    raise LocalNeo4jError(f"Neo4j ({self.name}, pid {pid}) survived SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        self._proc = None

    def _wait_dead(self, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self._alive(pid):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)
        return True

    def _live_pid(self) -> int | None:
        """The pid from the pid file if that process is alive and is this instance."""
        try:
            pid = int(self.pid_file.read_text(encoding="utf-8").strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._alive(pid) and self._is_our_server(pid) else None

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, owned by someone else; _is_our_server decides
        return _proc_state(pid) not in {"Z", "X"}

    def _is_our_server(self, pid: int) -> bool:
        """Guard against pid reuse: the process must be java running this instance."""
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return False
        except OSError:
            return True  # no /proc to ask (not Linux): trust the pid file
        args = raw.decode("utf-8", errors="replace").split("\0")
        return ENTRY_POINT in args and f"--home-dir={self.instance_dir}" in args

    def _configured_port(self) -> int | None:
        """The Bolt port in the instance's neo4j.conf (what the live server uses)."""
        try:
            text = (self.conf_dir / "neo4j.conf").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        match = re.search(r"^server\.bolt\.listen_address=.*:(\d+)\s*$", text, re.MULTILINE)
        return int(match.group(1)) if match else None

    def _probe(self) -> str | None:
        return probe_bolt(self.bolt_uri)

    def _check_port_free(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # Same option the JVM's server socket uses, so TIME_WAIT leftovers do not count.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((LOOPBACK, self.bolt_port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise LocalNeo4jError(
                        f"cannot use {LOOPBACK}:{self.bolt_port}: {exc}"
                    ) from None
            else:
                return
        agent = probe_bolt(self.bolt_uri)
        who = f"another Bolt server ({agent})" if agent else "another program"
        raise LocalNeo4jError(
            f"port {self.bolt_port} on {LOOPBACK} is taken by {who}, not by local Neo4j "
            f"instance {self.name!r}; stop it or choose another port in the bolt URI"
        )

    def _log_tail(self) -> str:
        """Neo4j's own log (startup progress, config errors) plus the JVM's console."""
        parts = []
        for path in (self.logs_dir / "neo4j.log", self.log_file):
            text = tail(path, _LOG_TAIL_LINES)
            # console.log is appended to on every start: show only the latest run.
            if _START_BANNER in text:
                text = text.rpartition(_START_BANNER)[2].partition("\n")[2]
            text = text.strip()
            if text:
                parts.append(f"--- {path} (last {_LOG_TAIL_LINES} lines) ---\n{text}")
        return "\n".join(parts) or f"(nothing logged in {self.logs_dir})"


def probe_bolt(uri: str, timeout_s: float = _PROBE_TIMEOUT_S) -> str | None:
    """The server agent (e.g. "Neo4j/5.26.30") if a real Bolt handshake succeeds, else None."""
    try:
        with GraphDatabase.driver(
            uri,
            auth=None,
            connection_timeout=timeout_s,
            connection_acquisition_timeout=timeout_s,
            max_connection_pool_size=1,
        ) as driver:
            driver.verify_connectivity()
            return driver.get_server_info().agent
    except (DriverError, Neo4jError, OSError):
        return None


def _find_java() -> str:
    """The java binary ($JAVA_HOME first, then PATH), checked to be >= 17."""
    candidates = []
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidates.append(str(Path(java_home) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    java = next((c for c in candidates if os.access(c, os.X_OK)), None)
    if java is None:
        raise LocalNeo4jError(
            f"Java {_MIN_JAVA}+ is needed to run Neo4j but `java` was not found "
            "(set JAVA_HOME or install e.g. openjdk-17-jre-headless)"
        )
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalNeo4jError(f"cannot run {java} -version: {exc}") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):  # "1.8.0_x" style
        major = int(match.group(2))
    if major < _MIN_JAVA:
        raise LocalNeo4jError(
            f"Neo4j {NEO4J_VERSION} needs Java {_MIN_JAVA}+, but {java} reports: "
            f"{out.strip().splitlines()[0] if out.strip() else 'nothing'}"
        )
    return java


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 3, after the parenthesised command name (which may itself contain spaces).
    return stat.rsplit(")", 1)[-1].split()[0]
