"""What the dashboard loads, followed from its page; and building the wheel.

Shared by the wheel's file-list test (tests/unit/web/test_wheel_files.py), the installed
wheel served for real (tests/integration/test_wheel_install.py) and the Docker build
context check (tests/unit/test_docker_context.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from posixpath import dirname, normpath

from tracegraph.web.routes import VENDOR_DIRS

# Where an installed wheel keeps the dashboard (pyproject.toml's force-include table).
WHEEL_WEB_PREFIX = "tracegraph/_web/"

# Module specifiers of static imports and re-exports (`import x from "…"`, `import "…"`,
# `export { y } from "…"`) and of dynamic imports with a literal (`import("…")`). Minified
# vendor code writes `from"…"` with no space, hence `\s*`.
_SPECIFIER = re.compile(r"""(?:\bimport\s*\(\s*|\bfrom\s*|\bimport\s*)(["'])(?P<spec>[^"'\s]+)\1""")


class _PageAssets(HTMLParser):
    """Local scripts and stylesheets a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "script" and attr.get("src"):
            self.urls.append(str(attr["src"]))
        if tag == "link" and attr.get("rel") == "stylesheet" and attr.get("href"):
            self.urls.append(str(attr["href"]))


def page_assets(html: str) -> list[str]:
    parser = _PageAssets()
    parser.feed(html)
    return [url for url in parser.urls if url.startswith("/")]


def module_imports(url: str, text: str) -> list[str]:
    """The URLs a module at ``url`` imports. Bare specifiers (``'ws'``) are skipped: a
    browser cannot load them, and the one in graphql-ws is inside an error message."""
    found = []
    for match in _SPECIFIER.finditer(text):
        spec = match["spec"]
        if spec.startswith("/"):
            found.append(spec)
        elif spec.startswith(("./", "../")):
            found.append(normpath(f"{dirname(url)}/{spec}"))
    return found


def everything_the_page_loads(index_html: str, read: Callable[[str], str]) -> dict[str, str]:
    """Every URL the page loads, transitively through module imports -> its text, read
    with ``read(url)`` (from a wheel, a folder or a running service)."""
    loaded: dict[str, str] = {}
    pending = page_assets(index_html)
    while pending:
        url = pending.pop()
        if url in loaded:
            continue
        loaded[url] = text = read(url)
        if url.endswith((".js", ".mjs")):
            pending.extend(module_imports(url, text))
    return loaded


def web_path(url: str) -> str:
    """The file behind a dashboard URL, relative to the web root (``web/`` in a checkout,
    ``tracegraph/_web/`` in a wheel), by the mounts of tracegraph/web/routes.py."""
    if url.startswith("/static/app/"):
        return "src/" + url.removeprefix("/static/app/")
    name, _, rest = url.removeprefix("/static/vendor/").partition("/")
    if not url.startswith("/static/vendor/") or name not in VENDOR_DIRS:
        raise AssertionError(f"{url} is served by no mount of tracegraph/web/routes.py")
    return f"node_modules/{VENDOR_DIRS[name]}/{rest}"


def vendored_packages() -> set[str]:
    """The npm packages the dashboard serves files of (``@scope/name`` or ``name``)."""
    packages = set()
    for rel in VENDOR_DIRS.values():
        parts = rel.split("/")
        packages.add("/".join(parts[:2]) if parts[0].startswith("@") else parts[0])
    return packages


def build_wheel(source: Path, out_dir: Path) -> Path:
    """``pip wheel`` of the project at ``source`` with the pinned hatchling of the dev
    venv (no build isolation: nothing downloaded, the backend version the lock says)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--quiet",
            "--wheel-dir",
            str(out_dir),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"pip wheel failed:\n{done.stdout}\n{done.stderr}"
    (wheel,) = out_dir.glob("tracegraph-*.whl")
    return wheel
