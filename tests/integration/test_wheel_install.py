"""A wheel installed as a user would install it serves the dashboard.

Built from the checkout, installed into a fresh venv outside the repository (its runtime
dependencies from requirements/main.lock, as the Docker image installs them), started
with `tracegraph serve` against the test Neo4j; then the page and everything it imports
are loaded over HTTP. Before the fix an installed service answered 503 "dashboard not
installed": the wheel carried no web files and the service looked for them in a
repository that an installed package does not have.
"""

from __future__ import annotations

import os
import signal
import subprocess
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support.eventually import eventually
from tests.support.packaging import build_wheel, everything_the_page_loads
from tracegraph.settings import REPO_ROOT, Neo4jSettings

CONTENT_TYPES = {".js": "javascript", ".mjs": "javascript", ".css": "text/css"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel and main.lock; its ``bin`` folder."""
    home = tmp_path_factory.mktemp("wheel-install")
    assert not home.resolve().is_relative_to(REPO_ROOT), "the venv must be outside the repo"
    wheel = build_wheel(REPO_ROOT, home / "dist")
    venv.create(home / "venv", with_pip=True)
    python = home / "venv" / "bin" / "python"
    pip = [
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--disable-pip-version-check",
    ]
    for args in (["-r", str(REPO_ROOT / "requirements" / "main.lock")], ["--no-deps", str(wheel)]):
        done = subprocess.run([*pip, *args], capture_output=True, text=True, timeout=900, cwd=home)
        assert done.returncode == 0, f"pip install {args} failed:\n{done.stderr}"
    return home / "venv" / "bin"


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH or venv of the test run leaking
    the checkout into the installed service."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    return {**keep, **extra}


def test_the_installed_package_reads_its_own_dashboard_and_cypher_files(installed: Path) -> None:
    done = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import tracegraph.web.routes as r, tracegraph.store.cypher_files as c;"
            "print(r.WEB_ROOT); print(c._cypher_dir())",
        ],
        capture_output=True,
        text=True,
        env=_clean_env(),
        cwd=installed,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    web_root, cypher_dir = (Path(line) for line in done.stdout.split())
    assert web_root.name == "_web" and web_root.parent.parent.name == "site-packages"
    assert web_root.is_relative_to(installed.parent)
    assert cypher_dir == web_root.parent / "_cypher"


@dataclass
class Served:
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def served(installed: Path, neo4j_settings: Neo4jSettings) -> Iterator[Served]:
    """`tracegraph serve` of the installed wheel, once it answers HTTP."""
    port = free_port()
    env = _clean_env(
        NEO4J_URI=neo4j_settings.uri,
        NEO4J_USER=neo4j_settings.user,
        NEO4J_PASSWORD=neo4j_settings.password,
        TRACEGRAPH_HOST="127.0.0.1",
        TRACEGRAPH_PORT=str(port),
        # The machine running the suite is shared and may be loaded far past its cores;
        # start-up's schema and policy writes give up for good on a client-side timeout.
        # Readiness, not speed, is checked here: wide timeouts keep a slow database
        # from reading as a broken package.
        NEO4J_TRANSACTION_TIMEOUT_S="120",
        TRACEGRAPH_QUERY_TIMEOUT_S="120",
        TRACEGRAPH_WRITE_TIMEOUT_S="120",
        TRACEGRAPH_DATABASE_ANSWER_TIMEOUT_S="30",
    )
    # Output to a file, not a pipe nobody drains: a full pipe would stall the server.
    served = Served(f"http://127.0.0.1:{port}", installed.parent / f"serve-{port}.log")
    with served.log.open("w") as log:
        proc = subprocess.Popen(
            [str(installed / "tracegraph"), "serve"],
            env=env,
            cwd=installed.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"tracegraph serve exited:\n{served.output()}")
        try:
            return httpx.get(f"{served.base_url}/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    try:
        # Generous: start-up imports and plans its statements, on a shared, loaded machine.
        eventually(answers, timeout=300, interval=0.5, what="the installed service answering")
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_the_installed_service_serves_the_page_and_every_module_it_imports(
    served: Served,
) -> None:
    with httpx.Client(base_url=served.base_url, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.text == (REPO_ROOT / "web" / "index.html").read_text(encoding="utf-8")
        # A deep link answers the same page (the SPA routes are mounted too).
        assert client.get("/runs/some-run").text == page.text

        def read(url: str) -> str:
            resp = client.get(url)
            assert resp.status_code == 200, f"{url}: {resp.status_code}"
            expected = CONTENT_TYPES[Path(url).suffix]
            assert expected in resp.headers["content-type"], (url, resp.headers)
            return resp.text

        loaded = everything_the_page_loads(page.text, read)
        assert "/static/app/main.js" in loaded
        assert "/static/vendor/graphql-ws/client.js" in loaded
        assert len([u for u in loaded if u.startswith("/static/vendor/")]) >= 10

        # And the rest of the package works installed: its schema, from the wheel's
        # Cypher files, is applied on the test Neo4j and the writer runs.
        def ready() -> bool:
            return client.get("/readyz").status_code == 200

        try:
            eventually(ready, timeout=300, interval=0.5, what="the installed service ready")
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}\n{served.output()}") from None
