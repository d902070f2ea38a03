"""The wheel carries the dashboard: its page, every module the page imports (followed
through the imports, vendored ones included), and the licences of what it vendors.

A wheel (`pip install .`, the Docker image) used to carry the Cypher files but no
dashboard, so an installed service answered its "not installed" page. The file list is
pyproject.toml's force-include table; this builds the wheel and reads it back.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.packaging import (
    WHEEL_WEB_PREFIX,
    build_wheel,
    everything_the_page_loads,
    vendored_packages,
    web_path,
)
from tracegraph.settings import REPO_ROOT

WEB = REPO_ROOT / "web"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    if not (WEB / "node_modules").is_dir():
        pytest.fail("web/node_modules is missing: run `make setup` (npm ci --prefix web)")
    path = build_wheel(REPO_ROOT, tmp_path_factory.mktemp("wheel"))
    with zipfile.ZipFile(path) as archive:
        yield archive


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        raise AssertionError(f"the wheel lacks {name}") from None


def test_the_wheel_carries_the_page_and_every_module_it_imports(wheel: zipfile.ZipFile) -> None:
    index = _read(wheel, WHEEL_WEB_PREFIX + "index.html")
    assert index == (WEB / "index.html").read_bytes()

    def read(url: str) -> str:
        return _read(wheel, WHEEL_WEB_PREFIX + web_path(url)).decode("utf-8")

    loaded = everything_the_page_loads(index.decode("utf-8"), read)
    # Followed, not just listed: the app's entry, a view it imports, vendored modules
    # imported by the app's modules, and a chunk a vendored module imports itself.
    assert "/static/app/main.js" in loaded
    assert "/static/app/views/run.js" in loaded
    assert "/static/vendor/cytoscape/cytoscape.esm.min.mjs" in loaded
    assert "/static/vendor/fast-json-patch/module/helpers.mjs" in loaded
    assert any(url.startswith("/static/vendor/graphql-ws/common-") for url in loaded)
    assert "/static/vendor/highlight.js-styles/github-dark.min.css" in loaded
    for url, text in loaded.items():
        assert text == (WEB / web_path(url)).read_text(encoding="utf-8"), f"{url} differs"


def test_the_wheel_carries_every_dashboard_source_file(wheel: zipfile.ZipFile) -> None:
    sources = {p.relative_to(WEB).as_posix() for p in (WEB / "src").rglob("*") if p.is_file()}
    shipped = {
        name.removeprefix(WHEEL_WEB_PREFIX)
        for name in wheel.namelist()
        if name.startswith(WHEEL_WEB_PREFIX + "src/")
    }
    assert shipped == sources


def test_the_wheel_vendors_only_the_served_packages_each_with_its_licence(
    wheel: zipfile.ZipFile,
) -> None:
    prefix = WHEEL_WEB_PREFIX + "node_modules/"
    shipped: dict[str, set[str]] = {}
    for name in wheel.namelist():
        if name.startswith(prefix):
            rel = name.removeprefix(prefix)
            parts = rel.split("/")
            package = "/".join(parts[:2]) if parts[0].startswith("@") else parts[0]
            shipped.setdefault(package, set()).add(rel.removeprefix(package + "/"))
    # Nothing of the dev tooling (eslint, prettier …) rides along.
    assert set(shipped) == vendored_packages()
    for package, files in shipped.items():
        licences = [f for f in files if f.upper().startswith("LICENSE")]
        assert licences, f"{package} is vendored without its licence"
        for licence in licences:
            assert (WEB / "node_modules" / package / licence).is_file()


def test_the_wheel_still_carries_every_cypher_statement(wheel: zipfile.ZipFile) -> None:
    repo = {p.name for p in (REPO_ROOT / "cypher").glob("*.cypher")}
    shipped = {Path(n).name for n in wheel.namelist() if n.startswith("tracegraph/_cypher/")}
    assert repo and shipped == repo
