"""The governance gate's pure parts: a request's diff kept as JSON and read back, the
diff of an owner or SLA change against the live definition, the staleness digest, and a
change request as an alert row."""

from __future__ import annotations

from tracegraph.definitions.diff import diff_definitions
from tracegraph.definitions.gate import (
    _with_governance,
    diff_as_json,
    diff_from_json,
    digest,
)
from tracegraph.definitions.service import DefinitionState
from tracegraph.runtime import change_request_alert

LIVE = {
    "version": "2",
    "owner": "team:search",
    "steps": [{"key": "fetch"}, {"key": "embed", "sla": {"max_tokens": 5000}}],
}


def test_a_diff_survives_its_json_form() -> None:
    diff = diff_definitions(LIVE, {**LIVE, "version": "3", "owner": "team:platform"})
    assert diff_from_json(diff_as_json(diff)) == diff


def test_an_owner_or_sla_change_diffs_against_the_live_definition() -> None:
    before, after = _with_governance(LIVE, "embed", "sla", None)
    [change] = diff_definitions(before, after).changes
    assert (change.step, change.field, change.before, change.after) == (
        "embed",
        "sla",
        {"max_tokens": 5000},
        None,
    )
    assert LIVE["steps"][1]["sla"] == {"max_tokens": 5000}  # the live copy is untouched
    before, after = _with_governance(LIVE, None, "owner", "team:platform")
    [change] = diff_definitions(before, after).changes
    assert (change.step, change.field, change.after) == (None, "owner", "team:platform")


def test_the_digest_changes_with_the_version_owners_and_slas() -> None:
    base = DefinitionState("p", True, LIVE, versions=frozenset({"1", "2"}))
    same = DefinitionState("p", True, dict(LIVE), versions=frozenset({"1", "2", "9"}))
    assert digest(base) == digest(same)  # versions used elsewhere do not matter
    for changed in ({**LIVE, "owner": "team:x"}, {**LIVE, "version": "3"}, {**LIVE, "steps": []}):
        assert digest(DefinitionState("p", True, changed)) != digest(base)


def test_a_change_request_is_an_alert_for_the_pipelines_owners() -> None:
    pending = {"id": "cr-1", "pipeline": "p", "step": None, "owners": ["team:search"]}
    alert = change_request_alert(pending)
    assert alert["kind"] == "change_request" and alert["subject"] == "cr-1"
    assert alert["resolved_at"] is None
    assert alert["owners"] == [{"id": "team:search", "kind": "team", "name": "search"}]
    decided = change_request_alert({**pending, "reviewer": "key:r", "decided_at": "2026"})
    assert decided["resolved_by"] == "key:r" and decided["version"] == 2
