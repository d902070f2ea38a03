"""A pipeline definition in two versions, as data and as YAML (definitions as YAML,
tests/integration/test_definitions.py and tests/browser/test_config_ui.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningService
from tests.support.eventually import eventually
from tests.support.live import unique

V1 = {
    "version": "1",
    "description": "Nightly refresh",
    "owner": "team:search",
    "steps": [
        {"key": "fetch", "name": "Fetch"},
        {"key": "embed", "kind": "llm", "depends_on": ["fetch"], "sla": {"max_tokens": 5000}},
    ],
}
V1_YAML = """\
version: '1'
description: Nightly refresh
owner: team:search
steps:
- key: fetch
  name: Fetch
- key: embed
  kind: llm
  depends_on: [fetch]
  sla:
    max_tokens: 5000
"""
# Version 2 as a person would write it: comments, other quoting, a new step.
V2_YAML = """\
# Nightly refresh, now with an index step.
version: "2"
description: Nightly refresh
owner: team:platform   # handed over
steps:
  - key: fetch
    name: Fetch
  - key: embed
    kind: llm
    depends_on: [fetch]
    sla: {max_tokens: 5000}
  - key: index
    depends_on: [embed]
"""


def define(service: RunningService, pipeline: str, data: dict[str, Any]) -> None:
    """Define ``pipeline`` with ``data`` through POST /v1/events (an ingester key).

    A fresh service may not have applied the schema yet, and a loaded machine may answer
    503: both say "send again" (duplicates are recognised), which is what this does.
    """
    event = {
        "id": unique("def"),
        "type": "pipeline.defined",
        "time": "2026-11-20T02:00:00Z",
        "source": "test/definitions",
        "pipeline": pipeline,
        "data": data,
    }
    with service.client("ingester") as http:
        resp = eventually(
            lambda: http.post("/v1/events", json=[event]),
            until=lambda r: r.status_code != 503,
            timeout=60,
            interval=0.5,
            what="the event stored (not 503)",
        )
    assert resp.status_code == 200, resp.text
