"""Issue 22: column lineage, schemas and schema changes, nested parents and the batch
endpoint, sent by the real openlineage-python client and read back through GraphQL."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from gql import gql as gql_doc
from neo4j import Driver
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    dataset_version_dataset,
    ownership_dataset,
    parent_run,
    schema_dataset,
)
from openlineage.client.serde import Serde
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

from tests.conftest import RunningService, wipe
from tests.support.cypher import fetch
from tests.support.eventually import eventually, eventually_async
from tests.support.graph import rebuild, snapshot
from tests.support.live import session, until_subscribed
from tracegraph.settings import Neo4jSettings

PRODUCER = "https://github.com/acme/dags"
NS = "airflow"
RAW_NS, RAW_NAME = "warehouse", "raw.orders"
RAW = "warehouse/raw.orders"
CLEAN = "warehouse/clean.orders"
REPORT = "warehouse/finance.report"


def gql(service: RunningService, query: str, role: str = "admin", **variables: Any) -> Any:
    resp = httpx.post(
        f"{service.base_url}/graphql",
        json={"query": query, "variables": variables},
        headers=service.headers(role),
        timeout=60,
    )
    body = resp.json()
    assert resp.status_code == 200 and not body.get("errors"), body
    return body["data"]


def gql_error(service: RunningService, query: str, **variables: Any) -> str:
    resp = httpx.post(
        f"{service.base_url}/graphql",
        json={"query": query, "variables": variables},
        headers=service.headers(),
        timeout=60,
    )
    errors = resp.json().get("errors")
    assert errors, resp.text
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors
    return str(errors[0]["message"])


def client(service: RunningService) -> OpenLineageClient:
    auth = ApiKeyTokenProvider({"apiKey": service.key("ingester")})
    return OpenLineageClient(transport=HttpTransport(HttpConfig(url=service.base_url, auth=auth)))


def at(second: int) -> str:
    return f"2026-11-20T03:{second // 60:02d}:{second % 60:02d}.000Z"


def schema(*fields: tuple[str, str]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in fields]
    )


def version(v: str) -> dataset_version_dataset.DatasetVersionDatasetFacet:
    return dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=v)


ORDERS_V1 = (("id", "BIGINT"), ("email", "TEXT"), ("amount", "DECIMAL"))
# v2 drops amount and retypes id: breaking for whatever reads them.
ORDERS_V2 = (("id", "TEXT"), ("email", "TEXT"), ("country", "TEXT"))


def raw_orders(v: str, fields: tuple[tuple[str, str], ...]) -> InputDataset:
    return InputDataset(
        namespace=RAW_NS, name=RAW_NAME, facets={"version": version(v), "schema": schema(*fields)}
    )


def derived(
    inputs: dict[str, list[tuple[str, str, str]]], description: str | None = None
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """{output field: [(input dataset name, input field, subtype)]} in the warehouse."""
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            out: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=RAW_NS,
                        name=name,
                        field=field,
                        transformations=[
                            column_lineage_dataset.Transformation(
                                type="DIRECT", subtype=subtype, description=description
                            )
                        ],
                    )
                    for name, field, subtype in sources
                ],
                transformationDescription=description,
                transformationType="TRANSFORMATION" if description else "IDENTITY",
            )
            for out, sources in inputs.items()
        }
    )


def parent_facet(run_id: str, job: str) -> dict[str, Any]:
    return {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_id), job=parent_run.Job(namespace=NS, name=job)
        )
    }


def task(
    dag: str,
    dag_run: str,
    name: str,
    second: int,
    inputs: list[InputDataset],
    outputs: list[OutputDataset],
) -> list[RunEvent]:
    """START and COMPLETE of a task (a step of the DAG's run)."""
    run = Run(runId=str(uuid.uuid4()), facets=parent_facet(dag_run, dag))
    job = Job(namespace=NS, name=name)
    return [
        RunEvent(eventType=RunState.START, eventTime=at(second), producer=PRODUCER,
                 run=run, job=job, inputs=inputs),
        RunEvent(eventType=RunState.COMPLETE, eventTime=at(second + 1), producer=PRODUCER,
                 run=run, job=job, inputs=inputs, outputs=outputs),
    ]  # fmt: skip


def clean_dag(service: RunningService) -> str:
    """raw.orders v1 -> clean (id: identity, amount_usd: amount converted) -> report
    (total: sum of amount_usd), the report owned by team:finance."""
    dag, dag_run = "orders_nightly", str(uuid.uuid4())
    clean_out = OutputDataset(
        namespace=RAW_NS,
        name="clean.orders",
        facets={
            "version": version("c1"),
            "schema": schema(("id", "BIGINT"), ("amount_usd", "DECIMAL")),
            "columnLineage": derived({"id": [(RAW_NAME, "id", "IDENTITY")]}),
        },
    )
    # A second transformation with a description for amount_usd.
    clean_out.facets["columnLineage"].fields["amount_usd"] = column_lineage_dataset.Fields(
        inputFields=[
            column_lineage_dataset.InputField(
                namespace=RAW_NS,
                name=RAW_NAME,
                field="amount",
                transformations=[
                    column_lineage_dataset.Transformation(
                        type="DIRECT", subtype="TRANSFORMATION", description="amount * fx_rate"
                    )
                ],
            )
        ],
        transformationDescription="amount converted to USD",
        transformationType="TRANSFORMATION",
    )
    clean_in = InputDataset(
        namespace=RAW_NS, name="clean.orders", facets={"version": version("c1")}
    )
    report_out = OutputDataset(
        namespace=RAW_NS,
        name="finance.report",
        facets={
            "version": version("r1"),
            "schema": schema(("total", "DECIMAL")),
            "ownership": ownership_dataset.OwnershipDatasetFacet(
                owners=[ownership_dataset.Owner(name="team:finance")]
            ),
            "columnLineage": derived(
                {"total": [("clean.orders", "amount_usd", "AGGREGATION")]}, "sum(amount_usd)"
            ),
        },
    )
    events = [
        RunEvent(eventType=RunState.START, eventTime=at(0), producer=PRODUCER,
                 run=Run(runId=dag_run), job=Job(namespace=NS, name=dag)),
        *task(dag, dag_run, "orders_nightly.clean", 1, [raw_orders("v1", ORDERS_V1)],
              [clean_out]),
        *task(dag, dag_run, "orders_nightly.report", 5, [clean_in], [report_out]),
    ]  # fmt: skip
    ol = client(service)
    for event in events:
        ol.emit(event)
    return dag_run


def test_column_lineage_answers_at_field_level(service: RunningService) -> None:
    clean_dag(service)

    fields = gql(
        service,
        """query($uri: String!) { artifactFields(uri: $uri) {
             versionId version fields { name type inSchema
               derivedFrom { id uri version name transformation subtype description } } } }""",
        uri=CLEAN,
    )["artifactFields"]
    assert fields["version"] == "c1"
    by_name = {f["name"]: f for f in fields["fields"]}
    assert [f["name"] for f in fields["fields"]] == ["id", "amount_usd"]
    assert by_name["amount_usd"]["type"] == "DECIMAL" and by_name["amount_usd"]["inSchema"]
    [source] = by_name["amount_usd"]["derivedFrom"]
    assert source == {
        "id": f"{RAW}@v1#amount",
        "uri": RAW,
        "version": "v1",
        "name": "amount",
        "transformation": "DIRECT",
        "subtype": "TRANSFORMATION",
        "description": "amount * fx_rate",
    }
    assert [s["id"] for s in by_name["id"]["derivedFrom"]] == [f"{RAW}@v1#id"]

    # Upstream of the report's total: amount_usd of clean, then amount of raw.
    up = gql(
        service,
        """query($uri: String!) { lineage(uri: $uri, version: "r1", field: "total") {
             root { id kind } nodes { id kind depth }
             edges { from to kind transformation description via } } }""",
        uri=REPORT,
    )["lineage"]
    assert up["root"] == {"id": f"{REPORT}@r1#total", "kind": "FIELD"}
    depths = {n["id"]: n["depth"] for n in up["nodes"]}
    assert depths == {
        f"{REPORT}@r1#total": 0,
        f"{CLEAN}@c1#amount_usd": 1,
        f"{RAW}@v1#amount": 2,
    }
    edges = {(e["from"], e["to"]): e for e in up["edges"]}
    last = edges[(f"{RAW}@v1#amount", f"{CLEAN}@c1#amount_usd")]
    assert last["kind"] == "DERIVED"
    assert last["transformation"] == "DIRECT/TRANSFORMATION"
    assert last["description"] == "amount * fx_rate"
    assert last["via"] and last["via"].endswith("/orders_nightly.clean#1")
    assert edges[(f"{CLEAN}@c1#amount_usd", f"{REPORT}@r1#total")]["transformation"] == (
        "DIRECT/AGGREGATION"
    )

    # Downstream of raw.orders' id (every version): clean's id only, not the report.
    down = gql(
        service,
        """{ lineage(uri: "warehouse/raw.orders", field: "id", direction: DOWNSTREAM) {
             root { kind } nodes { id } } }""",
    )["lineage"]
    assert down["root"]["kind"] == "ARTIFACT"
    assert {n["id"] for n in down["nodes"]} == {RAW, f"{RAW}@v1#id", f"{CLEAN}@c1#id"}

    # Version-level lineage is unchanged by the columns.
    versions = gql(
        service,
        """{ lineage(uri: "warehouse/finance.report", direction: UPSTREAM) { nodes { id } } }""",
    )["lineage"]
    assert f"{RAW}@v1" in {n["id"] for n in versions["nodes"]}

    assert "has no field 'nope'" in gql_error(
        service, '{ lineage(uri: "warehouse/raw.orders", field: "nope") { nodes { id } } }'
    )
    assert "unknown artifact uri" in gql_error(
        service, '{ artifactFields(uri: "warehouse/none") { versionId } }'
    )


def test_impact_of_a_field_lists_what_reads_it(service: RunningService) -> None:
    clean_dag(service)
    impact = gql(
        service,
        """{ impact(kind: ARTIFACT, key: "warehouse/raw.orders", field: "amount") {
             fields { id } artifacts { id } steps { key } pipelines { name }
             owners { id } paths } }""",
    )["impact"]
    assert {f["id"] for f in impact["fields"]} == {
        f"{CLEAN}@c1#amount_usd",
        f"{REPORT}@r1#total",
    }
    assert {a["id"] for a in impact["artifacts"]} >= {f"{CLEAN}@c1", f"{REPORT}@r1"}
    assert {s["key"] for s in impact["steps"]} == {
        "orders_nightly.clean",
        "orders_nightly.report",
    }
    assert [p["name"] for p in impact["pipelines"]] == ["airflow/orders_nightly"]
    assert [o["id"] for o in impact["owners"]] == ["team:finance"]
    # Each affected node is explained from the root: raw -> v1 -> amount -> ...
    total_path = next(p for p in impact["paths"] if p[-1] == f"{REPORT}@r1#total")
    assert total_path == [
        RAW,
        f"{RAW}@v1",
        f"{RAW}@v1#amount",
        f"{CLEAN}@c1#amount_usd",
        f"{REPORT}@r1#total",
    ]
    # The id field feeds clean's id only: no owner, no report.
    narrow = gql(
        service,
        """{ impact(kind: ARTIFACT_VERSION, key: "warehouse/raw.orders@v1", field: "id") {
             fields { id } owners { id } } }""",
    )["impact"]
    assert narrow == {"fields": [{"id": f"{CLEAN}@c1#id"}], "owners": []}
    assert "has no field" in gql_error(
        service, '{ impact(kind: ARTIFACT, key: "warehouse/raw.orders", field: "x") { paths } }'
    )
    assert "applies to kind ARTIFACT or ARTIFACT_VERSION" in gql_error(
        service, '{ impact(kind: PIPELINE, key: "airflow/orders_nightly", field: "x") { paths } }'
    )


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def new_orders(service: RunningService, v: str, fields: Any, second: int, job: str) -> None:
    """A load job (a pipeline run of its own) that writes raw.orders version v."""
    run, ol_job = Run(runId=str(uuid.uuid4())), Job(namespace=NS, name=job)
    out = OutputDataset(
        namespace=RAW_NS, name=RAW_NAME, facets={"version": version(v), "schema": schema(*fields)}
    )
    client(service).emit(
        RunEvent(eventType=RunState.COMPLETE, eventTime=at(second), producer=PRODUCER,
                 run=run, job=ol_job, outputs=[out])
    )  # fmt: skip


def test_breaking_schema_change_alerts_the_readers_owners_once_across_replicas(
    clean_graph: Driver,
    make_service: Callable[..., RunningService],
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = receiver
    a, b = make_service(webhook_urls=[url]), make_service(webhook_urls=[url])
    clean_dag(a)
    alerts_doc = gql_doc(
        'subscription { alerts(owner: "team:finance") { kind status subject observed '
        "owners { id } } }"
    )

    async def watch() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with session(b, role="viewer") as s:

            async def listen() -> None:
                async for result in s.subscribe(alerts_doc):
                    got.append(result["alerts"])

            listener = asyncio.create_task(listen())
            await until_subscribed(b, 1, alerts=True)
            # The same new version seen by both replicas at once: a load job writes it
            # through A while an audit job reads it (same schema) through B.
            await asyncio.gather(
                asyncio.to_thread(new_orders, a, "v2", ORDERS_V2, 30, "load_orders"),
                asyncio.to_thread(read_orders_v2, b),
            )

            def arrived() -> bool:
                if listener.done():
                    listener.result()
                return bool(got)

            await eventually_async(arrived, what="the schema alert on replica B")
            listener.cancel()
        return got

    [alert] = asyncio.run(watch())
    assert alert == {
        "kind": "SCHEMA_CHANGE",
        "status": "OPEN",
        "subject": f"{RAW}@v2",
        "observed": 2.0,
        "owners": [{"id": "team:finance"}],
    }
    [change] = gql(
        b,
        """{ schemaChanges(uri: "warehouse/raw.orders") { versionId previousVersionId added
             removed retyped { name from to } breaking alerted } }""",
    )["schemaChanges"]
    assert change == {
        "versionId": f"{RAW}@v2",
        "previousVersionId": f"{RAW}@v1",
        "added": ["country"],
        "removed": ["amount"],
        "retyped": [{"name": "id", "from": "BIGINT", "to": "TEXT"}],
        "breaking": True,
        "alerted": True,
    }
    eventually(lambda: len(schema_hooks(received)) >= 1, what="the schema.change webhook")
    # A later breaking version (v3 drops email, which nothing reads, and retypes id back,
    # which clean's id reads) alerts again; v2's webhook was not sent a second time.
    new_orders(b, "v3", (("id", "BIGINT"), ("country", "TEXT")), 40, "load_orders")
    eventually(lambda: len(schema_hooks(received)) >= 2, what="v3's schema.change webhook")
    hooks = schema_hooks(received)
    assert [h["version_id"] for h in hooks] == [f"{RAW}@v2", f"{RAW}@v3"]
    first = hooks[0]
    assert first["removed"] == ["amount"] and first["retyped"] == ["id"]
    assert first["owners"] == ["team:finance"]
    # Transitively: the report's total reads amount through clean's amount_usd.
    assert set(first["fields"]) == {
        f"{CLEAN}@c1#amount_usd",
        f"{CLEAN}@c1#id",
        f"{REPORT}@r1#total",
    }
    assert first["pipelines"] == ["airflow/orders_nightly"]
    total_sent = sum(s.app.state.services.webhooks.delivered for s in (a, b))
    assert total_sent == 2


def read_orders_v2(service: RunningService) -> None:
    run, job = Run(runId=str(uuid.uuid4())), Job(namespace=NS, name="audit_orders")
    client(service).emit(
        RunEvent(eventType=RunState.COMPLETE, eventTime=at(31), producer=PRODUCER,
                 run=run, job=job, inputs=[raw_orders("v2", ORDERS_V2)])
    )  # fmt: skip


def schema_hooks(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r["schemaChange"] for r in list(received) if r.get("type") == "schema.change"]


def test_a_non_breaking_change_is_recorded_without_an_alert(service: RunningService) -> None:
    clean_dag(service)
    new_orders(service, "v2", (*ORDERS_V1, ("country", "TEXT")), 30, "load_orders")
    [change] = gql(
        service,
        """{ schemaChanges(uri: "warehouse/raw.orders") { version added removed retyped { name }
             breaking alerted } }""",
    )["schemaChanges"]
    assert change == {
        "version": "v2",
        "added": ["country"],
        "removed": [],
        "retyped": [],
        "breaking": False,
        "alerted": False,
    }


def test_a_grandchild_job_is_a_step_of_the_root_run(service: RunningService) -> None:
    dag_run, group_run, leaf_run = (str(uuid.uuid4()) for _ in range(3))
    dag, group, leaf = "etl", "etl.transform_group", "etl.transform_group.dedupe"
    root = parent_run.Root(
        run=parent_run.RootRun(runId=dag_run), job=parent_run.RootJob(namespace=NS, name=dag)
    )
    group_parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=dag_run), job=parent_run.Job(namespace=NS, name=dag), root=root
    )
    leaf_parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=group_run),
        job=parent_run.Job(namespace=NS, name=group),
        root=root,
    )
    events = [
        RunEvent(eventType=RunState.START, eventTime=at(0), producer=PRODUCER,
                 run=Run(runId=dag_run), job=Job(namespace=NS, name=dag)),
        RunEvent(eventType=RunState.START, eventTime=at(1), producer=PRODUCER,
                 run=Run(runId=group_run, facets={"parent": group_parent}),
                 job=Job(namespace=NS, name=group)),
        RunEvent(eventType=RunState.START, eventTime=at(2), producer=PRODUCER,
                 run=Run(runId=leaf_run, facets={"parent": leaf_parent}),
                 job=Job(namespace=NS, name=leaf), inputs=[raw_orders("v1", ORDERS_V1)]),
        RunEvent(eventType=RunState.COMPLETE, eventTime=at(3), producer=PRODUCER,
                 run=Run(runId=leaf_run, facets={"parent": leaf_parent}),
                 job=Job(namespace=NS, name=leaf)),
    ]  # fmt: skip
    ol = client(service)
    for event in events:
        ol.emit(event)

    run = gql(
        service,
        """query($id: ID!) { run(id: $id) { pipeline { name }
             steps { status step { key } reads { uri } } } }""",
        id=dag_run,
    )["run"]
    assert run["pipeline"]["name"] == "airflow/etl"
    steps = {s["step"]["key"]: s for s in run["steps"]}
    assert set(steps) == {group, leaf}
    assert steps[leaf]["status"] == "SUCCEEDED"
    assert steps[leaf]["reads"] == [{"uri": RAW}]
    # No run of its own for the group: its grandchild went to the root.
    assert gql(service, "query($id: ID!) { run(id: $id) { id } }", id=group_run)["run"] is None
    events_of_leaf = [
        e
        for e in gql(service, "query($r: ID!) { events(run: $r) { type step data } }", r=dag_run)[
            "events"
        ]
        if e["step"] == leaf
    ]
    assert {e["type"] for e in events_of_leaf} == {
        "step.started",
        "artifact.read",
        "step.completed",
    }
    assert all(e["data"]["parent_step"] == group for e in events_of_leaf)


