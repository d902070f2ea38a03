"""The explaining paths of a pipeline's step DAG (pure; no I/O).

Inferred lineage (docs/lineage.md) says "what step B wrote derives from what step A read
and wrote" whenever B depends on A, directly or transitively, and names the dependency
path it came through. That path must not depend on the order events arrive in, so it is
a function of the definition alone: the shortest dependency path from A to B, ties
broken by comparing the step keys in order (upstream first). The store writes one
``DEPENDS_TRANSITIVELY`` relationship per (B, A) pair with that path, when the
definition is applied, so the ingest path only joins on it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence


def dependency_paths(depends_on: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], list[str]]:
    """``{(downstream, upstream): [upstream, ..., downstream]}`` for every step pair where
    ``downstream`` depends on ``upstream`` through one or more edges.

    ``depends_on`` maps each step key to the keys it depends on (the definition's
    ``depends_on``; validated acyclic). Keys named only as dependencies count as steps.
    """
    # feeds[a] = the steps that depend directly on a (edges in the direction data flows)
    feeds: dict[str, set[str]] = {key: set() for key in depends_on}
    for down, ups in depends_on.items():
        for up in ups:
            feeds.setdefault(up, set()).add(down)
    ordered = {key: sorted(targets) for key, targets in feeds.items()}
    # distance_to[b][a]: dependency hops from a down to b (a BFS upstream from each b)
    distance_to: dict[str, dict[str, int]] = {}
    for target in ordered:
        dist = {target: 0}
        queue = deque([target])
        while queue:
            cur = queue.popleft()
            for up in depends_on.get(cur, ()):
                if up not in dist:
                    dist[up] = dist[cur] + 1
                    queue.append(up)
        distance_to[target] = dist
    paths: dict[tuple[str, str], list[str]] = {}
    for down, dist in distance_to.items():
        for up, hops in dist.items():
            if hops == 0:
                continue
            # Walk down from `up`, always taking the smallest key that is still on a
            # shortest path to `down`: the lexicographically first shortest path.
            path, cur = [up], up
            while cur != down:
                cur = next(n for n in ordered[cur] if dist.get(n) == dist[cur] - 1)
                path.append(cur)
            paths[(down, up)] = path
    return paths


def path_signature(paths: Mapping[tuple[str, str], Sequence[str]]) -> str:
    """One comparable text for a set of paths: a definition that leaves the paths as they
    were (a new version changing only descriptions, say) recomputes nothing."""
    return "\n".join(" ".join(paths[pair]) for pair in sorted(paths))
