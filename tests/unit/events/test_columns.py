"""Schemas and column lineage (issue 22, docs/columns.md) without a service: fields are
read (nested ones dotted), bad ones named; rows for apply_columns only when a batch has
columns, and apply_batch's rows never carry them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tracegraph.events import canonical_payload, fingerprint, parse_event
from tracegraph.events.columns import SchemaError, schema_fields
from tracegraph.events.records import SequencedEvent
from tracegraph.store.graph_rows import plan_statements


def test_schema_fields_flatten_nested_fields_in_order() -> None:
    schema = {
        "_producer": "x",
        "fields": [
            {"name": "id", "type": "BIGINT"},
            {"name": "addr", "type": "STRUCT", "fields": [{"name": "city"}, {"name": "zip"}]},
        ],
    }
    assert schema_fields(schema) == [
        ("id", "BIGINT"),
        ("addr", "STRUCT"),
        ("addr.city", None),
        ("addr.zip", None),
    ]
    assert schema_fields([{"name": "a"}]) == [("a", None)]
    # Opaque schemas (another format) and none say nothing about fields.
    assert schema_fields({"type": "avro", "definition": "..."}) is None
    assert schema_fields(None) is None
    assert schema_fields(["id", "amount"]) is None
    assert schema_fields("CREATE TABLE t (id INT)") is None


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"fields": "id"}, "fields: must be an array of fields"),
        ({"fields": [1]}, "fields[0]: a field must be an object with a 'name'"),
        ({"fields": [{"name": ""}]}, "fields[0].name: must be a non-empty string"),
        ({"fields": [{"name": "a", "type": 3}]}, "fields[0].type: must be a string"),
        ({"fields": [{"name": "a"}, {"name": "a"}]}, "field 'a' appears twice"),
        (
            {"fields": [{"name": "s", "fields": [{"name": 2}]}]},
            "fields[0].fields[0].name: must be a non-empty string",
        ),
    ],
)
def test_unreadable_schemas_are_named(schema: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message.replace("[", r"\[").replace("]", r"\]")):
        schema_fields(schema)


def _event(n: int, type_: str, **data: Any) -> dict[str, Any]:
    return {
        "id": f"e{n}",
        "type": type_,
        "time": f"2026-11-20T02:00:0{n}Z",
        "source": "t",
        "pipeline": "p",
        "run": "r",
        "step": "s",
        "data": data,
    }


def _plan(events: list[dict[str, Any]]) -> Any:
    now = datetime.now(UTC)
    seqd = []
    for seq, raw in enumerate(events, start=1):
        ev = parse_event(raw)
        seqd.append(SequencedEvent(seq, canonical_payload(ev), fingerprint(ev), now))
    return plan_statements(seqd, {})


def test_column_rows_only_for_batches_with_columns() -> None:
    plain = _plan([_event(1, "artifact.written", uri="u", version="1")])
    assert plain.columns is None
    assert "field_names" not in plain.batch["artifact_versions"][0]

    plan = _plan(
        [
            _event(1, "artifact.read", uri="src", schema={"fields": [{"name": "a"}]}),
            _event(
                2,
                "artifact.written",
                uri="dst",
                version="2",
                schema=[{"name": "b", "type": "INT"}],
                column_lineage=[
                    {
                        "field": "b",
                        "description": "a + 1",
                        "inputs": [
                            {"uri": "src", "field": "a", "subtype": "TRANSFORMATION"},
                            {"uri": "other", "version": 7, "field": "c"},
                        ],
                    }
                ],
            ),
        ]
    )
    assert plan.columns is not None
    assert [(s["version_id"], s["names"], s["types"]) for s in plan.columns["schemas"]] == [
        ("dst@2", ["b"], ["INT"]),
        ("src@unversioned", ["a"], [""]),
    ]
    assert plan.columns["artifacts"] == ["dst", "src"]
    [lineage] = plan.columns["lineage"]
    assert (lineage["version_id"], lineage["field"], lineage["step_run"]) == ("dst@2", "b", "r/s#1")
    assert [(i["uri"], i["version_id"], i["field"]) for i in lineage["inputs"]] == [
        ("src", None, "a"),  # found in the graph (the version the step run read)
        ("other", "other@7", "c"),
    ]
    # apply_batch's plan is cached by parameter types: its rows never carry the columns.
    for row in plan.batch["artifact_versions"]:
        assert not {"field_names", "field_types", "column_lineage"} & set(row)


def test_column_lineage_names_its_problems() -> None:
    bad = _event(1, "artifact.written", uri="u", column_lineage=[{"field": "x"}, {"field": "x"}])
    with pytest.raises(ValueError, match=r"data\.column_lineage: field .x. appears twice"):
        parse_event(bad)
    missing = _event(1, "artifact.written", uri="u", column_lineage=[{"inputs": []}])
    with pytest.raises(ValueError, match=r"data.column_lineage\[0\].field"):
        parse_event(missing)
    # Only writes carry column lineage; a read keeps it as an extension key, unused.
    read = parse_event(_event(1, "artifact.read", uri="u", column_lineage=[{"field": "x"}]))
    assert _plan([canonical_payload(read)]).columns is None
