"""Which pipelines stored runs belong to: the read behind scoped ingest (one per request)."""

from __future__ import annotations

from collections.abc import Collection

from tracegraph.store.base import Store


class RunOwners(Store):
    async def pipelines_of(self, runs: Collection[str]) -> dict[str, frozenset[str]]:
        """The pipelines each known run belongs to (its ``pipeline`` and ``OF`` edges);
        unknown runs are absent."""
        if not runs:
            return {}
        records = await self.read("run_pipelines", ids=sorted(runs))
        return {rec["run"]: frozenset(rec["pipelines"]) for rec in records}
