"""The step-DAG cycle check of `pipeline.defined` against networkx as an independent oracle.

The service finds cycles with the standard library's graphlib; networkx (a test-only
dependency) decides whether a random step graph is acyclic, and the reported cycle must be
a real one, named from the step defined first. No database needed.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracegraph.events import InvalidEvent, parse_event

CYCLE = re.compile(r"^data\.steps: steps form a dependency cycle: (?P<path>.+)$")


@st.composite
def step_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1-7 steps, each depending on any of them (itself included), in a random order."""
    keys = draw(st.permutations([f"s{i}" for i in range(draw(st.integers(1, 7)))]))
    return [
        {"key": key, "depends_on": draw(st.lists(st.sampled_from(keys), unique=True))}
        for key in keys
    ]


def _definition(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "ev-def",
        "type": "pipeline.defined",
        "time": "2026-11-20T02:00:00Z",
        "source": "test",
        "pipeline": "p",
        "data": {"steps": steps},
    }


@given(steps=step_lists())
def test_cycle_reported_exactly_when_the_steps_are_not_a_dag(steps: list[dict[str, Any]]) -> None:
    oracle = nx.DiGraph()
    oracle.add_nodes_from(s["key"] for s in steps)
    oracle.add_edges_from((dep, s["key"]) for s in steps for dep in s["depends_on"])
    if nx.is_directed_acyclic_graph(oracle):
        parse_event(_definition(steps))
        return

    with pytest.raises(InvalidEvent) as caught:
        parse_event(_definition(steps))
    found = CYCLE.match(str(caught.value))
    assert found, str(caught.value)
    path = found["path"].split(" -> ")
    assert path[0] == path[-1], path
    assert len(set(path[:-1])) == len(path) - 1, f"not a simple cycle: {path}"
    # Every hop goes the way data flows: the step before is a dependency of the next.
    for upstream, downstream in pairwise(path):
        assert oracle.has_edge(upstream, downstream), (upstream, downstream, steps)
    order = [s["key"] for s in steps]
    assert path[0] == min(path, key=order.index), (path, order)
