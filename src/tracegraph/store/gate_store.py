"""Reads of the governance gate: gate policies, change requests and a pipeline's
definition versions. Writes go through the event log (``events/governance.py``;
``store.governance_store`` applies them), never from here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from tracegraph.store.base import Store


def _request(props: dict[str, Any]) -> dict[str, Any]:
    row = dict(props)
    row["payload"] = orjson.loads(row["payload"])
    row["diff"] = orjson.loads(row["diff"])
    for name in ("created_at", "decided_at"):
        if row.get(name) is not None:
            row[name] = row[name].to_native()
    return row


class GateStore(Store):
    async def policies(self, pipeline: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The pipeline's own gate policy and the default (either None when not set)."""
        (rec,) = await self.read("gate_policy_get", pipeline=pipeline)
        return rec["own"], rec["default"]

    async def requests(
        self, state: str | None, pipeline: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self.read("change_requests_page", state=state, pipeline=pipeline, limit=limit)
        return [_request(r["request"]) for r in rows]

    async def requests_by_id(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = await self.read("change_requests_by_id", ids=list(ids))
        return {r["request"]["id"]: _request(r["request"]) for r in rows}

    async def definition_versions(self, pipeline: str) -> list[dict[str, Any]]:
        """Every pipeline.defined event of the pipeline, oldest first: seq, time, author,
        its data, and the approving request (if it went through the gate)."""
        rows = await self.read("definition_versions", pipeline=pipeline)
        return [
            {
                "seq": r["seq"],
                "time": r["time"].to_native(),
                "author": r["author"],
                "data": orjson.loads(r["payload"]).get("data") or {},
                "change_request": r["change_request"],
                "approved_by": r["approved_by"],
            }
            for r in rows
        ]
