"""Reading a pipeline's stored definition and the versions its log holds (definitions
as YAML, ``definitions/``). Writing goes through the ingest path, as a ``pipeline.defined``
event, never from here."""

from __future__ import annotations

import orjson

from tracegraph.definitions.service import DefinitionState
from tracegraph.store.base import Store


class DefinitionStore(Store):
    async def definition_state(self, pipeline: str) -> DefinitionState:
        (rec,) = await self.read("definition_state", pipeline=pipeline)
        versions = set()
        for payload in rec["payloads"]:
            version = (orjson.loads(payload).get("data") or {}).get("version")
            if version is not None:
                versions.add(str(version))
        definition = rec["definition"]
        defined_at = rec["defined_at"]
        return DefinitionState(
            pipeline=pipeline,
            known=bool(rec["known"]),
            data=None if definition is None else orjson.loads(definition),
            seq=rec["seq"],
            defined_at=None if defined_at is None else defined_at.to_native(),
            versions=frozenset(versions),
        )
