"""Stored definition -> YAML (stable order, round trip) and the diff between versions."""

from __future__ import annotations

from typing import Any

from tracegraph.definitions.check import check_definition
from tracegraph.definitions.diff import ChangeKind, diff_definitions
from tracegraph.definitions.render import to_yaml
from tracegraph.definitions.versions import next_version, version_problem

STORED: dict[str, Any] = {
    # Keys deliberately out of order, as JSON from an emitter may be.
    "steps": [
        {"depends_on": [], "key": "fetch", "name": "Fetch"},
        {
            "sla": {"window": "P1D", "min_success_rate": 0.9},
            "key": "embed",
            "depends_on": ["fetch"],
            "kind": "llm",
        },
    ],
    "owner": "team:search",
    "x-team-notes": "kept",
    "version": "3",
    "schedule": "@daily",
}


def test_yaml_has_the_contract_order_and_reads_back_the_same() -> None:
    text = to_yaml(STORED)
    assert text == (
        "version: '3'\n"
        "owner: team:search\n"
        "schedule: '@daily'\n"
        "steps:\n"
        "- key: fetch\n"
        "  name: Fetch\n"
        "- key: embed\n"
        "  kind: llm\n"
        "  depends_on: [fetch]\n"
        "  sla:\n"
        "    min_success_rate: 0.9\n"
        "    window: P1D\n"
        "x-team-notes: kept\n"
    )
    checked = check_definition("p", text)
    assert checked.data is not None
    assert checked.data == check_definition("p", to_yaml(checked.data)).data
    assert checked.data["steps"][1]["sla"] == {"min_success_rate": 0.9, "window": "P1D"}


def test_diff_lists_pipeline_fields_and_steps() -> None:
    proposed = {
        "version": "4",
        "owner": "team:platform",
        "schedule": "@daily",
        "x-team-notes": "kept",
        "steps": [
            {"key": "fetch", "name": "Fetch"},
            {"key": "index", "depends_on": ["fetch"]},
        ],
    }
    diff = diff_definitions(STORED, proposed)
    assert (diff.from_version, diff.to_version) == ("3", "4")
    got = [(c.kind, c.step, c.field, c.before, c.after) for c in diff.changes]
    assert got == [
        (ChangeKind.CHANGED, None, "owner", "team:search", "team:platform"),
        (
            ChangeKind.REMOVED,
            "embed",
            None,
            {
                "key": "embed",
                "kind": "llm",
                "depends_on": ["fetch"],
                "sla": {"min_success_rate": 0.9, "window": "P1D"},
            },
            None,
        ),
        (ChangeKind.ADDED, "index", None, None, {"key": "index", "depends_on": ["fetch"]}),
    ]
    assert "-owner: team:search\n" in diff.text
    assert "+owner: team:platform\n" in diff.text
    assert diff.text.startswith("--- version 3\n+++ version 4\n")


def test_diff_of_a_step_field_and_of_a_first_definition() -> None:
    changed = {**STORED, "steps": [STORED["steps"][0], {**STORED["steps"][1], "kind": "embed"}]}
    (change,) = diff_definitions(STORED, changed).changes
    assert (change.kind, change.step, change.field, change.before, change.after) == (
        ChangeKind.CHANGED,
        "embed",
        "kind",
        "llm",
        "embed",
    )
    first = diff_definitions(None, STORED)
    assert first.from_version is None
    assert {(c.kind, c.step) for c in first.changes if c.step} == {
        (ChangeKind.ADDED, "fetch"),
        (ChangeKind.ADDED, "embed"),
    }


def test_versions_must_be_new_or_are_generated() -> None:
    assert version_problem("3", {"1", "2"}) is None
    assert "already exists" in (version_problem("2", {"1", "2"}) or "")
    assert next_version(set()) == "1"
    assert next_version({"1", "2", "7"}) == "8"
    assert next_version({"2026.11", "beta"}) == "3"
