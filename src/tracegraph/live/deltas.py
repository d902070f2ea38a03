"""Versioned entity deltas (docs/live-deltas.md): ``runChanged``, ``pipelineChanged``
and ``breachChanged`` subscribers get RFC 6902 patches of entity documents.

The live hub notes which entities a commit (or a breach write) touched when some
subscriber watches them; its reader task then calls :meth:`DeltaFeed.round`, which
reads their documents in one batch per kind, diffs each against the last document this
process sent for that entity and redaction variant (a bounded per-process cache: a
miss only costs a whole document instead of a patch), and queues one shared
:class:`Delta` to every subscriber of the entity. Each delta carries two shareable
renderings, the patch and the whole document; a subscriber gets the patch when it holds
the patch's base version and the whole document otherwise, so what the server sends
always applies. A subscription starts with a whole document for every entity in scope
whose version differs from the one the client says it has.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from tracegraph.events.records import SequencedEvent
from tracegraph.live.doc_source import DocumentSource
from tracegraph.live.documents import (
    FULL,
    REDACTED,
    Doc,
    Document,
    Patch,
    json_bytes,
    make_patch,
    parse_entity,
    replace_whole,
    variant_of,
)

log = structlog.get_logger(__name__)

# A round whose read fails puts its entities back at most this many times in a row.
ROUND_RETRIES = 5


@dataclass
class DeltaStats:
    """Per-process counters for /metrics (``tracegraph_live_*``)."""

    deltas_sent: int = 0
    delta_bytes: int = 0
    # Whole-document bytes that patches replaced (what snapshots would have cost).
    snapshot_bytes_avoided: int = 0
    full_documents_sent: int = 0
    # snapshots asked for, by ResyncReason, and digestCheck verdicts that were MISMATCH.
    resyncs: dict[str, int] = field(default_factory=dict)
    digest_mismatches: int = 0


class DeltaItem:
    """One rendering of a delta (patch or whole document), shared by every subscriber
    that gets it; ``memo`` holds per-subscription renders (as ``LiveItem.memo``)."""

    __slots__ = ("_size", "base_version", "entity", "memo", "patch", "seq", "version")

    def __init__(
        self, entity: str, version: int, base_version: int | None, seq: int, patch: Patch
    ) -> None:
        self.entity = entity
        self.version = version
        self.base_version = base_version
        self.seq = seq
        self.patch = patch
        self.memo: dict[Hashable, Any] = {}
        self._size: int | None = None

    @property
    def size(self) -> int:
        """Bytes of the patch as JSON (computed once)."""
        if self._size is None:
            self._size = json_bytes(self.patch)
        return self._size


class Delta:
    """One change of one entity in one redaction variant."""

    __slots__ = ("base_version", "entity", "full", "patch", "version")

    def __init__(
        self, entity: str, version: int, base: int | None, seq: int, patch: Patch, doc: Doc | None
    ) -> None:
        self.entity = entity
        self.version = version
        self.base_version = base
        self.patch = DeltaItem(entity, version, base, seq, patch) if base is not None else None
        self.full = DeltaItem(entity, version, None, seq, replace_whole(doc))


@dataclass(frozen=True, slots=True)
class DeltaScope:
    """What a subscriber watches: one kind, and the keys (None: every entity of it)."""

    kind: str
    keys: frozenset[str] | None

    def entities(self) -> list[str]:
        return sorted(f"{self.kind}:{k}" for k in self.keys or ())


class _Cache:
    """The last document sent per (entity, variant), least recently used out first.

    An entry a subscription's initial read put there is *primed*: it is a base for the
    next patch, but no round has sent that version to the other subscribers yet, so a
    round that reads the same version must still send it (finding 1 of issue 17)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._docs: OrderedDict[tuple[str, str], tuple[int, Doc | None, bool]] = OrderedDict()

    def get(self, entity: str, variant: str) -> tuple[int, Doc | None] | None:
        found = self._docs.get((entity, variant))
        if found is None:
            return None
        self._docs.move_to_end((entity, variant))
        return found[0], found[1]

    def primed(self, entity: str, variant: str) -> bool:
        found = self._docs.get((entity, variant))
        return found is not None and found[2]

    def put(
        self, entity: str, variant: str, version: int, doc: Doc | None, *, primed: bool = False
    ) -> None:
        self._docs[(entity, variant)] = (version, doc, primed)
        self._docs.move_to_end((entity, variant))
        while len(self._docs) > self._size:
            self._docs.popitem(last=False)

    def __len__(self) -> int:
        return len(self._docs)