def test_batch_endpoint_stores_the_good_events_and_names_the_bad(
    service: RunningService,
) -> None:
    dag_run = str(uuid.uuid4())
    good = [
        RunEvent(eventType=RunState.START, eventTime=at(0), producer=PRODUCER,
                 run=Run(runId=dag_run), job=Job(namespace=NS, name="batched")),
        RunEvent(eventType=RunState.COMPLETE, eventTime=at(9), producer=PRODUCER,
                 run=Run(runId=dag_run), job=Job(namespace=NS, name="batched"),
                 outputs=[OutputDataset(namespace=RAW_NS, name="batched.out",
                                        facets={"schema": schema(("k", "INT"))})]),
    ]  # fmt: skip
    docs = [json.loads(Serde.to_json(e)) for e in good]
    bad = {**docs[0], "run": {}}  # no runId
    with service.client("ingester") as c:
        r = c.post("/api/v1/lineage/batch", json={"events": [docs[0], bad, docs[1], 7]})
        assert r.status_code == 207, r.text
        body = r.json()
        assert body["accepted"] == 3  # run.started, run.completed, artifact.written
        assert [x["index"] for x in body["rejected"]] == [1, 3]
        assert body["rejected"][0]["id"] is None
        assert "[1].run.runId: Field required" in body["rejected"][0]["error"]
        assert "[3]: an OpenLineage event must be a JSON object" in body["rejected"][1]["error"]
        # The array shape, sent again: every event is a duplicate now.
        again = c.post("/api/v1/lineage/batch", json=docs)
        assert again.status_code == 200, again.text
        assert again.json()["duplicates"] == 3 and again.json()["accepted"] == 0
        for wrong, message in (
            ({"events": "x"}, "a batch is a JSON array"),
            ([], "the batch holds no events"),
        ):
            resp = c.post("/api/v1/lineage/batch", json=wrong)
            assert resp.status_code == 400 and message in resp.json()["error"], resp.text
    run = gql(service, "query($id: ID!) { run(id: $id) { status } }", id=dag_run)["run"]
    assert run == {"status": "SUCCEEDED"}
    fields = gql(service, '{ artifactFields(uri: "warehouse/batched.out") { fields { name } } }')
    assert fields["artifactFields"]["fields"] == [{"name": "k"}]


