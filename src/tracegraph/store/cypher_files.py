"""Cypher statements live in ``cypher/*.cypher``; this loads them by name."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import LiteralString

from neo4j import Query

_REPO_CYPHER = Path(__file__).resolve().parents[3] / "cypher"
_PACKAGED_CYPHER = Path(__file__).resolve().parents[1] / "_cypher"


def _cypher_dir() -> Path:
    # An editable install reads the repository's folder; a wheel carries a copy.
    return _REPO_CYPHER if _REPO_CYPHER.is_dir() else _PACKAGED_CYPHER


@cache
def cypher(name: str) -> LiteralString:
    """The statement in ``cypher/<name>.cypher`` (trusted text, for ``tx.run``)."""
    path = _cypher_dir() / f"{name}.cypher"
    if not path.is_file():
        raise KeyError(f"no Cypher statement named {name!r} (looked for {path})")
    # The one place file text becomes LiteralString (mypy treats the two as one type, so
    # no cast): the repository's own statements, never text built from input.
    return path.read_text(encoding="utf-8")


@cache
def cypher_script(name: str) -> tuple[LiteralString, ...]:
    """The ';'-separated statements of a script file such as ``schema.cypher``."""
    lines = [ln for ln in cypher(name).splitlines() if not ln.lstrip().startswith("//")]
    return tuple(s.strip() for s in "\n".join(lines).split(";") if s.strip())


def query(name: str, timeout_s: float | None = None) -> Query:
    """A driver ``Query`` (for ``session.run``, which alone accepts a timeout this way)."""
    return Query(cypher(name), timeout=timeout_s)


def script_queries(name: str) -> list[Query]:
    return [Query(s) for s in cypher_script(name)]
