"""A long event log for bench/query.py, built offline by Neo4j's bulk importer and kept.

Building 10^7 events online (batched ``CREATE`` through Bolt, bench/cypher) takes about
8 min per 10^6 here, so 10^7 would take well over an hour, on every run. Instead:

1. write the log as CSV files (events, runs, ``ABOUT`` edges; the same nodes and
   properties bench/cypher/query_bench_events.cypher creates online);
2. ``neo4j-admin database import full`` (its classes are in the server jars we already
   fetch: ``neo4j-import-tool``, run through ``org.neo4j.cli.AdminTool``) writes the
   store files of a stopped instance directly;
3. start the instance, apply the service's schema and wait for the indexes.

The instance (``.neo4j/instances/eventlog-<events>``, git-ignored) is kept with a marker
naming what it holds, so a later run with the same sizes starts it and reuses the store;
only the benchmark's own API keys are added to it between runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from neo4j import GraphDatabase
from neo4j.exceptions import ClientError

from harness import bench_cypher, started_by_bench
from tracegraph.localneo4j import LocalNeo4j
from tracegraph.localneo4j.config import render_config
from tracegraph.localneo4j.fetch import ensure_dist
from tracegraph.localneo4j.server import _find_java
from tracegraph.settings import REPO_ROOT, Neo4jSettings

TARGET_RUN = "bench-live-run"
PIPELINE = "bench-events"
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_MARKER = "eventlog.json"
_CHUNK = 100_000
# The importer's own JVM: heap for its id mappers; the rest of memory is off-heap cache.
_IMPORT_HEAP = "2g"
_INDEX_WAIT_S = 3600


@dataclass(frozen=True)
class EventLogSpec:
    """What the log holds: ``events`` events (seq 1..n) about ``runs`` runs; every
    ``every``-th event from ``target_from`` on is about TARGET_RUN (a run still live at
    the end of a long log), ``target_events`` of them."""

    events: int
    target_events: int
    runs: int = 10_000
    every: int = 100
    version: int = 1  # bump when the CSV layout changes: cached stores are rebuilt

    @property
    def target_from(self) -> int:
        return max(1, self.events - self.target_events * self.every + 1)

    def run_of(self, seq: int) -> str:
        if seq >= self.target_from and seq % self.every == 0:
            return TARGET_RUN
        return f"bench-run-{seq % self.runs}"


def _iso(ms: int) -> str:
    return (
        (_EPOCH + timedelta(milliseconds=ms))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def write_csv(spec: EventLogSpec, folder: Path) -> dict[str, Path]:
    """The three CSV files of the log (header on the first line, RFC 4180 quoting)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / f"{name}.csv" for name in ("runs", "events", "about")}
    with files["runs"].open("w", encoding="utf-8") as out:
        out.write("id:ID(Run),pipeline,status,order_key\n")
        for i in range(spec.runs):
            out.write(f"bench-run-{i},{PIPELINE},succeeded,0000000000000|bench-run-{i}\n")
        out.write(f"{TARGET_RUN},{PIPELINE},running,0000000000000|{TARGET_RUN}\n")
    header = (
        "id:ID(Event),seq:long,type,source,pipeline,run,time:datetime,received_at:datetime,"
        "fingerprint,principal,payload\n"
    )
    with (
        files["events"].open("w", encoding="utf-8") as events,
        files["about"].open("w", encoding="utf-8") as about,
    ):
        events.write(header)
        about.write(":START_ID(Event),:END_ID(Run)\n")
        for start in range(1, spec.events + 1, _CHUNK):
            rows: list[str] = []
            edges: list[str] = []
            for seq in range(start, min(spec.events, start + _CHUNK - 1) + 1):
                run = spec.run_of(seq)
                at = _iso(seq)
                # The payload is JSON inside a quoted CSV field: its quotes are doubled.
                payload = (
                    f'"{{""id"":""bench-ev-{seq}"",""type"":""log"",'
                    f'""time"":""2026-01-01T00:00:00.000Z"",""source"":""bench"",'
                    f'""pipeline"":""{PIPELINE}"",""run"":""{run}"",'
                    f'""data"":{{""level"":""info"",""message"":""line {seq}""}}}}"'
                )
                rows.append(
                    f"bench-ev-{seq},{seq},log,bench,{PIPELINE},{run},{at},{at},"
                    f"fp{seq},bench,{payload}\n"
                )
                edges.append(f"bench-ev-{seq},{run}\n")
            events.write("".join(rows))
            about.write("".join(edges))
            done = min(spec.events, start + _CHUNK - 1)
            if done % 1_000_000 == 0 or done == spec.events:
                print(f"  csv: {done}/{spec.events} events", file=sys.stderr, flush=True)
    return files


