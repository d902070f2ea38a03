"""Pipeline definitions as YAML (issue 18, item 4): the current definition as YAML, the
validation query (problems at their line, version rules, diff), and submission as a new
version through the ingest path — live at once, kept by a replay of the log, in the audit
trail with its principal, refused for roles without ``operate`` and for bad input with
nothing stored. Real Neo4j, real service, real HTTP client."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from neo4j import Driver

from tests.conftest import RunningService
from tests.support.commands import gql, ok
from tests.support.definitions import V1, V1_YAML, V2_YAML, define
from tests.support.eventually import eventually
from tests.support.faults import ANSWER_WITHIN_S, frozen
from tests.support.graph import rebuild
from tests.support.live import log_event, unique
from tracegraph.settings import Neo4jSettings
from tracegraph.store.cypher_files import cypher

CURRENT = """query($p: String!) { pipelineDefinition(pipeline: $p) {
  pipeline version yaml versions seq } }"""
DIFF = "diff { fromVersion toVersion text changes { kind step field before after } }"
VALIDATE = f"""query($p: String!, $y: String!) {{ validateDefinition(pipeline: $p, yaml: $y) {{
  valid version versionGenerated problems {{ message path line column }} {DIFF} }} }}"""
SUBMIT = f"""mutation($p: String!, $y: String!) {{ submitDefinition(pipeline: $p, yaml: $y) {{
  pipeline version eventId seq {DIFF} }} }}"""
PIPELINE = """query($p: String!) { pipeline(name: $p) {
  version owner { id } steps { key kind dependsOn { key } } } }"""
EVENTS = """query($p: String!) { events(pipeline: $p, first: 50) { seq id type principal data } }"""
AUDIT = """query($t: String) { auditTrail(target: $t, action: "pipeline.defined", first: 10) {
  edges { node { action actor target before after } } } }"""


def _error(errors: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(errors) == 1, errors
    return errors[0]


def _definition_events(service: RunningService, pipeline: str) -> list[dict[str, Any]]:
    events = ok(service, "admin", EVENTS, p=pipeline)["events"]
    return [e for e in events if e["type"] == "pipeline.defined"]


def test_the_current_definition_reads_as_yaml(service: RunningService) -> None:
    pipeline = unique("yaml")
    define(service, pipeline, V1)
    got = ok(service, "viewer", CURRENT, p=pipeline)["pipelineDefinition"]
    assert (got["pipeline"], got["version"], got["versions"]) == (pipeline, "1", ["1"])
    assert got["yaml"] == V1_YAML
    _, errors = gql(service, "viewer", CURRENT, p=unique("nope"))
    assert _error(errors)["extensions"]["code"] == "BAD_USER_INPUT"


def test_validation_gives_problems_at_their_line_and_the_diff(service: RunningService) -> None:
    pipeline = unique("yaml")
    define(service, pipeline, V1)

    cycle = V2_YAML.replace("    name: Fetch\n", "    name: Fetch\n    depends_on: [index]\n")
    v = ok(service, "viewer", VALIDATE, p=pipeline, y=cycle)["validateDefinition"]
    assert v["valid"] is False and v["diff"] is None
    assert v["problems"] == [
        {
            "message": "steps form a dependency cycle: fetch -> embed -> index -> fetch",
            "path": "steps",
            "line": 8,
            "column": 18,
        }
    ]

    reused = V2_YAML.replace('version: "2"', 'version: "1"')
    (problem,) = ok(service, "viewer", VALIDATE, p=pipeline, y=reused)["validateDefinition"][
        "problems"
    ]
    assert (problem["path"], problem["line"]) == ("version", 2)
    assert "version '1' already exists" in problem["message"]

    v = ok(service, "viewer", VALIDATE, p=pipeline, y=V2_YAML)["validateDefinition"]
    assert (v["valid"], v["version"], v["versionGenerated"], v["problems"]) == (
        True,
        "2",
        False,
        [],
    )
    assert v["diff"]["fromVersion"] == "1" and v["diff"]["toVersion"] == "2"
    assert v["diff"]["changes"] == [
        {
            "kind": "CHANGED",
            "step": None,
            "field": "owner",
            "before": "team:search",
            "after": "team:platform",
        },
        {
            "kind": "ADDED",
            "step": "index",
            "field": None,
            "before": None,
            "after": {"key": "index", "depends_on": ["embed"]},
        },
    ]
    assert "+- key: index\n" in v["diff"]["text"]
    # Validating stored nothing.
    assert ok(service, "viewer", CURRENT, p=pipeline)["pipelineDefinition"]["versions"] == ["1"]


def test_a_submitted_version_is_live_audited_and_survives_a_replay(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    pipeline = unique("yaml")
    define(service, pipeline, V1)
    # Version 2 hands the pipeline over to another team: an owner change, an admin's.
    submitter = ok(service, "admin", "{ me { actor } }")["me"]["actor"]

    s = ok(service, "admin", SUBMIT, p=pipeline, y=V2_YAML)["submitDefinition"]
    assert (s["pipeline"], s["version"]) == (pipeline, "2")
    assert [c["step"] for c in s["diff"]["changes"]] == [None, "index"]

    # Live at once, in the graph the dashboard reads.
    live = ok(service, "viewer", PIPELINE, p=pipeline)["pipeline"]
    assert live["version"] == "2" and live["owner"]["id"] == "team:platform"
    assert [(st["key"], [d["key"] for d in st["dependsOn"]]) for st in live["steps"]] == [
        ("fetch", []),
        ("embed", ["fetch"]),
        ("index", ["embed"]),
    ]
    # A pipeline.defined event in the log, from the submitter, with the checked data.
    events = _definition_events(service, pipeline)
    assert [e["data"].get("version") for e in events] == ["1", "2"]
    assert events[-1]["id"] == s["eventId"] and events[-1]["seq"] == s["seq"]
    assert events[-1]["principal"] == submitter
    assert events[-1]["data"]["steps"][2] == {"key": "index", "depends_on": ["embed"]}
    # In the audit trail, with the submitter as the actor.
    trail = ok(service, "reviewer", AUDIT, t=f"pipeline:{pipeline}")["auditTrail"]["edges"]
    latest = trail[0]["node"]
    assert (latest["actor"], latest["before"]["version"], latest["after"]["version"]) == (
        submitter,
        "1",
        "2",
    )

    # A version without a number gets the next one.
    v3 = V2_YAML.replace('version: "2"\n', "").replace("Nightly refresh\n", "Nightly, v3\n", 1)
    s3 = ok(service, "admin", SUBMIT, p=pipeline, y=v3)["submitDefinition"]
    assert s3["version"] == "3"
    before = ok(service, "viewer", CURRENT, p=pipeline)["pipelineDefinition"]
    assert (before["version"], before["versions"]) == ("3", ["1", "2", "3"])

    # Rebuilding the graph from the log alone gives the same definition and versions.
    rebuild(neo4j_settings)
    after = ok(service, "viewer", CURRENT, p=pipeline)["pipelineDefinition"]
    assert after == before
    assert ok(service, "viewer", PIPELINE, p=pipeline)["pipeline"]["version"] == "3"


def test_roles_without_operate_and_bad_input_store_nothing(service: RunningService) -> None:
    pipeline = unique("yaml")
    define(service, pipeline, V1)

    for role in ("viewer", "reviewer"):
        _, errors = gql(service, role, SUBMIT, p=pipeline, y=V2_YAML)
        error = _error(errors)
        assert error["extensions"]["code"] == "FORBIDDEN", (role, error)
        assert error["extensions"]["permission"] == "operate", (role, error)

    bad_owner = V2_YAML.replace("team:platform", "platform")
    error = _error(gql(service, "operator", SUBMIT, p=pipeline, y=bad_owner)[1])
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == (
        "invalid definition: line 4: owner: 'platform' is not a valid owner "
        "(expected team:<name> or user:<name>)"
    )
    assert error["extensions"]["problems"] == [
        {
            "message": "'platform' is not a valid owner (expected team:<name> or user:<name>)",
            "path": "owner",
            "line": 4,
            "column": 8,
        }
    ]
    for text in (
        "steps: [\n",  # YAML syntax
        V2_YAML.replace('version: "2"', 'version: "1"'),  # a version already used
        V2_YAML.replace("  - key: index\n", "  - key: fetch\n"),  # duplicate step
        V2_YAML.replace("depends_on: [embed]", "depends_on: [embedd]"),  # unknown step
        V2_YAML.replace("{max_tokens: 5000}", "{min_success_rate: 2}"),  # bad SLA
    ):
        error = _error(gql(service, "operator", SUBMIT, p=pipeline, y=text)[1])
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["extensions"]["problems"][0]["line"], error

    # Nothing of it was stored: one definition event, version 1.
    assert [e["data"]["version"] for e in _definition_events(service, pipeline)] == ["1"]
    assert ok(service, "viewer", PIPELINE, p=pipeline)["pipeline"]["version"] == "1"
    assert ok(service, "viewer", CURRENT, p=pipeline)["pipelineDefinition"]["yaml"] == V1_YAML


def test_two_replicas_submitting_one_version_at_once_store_it_once(
    make_service: Callable[..., RunningService], clean_graph: Driver
) -> None:
    # Both validate before either stores (seen: every round takes the race path); the id
    # derived from pipeline and version lets the log keep one.
    first, second = make_service(), make_service()
    pipeline = unique("yaml")
    define(first, pipeline, V1)
    for n in range(2, 6):
        text = V2_YAML.replace('version: "2"', f'version: "{n}"')
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda svc, t=text: gql(svc, "admin", SUBMIT, p=pipeline, y=t),
                    [first, second],
                )
            )
        stored = [data["submitDefinition"] for data, errors in answers if not errors]
        refused = [errors[0] for _, errors in answers if errors]
        assert len(stored) + len(refused) == 2
        assert len(stored) >= 1, answers
        for error in refused:
            assert error["extensions"]["code"] == "BAD_USER_INPUT", error
            assert f"version '{n}'" in error["message"], error
        versions = [e["data"]["version"] for e in _definition_events(first, pipeline)]
        assert versions.count(str(n)) == 1, versions


def test_a_frozen_database_gets_a_retryable_error_within_seconds(
    make_service: Callable[..., RunningService], clean_graph: Driver, stoppable_neo4j: Any
) -> None:
    # Keys kept for the test: the outage is the database's, not the key lookups'.
    service = make_service(api_key_cache_ttl_s=600)
    pipeline = unique("yaml")
    define(service, pipeline, V1)
    calls = [
        ("viewer", CURRENT, {"p": pipeline}),
        ("viewer", VALIDATE, {"p": pipeline, "y": V2_YAML}),
        ("admin", SUBMIT, {"p": pipeline, "y": V2_YAML.replace('"2"', '"9"')}),
    ]
    for role, document, variables in calls[:2]:
        ok(service, role, document, **variables)  # keys cached, statements planned
    ok(service, "admin", "{ me { actor } }")
    with frozen(stoppable_neo4j):
        for role, document, variables in calls:
            started = time.monotonic()
            _, errors = gql(service, role, document, **variables)
            elapsed = time.monotonic() - started
            error = _error(errors)
            assert error["extensions"]["code"] == "DATABASE_UNAVAILABLE", error
            assert error["extensions"]["retryAfter"] >= 1, error
            assert elapsed <= ANSWER_WITHIN_S, (document, elapsed)
    # Back: the submission that got the error may or may not have been stored (as with
    # any 503 on ingest); sending it again settles it.
    eventually(
        lambda: gql(service, "viewer", CURRENT, p=pipeline),
        until=lambda answer: not answer[1],
        timeout=60,
        interval=0.5,
        what="the definition readable again",
    )


SET_OWNER = """mutation($p: String!, $s: String, $o: String!) {
  setOwner(pipeline: $p, step: $s, owner: $o) { name } }"""
SET_SLA = """mutation($p: String!, $s: String, $t: Int) {
  setSla(pipeline: $p, step: $s, sla: {maxTokens: $t}) { name } }"""
GOVERNANCE = """query($p: String!) { pipeline(name: $p) {
  owner { id } sla { maxTokens } steps { key sla { maxTokens } } } }"""


def test_the_yaml_and_its_diff_show_owners_and_slas_an_admin_changed_since(
    service: RunningService,
) -> None:
    # Review finding: the YAML was the stored definition (no later setOwner/setSla), so an
    # operator's unchanged submit silently put the old owner and SLAs back.
    pipeline = unique("yaml")
    define(service, pipeline, V1)
    ok(service, "admin", SET_OWNER, p=pipeline, s=None, o="team:b")
    ok(service, "admin", SET_SLA, p=pipeline, s=None, t=100)
    ok(service, "admin", SET_SLA, p=pipeline, s="embed", t=7000)

    live = ok(service, "viewer", CURRENT, p=pipeline)["pipelineDefinition"]["yaml"]
    assert live == (
        V1_YAML.replace("owner: team:search\n", "owner: team:b\nsla:\n  max_tokens: 100\n").replace(
            "max_tokens: 5000", "max_tokens: 7000"
        )
    )
    # The stored text (without the admin's changes) as a new version: the diff says what
    # it would put back.
    stale = V1_YAML.replace("version: '1'", "version: '2'")
    v = ok(service, "operator", VALIDATE, p=pipeline, y=stale)["validateDefinition"]
    assert [(c["step"], c["field"], c["before"], c["after"]) for c in v["diff"]["changes"]] == [
        (None, "owner", "team:b", "team:search"),
        (None, "sla", {"max_tokens": 100}, None),
        ("embed", "sla", {"max_tokens": 7000}, {"max_tokens": 5000}),
    ]

    # An operator edits a description in the live YAML and submits: owners and SLAs stay.
    edited = live.replace("version: '1'", "version: '2'").replace(
        "Nightly refresh", "Nightly refresh, edited"
    )
    s = ok(service, "operator", SUBMIT, p=pipeline, y=edited)["submitDefinition"]
    assert [(c["step"], c["field"]) for c in s["diff"]["changes"]] == [(None, "description")]
    gov = ok(service, "viewer", GOVERNANCE, p=pipeline)["pipeline"]
    assert gov["owner"]["id"] == "team:b" and gov["sla"]["maxTokens"] == 100
    assert {st["key"]: st["sla"] for st in gov["steps"]}["embed"] == {"maxTokens": 7000}


def test_changing_an_owner_or_an_sla_by_definition_needs_the_admin_permission(
    service: RunningService,
) -> None:
    # Review finding: submitDefinition needs only operate, and let an operator change what
    # setOwner / setSla reserve to admin:owners / admin:slas.
    pipeline = unique("yaml")
    define(service, pipeline, V1)
    v2 = V1_YAML.replace("version: '1'", "version: '2'")
    cases = [
        (v2.replace("owner: team:search", "owner: team:other"), "admin:owners"),
        (v2.replace("max_tokens: 5000", "max_tokens: 9"), "admin:slas"),
        (v2.replace("  name: Fetch\n", "  name: Fetch\n  owner: user:ana\n"), "admin:owners"),
        (v2.replace("steps:\n", "sla:\n  max_tokens: 10\nsteps:\n"), "admin:slas"),
    ]
    for text, permission in cases:
        error = _error(gql(service, "operator", SUBMIT, p=pipeline, y=text)[1])
        assert error["extensions"]["code"] == "FORBIDDEN", (text, error)
        assert error["extensions"]["permission"] == permission, (text, error)
        assert permission in error["message"], error
    assert [e["data"]["version"] for e in _definition_events(service, pipeline)] == ["1"]
    # What needs no admin permission goes through for an operator; an admin may do all.
    ok(service, "operator", SUBMIT, p=pipeline, y=v2.replace("Nightly refresh", "Nightly"))
    s = ok(service, "admin", SUBMIT, p=pipeline, y=cases[0][0].replace("'2'", "'3'"))
    assert s["submitDefinition"]["version"] == "3"
    assert ok(service, "viewer", PIPELINE, p=pipeline)["pipeline"]["owner"]["id"] == "team:other"


def test_a_submitted_definition_is_live_even_when_the_stored_one_is_dated_later(
    service: RunningService,
) -> None:
    # Review finding: the submitted event's time was this replica's clock; a stored
    # definition from an emitter whose clock runs ahead kept winning while the answer
    # said the new version was live.
    pipeline = unique("yaml")
    event = {
        "id": unique("def"),
        "type": "pipeline.defined",
        "time": "2099-01-01T00:00:00Z",
        "source": "test/definitions",
        "pipeline": pipeline,
        "data": V1,
    }
    with service.client("ingester") as http:
        assert http.post("/v1/events", json=[event]).status_code == 200
    text = V1_YAML.replace("version: '1'", "version: '2'").replace("Nightly refresh", "Nightly")
    assert ok(service, "operator", SUBMIT, p=pipeline, y=text)["submitDefinition"]["version"] == "2"
    current = ok(service, "viewer", CURRENT, p=pipeline)["pipelineDefinition"]
    assert (current["version"], current["yaml"]) == ("2", text)
    assert ok(service, "viewer", PIPELINE, p=pipeline)["pipeline"]["version"] == "2"


def _db_hits(plan: Any) -> int:
    return int(plan.get("dbHits", 0)) + sum(_db_hits(c) for c in plan.get("children", []))


def _definition_read_hits(driver: Driver, pipeline: str) -> int:
    with driver.session() as session:
        result = session.run(f"PROFILE {cypher('definition_state')}", pipeline=pipeline)
        (rec,) = list(result)
        plan = result.consume().profile
    assert rec["known"] and plan is not None
    return _db_hits(plan)


def test_the_definition_read_behind_validation_does_not_grow_with_the_pipeline_s_events(
    service: RunningService, clean_graph: Driver
) -> None:
    # Review finding: every validateDefinition (each typing pause, permission read) walked
    # every event of the pipeline to find the versions used; on a busy pipeline that took
    # longer than the answer budget. The work must not depend on the pipeline's traffic.
    pipeline = unique("yaml")
    define(service, pipeline, V1)
    ok(service, "admin", SUBMIT, p=pipeline, y=V2_YAML)
    _definition_read_hits(clean_graph, pipeline)  # planned once; the second is the figure
    quiet = _definition_read_hits(clean_graph, pipeline)
    with service.client("ingester") as http:
        for batch in range(3):
            events = [log_event(pipeline, batch * 500 + i) for i in range(500)]
            assert http.post("/v1/events", json=events).status_code == 200
    # (A re-plan on the new statistics may do less; it must not do more.)
    assert _definition_read_hits(clean_graph, pipeline) <= quiet
    # And the versions are still all there.
    versions = ok(service, "viewer", CURRENT, p=pipeline)["pipelineDefinition"]["versions"]
    assert versions == ["1", "2"]
