"""Reads behind entity documents (docs/live-deltas.md): one statement per entity kind
for any number of entities (``cypher/doc_*.cypher``; breaches reuse
``sla_breaches_page``). Plain property maps out; ``live.documents`` shapes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from tracegraph.store.base import Store

Props = dict[str, Any]


class DocumentReads(Store):
    async def runs(self, ids: Sequence[str]) -> dict[str, Props]:
        """By run id: ``run`` (properties), ``step_runs`` (with calls, reads, writes)
        and ``chunks`` (the run's ``response.chunk`` event payloads)."""
        if not ids:
            return {}
        recs = await self.read("doc_runs", ids=list(ids))
        return {
            r["id"]: {
                "run": r["run"],
                "step_runs": r["step_runs"],
                "chunks": [orjson.loads(p) for p in r["chunks"]],
            }
            for r in recs
        }

    async def pipelines(self, names: Sequence[str], runs: int) -> dict[str, Props]:
        """By name: ``pipeline``, ``owner``, ``sla``, ``steps`` and the ``runs`` newest
        runs (each ``{run, step_runs}``)."""
        if not names:
            return {}
        recs = await self.read("doc_pipelines", names=list(names), runs=runs)
        return {r["name"]: dict(r) for r in recs}

    async def breaches(self, ids: Sequence[str]) -> dict[str, Props]:
        if not ids:
            return {}
        recs = await self.read(
            "sla_breaches_page",
            status=None,
            pipeline=None,
            owner=None,
            ids=list(ids),
            limit=len(ids),
        )
        rows = [{**r["b"], "sla_props": r["sla"], "owners": r["owners"]} for r in recs]
        return {row["id"]: row for row in rows}

    async def pipeline_names(self, limit: int) -> list[str]:
        return [r["name"] for r in await self.read("doc_pipeline_names", limit=limit)]

    async def open_breach_ids(self, limit: int) -> list[str]:
        return [r["id"] for r in await self.read("doc_open_breach_ids", limit=limit)]
