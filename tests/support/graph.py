"""Reading whole graphs back for assertions (through the same cypher/ files)."""

from __future__ import annotations

from typing import Any

from neo4j import Driver

from tracegraph.store.cypher_files import query

# Bookkeeping that legitimately depends on arrival order: the event log's own seq and
# arrival time, and the seq tie-breakers kept beside each status.
ARRIVAL_PROPERTIES = {
    "seq",
    "received_at",
    "terminal_seq",
    "defined_seq",
    "progress_seq",
    "kind_seq",
    "content_seq",
}


def counts(driver: Driver) -> tuple[dict[str, int], dict[str, int]]:
    with driver.session() as s:
        labels = {r["label"]: r["count"] for r in s.run(query("count_by_label"))}
        rels = {r["type"]: r["count"] for r in s.run(query("count_by_relationship"))}
    return labels, rels


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


def snapshot(driver: Driver) -> tuple[list, list]:
    """A canonical, order-free picture of the graph minus arrival bookkeeping."""
    with driver.session() as s:
        nodes = []
        for rec in s.run(query("graph_snapshot_nodes")):
            labels = tuple(sorted(rec["labels"]))
            if labels == ("SLABreach",):
                continue  # found by the clock-driven evaluator, not derived from events
            props = dict(rec["props"])
            if labels == ("Quarantined",):
                props.pop("id")  # a random key of the quarantine entry
            items = sorted((k, _freeze(v)) for k, v in props.items() if k not in ARRIVAL_PROPERTIES)
            nodes.append((labels, tuple(items)))
        rels = sorted(
            (r["type"], r["from_label"], str(r["from_key"]), r["to_label"], str(r["to_key"]))
            for r in s.run(query("graph_snapshot_relationships"))
            if r["from_label"] != "SLABreach"
        )
    return sorted(nodes), rels
