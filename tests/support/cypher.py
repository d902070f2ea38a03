"""Test-only Cypher, kept in tests/cypher/*.cypher like the service's own statements."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, LiteralString, cast

from neo4j import Driver, Record

_DIR = Path(__file__).resolve().parents[1] / "cypher"


@cache
def test_cypher(name: str) -> LiteralString:
    return cast(LiteralString, (_DIR / f"{name}.cypher").read_text(encoding="utf-8"))


def fetch(driver: Driver, name: str, **params: Any) -> list[Record]:
    records, _, _ = driver.execute_query(test_cypher(name), params)
    return records
