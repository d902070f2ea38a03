"""OpenLineage to events without a service: names, URIs, owners; every event type
translates into events the contract accepts."""

from __future__ import annotations

import pytest

from tracegraph.events import parse_event
from tracegraph.ingest.adapters.openlineage import (
    MalformedOpenLineage,
    dataset_uri,
    owner_id,
    pipeline_name,
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
