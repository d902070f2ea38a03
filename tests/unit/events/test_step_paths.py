"""The explaining step paths of inferred lineage (events/step_paths.py), against networkx."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from tracegraph.events.step_paths import dependency_paths, path_signature


def networkx_paths(depends_on: dict[str, list[str]]) -> dict[tuple[str, str], list[str]]:
    g = nx.DiGraph()
    g.add_nodes_from(depends_on)
    g.add_edges_from((up, down) for down, ups in depends_on.items() for up in ups)
    return {
        (down, up): min(nx.all_shortest_paths(g, up, down))
        for down in g
        for up in nx.ancestors(g, down)
    }


def random_dag(rng: random.Random, n: int) -> dict[str, list[str]]:
    keys = [f"s{i}" for i in range(n)]
    rng.shuffle(keys)  # the keys' order is not the DAG's order
    return {keys[i]: sorted(rng.sample(keys[:i], rng.randint(0, min(i, 3)))) for i in range(n)}


@pytest.mark.parametrize("seed", range(40))
def test_paths_are_the_first_shortest_path_of_every_transitive_dependency(seed: int) -> None:
    dag = random_dag(random.Random(seed), random.Random(seed).randint(1, 14))
    assert dependency_paths(dag) == networkx_paths(dag)


def test_a_diamond_takes_the_smaller_key_and_a_shortcut_wins() -> None:
    dag = {"extract": [], "b": ["extract"], "a": ["extract"], "load": ["a", "b"]}
    assert dependency_paths(dag)[("load", "extract")] == ["extract", "a", "load"]
    dag["load"].append("extract")
    assert dependency_paths(dag)[("load", "extract")] == ["extract", "load"]


def test_the_signature_changes_with_the_paths_only() -> None:
    one = dependency_paths({"a": [], "b": ["a"]})
    same = dependency_paths({"b": ["a"], "a": []})
    other = dependency_paths({"a": [], "b": []})
    assert path_signature(one) == path_signature(same) != path_signature(other)