def test_artifact_written_carries_columns_and_bad_ones_are_named(
    service: RunningService,
) -> None:
    run = f"r-{uuid.uuid4().hex[:8]}"
    base = {"source": "test", "pipeline": "native", "run": run, "step": "copy"}
    events = [
        {"id": f"{run}-1", "type": "artifact.read", "time": "2026-11-20T03:00:00Z", **base,
         "data": {"uri": "db/src", "version": "1",
                  "schema": [{"name": "a", "type": "INT"}, {"name": "addr", "type": "STRUCT",
                             "fields": [{"name": "city", "type": "TEXT"}]}]}},
        {"id": f"{run}-2", "type": "artifact.written", "time": "2026-11-20T03:00:01Z", **base,
         "data": {"uri": "db/dst", "version": "1",
                  "schema": {"fields": [{"name": "city", "type": "TEXT"}]},
                  "column_lineage": [{"field": "city", "description": "copied",
                                      "inputs": [{"uri": "db/src", "field": "addr.city",
                                                  "subtype": "IDENTITY"}]}]}},
        {"id": f"{run}-3", "type": "artifact.written", "time": "2026-11-20T03:00:02Z", **base,
         "data": {"uri": "db/bad", "schema": {"fields": [{"name": ""}]}}},
        {"id": f"{run}-4", "type": "artifact.written", "time": "2026-11-20T03:00:03Z", **base,
         "data": {"uri": "db/bad", "column_lineage": [{"field": "x", "inputs": [{"uri": "y"}]}]}},
    ]  # fmt: skip
    with service.client("ingester") as c:
        r = c.post("/v1/events", json=events)
    assert r.status_code == 207, r.text
    errors = {x["index"]: x["error"] for x in r.json()["rejected"]}
    assert set(errors) == {2, 3}
    assert "data.schema: fields[0].name: must be a non-empty string" in errors[2]
    assert "data.column_lineage[0].inputs[0].field" in errors[3]
    src = gql(service, '{ artifactFields(uri: "db/src") { fields { name type } } }')
    assert src["artifactFields"]["fields"] == [
        {"name": "a", "type": "INT"},
        {"name": "addr", "type": "STRUCT"},
        {"name": "addr.city", "type": "TEXT"},
    ]
    dst = gql(
        service,
        """{ artifactFields(uri: "db/dst") { fields { name description
             derivedFrom { id subtype } } } }""",
    )["artifactFields"]["fields"]
    # The input's version is the one the same step run read.
    assert dst == [
        {
            "name": "city",
            "description": "copied",
            "derivedFrom": [{"id": "db/src@1#addr.city", "subtype": "IDENTITY"}],
        }
    ]


