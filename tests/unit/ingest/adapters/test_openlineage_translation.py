"""OpenLineage to events without a service: names, URIs, owners; every event type
translates into events the contract accepts."""

from __future__ import annotations

import pytest

from tracegraph.events import parse_event
from tracegraph.ingest.adapters.openlineage import (
    MalformedOpenLineage,
    batch_items,
    dataset_uri,
    owner_id,
    pipeline_name,
    translate_batch,
    translate_body,
)


def test_names_uris_and_owners() -> None:
    assert pipeline_name("airflow", "my dag (v2)") == "airflow/my-dag--v2-"
    assert pipeline_name("", "job") == "job"
    assert len(pipeline_name("ns", "x" * 500)) == 200
    assert pipeline_name("ns", "x" * 500) != pipeline_name("ns", "x" * 499 + "y")
    assert dataset_uri("s3://bucket/", "/a/b.csv") == "s3://bucket/a/b.csv"
    assert dataset_uri("warehouse", "db.table") == "warehouse/db.table"
    assert owner_id("data eng") == "team:data-eng"
    assert owner_id("user:ana@example.com") == "user:ana@example.com"
    assert owner_id("application:app") == "team:application:app"


def test_every_event_type_translates_to_valid_events() -> None:
    base = {
        "eventTime": "2026-11-20T02:00:00",  # naive: read as UTC
        "producer": "p",
        "job": {"namespace": "n", "name": "j"},
        "inputs": [{"namespace": "file", "name": "/tmp/in.csv"}],
    }
    kinds = {}
    for state in ("START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER", None):
        for parent in (None, {"run": {"runId": "P"}, "job": {"namespace": "n", "name": "dag"}}):
            facets = {"parent": parent} if parent else {}
            raw = {**base, "eventType": state, "run": {"runId": "r", "facets": facets}}
            events = [e for _, e in translate_body(raw)]
            for event in events:
                parse_event(event)  # every derived event satisfies the contract
            kinds[(state, bool(parent))] = events[0]["type"]
            assert events[0]["time"] == "2026-11-20T02:00:00.000000Z"
            assert events[-1]["data"]["uri"] == "file/tmp/in.csv"
    assert kinds == {
        ("START", False): "run.started",
        ("START", True): "step.started",
        ("RUNNING", False): "log",
        ("RUNNING", True): "step.progress",
        ("COMPLETE", False): "run.completed",
        ("COMPLETE", True): "step.completed",
        ("FAIL", False): "run.failed",
        ("FAIL", True): "step.failed",
        ("ABORT", False): "run.cancelled",
        ("ABORT", True): "step.failed",
        ("OTHER", False): "log",
        ("OTHER", True): "log",
        (None, False): "log",
        (None, True): "log",
    }
    # Same input, same ids: retries are duplicates.
    raw = {**base, "eventType": "START", "run": {"runId": "r"}}
    assert translate_body(raw) == translate_body(raw)
    with pytest.raises(MalformedOpenLineage, match=r"inputs\[0\]\.facets\.version"):
        translate_body({**raw, "inputs": [{"namespace": "n", "name": "x",
                                           "facets": {"version": {}}}]})  # fmt: skip


def _run_event(**over: object) -> dict:
    base: dict = {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-20T02:00:00Z",
        "producer": "p",
        "run": {"runId": "leaf"},
        "job": {"namespace": "n", "name": "dag.group.leaf"},
    }
    return {**base, **over}


def test_nested_parents_map_to_the_root_run_with_the_parent_step() -> None:
    parent = {
        "run": {"runId": "group"},
        "job": {"namespace": "n", "name": "dag.group"},
        "root": {"run": {"runId": "dag-run"}, "job": {"namespace": "n", "name": "dag"}},
    }
    raw = _run_event(
        run={"runId": "leaf", "facets": {"parent": parent}},
        outputs=[{"namespace": "w", "name": "t"}],
    )
    events = [e for _, e in translate_body(raw)]
    assert {(e["pipeline"], e["run"], e["step"]) for e in events} == {
        ("n/dag", "dag-run", "dag.group.leaf")
    }
    assert all(e["data"]["parent_step"] == "dag.group" for e in events)
    # A root that is the direct parent: the usual child, no parent step.
    direct = {**parent, "run": {"runId": "dag-run"}, "job": {"namespace": "n", "name": "dag"}}
    [status] = [
        e for _, e in translate_body(_run_event(run={"runId": "x", "facets": {"parent": direct}}))
    ]
    assert (status["run"], status["step"]) == ("dag-run", "dag.group.leaf")
    assert "parent_step" not in status["data"]
    for _, event in translate_body(raw):
        parse_event(event)


def test_column_lineage_facet_becomes_column_lineage() -> None:
    facet = {
        "fields": {
            "total": {
                "inputFields": [
                    {
                        "namespace": "w",
                        "name": "orders",
                        "field": "amount",
                        "transformations": [
                            {"type": "DIRECT", "subtype": "AGGREGATION", "description": "sum"},
                            {"type": "INDIRECT", "subtype": "FILTER", "description": "paid"},
                        ],
                    }
                ],
                "transformationDescription": "sum of paid amounts",
            }
        }
    }
    raw = _run_event(
        inputs=[{"namespace": "w", "name": "orders", "facets": {"version": {"datasetVersion": 3}}}],
        outputs=[{"namespace": "w", "name": "report", "facets": {"columnLineage": facet}}],
    )
    [written] = [e for _, e in translate_body(raw) if e["type"] == "artifact.written"]
    assert written["data"]["column_lineage"] == [
        {
            "field": "total",
            "description": "sum of paid amounts",
            "inputs": [
                {
                    "uri": "w/orders",
                    "version": "3",
                    "field": "amount",
                    "type": "DIRECT",
                    "subtype": "AGGREGATION",
                    "description": "sum; paid",
                }
            ],
        }
    ]
    assert "facets" not in written["data"]["openlineage"]
    parse_event(written)
    bad = {"fields": {"total": {"inputFields": [{"namespace": "w", "name": "o"}]}}}
    with pytest.raises(MalformedOpenLineage, match="field"):
        translate_body(
            _run_event(outputs=[{"namespace": "w", "name": "r", "facets": {"columnLineage": bad}}])
        )


def test_a_batch_keeps_its_good_events_and_names_the_bad() -> None:
    items = batch_items({"events": [_run_event(), _run_event(run={}), 3]})
    pairs, errors = translate_batch(items)
    assert {i for i, _ in pairs} == {0}
    assert [i for i, _ in errors] == [1, 2]
    assert "[1].run.runId: Field required" in errors[0][1]
    assert batch_items([_run_event()]) == [_run_event()]
    with pytest.raises(MalformedOpenLineage, match="a batch is a JSON array"):
        batch_items({"event": []})
