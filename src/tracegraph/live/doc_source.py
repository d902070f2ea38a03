"""Reads entity documents in batches: one statement per entity kind, whatever the
number of entities (``store.document_reads``), shaped by ``live.documents``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from tracegraph.live.documents import (
    CARD_RUNS,
    Document,
    absent,
    breach_document,
    parse_entity,
    pipeline_document,
    run_document,
    stream_chunks,
)

Props = dict[str, Any]


class DocumentStore(Protocol):
    """``tracegraph.store.document_reads.DocumentReads``."""

    async def runs(self, ids: Sequence[str]) -> dict[str, Props]: ...
    async def pipelines(self, names: Sequence[str], runs: int) -> dict[str, Props]: ...
    async def breaches(self, ids: Sequence[str]) -> dict[str, Props]: ...
    async def pipeline_names(self, limit: int) -> list[str]: ...
    async def open_breach_ids(self, limit: int) -> list[str]: ...


class DocumentSource:
    def __init__(self, store: DocumentStore, scope_limit: int = 1000) -> None:
        self._store = store
        self.scope_limit = scope_limit

    async def read(self, entities: Sequence[str]) -> dict[str, Document]:
        """The full (unredacted) document of each entity; an unknown one is absent."""
        keys: dict[str, list[str]] = {"run": [], "pipeline": [], "breach": []}
        for entity in dict.fromkeys(entities):
            kind, key = parse_entity(entity)
            keys[kind].append(key)
        out = {e: absent(e) for e in entities}
        for run_id, row in (await self._store.runs(keys["run"])).items():
            out[f"run:{run_id}"] = self._run(run_id, row)
        cards = await self._store.pipelines(keys["pipeline"], CARD_RUNS)
        for name, row in cards.items():
            out[f"pipeline:{name}"] = self._pipeline(row)
        for breach_id, b in (await self._store.breaches(keys["breach"])).items():
            doc = breach_document(b)
            out[f"breach:{breach_id}"] = Document(f"breach:{breach_id}", doc["version"], 0, doc)
        return out

    @staticmethod
    def _run(run_id: str, row: Props) -> Document:
        chunks = stream_chunks(row["chunks"], run_id)
        step_runs = [{**sr, "chunks": chunks.get(sr["id"], {})} for sr in row["step_runs"]]
        doc = run_document(row["run"], step_runs)
        return Document(f"run:{run_id}", doc["version"], int(row["run"].get("seq") or 0), doc)

    @staticmethod
    def _pipeline(row: Props) -> Document:
        p = row["pipeline"]
        runs = [(r["run"], r["step_runs"]) for r in row["runs"]]
        doc = pipeline_document(p, row["owner"], row["sla"], row["steps"], runs)
        return Document(
            f"pipeline:{p['name']}", doc["cardVersion"], int(p.get("card_seq") or 0), doc
        )

    async def pipeline_scope(self) -> list[str]:
        return [f"pipeline:{n}" for n in await self._store.pipeline_names(self.scope_limit)]

    async def open_breaches(self) -> list[str]:
        return [f"breach:{i}" for i in await self._store.open_breach_ids(self.scope_limit)]
