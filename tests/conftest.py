"""Shared fixtures: a real Neo4j 5.26 server and a real running service.

Neo4j comes from, in order: ``NEO4J_URI`` if set (the tests WIPE that database), a
testcontainers ``neo4j:5.26-community`` container when a Docker engine answers, or the
project's local launcher (instance ``test`` on port 7697, separate from the demo's).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
import traceback
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import httpx
import pytest
import uvicorn
from neo4j import Driver, GraphDatabase

from tests.support.eventually import eventually
from tests.support.skips import unavailable
from tracegraph.settings import REPO_ROOT, Neo4jSettings, Settings
from tracegraph.store.cypher_files import query

T = TypeVar("T")
# Test data lives in the repository (tests/data/), so a clone alone runs the suite.
EXAMPLES = Path(__file__).resolve().parent / "data"
TEST_BOLT_PORT = int(os.environ.get("TRACEGRAPH_TEST_BOLT_PORT", "7697"))


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[dict]:
    """Connection facts of the test server, plus a handle to stop/start it when local."""
    if os.environ.get("NEO4J_URI"):
        yield {"uri": os.environ["NEO4J_URI"], "local": None}
        return
    if _docker_answers():
        from testcontainers.neo4j import Neo4jContainer

        with Neo4jContainer("neo4j:5.26-community") as container:
            yield {
                "uri": container.get_connection_url(),
                "user": container.username,
                "password": container.password,
                "local": None,
            }
        return
    from tracegraph.localneo4j import LocalNeo4j

    server = LocalNeo4j(REPO_ROOT / ".neo4j", name="test", bolt_port=TEST_BOLT_PORT)
    uri = server.start()
    yield {"uri": uri, "local": server}
    if os.environ.get("TRACEGRAPH_TEST_KEEP_NEO4J") != "1":
        server.stop()


def _launcher_behind(neo4j_server: dict) -> Any:
    """The launcher instance behind the test database (also one a loopback NEO4J_URI
    points at), or None for a server we cannot stop and start (remote, container)."""
    if neo4j_server.get("local") is not None:
        return neo4j_server["local"]
    parsed = urlparse(os.environ.get("NEO4J_URI", ""))
    if parsed.hostname not in {"127.0.0.1", "localhost"} or parsed.port is None:
        return None
    from tracegraph.localneo4j import LocalNeo4j

    home = REPO_ROOT / ".neo4j"
    for conf in sorted(home.glob("instances/*/conf/neo4j.conf")):
        if f":{parsed.port}\n" in conf.read_text() + "\n":
            return LocalNeo4j(home, name=conf.parent.parent.name, bolt_port=parsed.port)
    return None


@pytest.fixture
def stoppable_neo4j(neo4j_server: dict) -> Any:
    """The test database's launcher, for tests that stop and restart it. Skipped only
    where that is impossible (a remote server or a container); under CI, which always
    runs the launcher, a missing launcher fails the test instead of skipping it."""
    local = _launcher_behind(neo4j_server)
    if local is None:
        unavailable("stopping the database needs the local launcher (NEO4J_URI is remote)")
    return local


@pytest.fixture(scope="session")
def neo4j_settings(neo4j_server: dict) -> Neo4jSettings:
    return Neo4jSettings(
        uri=neo4j_server["uri"],
        user=neo4j_server.get("user", "neo4j"),
        password=neo4j_server.get("password", ""),
    )


@pytest.fixture(scope="session")
def sync_driver(neo4j_settings: Neo4jSettings) -> Iterator[Driver]:
    driver = GraphDatabase.driver(neo4j_settings.uri, auth=neo4j_settings.auth)
    yield driver
    driver.close()


def wipe(driver: Driver, keep_governance: bool = False) -> None:
    """Empty the graph; ``keep_governance`` keeps keys, policy and audit (as replay does)."""
    with driver.session() as session:
        session.run(query("wipe_event_graph" if keep_governance else "wipe_batch")).consume()


@pytest.fixture
def clean_graph(sync_driver: Driver) -> Driver:
    """An empty graph (schema kept) before the test."""
    wipe(sync_driver)
    return sync_driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningService:
    """The real app under uvicorn in a background thread, on a free loopback port."""

    def __init__(
        self, settings: Settings, *, wait_ready: bool = True, wait_live: bool = True
    ) -> None:
        from tracegraph.api.app import create_app

        # Like a deployment's readiness probe: tests start once the graph schema is
        # applied (a cold, loaded Neo4j may take longer than start-up waits for it, and
        # writes meanwhile get a retryable 503 that a test's first post would trip on)...
        self.wait_ready = wait_ready
        # ...and the live tailer and the command feed have read where the event log and
        # the commands end (/readyz's "live_tail" and "commands"). Both start after the
        # schema: a test that subscribed or emitted before then raced their first read.
        # ``wait_live=False``: a test that observes that not-yet-ready state.
        self.wait_live = wait_live
        from tracegraph.api.ws_protocol import uvicorn_ws_options

        self.settings = settings
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=int(settings.shutdown_grace_s),
            **uvicorn_ws_options(settings),
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self._keys: dict[str, str] = {}

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def __enter__(self) -> RunningService:
        self.thread.start()

        def started() -> bool:
            if not self.thread.is_alive():
                raise RuntimeError("service did not start: its thread ended")
            return bool(self.server.started)

        eventually(started, timeout=60, what="the service started")
        if self.wait_ready:
            services = self.app.state.services
            eventually(services.schema_ready.is_set, timeout=120, what="the graph schema applied")
            if self.wait_live:
                eventually(self.live_ready, timeout=120, what="the live tail and command feed")
        return self

    def live_ready(self) -> bool:
        """The hub's tailer and the command feed follow the log (what /readyz waits for
        besides the database, the schema and the writer)."""
        services = self.app.state.services
        return bool(services.hub.tail_ready and services.command_feed.started)

    def __exit__(self, *exc: object) -> None:
        # A service left running keeps its SLA timer on its own (fake) clock and writes
        # breaches into the next test's graph: stop it, forcibly if it lingers, and say
        # so if even that fails rather than leak it.
        self.server.should_exit = True
        self.thread.join(timeout=self.settings.shutdown_grace_s + 10)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout=15)
        if self.thread.is_alive():
            raise RuntimeError(
                f"the service on port {self.port} did not stop; where it waits:\n"
                + self._where_it_waits()
            )
        self.loop.close()

    def _where_it_waits(self) -> str:
        """The service thread's stack and every task still pending on its loop (a
        service that does not stop is a bug: this says where to look)."""
        lines = []
        frame = sys._current_frames().get(self.thread.ident or -1)
        if frame is not None:
            lines.append("thread:\n" + "".join(traceback.format_stack(frame)[-8:]))
        for task in list(asyncio.all_tasks(self.loop)):
            # A suspended coroutine's frame has no f_back: follow what it awaits instead.
            where, awaited = [], task.get_coro()
            while awaited is not None and len(where) < 30:
                frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
                if frame is not None:
                    code = frame.f_code
                    where.append(f"  {code.co_filename}:{frame.f_lineno} {code.co_name}")
                awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
            lines.append(f"task {task.get_name()}:\n" + "\n".join(where))
        return "\n".join(lines)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the service's own event loop (its driver lives there)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def key(self, role: str = "admin") -> str:
        """An API key of ``role``, created through the service's own key store."""
        if role not in self._keys:
            from tracegraph.auth.roles import parse_role

            services = self.app.state.services
            _, text = self.call(
                services.keys.create(
                    f"test-{role}-{uuid.uuid4().hex[:8]}", parse_role(role), "system:tests"
                )
            )
            self._keys[role] = text
        return self._keys[role]

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(role)}"}

    def client(self, role: str | None = "admin", **kwargs: Any) -> httpx.Client:
        """An HTTP client carrying ``role``'s key (``role=None``: no credentials)."""
        headers = {**(self.headers(role) if role else {}), **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.base_url, timeout=60, headers=headers, **kwargs)

    def async_client(self, role: str | None = "admin", **kwargs: Any) -> httpx.AsyncClient:
        headers = {**(self.headers(role) if role else {}), **kwargs.pop("headers", {})}
        return httpx.AsyncClient(base_url=self.base_url, timeout=60, headers=headers, **kwargs)


@pytest.fixture
def make_service(neo4j_settings: Neo4jSettings) -> Iterator[Callable[..., RunningService]]:
    started: list[RunningService] = []

    def _make(*, wait_live: bool = True, **overrides: object) -> RunningService:
        """A service with these settings, returned once ready (``wait_live=False``: once
        its schema is applied, before its live tail and command feed follow)."""
        settings = Settings(neo4j=neo4j_settings, **overrides)  # type: ignore[arg-type]
        svc = RunningService(settings, wait_live=wait_live).__enter__()
        started.append(svc)
        return svc

    yield _make
    failures = []
    for svc in started:
        try:
            svc.__exit__(None, None, None)
        except Exception as exc:
            failures.append(exc)
    if failures:
        raise failures[0]


@pytest.fixture
def service(clean_graph: Driver, make_service: Callable[..., RunningService]) -> RunningService:
    """A running service over an empty graph."""
    return make_service()


@pytest.fixture(scope="session")
def example_events() -> list[dict]:
    import orjson

    return orjson.loads(Path(EXAMPLES / "rag-nightly.json").read_bytes())
