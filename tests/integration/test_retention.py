"""Retention end to end (docs/retention.md), with real Parquet files and a real Neo4j:
archive first, then bounded deletes; replay from the archive gives the same graph back;
ingestion keeps working during a pass; erasure leaves the subject's text nowhere.

Passes and replays run as the operator would: ``tracegraph retention run`` and
``tracegraph replay --from-archive`` subprocesses against the test database.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.commands import gql, ok
from tests.support.cypher import fetch
from tests.support.eventually import eventually
from tests.support.graph import snapshot
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.retention.archive import Archive
from tracegraph.retention.erase import subject_hash
from tracegraph.retention.service import RetentionService, retention_service
from tracegraph.settings import Neo4jSettings
from tracegraph.store.cypher_files import query
from tracegraph.store.errors import LeaseLost

# Every class expires after 30 days; the workload's events happened a month ago (their
# times) and were received now, so a pass "as of" a year from now expires everything.
DAYS = "30"
LATER = (datetime.now(UTC) + timedelta(days=400)).isoformat()


def _cli(settings: Neo4jSettings, archive: Path, *args: str, **env: str) -> str:
    environment = {
        **os.environ,
        "NEO4J_URI": settings.uri,
        "NEO4J_USER": settings.user,
        "NEO4J_PASSWORD": settings.password,
        "TRACEGRAPH_RETENTION_ARCHIVE_DIR": str(archive),
        "TRACEGRAPH_RETENTION_BATCH_SIZE": "250",
        "TRACEGRAPH_RETENTION_BATCH_PAUSE_S": "0",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tracegraph.cli.main", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _cli_json(settings: Neo4jSettings, archive: Path, *args: str, **env: str) -> Any:
    """The JSON summary a retention command prints last (log lines come before it)."""
    return orjson.loads(_cli(settings, archive, *args, **env).strip().splitlines()[-1])


ALL_CLASSES = {
    "TRACEGRAPH_RETENTION_EVENTS_DAYS": DAYS,
    "TRACEGRAPH_RETENTION_TEXT_DAYS": DAYS,
    "TRACEGRAPH_RETENTION_LOGS_DAYS": DAYS,
    "TRACEGRAPH_RETENTION_RUNS_DAYS": DAYS,
}


def _post_in_batches(service: RunningService, events: list[dict], sizes: list[int]) -> None:
    """Post every event, sending a batch again on 503/429 as the API asks (duplicates
    are recognised): the test machine is shared and a commit may miss its deadline."""
    with service.client() as client:
        start = i = 0
        while start < len(events):
            batch = events[start : start + sizes[i % len(sizes)]]
            for _attempt in range(10):
                resp = client.post("/v1/events", json=batch)
                if resp.status_code not in (429, 503):
                    break
            assert resp.status_code == 200, resp.text
            start += len(batch)
            i += 1


def _state(driver: Driver) -> dict[str, int]:
    [record] = fetch(driver, "retention_state")
    return dict(record)


def _rels(driver: Driver) -> dict[str, int]:
    with driver.session() as s:
        return {r["type"]: r["count"] for r in s.run(query("count_by_relationship"))}


def _audit(driver: Driver, action: str) -> list[dict[str, Any]]:
    return [dict(r) for r in fetch(driver, "audit_entries") if r["action"] == action]


def _archive_strings(archive: Path) -> Iterator[tuple[str, str]]:
    """Every string of every archive file (and of the manifest)."""
    yield "manifest.json", (archive / "manifest.json").read_text()
    for path in sorted(archive.rglob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            for column, value in row.items():
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str):
                        yield f"{path.name}:{column}", item


def _graph_strings(driver: Driver) -> Iterator[tuple[str, str]]:
    for rec in fetch(driver, "every_property"):
        for name, value in dict(rec["props"]).items():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    yield f"{':'.join(rec['labels'])}.{name}", item


def test_a_pass_archives_every_class_then_replay_from_the_archive_gives_the_graph_back(
    service: RunningService,
    clean_graph: Driver,
    neo4j_settings: Neo4jSettings,
    tmp_path: Path,
) -> None:
    _post_in_batches(service, WorkloadGenerator(seed=11).events(1500), [500])
    before = snapshot(clean_graph)
    state = _state(clean_graph)
    rels = _rels(clean_graph)
    assert state["log_events"] > 0 and state["calls_with_text"] > 0 and state["runs"] > 0
    archive = tmp_path / "archive"

    # Dry run: counts, and nothing changes (no file, same graph).
    dry = _cli_json(
        neo4j_settings, archive, "retention", "run", "--dry-run", "--as-of", LATER, **ALL_CLASSES
    )
    assert dry["dry_run"] and dry["archived"]["logs"] == state["log_events"]
    assert snapshot(clean_graph) == before and not (archive / "manifest.json").exists()

    report = _cli_json(neo4j_settings, archive, "retention", "run", "--as-of", LATER, **ALL_CLASSES)
    assert report["archived"]["logs"] == state["log_events"]
    # Only finished runs expire (by their end); the ones still running stay whole.
    assert 0 < report["archived"]["runs"] == state["ended_runs"] < state["runs"]

    # Archived: every file listed, checksums right, each class present.
    files = Archive(archive).files()
    assert Archive(archive).verify() == []
    assert {f.data_class for f in files} == {"events", "text", "logs", "runs"}
    assert sum(f.rows for f in files if f.data_class == "logs") == state["log_events"]
    assert len(files) > 4  # bounded batches (250 rows): several files per class

    # Removed from Neo4j: run activity and logs, the calls' text, runs lineage does not need.
    after = _state(clean_graph)
    assert after["activity_events"] == 0 and after["log_events"] == 0
    assert after["calls_with_text"] == 0 and 0 < after["calls"] < state["calls"]
    # What lineage and blast radius need stays: artifact versions, the step runs that
    # read or wrote them (with their runs), definitions and owners.
    kept_rels = _rels(clean_graph)
    for rel in ("READ", "WROTE", "VERSION_OF", "HAS_STEP", "OWNED_BY"):
        assert kept_rels.get(rel) == rels.get(rel), rel
    assert after["lineage_runs"] > 0
    assert after["runs"] - after["lineage_runs"] == state["runs"] - state["ended_runs"]
    [audited] = _audit(clean_graph, "retention.pass")
    assert orjson.loads(audited["after"])["archived"] == report["archived"]

    # A second pass finds nothing left to do.
    again = _cli_json(neo4j_settings, archive, "retention", "run", "--as-of", LATER, **ALL_CLASSES)
    assert set(again["archived"].values()) == {0}

    out = _cli(neo4j_settings, archive, "replay", "--from-archive", str(archive))
    assert "restored" in out and "replay done" in out
    assert snapshot(clean_graph) == before


def test_ingestion_keeps_committing_during_a_pass(
    service: RunningService, clean_graph: Driver, tmp_path: Path
) -> None:
    _post_in_batches(service, WorkloadGenerator(seed=12).events(3000), [500])
    old_log = _state(clean_graph)
    # Everything received so far is older than the cutoff; what arrives next is not.
    cutoff = datetime.now(UTC)
    retention: RetentionService = retention_service(
        service.settings.model_copy(
            update={
                "retention_events_days": 30,
                "retention_logs_days": 30,
                "retention_archive_dir": tmp_path,
                "retention_batch_size": 100,
                "retention_batch_pause_s": 0.05,
            }
        ),
        service.app.state.services.driver,
        10.0,
    )
    running = asyncio.run_coroutine_threadsafe(
        retention.run_pass(as_of=cutoff + timedelta(days=30)), service.loop
    )
    fresh = WorkloadGenerator(seed=13).events(2000)
    committed_during_pass = 0
    with service.client() as client:
        for start in range(0, len(fresh), 50):
            resp = client.post("/v1/events", json=fresh[start : start + 50])
            assert resp.status_code == 200, resp.text
            committed_during_pass += 0 if running.done() else 1
    report = running.result(timeout=300)
    assert committed_during_pass > 0  # the posts above overlapped the pass
    # The pass removed exactly the old events; every fresh one is in the log.
    assert report.removed["logs"] == old_log["log_events"]
    fresh_logs = sum(1 for e in fresh if e["type"] == "log")
    assert _state(clean_graph)["log_events"] == fresh_logs


def test_the_retention_duty_runs_under_its_lease_and_is_audited(
    clean_graph: Driver, make_service: Any, tmp_path: Path
) -> None:
    svc = make_service(
        retention_runs_days=1,
        retention_archive_dir=tmp_path,
        retention_interval_s=0.5,
        lease_ttl_s=3,
    )
    # Runs of the workload ended a month ago: the duty's passes (real clock) expire them.
    _post_in_batches(svc, WorkloadGenerator(seed=14).events(600), [300])
    eventually(
        lambda: _state(clean_graph)["ended_runs"] == _state(clean_graph)["lineage_runs"] > 0,
        timeout=120,
        what="the duty pruned the month-old runs",
    )
    [lease] = fetch(clean_graph, "lease_state", lease="retention")
    assert lease["holder"] == svc.app.state.services.retention_lease.holder
    # The pass audits itself after its last batch: the prune can be seen a moment before.
    eventually(
        lambda: any(
            orjson.loads(e["after"])["archived"].get("runs", 0) > 0
            for e in _audit(clean_graph, "retention.pass")
        ),
        timeout=30,
        what="the pass that archived the runs is audited",
    )
    assert Archive(tmp_path).verify() == [] and Archive(tmp_path).files()


def test_a_holder_that_lost_the_retention_lease_deletes_nothing(
    clean_graph: Driver, make_service: Any, tmp_path: Path
) -> None:
    # Issue 20: a paused holder whose lease was taken over (its token superseded) wakes
    # and goes on with its pass — the database refuses its deletes, so nothing archived
    # by it is lost; the current token's pass then prunes as usual.
    svc = make_service(
        retention_runs_days=1,
        retention_archive_dir=tmp_path,
        retention_interval_s=3600,  # one pass at start (empty graph), then none
        lease_ttl_s=3,
    )
    services = svc.app.state.services
    eventually(lambda: services.retention_lease.held, what="the retention lease")
    _post_in_batches(svc, WorkloadGenerator(seed=15).events(400), [200])
    before = _state(clean_graph)
    assert before["ended_runs"] > 0 and before["lineage_runs"] == 0
    current = services.retention_lease.fence()
    stale = {**current, "token": current["token"] - 1}
    store = services.retention.store
    store.fence = lambda: stale
    with pytest.raises(LeaseLost, match="retention"):
        svc.call(services.retention.run_pass())
    assert _state(clean_graph) == before

    store.fence = services.retention_lease.fence
    report = svc.call(services.retention.run_pass())
    assert report.archived["runs"] > 0
    after = _state(clean_graph)
    assert after["ended_runs"] == after["lineage_runs"] > 0


SUBJECT = "cust-90210-zq"


def _subject_events() -> list[dict[str, Any]]:
    """A run whose prompt, response, variables, logs, progress, parameters and outputs
    mention the subject, with figures that must survive erasure."""
    base = {"source": "tests", "pipeline": "support-bot", "run": "run-erase-1"}
    t = "2026-11-02T10:00:0{}Z"
    return [
        {
            **base,
            "id": "er-1",
            "type": "run.started",
            "time": t.format(0),
            "data": {"params": {"customer": SUBJECT, "tier": "gold"}},
        },
        {
            **base,
            "id": "er-2",
            "type": "step.started",
            "time": t.format(1),
            "step": "answer",
            "attempt": 1,
            "data": {},
        },
        {
            **base,
            "id": "er-3",
            "type": "step.progress",
            "time": t.format(2),
            "step": "answer",
            "attempt": 1,
            "data": {"percent": 50, "message": f"answering {SUBJECT}"},
        },
        {
            **base,
            "id": "er-4",
            "type": "prompt.sent",
            "time": t.format(3),
            "step": "answer",
            "attempt": 1,
            "data": {
                "call": "c1",
                "provider": "openai",
                "model": "gpt-4o",
                "text": f"Customer {SUBJECT} asks about a refund",
                "variables": {"customer_id": SUBJECT},
                "input_tokens": 120,
            },
        },
        {
            **base,
            "id": "er-5",
            "type": "response.received",
            "time": t.format(4),
            "step": "answer",
            "attempt": 1,
            "data": {
                "call": "c1",
                "text": f"Dear {SUBJECT.upper()}, your refund is on its way",
                "output_tokens": 40,
                "latency_ms": 850,
                "cost_usd": 0.0123,
            },
        },
        {
            **base,
            "id": "er-6",
            "type": "log",
            "time": t.format(5),
            "step": "answer",
            "attempt": 1,
            "data": {
                "level": "info",
                "message": f"replied to {SUBJECT}",
                "context": {"who": SUBJECT},
            },
        },
        {
            **base,
            "id": "er-7",
            "type": "step.completed",
            "time": t.format(6),
            "step": "answer",
            "attempt": 1,
            "data": {"outputs": {"to": SUBJECT}},
        },
        {
            **base,
            "id": "er-8",
            "type": "run.completed",
            "time": t.format(7),
            "data": {"outputs": {"customer": SUBJECT}},
        },
    ]


def test_erasure_leaves_the_subjects_text_nowhere_and_keeps_the_figures(
    clean_graph: Driver,
    make_service: Any,
    neo4j_settings: Neo4jSettings,
    tmp_path: Path,
) -> None:
    archive = tmp_path / "archive"
    service: RunningService = make_service(retention_archive_dir=archive)
    _post_in_batches(service, WorkloadGenerator(seed=15).events(400), [400])
    events = _subject_events()
    # Half of the subject's events go into the archive (text and logs expire), the rest
    # stay live; one more waits in the quarantine (a log level the contract lacks).
    _post_in_batches(service, events[:6], [6])
    _cli(
        neo4j_settings,
        archive,
        "retention",
        "run",
        "--as-of",
        LATER,
        TRACEGRAPH_RETENTION_TEXT_DAYS=DAYS,
        TRACEGRAPH_RETENTION_LOGS_DAYS=DAYS,
    )
    _post_in_batches(service, events[6:], [2])
    bad = {**events[5], "id": "er-9", "data": {"level": "loud", "message": f"to {SUBJECT}"}}
    with service.client() as client:
        assert client.post("/v1/events", json=[bad]).status_code == 207
    figures = dict(fetch(clean_graph, "llm_call_figures", id="run-erase-1/c1")[0])
    mentioned = [w for w, s in _archive_strings(archive) if SUBJECT in s.lower()]
    assert mentioned and [w for w, s in _graph_strings(clean_graph) if SUBJECT in s.lower()]

    _, errors = gql(
        service,
        "reviewer",
        "mutation($s: String!) { eraseSubject(subject: $s) { nodes } }",
        s=SUBJECT,
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    _, errors = gql(service, "admin", 'mutation { eraseSubject(subject: "ab") { nodes } }')
    assert "too short to erase by" in errors[0]["message"]
    erased = ok(
        service,
        "admin",
        "mutation($s: String!) { eraseSubject(subject: $s) "
        "{ subjectSha256 nodes archiveFiles archiveRows } }",
        s=SUBJECT.upper(),  # case-insensitive
    )["eraseSubject"]
    assert erased["nodes"] > 0 and erased["archiveFiles"] > 0 and erased["archiveRows"] > 0

    # Nowhere: no property of any node or relationship, no archive file, any case.
    assert [w for w, s in _graph_strings(clean_graph) if SUBJECT in s.lower()] == []
    assert [w for w, s in _archive_strings(archive) if SUBJECT in s.lower()] == []
    assert Archive(archive).verify() == []  # rewritten files match the manifest again
    # The call's figures stay; its text (archived by retention) reads [ERASED] in the file.
    now = dict(fetch(clean_graph, "llm_call_figures", id="run-erase-1/c1")[0])
    for figure in ("input_tokens", "output_tokens", "latency_ms", "cost_usd"):
        assert now[figure] == figures[figure] and now[figure] is not None
    assert any("[ERASED]" in s for _, s in _archive_strings(archive))
    # Audited with the subject's hash, never the subject.
    [entry] = _audit(clean_graph, "subject.erased")
    assert entry["target"] == f"subject:{subject_hash(SUBJECT)}"
    assert erased["subjectSha256"] == subject_hash(SUBJECT)
    assert SUBJECT not in str(entry).lower()

    # The CLI erases too: another subject, only in a log message of the live log.
    other = "agent-5521-xy"
    log_event = {**events[5], "id": "er-10", "data": {"level": "info", "message": f"by {other}"}}
    _post_in_batches(service, [log_event], [1])
    summary = _cli_json(neo4j_settings, archive, "retention", "erase", other)
    assert summary["nodes"] >= 1
    assert [w for w, s in _graph_strings(clean_graph) if other in s.lower()] == []
