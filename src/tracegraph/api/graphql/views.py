"""Turning the collected lineage / impact records into the contract's answers (no I/O)."""

from __future__ import annotations

from collections import deque
from typing import Any

import strawberry

from tracegraph.api.graphql.column_types import ArtifactField, field_label
from tracegraph.api.graphql.errors import BadArgument
from tracegraph.api.graphql.types import (
    SLA,
    ArtifactVersion,
    Impact,
    LineageEdge,
    LineageGraph,
    LineageNode,
    NodeKind,
    Owner,
    Pipeline,
    Run,
    Step,
)
from tracegraph.store.graph_reads import LineageRows

_KIND_BY_LABEL = {
    "Pipeline": NodeKind.PIPELINE,
    "Step": NodeKind.STEP,
    "Run": NodeKind.RUN,
    "Artifact": NodeKind.ARTIFACT,
    "ArtifactVersion": NodeKind.ARTIFACT_VERSION,
    "PromptVersion": NodeKind.PROMPT_VERSION,
    "Model": NodeKind.MODEL,
    "Owner": NodeKind.OWNER,
    "StepRun": NodeKind.STEP_RUN,
    "LLMCall": NodeKind.LLM_CALL,
    "SLA": NodeKind.SLA,
    "Field": NodeKind.FIELD,
}


def node_key(props: dict[str, Any]) -> str:
    """The contract key of a node: pipeline name, artifact uri, else the node id."""
    labels = props.get("labels") or []
    if "Pipeline" in labels:
        return str(props["name"])
    if "Artifact" in labels:
        return str(props["uri"])
    return str(props["id"])


def _version_label(av: dict[str, Any]) -> str:
    tag = av.get("version") or (av.get("hash") or "")[:12]
    return f"{av.get('uri') or av['id']} @ {tag}" if tag else str(av["id"])


def lineage_graph(
    rows: LineageRows,
    uri: str,
    version: str | None,
    requested_depth: int,
    applied_depth: int,
    max_nodes: int,
) -> LineageGraph:
    if rows.artifact is None:
        raise BadArgument(f"unknown artifact uri {uri!r}")
    if not rows.levels or not rows.levels[0]:
        raise BadArgument(f"artifact {uri!r} has no version {version!r}")
    nodes: list[LineageNode] = []
    kept: set[str] = set()
    edges: list[LineageEdge] = []
    cut = False
    for depth, level in enumerate(rows.levels):
        for av in level:
            if len(kept) >= max_nodes:
                cut = True
                break
            kept.add(av["id"])
            nodes.append(
                LineageNode(
                    id=strawberry.ID(av["id"]),
                    kind=NodeKind.ARTIFACT_VERSION,
                    key=av["id"],
                    label=_version_label(av),
                    depth=depth,
                )
            )
    if version is None:
        root = LineageNode(
            id=strawberry.ID(uri), kind=NodeKind.ARTIFACT, key=uri, label=uri, depth=0
        )
        nodes.insert(0, root)
        edges.extend(
            LineageEdge(from_=strawberry.ID(av["id"]), to=root.id, kind="VERSION_OF", via=None)
            for av in rows.levels[0]
        )
    else:
        root = nodes[0]
    edges.extend(derivation_edges([e for e in rows.edges if e["from"] in kept and e["to"] in kept]))
    hit_limit = cut or (len(kept) >= max_nodes and rows.more)
    depth_cut = rows.more and requested_depth > applied_depth
    return LineageGraph(root=root, nodes=nodes, edges=edges, truncated=hit_limit or depth_cut)


