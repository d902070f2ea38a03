"""Reading one run's events: the right events, and a plan anchored on the run.

A run-filtered page (GraphQL ``events(run:)``, the OTLP trace export, a run-filtered
subscription's replay and gap fill) must not walk the global log in seq order looking
for the run's events: PROFILE shows it starts at the Run (unique index seek) and never
scans the Event seq index or a label.
"""

from __future__ import annotations

import pytest
from neo4j import Driver

from tests.conftest import RunningService
from tests.integration.test_convergence import _post_in_batches
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.store.cypher_files import cypher
from tracegraph.store.event_reads import events_statement

EVENTS_OF_RUN = """
query E($run: ID, $after: Int) {
  events(run: $run, afterSeq: $after, first: 200) { seq run type }
}
"""


def _operators(plan: dict) -> list[tuple[str, str]]:
    here = (plan["operatorType"].split("@")[0], str(plan.get("args", {}).get("Details", "")))
    return [here] + [op for child in plan.get("children", []) for op in _operators(child)]


def _busiest_run(events: list[dict]) -> str:
    counts: dict[str, int] = {}
    for e in events:
        if e.get("run"):
            counts[e["run"]] = counts.get(e["run"], 0) + 1
    return max(counts, key=lambda r: counts[r])


def test_run_filtered_pages_return_the_runs_events_in_seq_order(
    service: RunningService, clean_graph: Driver
) -> None:
    events = WorkloadGenerator(seed=3).events(1200)
    _post_in_batches(service, events, [300])
    run = _busiest_run(events)
    expected = sum(1 for e in events if e.get("run") == run)
    with service.client() as c:
        got: list[dict] = []
        after = 0
        while True:
            r = c.post(
                "/graphql", json={"query": EVENTS_OF_RUN, "variables": {"run": run, "after": after}}
            )
            page = r.json()["data"]["events"]
            got += page
            if len(page) < 200:
                break
            after = page[-1]["seq"]
    assert len(got) == expected and {e["run"] for e in got} == {run}
    seqs = [e["seq"] for e in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


@pytest.mark.parametrize("purpose", ["page", "after"])
def test_run_filtered_reads_start_at_the_run_not_the_log(
    service: RunningService, clean_graph: Driver, purpose: str
) -> None:
    events = WorkloadGenerator(seed=4).events(600)
    _post_in_batches(service, events, [300])
    run = _busiest_run(events)
    params = {"after_seq": 0, "limit": 50, "pipeline": None, "run": run, "types": None}
    with clean_graph.session() as session:
        result = session.run(f"PROFILE {cypher(events_statement(purpose, run))}", params)  # type: ignore[arg-type]
        rows = list(result)
        plan = result.consume().profile
    assert rows and plan is not None
    ops = _operators(plan)
    names = {op for op, _ in ops}
    seeks = [d for op, d in ops if op.startswith("NodeUniqueIndexSeek")]
    assert any(":Run(id)" in d or "Run(id)" in d for d in seeks), ops
    assert not names & {"NodeByLabelScan", "AllNodesScan", "NodeIndexScan"}, ops
    assert not any("Event(seq)" in d for _, d in ops), ops