def test_replay_rebuilds_the_columns_and_alerts_no_one_again(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    clean_dag(service)
    new_orders(service, "v2", ORDERS_V2, 30, "load_orders")
    before = snapshot(clean_graph)
    labels = {labels for labels, _ in before[0]}
    assert {("Field",), ("SchemaChange",), ("SchemaAlert",)} <= labels
    rebuild(neo4j_settings)
    # Fields, lineage and changes come back the same; the alert's marker (its detection
    # time and the token of the transaction that sent it) is the one from before: the
    # replay found it there and sent nothing.
    assert snapshot(clean_graph) == before


def _post_each(service: RunningService, events: list[dict[str, Any]]) -> None:
    """One event per request: each its own transaction, in the given order."""
    with service.client("ingester") as c:
        for event in events:
            r = c.post("/v1/events", json=[event])
            assert r.status_code == 200, r.text


def test_an_unversioned_input_field_is_the_version_read_whatever_arrives_first(
    service: RunningService, clean_graph: Driver
) -> None:
    # Writes name their input fields without a version (OpenLineage producers do): each
    # is the version the same step run read — even when that read arrives after the
    # write. Two runs write one version (a daily partition) from the versions they each
    # read, so the field derives from both. The graph ends the same in every arrival
    # order, with no placeholder version left behind.
    base = {"source": "test", "pipeline": "native", "step": "copy"}

    def read(run: str, second: int, version: str) -> dict[str, Any]:
        return {"id": f"{run}-read", "type": "artifact.read", "run": run, **base,
                "time": f"2026-11-20T03:00:{second:02d}Z",
                "data": {"uri": "db/src", "version": version}}  # fmt: skip

    def write(run: str, second: int) -> dict[str, Any]:
        return {"id": f"{run}-write", "type": "artifact.written", "run": run, **base,
                "time": f"2026-11-20T03:00:{second:02d}Z",
                "data": {"uri": "db/dst", "version": "2026-11-20",
                         "column_lineage": [{"field": "city", "description": "copied",
                                             "inputs": [{"uri": "db/src", "field": "city",
                                                         "subtype": "IDENTITY"}]}]}}  # fmt: skip

    events = [read("r-old", 0, "1"), write("r-old", 1), read("r-new", 2, "2"), write("r-new", 3)]
    orders = [events, events[::-1]] + [
        random.Random(seed).sample(events, len(events)) for seed in range(4)
    ]
    expected = None
    for order in orders:
        wipe(clean_graph, keep_governance=True)
        _post_each(service, order)
        dst = gql(
            service,
            """{ artifactFields(uri: "db/dst") { fields { name derivedFrom { id } } } }""",
        )["artifactFields"]["fields"]
        ids = [e["id"] for e in order]
        assert dst == [
            {"name": "city", "derivedFrom": [{"id": "db/src@1#city"}, {"id": "db/src@2#city"}]}
        ], (ids, dst)
        edges = [
            (r["field"], r["input"], sorted(dict(r["props"]).items()))
            for r in fetch(clean_graph, "field_lineage_edges")
        ]
        # Each edge is its own run's: the one that read that version.
        assert [(e[1], dict(e[2])["run"]) for e in edges] == [
            ("db/src@1#city", "r-old"),
            ("db/src@2#city", "r-new"),
        ], edges
        state = (snapshot(clean_graph), edges)
        if expected is None:
            expected = state
        assert state == expected, ids