def derivation_edges(rows: list[dict[str, Any]]) -> list[LineageEdge]:
    """Lineage edges from ``{from, to, via, kind, path}`` rows, once each. An inferred
    edge between two versions an observed edge already links says nothing more (the
    usual case: B read what A wrote), so it is left out: observed edges stay observed."""
    observed = {(e["from"], e["to"]) for e in rows if e["kind"] == "OBSERVED"}
    seen: set[tuple[str, str, str, str]] = set()
    edges: list[LineageEdge] = []
    for e in rows:
        key = (e["from"], e["to"], e["via"], e["kind"])
        if key in seen or (e["kind"] == "INFERRED" and (e["from"], e["to"]) in observed):
            continue
        seen.add(key)
        edges.append(
            LineageEdge(
                from_=strawberry.ID(e["from"]),
                to=strawberry.ID(e["to"]),
                kind=e["kind"],
                via=strawberry.ID(e["via"]),
                path=list(e["path"]) if e.get("path") is not None else None,
            )
        )
    return edges


def _impact_derivations(rec: dict[str, Any], keys: dict[str, str]) -> list[LineageEdge]:
    """The artifact-to-artifact derivations an impact answer followed: a READ_BY edge
    (version -> step run) and a WROTE edge from that step run make an observed one; the
    inferred ones come with the record."""
    read_by: dict[str, list[str]] = {}
    wrote: dict[str, list[str]] = {}
    for a, b, kind in rec["edges"]:
        if kind == "READ_BY":
            read_by.setdefault(b, []).append(a)
        elif kind == "WROTE":
            wrote.setdefault(a, []).append(b)
    rows: list[dict[str, Any]] = [
        {"from": keys[x], "to": keys[y], "via": keys[via], "kind": "OBSERVED", "path": None}
        for via, inputs in sorted(read_by.items())
        for x in inputs
        for y in wrote.get(via, ())
        if x in keys and y in keys and via in keys
    ]
    rows += [
        {"from": e["from"], "to": e["to"], "via": e["run"], "kind": "INFERRED", "path": e["path"]}
        for e in rec.get("inferred") or []
    ]
    return derivation_edges(sorted(rows, key=lambda e: (e["from"], e["to"], e["kind"], e["via"])))


def field_lineage_graph(
    rows: LineageRows,
    uri: str,
    version: str | None,
    field_name: str,
    requested_depth: int,
    applied_depth: int,
    max_nodes: int,
) -> LineageGraph:
    """Column-level lineage (``lineage(field:)``): nodes are fields (kind FIELD), edges
    DERIVED with the transformation; the root is the field of the version given, else
    the artifact, its fields of every version at depth 0 (edges FIELD_OF)."""
    if rows.artifact is None:
        raise BadArgument(f"unknown artifact uri {uri!r}")
    if not rows.levels or not rows.levels[0]:
        where = f"version {version!r} of artifact {uri!r}" if version else f"artifact {uri!r}"
        raise BadArgument(f"{where} has no field {field_name!r}")
    nodes: list[LineageNode] = []
    kept: set[str] = set()
    cut = False
    for depth, level in enumerate(rows.levels):
        for f in level:
            if len(kept) >= max_nodes:
                cut = True
                break
            kept.add(f["id"])
            nodes.append(
                LineageNode(
                    id=strawberry.ID(f["id"]),
                    kind=NodeKind.FIELD,
                    key=f["id"],
                    label=field_label(f),
                    depth=depth,
                )
            )
    edges: list[LineageEdge] = []
    if version is None:
        root = LineageNode(
            id=strawberry.ID(uri), kind=NodeKind.ARTIFACT, key=uri, label=uri, depth=0
        )
        nodes.insert(0, root)
        edges.extend(
            LineageEdge(from_=strawberry.ID(f["id"]), to=root.id, kind="FIELD_OF", via=None)
            for f in rows.levels[0]
        )
    else:
        root = nodes[0]
    seen: set[tuple[str, str]] = set()
    for e in rows.edges:
        pair = (e["from"], e["to"])
        if pair in seen or e["from"] not in kept or e["to"] not in kept:
            continue
        seen.add(pair)
        kinds = [k for k in (e.get("type"), e.get("subtype")) if k]
        edges.append(
            LineageEdge(
                from_=strawberry.ID(e["from"]),
                to=strawberry.ID(e["to"]),
                kind="DERIVED",
                via=None if e.get("via") is None else strawberry.ID(e["via"]),
                transformation="/".join(kinds) or None,
                description=e.get("description"),
            )
        )
    hit_limit = cut or (len(kept) >= max_nodes and rows.more)
    depth_cut = rows.more and requested_depth > applied_depth
    return LineageGraph(root=root, nodes=nodes, edges=edges, truncated=hit_limit or depth_cut)


