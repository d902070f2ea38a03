"""The dashboard's own code (web/) passes its linter and formatter, as `make lint` checks.

CI runs the tests, not `make lint`, so this keeps the web code's ESLint and Prettier
findings from landing unseen. No Neo4j, no browser: it runs `npm run lint` in web/ (the
same script `make lint` runs) against the devDependencies `make setup` installs."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.support.skips import unavailable
from tracegraph.settings import REPO_ROOT

WEB = REPO_ROOT / "web"


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        unavailable("needs npm (Node 20) on PATH")
    if not (WEB / "node_modules").is_dir():
        unavailable("front-end packages missing: run `make setup`")
    return npm


def test_web_declares_its_linters_as_dev_dependencies() -> None:
    package = json.loads((WEB / "package.json").read_text())
    dev = package.get("devDependencies", {})
    assert {"eslint", "prettier"} <= dev.keys(), dev
    assert {"lint", "format"} <= package.get("scripts", {}).keys()


def test_web_code_passes_eslint_and_prettier() -> None:
    done = subprocess.run(
        [_npm(), "run", "lint"],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"`npm run lint` in web/ found:\n{done.stdout}{done.stderr}"
