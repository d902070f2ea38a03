"""POST /api/v1/lineage: events sent by the real openlineage-python client, read via GraphQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    documentation_job,
    error_message_run,
    output_statistics_output_dataset,
    ownership_dataset,
    ownership_job,
    parent_run,
    schema_dataset,
)
from openlineage.client.serde import Serde
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)

from tests.conftest import RunningService

PRODUCER = "https://github.com/acme/airflow-dags"
NS = "airflow-prod"
DAG = "rag nightly"  # the space is not a valid name character: becomes '-'
PIPELINE = "airflow-prod/rag-nightly"
RAW = "s3://raw-bucket/docs/2026-11-20.jsonl"
CHUNKS = "postgres://db:5432/public.chunks"


def gql(service: RunningService, query: str, **variables: Any) -> dict[str, Any]:
    resp = httpx.post(
        f"{service.base_url}/graphql",
        json={"query": query, "variables": variables},
        headers=service.headers(),
        timeout=60,
    )
    body = resp.json()
    assert resp.status_code == 200 and not body.get("errors"), body
    return body["data"]


def _client(service: RunningService, **config: Any) -> OpenLineageClient:
    # OpenLineage's own API-key provider: it sends "Authorization: Bearer <key>".
    config.setdefault("auth", ApiKeyTokenProvider({"apiKey": service.key("ingester")}))
    return OpenLineageClient(transport=HttpTransport(HttpConfig(url=service.base_url, **config)))


def _time(second: int) -> str:
    return f"2026-11-20T02:00:{second:02d}.000Z"


def _parent(run_id: str) -> dict[str, Any]:
    return {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_id), job=parent_run.Job(namespace=NS, name=DAG)
        )
    }


def _raw_input() -> InputDataset:
    return InputDataset(
        namespace="s3://raw-bucket",
        name="docs/2026-11-20.jsonl",
        facets={
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion="v7"),
            "ownership": ownership_dataset.OwnershipDatasetFacet(
                owners=[ownership_dataset.Owner(name="data-eng", type="MAINTAINER")]
            ),
        },
    )


def _chunks(*, output: bool) -> InputDataset | OutputDataset:
    facets = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion="42"),
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name="id", type="BIGINT"),
                schema_dataset.SchemaDatasetFacetFields(name="text", type="TEXT"),
            ]
        ),
        "ownership": ownership_dataset.OwnershipDatasetFacet(
            owners=[ownership_dataset.Owner(name="user:ana@example.com")]
        ),
    }
    if not output:
        return InputDataset(namespace="postgres://db:5432", name="public.chunks", facets=facets)
    stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=1200, size=4096
    )
    return OutputDataset(
        namespace="postgres://db:5432",
        name="public.chunks",
        facets=facets,
        outputFacets={"outputStatistics": stats},
    )


def _dag_run(service: RunningService) -> tuple[str, list[RunEvent]]:
    """A DAG run with two tasks: extract (raw -> chunks) succeeds, embed fails; DAG aborted."""
    dag_run = str(uuid.uuid4())
    extract_run, embed_run = str(uuid.uuid4()), str(uuid.uuid4())
    dag_job = Job(namespace=NS, name=DAG)
    extract_job = Job(namespace=NS, name="rag_nightly.extract")
    embed_job = Job(namespace=NS, name="rag_nightly.embed")
    error = error_message_run.ErrorMessageRunFacet(
        message="CUDA out of memory",
        programmingLanguage="python",
        stackTrace="Traceback (most recent call last):\n  ...",
    )
    events = [
        RunEvent(eventType=RunState.START, eventTime=_time(0), producer=PRODUCER,
                 run=Run(runId=dag_run), job=dag_job),
        RunEvent(eventType=RunState.START, eventTime=_time(1), producer=PRODUCER,
                 run=Run(runId=extract_run, facets=_parent(dag_run)), job=extract_job,
                 inputs=[_raw_input()]),
        RunEvent(eventType=RunState.RUNNING, eventTime=_time(2), producer=PRODUCER,
                 run=Run(runId=extract_run, facets=_parent(dag_run)), job=extract_job),
        RunEvent(eventType=RunState.COMPLETE, eventTime=_time(5), producer=PRODUCER,
                 run=Run(runId=extract_run, facets=_parent(dag_run)), job=extract_job,
                 inputs=[_raw_input()], outputs=[_chunks(output=True)]),
        RunEvent(eventType=RunState.START, eventTime=_time(6), producer=PRODUCER,
                 run=Run(runId=embed_run, facets=_parent(dag_run)), job=embed_job,
                 inputs=[_chunks(output=False)]),
        RunEvent(eventType=RunState.FAIL, eventTime=_time(9), producer=PRODUCER,
                 run=Run(runId=embed_run, facets={**_parent(dag_run), "errorMessage": error}),
                 job=embed_job),
        RunEvent(eventType=RunState.ABORT, eventTime=_time(10), producer=PRODUCER,
                 run=Run(runId=dag_run), job=dag_job),
    ]  # fmt: skip
    client = _client(service)
    for event in events:
        client.emit(event)
    return dag_run, events


def test_real_client_run_events_build_runs_steps_lineage_and_owners(
    service: RunningService,
) -> None:
    dag_run, events = _dag_run(service)

    data = gql(
        service,
        """query($id: ID!) { run(id: $id) {
            status error pipeline { name }
            steps { status error step { key }
                    reads { uri version } writes { uri version } } } }""",
        id=dag_run,
    )
    run = data["run"]
    assert run["pipeline"]["name"] == PIPELINE
    assert run["status"] == "CANCELLED"
    steps = {s["step"]["key"]: s for s in run["steps"]}
    assert set(steps) == {"rag_nightly.extract", "rag_nightly.embed"}
    extract, embed = steps["rag_nightly.extract"], steps["rag_nightly.embed"]
    assert extract["status"] == "SUCCEEDED"
    assert extract["reads"] == [{"uri": RAW, "version": "v7"}]
    assert extract["writes"] == [{"uri": CHUNKS, "version": "42"}]
    assert embed["status"] == "FAILED"
    assert "CUDA out of memory" in embed["error"]
    assert embed["reads"] == [{"uri": CHUNKS, "version": "42"}]

    lineage = gql(
        service,
        """query($uri: String!) { lineage(uri: $uri, direction: UPSTREAM) {
              nodes { key } edges { from to kind } } }""",
        uri=CHUNKS,
    )["lineage"]
    assert f"{RAW}@v7" in {n["key"] for n in lineage["nodes"]} | {
        e["from"] for e in lineage["edges"]
    }

    # Owners: a bare ownership name is a team, a prefixed one is kept.
    owned = gql(
        service,
        """{ a: impact(kind: OWNER, key: "team:data-eng") { artifacts { uri } }
             b: impact(kind: OWNER, key: "user:ana@example.com") { artifacts { uri } } }""",
    )
    assert RAW in {a["uri"] for a in owned["a"]["artifacts"]}
    assert CHUNKS in {a["uri"] for a in owned["b"]["artifacts"]}

    # The failure keeps its error type (programmingLanguage) and stack in the event log.
    failed = gql(
        service,
        """query($r: ID) { events(first: 100, run: $r) { type step data } }""",
        r=dag_run,
    )["events"]
    step_failed = [e for e in failed if e["type"] == "step.failed"]
    assert step_failed[0]["data"]["error"] == {
        "message": "CUDA out of memory",
        "type": "python",
        "stack": "Traceback (most recent call last):\n  ...",
    }
    assert {e["type"] for e in failed} >= {
        "run.started",
        "step.started",
        "step.progress",
        "step.completed",
        "artifact.read",
        "artifact.written",
        "step.failed",
        "run.cancelled",
    }

    # A retried OpenLineage event (same JSON) is a duplicate of what it produced.
    with service.client() as http:
        again = http.post(
            "/api/v1/lineage",
            content=Serde.to_json(events[3]),
            headers={"content-type": "application/json"},
        )
        assert again.status_code == 200
        body = again.json()
        assert body["accepted"] == 0 and body["duplicates"] == 3  # completed, read, written
        # ... and an array of events is accepted too.
        batch = "[" + ",".join(Serde.to_json(e) for e in events[:2]) + "]"
        resp = http.post(
            "/api/v1/lineage", content=batch, headers={"content-type": "application/json"}
        )
        assert resp.json()["duplicates"] == 3 and resp.json()["accepted"] == 0
        # The same source event with other content conflicts: 207 naming the OpenLineage event.
        changed = Serde.to_json(events[2]).replace("rag_nightly.extract", "rag_nightly.other")
        changed_start = Serde.to_json(events[0]).replace(PRODUCER, "https://other")
        resp = http.post(
            "/api/v1/lineage",
            content=f"[{changed}, {changed_start}]",
            headers={"content-type": "application/json"},
        )
        assert resp.status_code == 207
        assert resp.json()["accepted"] == 1
        [rejected] = resp.json()["rejected"]
        assert rejected["index"] == 1 and rejected["error"].startswith("conflict")


def test_real_client_job_and_dataset_events(service: RunningService) -> None:
    client = _client(service, compression=HttpCompression.GZIP)
    client.emit(
        JobEvent(
            eventTime=_time(0),
            producer=PRODUCER,
            job=Job(
                namespace="dbt",
                name="analytics.orders model",
                facets={
                    "documentation": documentation_job.DocumentationJobFacet(
                        description="Daily orders"
                    ),
                    "ownership": ownership_job.OwnershipJobFacet(
                        owners=[ownership_job.Owner(name="analytics")]
                    ),
                },
            ),
            inputs=[InputDataset(namespace="warehouse", name="raw.orders")],
        )
    )
    client.emit(
        DatasetEvent(
            eventTime=_time(1),
            producer=PRODUCER,
            dataset=StaticDataset(
                namespace="warehouse",
                name="raw.orders",
                facets={
                    "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                        datasetVersion="2026-11-20"
                    )
                },
            ),
        )
    )
    pipeline = gql(
        service,
        '{ pipeline(name: "dbt/analytics.orders-model") { name owner { id } steps { key } } }',
    )["pipeline"]
    assert pipeline == {
        "name": "dbt/analytics.orders-model",
        "owner": {"id": "team:analytics"},
        "steps": [],
    }
    logs = gql(service, "{ events(first: 10) { type data } }")["events"]
    dataset_logs = [e for e in logs if e["type"] == "log"]
    assert dataset_logs[0]["data"]["context"]["dataset"]["uri"] == "warehouse/raw.orders"
    assert dataset_logs[0]["data"]["context"]["dataset"]["version"] == "2026-11-20"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "body is not valid JSON"),
        (b"42", "body: an OpenLineage event must be a JSON object, not int"),
        (b'{"eventType": "START"}', "event: not an OpenLineage RunEvent, DatasetEvent or JobEvent"),
        (
            b'[{"eventType": "START", "eventTime": "2026-11-20T02:00:00Z", "producer": "p",'
            b' "run": {"runId": "r"}, "job": {"namespace": "n", "name": "j"}},'
            b' {"eventType": "START", "eventTime": "2026-11-20T02:00:00Z", "producer": "p",'
            b' "run": {}, "job": {"namespace": "n", "name": "j"}}]',
            "[1].run.runId: Field required",
        ),
        (
            b'{"eventType": "EXPLODED", "eventTime": "2026-11-20T02:00:00Z",'
            b' "run": {"runId": "r"}, "job": {"namespace": "n", "name": "j"}}',
            "eventType: Input should be 'START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL' or 'OTHER'",
        ),
        (
            b'{"eventType": "START", "eventTime": "2026-11-20T02:00:00Z",'
            b' "run": {"runId": "r", "facets": {"parent": {"run": {"runId": "p"}}}},'
            b' "job": {"namespace": "n", "name": "j"}}',
            "run.facets.parent.job: Field required",
        ),
    ],
)
def test_malformed_openlineage_is_400_with_the_field(
    service: RunningService, body: bytes, message: str
) -> None:
    with service.client() as http:
        resp = http.post(
            "/api/v1/lineage", content=body, headers={"content-type": "application/json"}
        )
    assert resp.status_code == 400
    assert message in resp.json()["error"]


# -- pure translation ---------------------------------------------------------------------------
