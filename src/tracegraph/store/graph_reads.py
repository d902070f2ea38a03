"""Read side of the graph for the GraphQL API: one statement per request shape.

Every function takes the async driver and database and returns plain property maps; the
GraphQL layer turns them into objects. Batch functions take a list of keys (DataLoaders).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from tracegraph.store.base import Store
from tracegraph.store.event_reads import events_statement

Props = dict[str, Any]


class GraphReads(Store):
    """The read statements of the GraphQL API (auto-commit reads, ``Store.read``)."""

    # -- header bar, event log ------------------------------------------------------------

    async def overview(self) -> Props:
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        rec = (await self.read("gql_overview", since=midnight))[0]
        return dict(rec)

    async def events(
        self, after_seq: int, limit: int, pipeline: str | None, run: str | None
    ) -> list[tuple[int, Props, str | None]]:
        """(seq, payload, principal that ingested it) in seq order."""
        recs = await self.read(
            events_statement("page", run),
            after_seq=after_seq,
            limit=limit,
            pipeline=pipeline,
            run=run,
        )
        return [(r["seq"], orjson.loads(r["payload"]), r["principal"]) for r in recs]

    # -- pages ----------------------------------------------------------------------------

    async def pipelines_page(self, after: str | None, limit: int) -> list[Props]:
        recs = await self.read("gql_pipelines_page", after=after, limit=limit)
        return [r["p"] for r in recs]

    async def runs_page(
        self,
        pipeline: str | None,
        status: str | None,
        after: str | None,
        limit: int,
    ) -> list[tuple[Props, str]]:
        # '~' sorts after every order key (digits, '|', id), so no cursor = from the top.
        params = {"status": status, "after_key": after or "~", "limit": limit}
        if pipeline is None:
            recs = await self.read("gql_runs_page", **params)
        else:
            recs = await self.read("gql_runs_page_of_pipeline", pipeline=pipeline, **params)
        return [(r["r"], r["k"]) for r in recs]

    # -- batches for DataLoaders ----------------------------------------------------------

    async def _by_key(
        self, name: str, param: str, keys: Sequence[Any], key: str, value: str
    ) -> dict[str, Props]:
        recs = await self.read(name, **{param: list(keys)})
        return {r[key]: r[value] for r in recs}

    async def runs_by_id(self, ids: Sequence[str]) -> dict[str, Props]:
        return await self._by_key("gql_runs_by_id", "ids", ids, "id", "r")

    async def pipelines_by_name(self, names: Sequence[str]) -> dict[str, Props]:
        return await self._by_key("gql_pipelines_by_name", "names", names, "name", "p")

    async def steps_by_id(self, ids: Sequence[str]) -> dict[str, Props]:
        return await self._by_key("gql_steps_by_id", "ids", ids, "id", "s")

    async def pipeline_links(self, names: Sequence[str]) -> dict[str, Props]:
        recs = await self.read("gql_pipeline_links", names=list(names))
        out = {}
        for r in recs:
            out[r["name"]] = {
                "owner": r["owner"],
                "sla": r["sla"],
                "steps": _topological([(s["step"], s["deps"]) for s in r["steps"]]),
            }
        return out

    async def step_links(self, ids: Sequence[str]) -> dict[str, Props]:
        recs = await self.read("gql_step_links", ids=list(ids))
        return {
            r["id"]: {
                "depends_on": sorted(r["depends_on"], key=lambda s: s["id"]),
                "owner": r["owner"],
                "sla": r["sla"],
            }
            for r in recs
        }

    async def step_runs_of_runs(self, ids: Sequence[str]) -> dict[str, list[Props]]:
        recs = await self.read("gql_step_runs_of_runs", ids=list(ids))
        return {r["id"]: sorted(r["step_runs"], key=_start_order) for r in recs}

    async def step_run_links(self, ids: Sequence[str]) -> dict[str, Props]:
        recs = await self.read("gql_step_run_links", ids=list(ids))
        return {
            r["id"]: {
                "llm_calls": sorted(r["llm_calls"], key=lambda c: (str(c.get("sent_at")), c["id"])),
                "reads": sorted(r["reads"], key=lambda a: a["id"]),
                "writes": sorted(r["writes"], key=lambda a: a["id"]),
            }
            for r in recs
        }

    async def runs_of_pipelines(self, names: Sequence[str], first: int) -> dict[str, list[Props]]:
        recs = await self.read("gql_runs_of_pipelines", names=list(names), first=first)
        return {r["name"]: r["runs"] for r in recs}

    # -- lineage and impact ---------------------------------------------------------------

    async def lineage(
        self,
        uri: str,
        version: str | None,
        downstream: bool,
        depth: int,
        max_nodes: int,
        observed_only: bool = False,
    ) -> LineageRows:
        """Edges are ``{from, to, via, kind, path}``: kind ``OBSERVED`` (via: the step run
        or run) or ``INFERRED`` (via: the run; path: the explaining step keys)."""
        name = "gql_lineage_downstream" if downstream else "gql_lineage_upstream"
        rec = (
            await self.read(
                name,
                uri=uri,
                version=version,
                depth=depth,
                max_nodes=max_nodes,
                observed_only=observed_only,
            )
        )[0]
        return LineageRows(
            artifact=rec["artifact"], levels=rec["levels"], edges=rec["edges"], more=rec["more"]
        )

    async def impact(
        self, kind: str, key: str, depth: int, max_nodes: int, observed_only: bool = False
    ) -> Props | None:
        recs = await self.read(
            "gql_impact",
            kind=kind,
            key=key,
            depth=depth,
            max_nodes=max_nodes,
            observed_only=observed_only,
        )
        return dict(recs[0]) if recs else None

    # -- columns (issue 22, docs/columns.md) -------------------------------------------

    async def field_lineage(
        self,
        uri: str,
        version: str | None,
        field_name: str,
        downstream: bool,
        depth: int,
        max_nodes: int,
    ) -> LineageRows:
        name = "gql_field_lineage_downstream" if downstream else "gql_field_lineage_upstream"
        rec = (
            await self.read(
                name,
                uri=uri,
                version=version,
                field=field_name,
                depth=depth,
                max_nodes=max_nodes,
            )
        )[0]
        return LineageRows(
            artifact=rec["artifact"], levels=rec["levels"], edges=rec["edges"], more=rec["more"]
        )

    async def field_impact(
        self, kind: str, key: str, field_name: str, depth: int, max_nodes: int
    ) -> Props | None:
        recs = await self.read(
            "gql_field_impact",
            kind=kind,
            key=key,
            field=field_name,
            depth=depth,
            max_nodes=max_nodes,
        )
        return dict(recs[0]) if recs else None

    async def artifact_fields(self, uri: str, version: str | None) -> Props:
        """``artifact`` (None: unknown uri), ``version`` (None: no such version, or none
        with fields) and its ``fields`` in schema order, each with its ``inputs``."""
        return dict((await self.read("gql_artifact_fields", uri=uri, version=version))[0])

    async def schema_changes(self, uri: str) -> Props:
        """``artifact`` (None: unknown uri) and its ``changes``, newest first."""
        return dict((await self.read("gql_schema_changes", uri=uri))[0])

    async def schema_alerts(self, ids: Sequence[str]) -> list[Props]:
        recs = await self.read("schema_alerts_by_id", ids=list(ids))
        return [dict(r["alert"]) for r in recs]


@dataclass
class LineageRows:
    artifact: Props | None
    levels: list[list[Props]]
    edges: list[Props]
    more: bool
    extra: Props = field(default_factory=dict)


def _start_order(sr: Props) -> tuple[datetime, str]:
    # started_at comes back as RFC 3339 text (see gql_step_runs_of_runs.cypher).
    started = sr.get("started_at")
    return (datetime.fromisoformat(started) if started else _NEVER, sr["id"])


_NEVER = datetime.max.replace(tzinfo=UTC)


def _topological(steps: list[tuple[Props, list[str]]]) -> list[Props]:
    """Steps in DAG order (upstream first), ties by key; cycles fall back to key order."""
    from graphlib import CycleError, TopologicalSorter

    by_id = {s["id"]: s for s, _ in steps}
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for s, deps in sorted(steps, key=lambda x: x[0].get("key") or x[0]["id"]):
        sorter.add(s["id"], *[d for d in deps if d in by_id])
    try:
        order = list(sorter.static_order())
    except CycleError:
        order = sorted(by_id)
    return [by_id[i] for i in order]
