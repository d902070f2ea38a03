"""The client commands against a running service: emit, lineage, impact, quarantine, tail."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import RunningService
from tests.support.live import until_subscribed_sync
from tracegraph.cli.main import app

runner = CliRunner()


def cli(svc: RunningService, *args: str, input: str | None = None) -> tuple[int, str]:
    env = {"TRACEGRAPH_API_KEY": svc.key("admin")}
    result = runner.invoke(app, [*args, "--url", svc.base_url], input=input, env=env)
    return result.exit_code, result.output


def _log(i: int, **extra: object) -> dict:
    return {
        "id": f"cli-{i}",
        "type": "log",
        "time": "2026-11-20T02:00:00Z",
        "source": "test-cli",
        "data": {"level": "info", "message": f"hello {i}"},
        **extra,
    }


def test_emit_array_object_ndjson_and_stdin(service: RunningService, tmp_path: Path) -> None:
    array = tmp_path / "events.json"
    array.write_text(json.dumps([_log(1), _log(2)]))
    code, out = cli(service, "emit", str(array))
    assert code == 0, out
    assert "accepted 2, duplicates 0, rejected 0" in out

    single = tmp_path / "one.json"
    single.write_text(json.dumps(_log(1)))
    code, out = cli(service, "emit", str(single), "--json")
    assert code == 0
    assert json.loads(out)["duplicates"] == 1

    ndjson = "\n".join(json.dumps(e) for e in (_log(3), _log(4))) + "\n"
    code, out = cli(service, "emit", "-", "--json", input=ndjson)
    assert code == 0
    assert json.loads(out) == {
        "events": 2,
        "accepted": 2,
        "duplicates": 0,
        "rejected": [],
        "last_seq": 4,
    }


def test_emit_reports_rejections_and_exits_1(service: RunningService, tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text(json.dumps(_log(1)) + "\n" + json.dumps({"id": "x", "type": "nope"}) + "\n")
    code, out = cli(service, "emit", str(path))
    assert code == 1
    assert "accepted 1, duplicates 0, rejected 1" in out
    assert "unknown event type" in out


def test_lineage_and_impact_tables_and_json(
    service: RunningService, example_events: list[dict], tmp_path: Path
) -> None:
    path = tmp_path / "example.json"
    path.write_text(json.dumps(example_events))
    assert cli(service, "emit", str(path))[0] == 0

    code, out = cli(service, "lineage", "vector://support-docs", "--version", "2026-11-20")
    assert code == 0, out
    assert "upstream lineage" in out
    assert "s3://support/raw-docs" in out

    code, out = cli(service, "lineage", "s3://support/chunks", "--down", "--depth", "2", "--json")
    assert code == 0, out
    graph = json.loads(out)
    keys = {n["key"] for n in graph["nodes"]}
    assert any(k.startswith("s3://support/embeddings") for k in keys)
    assert not any(k.startswith("s3://support/raw-docs") for k in keys)

    # The eval report's upstream reaches its raw source in one hop, inferred along the
    # run's steps; --observed-only walks the observed chain (raw-docs is 5 hops away).
    report = ("s3://support/eval-reports", "--version", "2026-11-20", "--depth", "1", "--json")
    code, out = cli(service, "lineage", *report)
    assert code == 0, out
    edges = {e["from"]: e for e in json.loads(out)["edges"]}
    raw = edges["s3://support/raw-docs@2026-11-19"]
    assert (raw["kind"], raw["path"]) == (
        "INFERRED",
        ["fetch-docs", "chunk", "embed", "index", "eval"],
    )
    code, out = cli(service, "lineage", *report, "--observed-only")
    assert code == 0, out
    graph = json.loads(out)
    assert {e["kind"] for e in graph["edges"]} == {"OBSERVED"}
    assert "s3://support/raw-docs@2026-11-19" not in {n["key"] for n in graph["nodes"]}
    code, out = cli(service, "lineage", *report[:3])
    assert code == 0, out
    assert "INFERRED" in out  # the table (its path column may wrap in a narrow terminal)

    code, out = cli(service, "impact", "artifact", "s3://support/raw-docs")
    assert code == 0, out
    assert "rag-nightly" in out
    assert "blast radius:" in out

    code, out = cli(service, "impact", "ARTIFACT", "s3://support/raw-docs", "--json")
    answer = json.loads(out)
    assert [p["name"] for p in answer["pipelines"]] == ["rag-nightly"]
    assert answer["root"]["kind"] == "ARTIFACT"
    assert {e["kind"] for e in answer["edges"]} == {"OBSERVED", "INFERRED"}
    code, out = cli(
        service, "impact", "ARTIFACT", "s3://support/raw-docs", "--json", "--observed-only"
    )
    assert {e["kind"] for e in json.loads(out)["edges"]} == {"OBSERVED"}

    code, out = cli(service, "impact", "ARTIFACT", "s3://no/such")
    assert code == 1
    assert "unknown ARTIFACT" in out


def _column_events() -> list[dict]:
    """db/src.city -> db/dst.city (run a) -> db/report.town (run b)."""

    def event(i: int, run: str, kind: str, data: dict) -> dict:
        return {"id": f"cli-col-{i}", "type": kind, "time": f"2026-11-20T04:00:0{i}Z",
                "source": "test-cli", "pipeline": "cli-cols", "run": run, "step": "copy",
                "data": data}  # fmt: skip

    def lineage(field: str, uri: str, source: str) -> list[dict]:
        return [{"field": field, "inputs": [{"uri": uri, "field": source}]}]

    return [
        event(1, "a", "artifact.read", {"uri": "db/src", "version": "1",
                                        "schema": [{"name": "city", "type": "TEXT"}]}),
        event(2, "a", "artifact.written", {"uri": "db/dst", "version": "1",
                                           "column_lineage": lineage("city", "db/src", "city")}),
        event(3, "b", "artifact.read", {"uri": "db/dst", "version": "1"}),
        event(4, "b", "artifact.written", {"uri": "db/report", "version": "1",
                                           "column_lineage": lineage("town", "db/dst", "city")}),
    ]  # fmt: skip


def test_lineage_and_impact_of_a_field(service: RunningService, tmp_path: Path) -> None:
    path = tmp_path / "columns.json"
    path.write_text(json.dumps(_column_events()))
    code, out = cli(service, "emit", str(path))
    assert code == 0, out

    code, out = cli(service, "lineage", "db/report", "--field", "town", "--json")
    assert code == 0, out
    graph = json.loads(out)
    keys = {n["key"] for n in graph["nodes"]}
    assert {"db/dst@1#city", "db/src@1#city"} <= keys, keys
    code, out = cli(service, "lineage", "db/report", "--field", "town")
    assert code == 0, out
    assert "db/src" in out

    code, out = cli(service, "impact", "ARTIFACT", "db/src", "--field", "city", "--json")
    assert code == 0, out
    fields = {(f["uri"], f["name"]) for f in json.loads(out)["fields"]}
    assert fields == {("db/dst", "city"), ("db/report", "town")}, fields
    code, out = cli(service, "impact", "ARTIFACT", "db/src", "--field", "city")
    assert code == 0, out
    assert "db/report@1 town" in out and "2 fields" in out

    code, out = cli(service, "lineage", "db/report", "--field", "")
    assert code == 1
    assert "field: must be a field name, not empty" in out


def test_quarantine_list_and_resubmit(service: RunningService, tmp_path: Path) -> None:
    naive = _log(10, time="2026-11-20T02:00:00")  # no offset: rejected
    broken = {"id": "cli-11", "type": "log", "source": "x", "time": "2026-11-20T02:00:00Z"}
    with service.client() as client:
        resp = client.post("/v1/events", json=[naive, broken, _log(12)])
        assert resp.status_code == 207

    code, out = cli(service, "quarantine", "list", "--json")
    assert code == 0, out
    page = json.loads(out)
    # Same request, same received_at: their relative order is by entry id, so compare sets.
    assert sorted(e["event_id"] for e in page["items"]) == ["cli-10", "cli-11"]
    ids = {e["event_id"]: e["id"] for e in page["items"]}
    assert {e["event_id"]: e["payload"] for e in page["items"]}["cli-10"] == naive

    code, out = cli(service, "quarantine", "list")
    assert code == 0 and "cli-10" in out and "quarantine (open)" in out

    # As-is, the broken payload is still invalid: 422, nothing stored, still open.
    code, out = cli(service, "quarantine", "resubmit", ids["cli-11"])
    assert code == 1
    assert "still quarantined" in out

    # A corrected event resolves it.
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({**naive, "time": "2026-11-20T02:00:00Z"}))
    code, out = cli(
        service, "quarantine", "resubmit", ids["cli-10"], "--file", str(fixed), "--json"
    )
    assert code == 0, out
    (result,) = json.loads(out)["results"]
    assert result["status"] == 200 and result["accepted"] == 1
    assert result["entry"]["resolved_seq"] == result["seq"] > 0

    code, out = cli(service, "quarantine", "list", "--json")
    assert [e["event_id"] for e in json.loads(out)["items"]] == ["cli-11"]
    code, out = cli(service, "quarantine", "list", "--status", "resolved", "--json")
    assert [e["event_id"] for e in json.loads(out)["items"]] == ["cli-10"]

    # Resolving twice is refused; --all re-tries the rest as they were received.
    code, out = cli(service, "quarantine", "resubmit", ids["cli-10"], "--json")
    assert code == 1
    assert json.loads(out)["results"][0]["status"] == 409
    code, out = cli(service, "quarantine", "resubmit", "--all", "--json")
    assert code == 1
    assert json.loads(out)["failed"] == 1

    # Discarding needs a reason; once discarded nothing is open.
    code, out = cli(service, "quarantine", "discard", ids["cli-11"], "--reason", " ")
    assert code == 1 and "reason" in out
    code, out = cli(service, "quarantine", "discard", ids["cli-11"], "--reason", "noise")
    assert code == 0 and "discarded" in out, out
    code, out = cli(service, "quarantine", "list", "--json")
    assert json.loads(out)["items"] == []

    with service.client() as client:
        paged = client.get("/v1/quarantine", params={"limit": 1, "status": "all"}).json()
        assert len(paged["items"]) == 1 and paged["next"]
        rest = client.get(
            "/v1/quarantine", params={"limit": 5, "status": "all", "after": paged["next"]}
        ).json()
        assert len(rest["items"]) == 1 and rest["next"] is None
        assert client.post("/v1/quarantine/nope/resubmit").status_code == 404


def test_tail_prints_events_posted_while_it_runs(service: RunningService) -> None:
    env = {**os.environ, "TRACEGRAPH_URL": service.base_url, "PYTHONUNBUFFERED": "1"}
    env["TRACEGRAPH_API_KEY"] = service.key("reviewer")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracegraph.cli.main",
            "tail",
            "--json",
            "--types",
            "log",
            "--count",
            "3",
            "--for",
            "60",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        until_subscribed_sync(service, 1)  # connected and subscribed: what follows is live
        with service.client("ingester") as client:
            for i in range(3):
                run_event = {
                    "id": f"tail-run-{i}",
                    "type": "run.started",
                    "time": "2026-11-20T02:00:00Z",
                    "source": "t",
                    "pipeline": "tailed",
                    "run": f"r-{i}",
                    "data": {},
                }
                resp = client.post("/v1/events", json=[run_event, _log(100 + i)])
                assert resp.status_code == 200
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [e["id"] for e in events] == ["cli-100", "cli-101", "cli-102"]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)


def test_tail_replays_after_seq_as_lines(service: RunningService) -> None:
    with service.client() as client:
        client.post("/v1/events", json=[_log(i) for i in range(3)])
    code, out = cli(service, "tail", "--after-seq", "1", "--count", "2", "--for", "30")
    assert code == 0, out
    lines = [ln for ln in out.splitlines() if "log" in ln]
    assert len(lines) == 2
    assert "hello 1" in lines[0] and "hello 2" in lines[1]
