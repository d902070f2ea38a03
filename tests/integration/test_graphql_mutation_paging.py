"""ingestEvents, pagination and the exported SDL."""

from __future__ import annotations

import copy

from gql import gql

from tests.conftest import RunningService
from tests.integration.test_graphql_queries import client_for
from tests.support.graph import counts

INGEST = gql(
    """mutation($events: [JSON!]!) { ingestEvents(events: $events) {
         accepted duplicates rejected { index id error } lastSeq } }"""
)


def test_ingest_events_mutation(service: RunningService, example_events: list[dict]) -> None:
    bad = copy.deepcopy(example_events[0])
    bad["id"] = "bad-1"
    del bad["time"]
    with client_for(service) as session:
        first = session.execute(INGEST, variable_values={"events": example_events[:10]})
        assert first["ingestEvents"] == {
            "accepted": 10,
            "duplicates": 0,
            "rejected": [],
            "lastSeq": 10,
        }
        again = session.execute(INGEST, variable_values={"events": [*example_events[:12], bad]})
        res = again["ingestEvents"]
        assert res["accepted"] == 2 and res["duplicates"] == 10
        assert [(r["index"], r["id"]) for r in res["rejected"]] == [(12, "bad-1")]
        assert "time" in res["rejected"][0]["error"]
        assert res["lastSeq"] == 12
        ev = session.execute(gql("{ events(afterSeq: 10) { seq id } }"))["events"]
        assert [e["seq"] for e in ev] == [11, 12]


def test_runs_pagination_and_cap(make_service, clean_graph, example_events: list[dict]) -> None:  # type: ignore[no-untyped-def]
    from tracegraph.demo.workload import WorkloadGenerator

    service = make_service(max_page_size=7)
    events = WorkloadGenerator(seed=5).events(1500)
    with service.client() as http:
        assert http.post("/v1/events", json=events).status_code == 200
    page = gql(
        """query($after: String) { runs(first: 1000, after: $after) {
             edges { cursor node { id startedAt scheduledFor steps { id } pipeline { name } } }
             pageInfo { hasNextPage endCursor } } }"""
    )
    seen: list[dict] = []
    after = None
    with client_for(service) as session:
        while True:
            conn = session.execute(page, variable_values={"after": after})["runs"]
            assert len(conn["edges"]) <= 7
            seen.extend(e["node"] for e in conn["edges"])
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        total = session.execute(gql("{ pipelines(first: 1) { pageInfo { hasNextPage } } }"))
        assert total["pipelines"]["pageInfo"]["hasNextPage"] is True
        names: list[str] = []
        after = None
        while True:
            conn = session.execute(
                gql(
                    "query($a: String) { pipelines(first: 2, after: $a) {"
                    " edges { node { name runs(first: 2) { id } } }"
                    " pageInfo { hasNextPage endCursor } } }"
                ),
                variable_values={"a": after},
            )["pipelines"]
            names += [e["node"]["name"] for e in conn["edges"]]
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        assert names == sorted(names) and len(names) == len(set(names)) >= 2
    ids = [r["id"] for r in seen]
    assert len(ids) == len(set(ids))
    assert len(ids) == counts(clean_graph)[0]["Run"]
    keys = [r["startedAt"] or r["scheduledFor"] or "" for r in seen]
    assert keys == sorted(keys, reverse=True)
