"""Dependencies: declared where used, used where declared, and pinned by the lock files.

pyproject.toml says what the code needs (ranges); requirements/*.lock say exactly what is
installed (`make setup`, CI and the Docker image install from them, `make lock` rewrites
them). These checks read the source's imports and the installed distributions; no
database and no network needed.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import importlib.util
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from tracegraph.settings import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
DEV = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]]
LOCKS = {
    "main": (REPO_ROOT / "requirements" / "main.lock", RUNTIME),
    "dev": (REPO_ROOT / "requirements" / "dev.lock", RUNTIME + DEV),
}

# Declared but never imported, and why they are needed all the same.
RUNTIME_NOT_IMPORTED = {
    "neo4j-rust-ext": "the neo4j driver loads it by itself (Rust packstream, faster bolt)",
    "uvicorn": "imported, but the [standard] extra's uvloop/httptools are loaded by uvicorn",
}
DEV_NOT_IMPORTED = {
    "pytest-asyncio": "a pytest plugin (asyncio_mode = auto)",
    "ruff": "the linter and formatter (make lint / make format)",
    "mypy": "the type checker (make lint)",
    "types-protobuf": "stubs read by mypy",
    "types-croniter": "stubs read by mypy",
    "types-pyyaml": "stubs read by mypy",
    "pyarrow-stubs": "stubs read by mypy",
    "uv": "resolves the lock files (make lock / make upgrade)",
    "hatchling": "the build backend, pinned for the tests' `pip wheel --no-build-isolation`",
    "schemathesis": "used as a pytest plugin and library by the API fuzz tests",
}
# Imported by tests through a declared package that depends on them.
PROVIDED_BY: dict[str, str] = {}
# Code that relies on library internals: upgrading these needs a test run first.
MUST_HAVE_UPPER_BOUND = ("strawberry-graphql", "fastapi", "starlette")


def _names(requirements: list[Requirement]) -> set[NormalizedName]:
    return {canonicalize_name(r.name) for r in requirements}


def _imports(folder: Path) -> Iterator[tuple[str, Path]]:
    """Every absolute import under ``folder`` (top-level, lazy and TYPE_CHECKING ones)."""
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield from ((alias.name, path) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield node.module, path


@cache
def _top_level_owners() -> dict[str, list[str]]:
    return md.packages_distributions()


@cache
def _files_of(dist: str) -> frozenset[Path]:
    found = md.distribution(dist)
    return frozenset(Path(str(found.locate_file(f))).resolve() for f in found.files or [])


@cache
def _owner(module: str) -> NormalizedName | None:
    """The installed distribution that provides ``module``; None for our own and stdlib."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top in {"tracegraph", "tests", "bench", "__future__"}:
        return None
    candidates = _top_level_owners().get(top, [])
    if len(set(candidates)) == 1:
        return canonicalize_name(candidates[0])
    # A namespace package (google.*, opentelemetry.*): find the file's distribution.
    parts = module.split(".")
    for depth in range(len(parts), 1, -1):
        spec = importlib.util.find_spec(".".join(parts[:depth]))
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin).resolve()
        for dist in candidates:
            if origin in _files_of(dist):
                return canonicalize_name(dist)
    raise AssertionError(f"no installed distribution provides {module!r}")


def _used(folder: Path) -> dict[NormalizedName, Path]:
    # Scripts import their siblings (bench/harness.py is `import harness`).
    local = {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}
    used: dict[NormalizedName, Path] = {}
    for module, path in _imports(folder):
        if module.split(".")[0] in local:
            continue
        dist = _owner(module)
        if dist is not None:
            used.setdefault(dist, path)
    return used


def test_every_import_of_the_service_is_a_declared_runtime_dependency() -> None:
    declared = _names(RUNTIME)
    missing = {d: str(p) for d, p in _used(REPO_ROOT / "src").items() if d not in declared}
    assert not missing, f"imported by src/ but not in [project].dependencies: {missing}"