class _CoalescedReads:
    """Documents for subscriptions that start at once, read together: one read at a
    time, and every entity asked for while it runs goes in the next one (so 200 clients
    subscribing together cost a couple of reads, not 200 concurrent ones that would drain
    the driver's connection pool). A request never joins a read already running: that
    read's snapshot may predate the subscriber's registration."""

    def __init__(self, source: DocumentSource) -> None:
        self._source = source
        self._queued: dict[str, asyncio.Future[Document]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def read(self, entities: Sequence[str]) -> dict[str, Document]:
        loop = asyncio.get_running_loop()
        futures = {}
        for entity in entities:
            future = self._queued.get(entity)
            if future is None:
                future = self._queued[entity] = loop.create_future()
            futures[entity] = future
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._drain(), name="tracegraph-live-docs")
        return {e: await asyncio.shield(f) for e, f in futures.items()}

    async def _drain(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, {}
            try:
                docs = await self._source.read(list(batch))
            except Exception as exc:
                for future in batch.values():
                    if not future.done():
                        future.set_exception(exc)
                        future.exception()  # retrieved: each waiter re-raises it
                continue
            for entity, future in batch.items():
                if not future.done():
                    future.set_result(docs[entity])


class DeltaFeed:
    """Routing, documents and diffs of the delta subscriptions (see the module doc)."""

    def __init__(self, source: DocumentSource, cache_size: int = 2000) -> None:
        self.source = source
        self._initial_reads = _CoalescedReads(source)
        self._cache = _Cache(cache_size)
        # Subscribers by entity; pipeline and breach subscribers without keys see all.
        self._by_entity: dict[str, set[Any]] = {}
        self._all: dict[str, set[Any]] = {"pipeline": set(), "breach": set()}
        self._pending: set[str] = set()
        # Consecutive failed reads per pending entity (bounded retries, _retry_later).
        self._failed_rounds: dict[str, int] = {}
        self.stats = DeltaStats()

    # -- registration (the hub owns the subscriber objects) ---------------------------

    def add(self, scope: DeltaScope, sub: Any) -> None:
        if scope.keys is None:
            self._all[scope.kind].add(sub)
        for entity in scope.entities():
            self._by_entity.setdefault(entity, set()).add(sub)

    def remove(self, scope: DeltaScope, sub: Any) -> None:
        if scope.keys is None:
            self._all[scope.kind].discard(sub)
        for entity in scope.entities():
            subs = self._by_entity.get(entity)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_entity[entity]

    def subscribers(self, entity: str) -> set[Any]:
        kind = entity.partition(":")[0]
        found = set(self._by_entity.get(entity, ()))
        found |= self._all.get(kind, set())
        return found

    def all_subscribers(self) -> list[Any]:
        subs: set[Any] = set()
        for group in self._by_entity.values():
            subs |= group
        for group in self._all.values():
            subs |= group
        return list(subs)

    def __bool__(self) -> bool:
        return bool(self._by_entity) or any(self._all.values())

    # -- what changed -----------------------------------------------------------------

    def _wanted(self, entity: str) -> bool:
        kind = entity.partition(":")[0]
        return entity in self._by_entity or bool(self._all.get(kind))

    def note_events(self, committed: Iterable[SequencedEvent]) -> bool:
        """Note the runs and pipelines these events changed that someone watches."""
        if not self:
            return False
        for ev in committed:
            p = ev.payload
            run, pipeline = p.get("run"), p.get("pipeline")
            if run is not None and f"run:{run}" in self._by_entity:
                self._pending.add(f"run:{run}")
            if pipeline is not None and self._wanted(f"pipeline:{pipeline}"):
                self._pending.add(f"pipeline:{pipeline}")
        return bool(self._pending)

    def note_breaches(self, ids: Iterable[str]) -> bool:
        for breach_id in ids:
            if self._wanted(f"breach:{breach_id}"):
                self._pending.add(f"breach:{breach_id}")
        return bool(self._pending)

    def note_pipelines(self, names: Iterable[str]) -> bool:
        for name in names:
            if self._wanted(f"pipeline:{name}"):
                self._pending.add(f"pipeline:{name}")
        return bool(self._pending)

    def cached_version(self, entity: str, variant: str = FULL) -> int | None:
        """The version of the last document kept for the entity (None: none)."""
        found = self._cache.get(entity, variant)
        return None if found is None else found[0]

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    # -- one round of the hub's reader task ---------------------------------------------

    async def round(self) -> list[tuple[Delta, set[Any]]]:
        """Read the noted entities' documents and the deltas to push, with the
        subscribers of each (the hub pushes them). A failed read raises and puts the
        entities back for the next round (at most ``ROUND_RETRIES`` times); after that
        the next change sends the whole difference, and a client that missed it finds
        out by version (gap) or digest."""
        pending, self._pending = self._pending, set()
        entities = sorted(e for e in pending if self._wanted(e))
        if not entities:
            return []
        try:
            docs = await self.source.read(entities)
        except Exception:
            self._retry_later(entities)
            raise
        for entity in entities:
            self._failed_rounds.pop(entity, None)
        out: list[tuple[Delta, set[Any]]] = []
        for entity in entities:
            subs = self.subscribers(entity)
            variants = {getattr(s, "variant", FULL) for s in subs}
            for variant in sorted(variants):
                delta = self._diff(docs[entity], variant)
                if delta is not None:
                    out.append((delta, {s for s in subs if s.variant == variant}))
        return out

    def _retry_later(self, entities: Iterable[str]) -> None:
        """Put the entities of a failed read back for the next round, each at most
        ``ROUND_RETRIES`` times in a row (then the next change sends the difference)."""
        for entity in entities:
            failures = self._failed_rounds.get(entity, 0) + 1
            if failures > ROUND_RETRIES:
                self._failed_rounds.pop(entity, None)
                log.warning("entity document not read; delta skipped", entity=entity)
                continue
            self._failed_rounds[entity] = failures
            self._pending.add(entity)

    def _diff(self, new: Document, variant: str) -> Delta | None:
        kind, _ = parse_entity(new.entity)
        cached = self._cache.get(new.entity, variant)
        doc = variant_of(kind, new.doc, variant)
        if new.doc is None:
            if cached is None or cached[1] is None:
                return None  # never sent, still nothing to send
            # Deleted (a retracted breach): a version past the last one sent.
            version, base = cached[0] + 1, None
        elif cached is not None and cached[0] == new.version:
            if not self._cache.primed(new.entity, variant):
                return None  # sent already
            # Primed by a subscription's initial read: subscribers that started earlier
            # may still hold an older version; the whole document (those at it drop it).
            version, base = new.version, None
        elif cached is not None and new.version < cached[0]:
            return None  # read before a newer one a subscription primed: stale
        elif cached is None or cached[1] is None:
            version, base = new.version, None
        else:
            version, base = new.version, cached[0]
        patch = make_patch(cached[1], doc) if base is not None and cached is not None else []
        self._cache.put(new.entity, variant, version, doc)
        return Delta(new.entity, version, base, new.seq, patch, doc)

    # -- subscribing ----------------------------------------------------------------------

    async def initial(
        self, scope: DeltaScope, known: Mapping[str, int], variant: str
    ) -> list[Document]:
        """The documents of every entity in scope (and every one the client lists),
        in ``variant``; they also prime the cache, so the next change is a patch."""
        if scope.keys is not None:
            entities = scope.entities()
        elif scope.kind == "pipeline":
            entities = await self.source.pipeline_scope()
        else:
            entities = await self.source.open_breaches()
        listed = [e for e in known if e.startswith(scope.kind + ":")]
        entities = list(dict.fromkeys([*entities, *listed]))
        docs = await self._initial_reads.read(entities)
        out = []
        for entity in entities:
            d = docs[entity]
            kind, _ = parse_entity(entity)
            doc = variant_of(kind, d.doc, variant)
            cached = self._cache.get(entity, variant)
            # Only an empty entry is primed: overwriting a sent one would make the next
            # round skip a version that earlier subscribers have not been sent.
            if d.doc is not None and cached is None:
                self._cache.put(entity, variant, d.version, doc, primed=True)
            out.append(Document(entity, d.version, d.seq, doc))
        return out


async def deliver(
    feed: DeltaFeed,
    initial: Sequence[Document],
    known: Mapping[str, int],
    queue: AsyncGenerator[Delta, None],
) -> AsyncGenerator[DeltaItem, None]:
    """A subscriber's stream: the initial whole documents that differ from what the
    client has, then each live delta as a patch when the subscriber holds its base
    version (else whole), never one at or below a version already sent."""
    stats = feed.stats
    sent: dict[str, int] = {}
    for d in initial:
        sent[d.entity] = d.version
        if known.get(d.entity) != d.version:
            item = DeltaItem(d.entity, d.version, None, d.seq, replace_whole(d.doc))
            stats.deltas_sent += 1
            stats.full_documents_sent += 1
            stats.delta_bytes += item.size
            yield item
    async for delta in queue:
        have = sent.get(delta.entity)
        if have is not None and delta.version <= have:
            continue
        sent[delta.entity] = delta.version
        stats.deltas_sent += 1
        if delta.patch is not None and have == delta.base_version:
            stats.delta_bytes += delta.patch.size
            stats.snapshot_bytes_avoided += max(0, delta.full.size - delta.patch.size)
            yield delta.patch
        else:
            stats.full_documents_sent += 1
            stats.delta_bytes += delta.full.size
            yield delta.full


def variant_for(can_read_prompts: bool) -> str:
    return FULL if can_read_prompts else REDACTED


def known_versions(pairs: Collection[tuple[str, int]]) -> dict[str, int]:
    return {entity: int(version) for entity, version in pairs}
