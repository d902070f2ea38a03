"""The Docker image gets the dashboard, checked without a Docker engine.

The image used to leave out web/ (and its npm packages), so under `docker compose up` the
dashboard answered its "not installed" page. Here the Dockerfile is parsed
(dockerfile-parse), its build context computed as the Docker client sends it (the docker
SDK applies .dockerignore), and its stages replayed on file lists: every COPY source must
exist in the context or the stage it names, the wheel stage must hold every file
pyproject.toml's force-include table packs (the dashboard, its vendored modules, the
Cypher files), and the runtime stage must install the pinned lock and that wheel.
`npm ci` is replayed from web/package-lock.json over the checkout's web/node_modules
(the same lock, so the same files), keeping only the packages the lock does not mark dev.
"""

from __future__ import annotations

import io
import json
import shlex
import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import PurePosixPath

import pytest
from docker.utils.build import exclude_paths
from dockerfile_parse import DockerfileParser

from tracegraph.settings import REPO_ROOT

WEB = REPO_ROOT / "web"


def _context_files(dockerignore: str | None = None) -> set[str]:
    """Files (not folders) of the build context, relative to the repository."""
    if dockerignore is None:
        dockerignore = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8")
    lines = dockerignore.splitlines()
    # As docker's own client reads the file (docker/api/build.py).
    patterns = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    return {p for p in exclude_paths(str(REPO_ROOT), patterns) if (REPO_ROOT / p).is_file()}


def _npm_ci_output() -> set[str]:
    """The files `npm ci --omit=dev` leaves in node_modules, relative to it."""
    lock = json.loads((WEB / "package-lock.json").read_text(encoding="utf-8"))
    runtime = [
        key.removeprefix("node_modules/")
        for key, meta in lock["packages"].items()
        if key.startswith("node_modules/") and not meta.get("dev")
    ]
    assert runtime, "package-lock.json lists no runtime package"
    files = set()
    for package in runtime:
        root = WEB / "node_modules" / package
        assert root.is_dir(), f"web/node_modules lacks {package}: run make setup"
        files |= {f"{package}/{p.relative_to(root).as_posix()}" for p in root.rglob("*")}
    return files


@dataclass
class Stage:
    name: str
    base: str
    workdir: str = "/"
    files: set[str] = field(default_factory=set)  # absolute paths in the stage
    runs: list[str] = field(default_factory=list)


def _abs(workdir: str, path: str) -> str:
    return str(PurePosixPath(workdir, path)) if not path.startswith("/") else path


def _matches(files: set[str], source: str) -> dict[str, str]:
    """Files a COPY source names: {file: its path relative to what is copied}."""
    source = source.rstrip("/") or "/"
    found = {}
    for f in files:
        if fnmatch(f, source) or f == source:
            found[f] = PurePosixPath(f).name
        elif f.startswith(source + "/"):
            found[f] = f.removeprefix(source + "/")
    return found


def _replay(dockerfile: str, context_files: set[str]) -> dict[str, Stage]:
    """The stages of ``dockerfile`` built from ``context_files``, as file lists."""
    parser = DockerfileParser(fileobj=io.BytesIO(dockerfile.encode("utf-8")))
    context = {f"/{f}" for f in context_files}
    npm_files = _npm_ci_output()
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    for index, instr in enumerate(parser.structure):
        kind, value = instr["instruction"], instr["value"]
        if kind == "COMMENT":
            continue
        if kind == "FROM":
            words = value.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else f"#{index}"
            stage = stages[name] = Stage(name=name, base=words[0])
            continue
        assert stage is not None, f"{kind} before FROM"
        if kind == "WORKDIR":
            stage.workdir = _abs(stage.workdir, value)
        elif kind == "RUN":
            stage.runs.append(value)
            if value.startswith("npm ci"):
                modules = f"{stage.workdir}/node_modules"
                stage.files |= {f"{modules}/{f}" for f in npm_files}
            if value.startswith("pip wheel"):
                out = shlex.split(value)[shlex.split(value).index("--wheel-dir") + 1]
                stage.files.add(f"{out}/tracegraph-0.1.0-py3-none-any.whl")
        elif kind in {"COPY", "ADD"}:
            assert kind == "COPY", "ADD fetches and unpacks: COPY says what it does"
            words = shlex.split(value)
            flags = [w for w in words if w.startswith("--")]
            *sources, dest = [w for w in words if not w.startswith("--")]
            origin = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            if origin is None:
                available = context
            else:
                assert origin in stages, f"COPY --from={origin}: no such stage"
                available = stages[origin].files
            target = _abs(stage.workdir, dest)
            for source in sources:
                found = _matches(available, _abs("/", source))
                where = "the build context" if origin is None else f"stage {origin}"
                assert found, f"COPY {value}: {source} is not in {where}"
                single_file = (
                    len(found) == 1 and next(iter(found.values())) == PurePosixPath(source).name
                )
                for rel in found.values():
                    into_dir = dest.endswith("/") or len(sources) > 1 or not single_file
                    stage.files.add(f"{target}/{rel}" if into_dir else target)
    return stages


