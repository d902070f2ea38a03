"""Reading whole graphs back for assertions (through the same cypher/ files)."""

from __future__ import annotations

import asyncio
from typing import Any

from neo4j import Driver

from tests.support.cypher import fetch, test_cypher
from tracegraph.ingest.pricing import DEFAULT_PRICES
from tracegraph.settings import Neo4jSettings
from tracegraph.store.cypher_files import query
from tracegraph.store.driver import open_driver
from tracegraph.store.event_log import rebuild_from_log
from tracegraph.store.event_writer import EventWriter

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
    "card_seq",
}


# Service state that is not built from events (keys, policy, audit trail): left out of
# graph comparisons.
GOVERNANCE_LABELS = {"ApiKey", "AuthBootstrap", "RedactionPolicy", "AuditEntry"}
# What running replicas keep (issue 20): duty leases and the live relay between hubs
# (with its counter). Not built from events.
REPLICA_LABELS = {"Lease", "LiveNote"}
# Counters that are not graph state: the live relay's (REPLICA_LABELS), and the lock the
# catch-up of events logged first takes (counts catch-up turns, e.g. one at each start).
BOOKKEEPING_SEQUENCES = {"live_note", "derivation"}
# Whether the metric rollups are complete (issue 21): a marker of the service's, which a
# test wipe deletes (the next start writes it again), not built from events.
ROLLUP_MARKER_LABELS = {"RollupState"}
NOT_GRAPH_STATE = GOVERNANCE_LABELS | REPLICA_LABELS | ROLLUP_MARKER_LABELS


def counts(driver: Driver) -> tuple[dict[str, int], dict[str, int]]:
    """Nodes per label and relationships per type of the event-built graph."""
    with driver.session() as s:
        labels = {
            r["label"]: r["count"]
            for r in s.run(query("count_by_label"))
            if r["label"] not in NOT_GRAPH_STATE
        }
        # ON links audit entries to what they are about.
        rels = {
            r["type"]: r["count"]
            for r in s.run(query("count_by_relationship"))
            if r["type"] != "ON"
        }
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
            if labels == ("SLABreach",) or NOT_GRAPH_STATE.intersection(labels):
                # Found by the clock-driven evaluator / the history of arrivals (which
                # definition replaced which depends on arrival order): not graph state.
                continue
            props = dict(rec["props"])
            if labels == ("Sequence",) and props.get("name") in BOOKKEEPING_SEQUENCES:
                continue
            if labels == ("Quarantined",):
                props.pop("id")  # a random key of the quarantine entry
            items = sorted((k, _freeze(v)) for k, v in props.items() if k not in ARRIVAL_PROPERTIES)
            nodes.append((labels, tuple(items)))
        rels = sorted(
            (r["type"], r["from_label"], str(r["from_key"]), r["to_label"], str(r["to_key"]))
            for r in s.run(query("graph_snapshot_relationships"))
            if r["from_label"] != "SLABreach" and r["from_label"] not in NOT_GRAPH_STATE
        )
    return sorted(nodes), rels


# When the evaluator noticed a breach is not a fact of the events.
# A breach's version counts the writes that changed it (docs/live-deltas.md): how many
# evaluations saw a different figure depends on when events arrived.
BREACH_ARRIVAL_PROPERTIES = {"detected_at", "version"}


def breaches(driver: Driver) -> list[tuple]:
    """The SLA breaches and what they link to, order-free, minus when they were noticed.
    A provisional breach (found by the clock on unfinished work) keeps its figure out:
    that grows with the wall clock, not with the events."""
    with driver.session() as s:
        found = []
        for rec in s.run(query("graph_snapshot_nodes")):
            if tuple(rec["labels"]) != ("SLABreach",):
                continue
            props = dict(rec["props"])
            if props.get("provisional"):
                props.pop("observed", None)
            items = sorted(
                (k, _freeze(v)) for k, v in props.items() if k not in BREACH_ARRIVAL_PROPERTIES
            )
            found.append(tuple(items))
        links = sorted(
            (r["type"], str(r["from_key"]), r["to_label"], str(r["to_key"]))
            for r in s.run(query("graph_snapshot_relationships"))
            if r["from_label"] == "SLABreach"
        )
    return [*sorted(found), *links]


def rebuild(settings: Neo4jSettings) -> int:
    """Replay the stored event log into a wiped graph (as an operator would); returns
    the number of events replayed."""

    async def run() -> int:
        driver = open_driver(settings)
        try:
            writer = EventWriter(driver, settings.database, DEFAULT_PRICES)
            return await rebuild_from_log(writer, driver, settings.database)
        finally:
            await driver.close()

    return asyncio.run(run())


# Audit actions whose entries events make (definitions, and the admin changes written as
# events, issue 19): a rebuild from the log must give them back as they were.
EVENT_AUDIT_ACTIONS = {
    "pipeline.defined",
    "owner.changed",
    "sla.changed",
    "policy.changed",
    # The governance gate's events (docs/governance.md, "The gate").
    "gate.policy_changed",
    "change.requested",
    "change.approved",
    "change.rejected",
}


def governance_state(driver: Driver) -> tuple[list, list]:
    """The redaction policy and the audit entries that events make, for comparing a
    graph with its rebuild from the log."""
    policy = [dict(r) for r in fetch(driver, "redaction_policy_state")]
    entries = sorted(
        (
            r["id"],
            r["actor"],
            r["action"],
            r["target"],
            r["before"],
            r["after"],
            r["at"],
            r["on_label"],
            r["on_key"],
        )
        for r in fetch(driver, "audit_entries")
        if r["action"] in EVENT_AUDIT_ACTIONS
    )
    return policy, entries


def wipe_all_but_event_log(driver: Driver) -> None:
    """Keep only the event log (and the API keys): what a rebuild from the log alone
    starts from."""
    with driver.session() as s:
        s.run(test_cypher("wipe_all_but_event_log")).consume()