def _lineage_node(props: dict[str, Any], depth: int) -> LineageNode:
    label_names = props.get("labels") or []
    kind = next((_KIND_BY_LABEL[lb] for lb in label_names if lb in _KIND_BY_LABEL), NodeKind.RUN)
    key = node_key(props)
    label = _version_label(props) if kind is NodeKind.ARTIFACT_VERSION else key
    return LineageNode(id=strawberry.ID(key), kind=kind, key=key, label=label, depth=depth)


def impact_answer(
    rec: dict[str, Any], requested_depth: int, applied_depth: int, max_nodes: int
) -> Impact:
    root_eid = rec["root"]["eid"]
    adjacency: dict[str, list[str]] = {}
    for a, b, _kind in rec["edges"]:
        adjacency.setdefault(a, []).append(b)
    # Breadth first from the root over the explanation edges: one shortest path each.
    parent: dict[str, str | None] = {root_eid: None}
    queue = deque([root_eid])
    while queue:
        cur = queue.popleft()
        for nxt in adjacency.get(cur, ()):
            if nxt not in parent:
                parent[nxt] = cur
                queue.append(nxt)

    keys: dict[str, str] = {root_eid: node_key(rec["root"])}
    groups = ("flow_nodes", "steps", "runs", "pipelines", "artifacts", "owners", "slas")
    for group in groups:
        for n in rec[group]:
            keys[n["eid"]] = node_key(n)

    def path(eid: str) -> list[strawberry.ID]:
        ids: list[strawberry.ID] = []
        cur: str | None = eid
        while cur is not None:
            ids.append(strawberry.ID(keys.get(cur, cur)))
            cur = parent.get(cur)
        return ids[::-1]

    def affected(rows: list[dict[str, Any]], label: str | None = None) -> list[dict[str, Any]]:
        out, seen = [], set()
        for n in rows:
            if n["eid"] == root_eid or n["eid"] in seen or n["eid"] not in parent:
                continue
            if label is not None and label not in n["labels"]:
                continue
            seen.add(n["eid"])
            out.append(n)
        return sorted(out, key=node_key)

    artifacts = affected(rec["flow_nodes"], "ArtifactVersion")
    steps = affected(rec["steps"])
    pipelines = affected(rec["pipelines"])
    runs = affected(rec["runs"])
    owners = affected(rec["owners"])
    slas = affected(rec["slas"])
    # impact(field:) (gql_field_impact): the derived fields come first in the paths.
    fields = affected(rec.get("fields") or [])
    paths = [path(n["eid"]) for n in fields + artifacts + steps + pipelines + runs + owners + slas]
    hit_limit = len(rec["flow_nodes"]) >= max_nodes
    return Impact(
        root=_lineage_node(rec["root"], 0),
        artifacts=[ArtifactVersion.from_node(n) for n in artifacts],
        steps=[Step.from_node(n) for n in steps],
        pipelines=[Pipeline.from_node(n) for n in pipelines],
        runs=[Run.from_node(n) for n in runs],
        owners=[Owner.from_node(n) for n in owners],
        slas=[SLA.from_node(n) for n in slas],
        paths=paths,
        edges=_impact_derivations(rec, keys),
        truncated=hit_limit or (bool(rec["more"]) and requested_depth > applied_depth),
        fields=[ArtifactField.of(n) for n in fields],
    )
