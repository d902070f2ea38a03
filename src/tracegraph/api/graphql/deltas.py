"""GraphQL for versioned entity deltas (docs/live-deltas.md): ``snapshots`` and
``digestCheck`` queries, and the ``runChanged`` / ``pipelineChanged`` /
``breachChanged`` subscriptions.

Thin: documents, diffs and routing live in :mod:`tracegraph.live` (``documents``,
``doc_source``, ``deltas``); here are the types, argument checks, the redaction variant
of the caller and the per-process counters /metrics exports.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument, subscription_closed
from tracegraph.api.graphql.permissions import allow, can
from tracegraph.api.graphql.subscriptions import live_hub
from tracegraph.auth import Permission
from tracegraph.live.deltas import DeltaFeed, DeltaItem, DeltaScope, variant_for
from tracegraph.live.documents import (
    FULL,
    BadEntity,
    digest,
    parse_entity,
    variant_of,
)
from tracegraph.live.hub import SubscriberClosed

# At most this many entities per snapshots / digestCheck request (and names per
# pipelineChanged).
MAX_ENTITIES = 200
# At most this many known versions per subscription: as many as a whole-kind scope
# holds (DocumentSource.scope_limit), which the dashboard resumes with.
MAX_KNOWN = 1000


@strawberry.enum(description="Why a client asks for snapshots (counted on /metrics).")
class ResyncReason(enum.Enum):
    INITIAL = "INITIAL"
    GAP = "GAP"
    RECONNECT = "RECONNECT"
    OVERFLOW = "OVERFLOW"
    MISMATCH = "MISMATCH"


@strawberry.enum(
    description="The verdict on a client's digest. MATCH / MISMATCH: its digest of the "
    "server's current version is right / wrong. STALE: the client's version is not the "
    "current one (not a mismatch)."
)
class DigestStatus(enum.Enum):
    MATCH = "MATCH"
    MISMATCH = "MISMATCH"
    STALE = "STALE"


@strawberry.type(
    description="A change of one entity: RFC 6902 operations that turn its document at "
    "baseVersion into its document at version (baseVersion null: the patch replaces the "
    "whole document)."
)
class EntityDelta:
    entity: str = strawberry.field(description='"run:<id>", "pipeline:<name>" or "breach:<id>".')
    version: int
    base_version: int | None
    seq: int = strawberry.field(
        description="The last committed event seq this version reflects (0 for breaches)."
    )
    patch: JSON


@strawberry.type(description="An entity's document at its current version.")
class EntitySnapshot:
    entity: str
    version: int
    seq: int
    doc: JSON | None = strawberry.field(description="Null: no such entity (version 0).")
    digest: str = strawberry.field(
        description="Lower-case hex SHA-256 of the RFC 8785 canonical JSON of doc."
    )


@strawberry.type
class DigestVerdict:
    entity: str
    version: int = strawberry.field(description="The server's current version.")
    digest: str = strawberry.field(description="The server's digest of that version.")
    status: DigestStatus


@strawberry.input
class KnownVersion:
    entity: str
    version: int


@strawberry.input
class ClientDigest:
    entity: str
    version: int
    digest: str


def _feed(info: Info[Context, None]) -> DeltaFeed:
    feed = live_hub(info.context).deltas
    if feed is None:  # pragma: no cover - every service builds its hub with documents
        raise BadArgument("entity documents are not served here")
    return feed


def _variant(info: Info[Context, None]) -> str:
    return variant_for(can(info, Permission.READ_PROMPTS))


def _entities(entities: list[str], limit: int = MAX_ENTITIES, what: str = "entities") -> list[str]:
    if len(entities) > limit:
        raise BadArgument(f"at most {limit} {what} per request (got {len(entities)})")
    try:
        for entity in entities:
            parse_entity(entity)
    except BadEntity as exc:
        raise BadArgument(str(exc)) from exc
    return list(dict.fromkeys(entities))


@strawberry.type
class DeltasQuery:
    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Entity documents at their current versions, with digests (at most "
        "200; one read per entity kind). `reason` is counted on /metrics "
        "(tracegraph_live_resyncs_total).",
    )
    async def snapshots(
        self,
        info: Info[Context, None],
        entities: list[str],
        reason: ResyncReason | None = ResyncReason.INITIAL,
    ) -> list[EntitySnapshot]:
        wanted = _entities(entities)
        feed = _feed(info)
        stats = feed.stats
        why = (reason or ResyncReason.INITIAL).value
        stats.resyncs[why] = stats.resyncs.get(why, 0) + len(wanted)
        docs = await feed.source.read(wanted)
        variant = _variant(info)
        out = []
        for entity in wanted:
            d = docs[entity]
            doc = variant_of(parse_entity(entity)[0], d.doc, variant)
            out.append(
                EntitySnapshot(
                    entity=entity,
                    version=d.version,
                    seq=d.seq,
                    doc=None if doc is None else JSON(doc),
                    digest=digest(doc),
                )
            )
        return out

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Compare the client's digests with the server's current documents "
        "(at most 200). MISMATCH verdicts are counted on /metrics "
        "(tracegraph_live_digest_mismatches_total).",
    )
    async def digest_check(
        self, info: Info[Context, None], digests: list[ClientDigest]
    ) -> list[DigestVerdict]:
        wanted = _entities([d.entity for d in digests])
        feed = _feed(info)
        docs = await feed.source.read(wanted)
        variant = _variant(info)
        out = []
        for given in digests:
            d = docs[given.entity]
            server = digest(variant_of(parse_entity(given.entity)[0], d.doc, variant))
            if given.version != d.version:
                status = DigestStatus.STALE
            elif given.digest.lower() == server:
                status = DigestStatus.MATCH
            else:
                status = DigestStatus.MISMATCH
                feed.stats.digest_mismatches += 1
            out.append(
                DigestVerdict(entity=given.entity, version=d.version, digest=server, status=status)
            )
        return out


def entity_delta_of(item: DeltaItem) -> EntityDelta:
    """The GraphQL ``EntityDelta`` of a delta item, built once and shared."""
    delta = item.memo.get(EntityDelta)
    if delta is None:
        delta = item.memo[EntityDelta] = EntityDelta(
            entity=item.entity,
            version=item.version,
            base_version=item.base_version,
            seq=item.seq,
            patch=JSON(item.patch),
        )
    return delta


def delta_scope(field_name: str, args: dict) -> tuple[DeltaScope, dict[str, int]]:
    """Scope and known versions of a delta subscription from its arguments (shared with
    the WebSocket fast path, api/graphql/live_ws.py). Checked here, per subscriber: a
    bad key must be that subscriber's BAD_USER_INPUT, not an error of the initial read
    it would share with others (issue 17, finding 4)."""
    if field_name == "runChanged":
        run = str(args["run"])
        _entities([f"run:{run}"])
        after = args.get("afterVersion")
        known = {} if after is None else {f"run:{run}": int(after)}
        return DeltaScope("run", frozenset([run])), known
    given = args.get("known") or []
    known = {}
    for k in given:
        entity = k["entity"] if isinstance(k, dict) else k.entity
        version = k["version"] if isinstance(k, dict) else k.version
        known[str(entity)] = int(version)
    _entities(list(known), MAX_KNOWN, "known versions")
    if field_name == "pipelineChanged":
        names = args.get("names")
        if names is None:
            return DeltaScope("pipeline", None), known
        _entities([f"pipeline:{n}" for n in names], MAX_ENTITIES, "names")
        return DeltaScope("pipeline", frozenset(map(str, names))), known
    return DeltaScope("breach", None), known


async def entity_deltas(
    info: Info[Context, None], field_name: str, args: dict
) -> AsyncGenerator[EntityDelta, None]:
    scope, known = delta_scope(field_name, args)
    stream = live_hub(info.context).entity_deltas(scope, known, _variant(info))
    try:
        async for item in stream:
            yield entity_delta_of(item)
    except SubscriberClosed as exc:
        raise subscription_closed(exc) from exc
    finally:
        await stream.aclose()


_RESUME = (
    "Starts with the whole document (baseVersion null) of every entity in scope whose "
    "version differs from the one given (or that is not listed), then sends a patch per "
    "change. A subscriber that falls too far behind is closed (SUBSCRIBER_TOO_SLOW); "
    "subscribe again with the versions held. See docs/live-deltas.md."
)


@strawberry.type
class DeltasSubscription:
    @strawberry.subscription(
        permission_classes=[allow(Permission.READ)],
        description="Deltas of one run's document (the open run page). " + _RESUME,
    )
    async def run_changed(
        self, info: Info[Context, None], run: strawberry.ID, after_version: int | None = None
    ) -> AsyncGenerator[EntityDelta, None]:
        args = {"run": run, "afterVersion": after_version}
        async for delta in entity_deltas(info, "runChanged", args):
            yield delta

    @strawberry.subscription(
        permission_classes=[allow(Permission.READ)],
        description="Deltas of pipeline cards: the named ones, or every pipeline (new "
        "ones included) when names is null. " + _RESUME,
    )
    async def pipeline_changed(
        self,
        info: Info[Context, None],
        names: list[str] | None = None,
        known: list[KnownVersion] | None = None,
    ) -> AsyncGenerator[EntityDelta, None]:
        args = {"names": names, "known": known}
        async for delta in entity_deltas(info, "pipelineChanged", args):
            yield delta

    @strawberry.subscription(
        permission_classes=[allow(Permission.READ)],
        description="Deltas of SLA breaches: the open ones and every one listed in known "
        "at the start, then every breach that changes. " + _RESUME,
    )
    async def breach_changed(
        self, info: Info[Context, None], known: list[KnownVersion] | None = None
    ) -> AsyncGenerator[EntityDelta, None]:
        async for delta in entity_deltas(info, "breachChanged", {"known": known}):
            yield delta


__all__ = [
    "FULL",
    "DeltasQuery",
    "DeltasSubscription",
    "EntityDelta",
    "delta_scope",
    "entity_delta_of",
]