def _import(local: LocalNeo4j, files: dict[str, Path]) -> None:
    """``neo4j-admin database import full`` into the (stopped) instance's ``neo4j``."""
    lib = ensure_dist(local.dist_dir, local.version)
    for d in (local.conf_dir, local.data_dir, local.logs_dir, local.run_dir):
        d.mkdir(parents=True, exist_ok=True)
    (local.conf_dir / "neo4j.conf").write_text(
        render_config(
            instance_dir=local.instance_dir,
            bolt_port=local.bolt_port,
            heap=local.heap,
            pagecache=local.pagecache,
        ),
        encoding="utf-8",
    )
    cmd = [
        _find_java(),
        f"-Xmx{_IMPORT_HEAP}",
        "-cp",
        f"{lib}/*",
        "org.neo4j.cli.AdminTool",
        "database",
        "import",
        "full",
        "--overwrite-destination=true",
        f"--nodes=Run={files['runs']}",
        f"--nodes=Event={files['events']}",
        f"--relationships=ABOUT={files['about']}",
        f"--report-file={local.logs_dir / 'import.report'}",
        "neo4j",
    ]
    env = dict(os.environ, NEO4J_HOME=str(local.instance_dir), NEO4J_CONF=str(local.conf_dir))
    print("  " + " ".join(cmd[4:]), file=sys.stderr, flush=True)
    subprocess.run(cmd, env=env, check=True, cwd=local.instance_dir)


def _apply_schema_and_wait(uri: str) -> None:
    """The service's constraints and indexes, then wait (long) for their population."""
    from tracegraph.store.cypher_files import script_queries
    from tracegraph.store.driver import open_driver

    async def schema_only() -> None:
        driver = open_driver(Neo4jSettings(uri=uri))
        try:
            async with driver.session(database="neo4j") as session:
                for statement in script_queries("schema"):
                    await (await session.run(statement)).consume()
        finally:
            await driver.close()

    asyncio.run(schema_only())
    with GraphDatabase.driver(uri) as driver:
        deadline = time.monotonic() + _INDEX_WAIT_S
        while True:
            try:
                driver.execute_query(bench_cypher("await_indexes_for"), timeout_s=60)
                return
            except ClientError as exc:  # not online within the call's wait: wait again
                if time.monotonic() > deadline:
                    raise
                print(f"  indexes still populating ({exc.code})", file=sys.stderr, flush=True)


def cached_event_log(spec: EventLogSpec, bolt_port: int) -> tuple[str, float | None]:
    """Bolt URI of a running instance holding ``spec``'s log, and the seconds it took to
    build (None when an earlier run's store was reused). An instance this call starts
    is stopped when the benchmark ends (``harness.stops_what_it_starts``)."""
    local = LocalNeo4j(REPO_ROOT / ".neo4j", name=f"eventlog-{spec.events}", bolt_port=bolt_port)
    marker = local.instance_dir / _MARKER
    want = asdict(spec)
    if marker.exists() and json.loads(marker.read_text(encoding="utf-8")).get("spec") == want:
        if not local.status().running:
            started_by_bench(local)
        print(f"reusing the event log in {local.instance_dir}", file=sys.stderr, flush=True)
        return local.start(timeout_s=600), None
    t0 = time.perf_counter()
    local.wipe()
    marker.unlink(missing_ok=True)
    csv_dir = local.instance_dir / "csv"
    try:
        files = write_csv(spec, csv_dir)
        t_csv = time.perf_counter() - t0
        _import(local, files)
        t_import = time.perf_counter() - t0 - t_csv
    finally:
        shutil.rmtree(csv_dir, ignore_errors=True)
    started_by_bench(local)
    uri = local.start(timeout_s=600)
    _apply_schema_and_wait(uri)
    build_s = time.perf_counter() - t0
    timings = {"csv_s": t_csv, "import_s": t_import, "schema_s": build_s - t_csv - t_import}
    print(
        f"built {spec.events} events offline in {build_s:.1f}s "
        + " ".join(f"{k}={v:.1f}" for k, v in timings.items()),
        file=sys.stderr,
        flush=True,
    )
    marker.write_text(
        json.dumps({"spec": want, "build_s": build_s, **timings}, indent=1), encoding="utf-8"
    )
    return uri, build_s