def _dockerfile() -> str:
    return (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    return _replay(_dockerfile(), _context_files())


def test_the_context_holds_what_the_image_needs_and_nothing_local() -> None:
    files = _context_files()
    for needed in (
        "pyproject.toml",
        "requirements/main.lock",
        "web/index.html",
        "web/package-lock.json",
        "web/src/main.js",
        "src/tracegraph/web/routes.py",
        "cypher/schema.cypher",
    ):
        assert needed in files
    local = [f for f in files if f.startswith((".venv/", ".neo4j/", ".git/", "web/node_modules/"))]
    assert local == []
    assert not [f for f in files if "__pycache__" in f]


def test_the_wheel_stage_holds_every_file_the_wheel_packs(stages: dict[str, Stage]) -> None:
    (wheel_stage,) = [s for s in stages.values() if any(r.startswith("pip wheel") for r in s.runs)]
    root = wheel_stage.workdir
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packed = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert "web/index.html" in packed and "cypher" in packed
    for source in ["pyproject.toml", "README.md", "src/tracegraph/__init__.py", *packed]:
        path = f"{root}/{source}"
        assert path in wheel_stage.files or any(
            f.startswith(path + "/") for f in wheel_stage.files
        ), f"the wheel stage lacks {source} (the wheel build would stop: forced include)"


def test_npm_ci_runs_from_the_lock_in_its_own_stage(stages: dict[str, Stage]) -> None:
    (node,) = [s for s in stages.values() if any(r.startswith("npm ci") for r in s.runs)]
    assert node.base.startswith("node:")
    assert f"{node.workdir}/package-lock.json" in node.files
    assert f"{node.workdir}/node_modules/graphql-ws/dist/client.js" in node.files
    # The dashboard's dev tools stay out of the image.
    assert not any("/node_modules/eslint/" in f for f in node.files)


def test_the_runtime_stage_installs_the_lock_and_the_wheel_only(stages: dict[str, Stage]) -> None:
    runtime = list(stages.values())[-1]
    assert runtime.base.startswith("python:3.11")
    assert f"{runtime.workdir}/requirements/main.lock" in runtime.files
    assert "/dist/tracegraph-0.1.0-py3-none-any.whl" in runtime.files
    assert "pip install --no-cache-dir -r requirements/main.lock" in runtime.runs
    assert any(r.startswith("pip install") and "--no-deps /dist/*.whl" in r for r in runtime.runs)
    # Nothing of the checkout: the service reads only its installed package.
    assert not any(
        f.startswith((f"{runtime.workdir}/src", f"{runtime.workdir}/web")) for f in runtime.files
    )


def test_the_replay_fails_on_a_copy_the_context_cannot_serve() -> None:
    # The check itself can fail: a COPY of a folder the allowlist leaves out ...
    broken = _dockerfile().replace("COPY web/src ./web/src", "COPY web/test ./web/test")
    assert broken != _dockerfile()
    with pytest.raises(AssertionError, match="web/test is not in the build context"):
        _replay(broken, _context_files())
    # ... and an allowlist that drops a folder the Dockerfile copies.
    dockerignore = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8")
    narrowed = dockerignore.replace("!web/src\n", "")
    assert narrowed != dockerignore
    with pytest.raises(AssertionError, match="web/src is not in the build context"):
        _replay(_dockerfile(), _context_files(narrowed))
