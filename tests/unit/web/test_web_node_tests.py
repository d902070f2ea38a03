"""The dashboard's pure modules (web/src/entities.js: the delta rule, digests) pass their
node tests (web/test/, `npm test --prefix web`, node's built-in runner). No browser, no
Neo4j: real fast-json-patch and canonicalize from web/node_modules."""

from __future__ import annotations

import shutil
import subprocess

from tests.support.skips import unavailable
from tracegraph.settings import REPO_ROOT

WEB = REPO_ROOT / "web"


def test_web_node_tests_pass() -> None:
    npm = shutil.which("npm")
    if npm is None:
        unavailable("needs npm (Node 20) on PATH")
    if not (WEB / "node_modules").is_dir():
        unavailable("front-end packages missing: run `make setup`")
    done = subprocess.run([npm, "test"], cwd=WEB, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"`npm test` in web/ failed:\n{done.stdout}{done.stderr}"
    assert "# fail 0" in done.stdout, done.stdout
