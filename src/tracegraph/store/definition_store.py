"""Reading a pipeline's definition as it is live (the stored one with the owners and
SLAs in the graph now) and the versions its log holds (definitions as YAML,
``definitions/``). Writing goes through the ingest path, as a ``pipeline.defined`` event,
never from here."""

from __future__ import annotations

import orjson

from tracegraph.definitions.live import governance, with_live_governance
from tracegraph.definitions.service import DefinitionState
from tracegraph.store.base import Store


class DefinitionStore(Store):
    async def definition_state(self, pipeline: str) -> DefinitionState:
        (rec,) = await self.read("definition_state", pipeline=pipeline)
        definition = rec["definition"]
        data = None
        if definition is not None:
            data = with_live_governance(
                orjson.loads(definition),
                governance(rec["owner"], rec["sla"]),
                {s["key"]: governance(s["owner"], s["sla"]) for s in rec["steps"]},
            )
        defined_at = rec["defined_at"]
        return DefinitionState(
            pipeline=pipeline,
            known=bool(rec["known"]),
            data=data,
            seq=rec["seq"],
            defined_at=None if defined_at is None else defined_at.to_native(),
            versions=frozenset(str(v) for v in rec["versions"]),
        )
