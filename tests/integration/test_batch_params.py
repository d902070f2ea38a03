"""Batched statement parameters travel like plain lists but never get formatted whole
(the driver formats every RUN's parameters for its debug log)."""

from __future__ import annotations

import logging

from neo4j import Driver

from tests.support.cypher import fetch
from tracegraph.store.batch_params import RowList, batch_params


def test_row_list_reaches_neo4j_exactly_like_a_list(sync_driver: Driver) -> None:
    rows = [{"id": f"e{i}", "tags": ["a", "b"], "n": i, "x": None} for i in range(500)]
    params = batch_params({"rows": rows, "limit": 3})
    assert isinstance(params["rows"], RowList) and params["limit"] == 3

    records = fetch(sync_driver, "rows_echo", **params)

    assert [dict(r) for r in records] == [
        {"id": r["id"], "tags": r["tags"], "n": r["n"], "x": None} for r in rows
    ]


def test_row_list_prints_as_its_length_even_in_the_driver_debug_log(
    sync_driver: Driver, caplog
) -> None:
    rows = RowList({"payload": "x" * 1000} for _ in range(2000))
    assert repr(rows) == "<2000 rows>"
    with caplog.at_level(logging.DEBUG, logger="neo4j"):
        fetch(sync_driver, "rows_count", rows=rows)
    run_lines = [r.getMessage() for r in caplog.records if "C: RUN" in r.getMessage()]
    assert run_lines and all("<2000 rows>" in line for line in run_lines)
    assert all(len(line) < 2000 for line in run_lines)