def test_every_runtime_dependency_is_imported_or_says_why_not() -> None:
    used = _used(REPO_ROOT / "src")
    unused = _names(RUNTIME) - used.keys() - set(RUNTIME_NOT_IMPORTED)
    assert not unused, f"declared in [project].dependencies, never imported by src/: {unused}"


def test_tests_and_benchmarks_import_only_declared_packages() -> None:
    declared = _names(RUNTIME) | _names(DEV)
    used = _used(REPO_ROOT / "tests") | _used(REPO_ROOT / "bench")
    missing = {
        d: str(p)
        for d, p in used.items()
        if d not in declared and canonicalize_name(PROVIDED_BY.get(d, "")) not in declared
    }
    assert not missing, f"imported by tests/ or bench/ but not declared (dev extra): {missing}"


def test_every_dev_dependency_is_imported_or_says_why_not() -> None:
    used = _used(REPO_ROOT / "tests") | _used(REPO_ROOT / "bench") | _used(REPO_ROOT / "src")
    unused = _names(DEV) - used.keys() - set(DEV_NOT_IMPORTED)
    assert not unused, f"declared in the dev extra, never imported: {unused}"


@pytest.mark.parametrize("name", MUST_HAVE_UPPER_BOUND)
def test_frameworks_whose_internals_we_use_have_an_upper_bound(name: str) -> None:
    (req,) = [r for r in RUNTIME if canonicalize_name(r.name) == name] or [None]
    assert req is not None, f"{name} is used directly and must be declared"
    assert any(spec.operator == "<" for spec in req.specifier), f"{req} has no upper bound"


def _pins(lock: Path) -> dict[NormalizedName, Requirement]:
    """``name==version`` lines (with their markers) of a pip requirements lock file."""
    text = lock.read_text(encoding="utf-8").replace("\\\n", " ")
    pins: dict[NormalizedName, Requirement] = {}
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        req = Requirement(" ".join(p for p in line.split() if not p.startswith("--hash")))
        if req.marker is None or req.marker.evaluate():
            pins[canonicalize_name(req.name)] = req
    return pins


def _pinned_version(req: Requirement) -> str:
    (spec,) = req.specifier
    assert spec.operator == "==", f"{req} is not an exact pin"
    return spec.version


@pytest.mark.parametrize("which", LOCKS)
def test_lock_pins_every_declared_dependency_within_its_range(which: str) -> None:
    lock, declared = LOCKS[which]
    assert lock.is_file(), f"{lock} is missing: run make lock"
    pins = _pins(lock)
    env = default_environment()
    for req in declared:
        if req.marker is not None and not req.marker.evaluate(env | {"extra": "dev"}):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is declared but not pinned in {lock.name}: make lock"
        version = _pinned_version(pins[name])
        assert req.specifier.contains(version, prereleases=True), (
            f"{lock.name} pins {name}=={version} outside pyproject's {req}: make lock"
        )


def test_both_locks_agree_on_shared_packages() -> None:
    main, dev = _pins(LOCKS["main"][0]), _pins(LOCKS["dev"][0])
    differ = {
        n: (_pinned_version(main[n]), _pinned_version(dev[n]))
        for n in main.keys() & dev.keys()
        if _pinned_version(main[n]) != _pinned_version(dev[n])
    }
    assert not differ, f"the image and the dev setup would run different versions: {differ}"


def test_the_environment_runs_what_the_dev_lock_pins() -> None:
    """The venv was installed from the lock (a stale venv: make setup reinstalls it)."""
    wrong = {}
    for name, req in _pins(LOCKS["dev"][0]).items():
        try:
            installed = md.version(name)
        except md.PackageNotFoundError:
            installed = None
        if installed is None or Version(installed) != Version(_pinned_version(req)):
            wrong[name] = (installed, _pinned_version(req))
    assert not wrong, f"installed vs locked (run make setup): {wrong}"
