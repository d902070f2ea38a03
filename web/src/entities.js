// Versioned entity documents kept by applying the server's deltas (docs/live-deltas.md).
//
// Plain JavaScript with no browser or network imports, so node runs its tests
// (web/test/): the JSON Patch function, the snapshot reader and the digest come in as
// arguments. The rule, per entity: apply a delta only on baseVersion === version (or a
// baseVersion of null: the whole document); a version at or below ours is stale and
// ignored; anything else is a gap, which asks the server for that entity's snapshot and
// goes on — deltas that arrive meanwhile wait and are applied on top of it.

/** Why a client asks for snapshots; the server counts resyncs by it. */
export const Reason = Object.freeze({
  INITIAL: "INITIAL",
  GAP: "GAP",
  RECONNECT: "RECONNECT",
  OVERFLOW: "OVERFLOW",
  MISMATCH: "MISMATCH",
});

// The server answers at most this many entities per snapshots / digestCheck call.
export const MAX_ENTITIES_PER_CALL = 200;

const deepFreeze = (value) => {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
};

const clone = (value) => (value === undefined ? null : JSON.parse(JSON.stringify(value)));

function chunks(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * The contract's digest: lower-case hex SHA-256 of the RFC 8785 (JCS) form of `doc`.
 * `canonicalize` is npm `canonicalize`; `subtle` is `crypto.subtle` (browser or node).
 */
export function digester(canonicalize, subtle) {
  return async (doc) => {
    const bytes = new TextEncoder().encode(canonicalize(doc));
    const hash = new Uint8Array(await subtle.digest("SHA-256", bytes));
    return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
  };
}

export class EntityStore {
  /**
   * @param {object} deps
   * @param {(doc: any, patch: object[]) => any} deps.applyPatch returns the patched copy
   *   (throws when the patch does not fit the document)
   * @param {(entities: string[], reason: string) => Promise<object[]>} deps.fetchSnapshots
   *   the `snapshots` query: [{entity, version, seq, doc, digest}]
   * @param {(entity: string, record: object|null) => void} [deps.onChange]
   * @param {(error: unknown) => void} [deps.onError]
   */
  constructor({ applyPatch, fetchSnapshots, onChange = () => {}, onError = () => {} }) {
    this.applyPatchFn = applyPatch;
    this.fetchSnapshots = fetchSnapshots;
    this.onChange = onChange;
    this.onError = onError;
    /** entity -> {version, seq, doc} */
    this.records = new Map();
    /** entity -> deltas that arrived ahead of our version while its snapshot is read */
    this.waiting = new Map();
    /** entities whose snapshot read is under way */
    this.inFlight = new Set();
    /** entity -> the server's higher version a digest check found (STALE, we behind) */
    this.behind = new Map();
    // A page's first reads (reason INITIAL) are loads, not resyncs: only a re-read
    // forced by a gap, a reconnect, an overflow or a mismatch is drift.
    this.counts = { resyncs: 0, loads: 0, mismatches: 0, applied: 0, stale: 0, gaps: 0 };
    this.resyncsByReason = Object.fromEntries(Object.keys(Reason).map((r) => [r, 0]));
  }

  version(entity) {
    return this.records.get(entity)?.version ?? 0;
  }

  get(entity) {
    return this.records.get(entity) ?? null;
  }

  /** Entities held, optionally those whose key starts with `prefix` ("run:"). */
  entities(prefix = "") {
    return [...this.records.keys()].filter((e) => e.startsWith(prefix));
  }

  /** [{entity, version}] for a resubscription: the server sends what changed since. */
  known(prefix = "") {
    return this.entities(prefix).map((entity) => ({ entity, version: this.version(entity) }));
  }

  /**
   * One EntityDelta from a subscription. Returns what happened: "applied", "stale",
   * "gap" (a snapshot is being read) or "waiting" (held until that snapshot arrives).
   */
  apply(delta) {
    const { entity } = delta;
    if (this.inFlight.has(entity)) {
      if (delta.baseVersion == null || delta.version > this.version(entity)) {
        this.#hold(delta);
        return "waiting";
      }
      this.counts.stale += 1;
      return "stale";
    }
    const outcome = this.#applyOne(delta);
    if (outcome === "gap") {
      this.counts.gaps += 1;
      this.#hold(delta);
      this.resync([entity], Reason.GAP);
    }
    return outcome;
  }

  #hold(delta) {
    const list = this.waiting.get(delta.entity) || [];
    list.push(delta);
    this.waiting.set(delta.entity, list);
  }

  #applyOne(delta) {
    const { entity, version, baseVersion, seq } = delta;
    const have = this.records.get(entity);
    const current = have?.version ?? 0;
    if (version <= current) {
      this.counts.stale += 1;
      return "stale";
    }
    let doc;
    if (baseVersion == null) {
      doc = this.#patched(null, delta.patch);
    } else if (baseVersion === current) {
      doc = this.#patched(have ? have.doc : null, delta.patch);
    } else {
      return "gap";
    }
    if (doc === undefined) return "gap"; // the patch did not fit: read the snapshot
    this.#put(entity, { version, seq: seq ?? have?.seq ?? 0, doc });
    this.counts.applied += 1;
    return "applied";
  }

  /** The patched copy, or undefined when the patch cannot apply to `doc`. */
  #patched(doc, patch) {
    try {
      return clone(this.applyPatchFn(clone(doc), patch));
    } catch (e) {
      this.onError(e);
      return undefined;
    }
  }

  #put(entity, record) {
    if (record.doc === null) this.records.delete(entity);
    else this.records.set(entity, record);
    this.onChange(entity, record.doc === null ? null : record);
  }

  /**
   * Take a snapshot answer: newer than what we hold wins (a doc null removes it); at the
   * same version only when ours was found to differ (`replaceSame`, a digest mismatch).
   */
  putSnapshot(snap, replaceSame = false) {
    if (snap.doc == null) {
      // No such entity on the server (a retracted breach): it goes, whatever we held.
      if (!this.records.has(snap.entity)) return false;
      this.#put(snap.entity, { version: 0, seq: snap.seq ?? 0, doc: null });
      return true;
    }
    const current = this.version(snap.entity);
    const held = this.records.has(snap.entity);
    if (held && (snap.version < current || (snap.version === current && !replaceSame)))
      return false;
    this.#put(snap.entity, { version: snap.version, seq: snap.seq ?? 0, doc: clone(snap.doc) });
    return true;
  }

  /**
   * Read the snapshots of `entities` (counted as resyncs for `reason`), take them, then
   * apply the deltas that waited for them. Entities already being read are skipped.
   */
  async resync(entities, reason) {
    const todo = [...new Set(entities)].filter((e) => !this.inFlight.has(e));
    if (!todo.length) return;
    for (const e of todo) this.inFlight.add(e);
    this.#count(reason, todo.length);
    const retry = [];
    try {
      for (const part of chunks(todo, MAX_ENTITIES_PER_CALL)) {
        let snaps;
        try {
          snaps = await this.fetchSnapshots(part, reason);
        } catch (e) {
          this.onError(e);
          retry.push(...part);
          continue;
        }
        for (const s of snaps) {
          this.putSnapshot(s, reason === Reason.MISMATCH);
          // Absent on the server: only a whole document can bring it back.
          if (s.doc == null) this.#dropPatches(s.entity);
        }
      }
    } finally {
      for (const e of todo) this.inFlight.delete(e);
    }
    const again = [];
    for (const e of todo) {
      if (retry.includes(e)) continue;
      if (this.#drain(e) === "gap") again.push(e);
    }
    // The server could not answer (an outage), or its snapshot is still behind a delta
    // we hold (another replica lagging): ask again shortly; held deltas keep waiting.
    if (retry.length) this.#later(retry, reason, 1000);
    if (again.length) this.#later(again, Reason.GAP, 250);
  }

  #later(entities, reason, ms) {
    setTimeout(() => this.resync(entities, reason), ms);
  }

  #dropPatches(entity) {
    const list = (this.waiting.get(entity) || []).filter((d) => d.baseVersion == null);
    if (list.length) this.waiting.set(entity, list);
    else this.waiting.delete(entity);
  }

  /** Apply the deltas that waited for `entity`'s snapshot, in version order. */
  #drain(entity) {
    const list = (this.waiting.get(entity) || []).sort((a, b) => a.version - b.version);
    this.waiting.delete(entity);
    let left = [];
    for (const d of list) {
      const outcome = this.#applyOne(d);
      if (outcome === "gap") left.push(d);
    }
    // One ahead of us may fit now that a later one was applied; anything else is a gap.
    left = left.filter((d) => d.version > this.version(entity));
    if (!left.length) return "ok";
    this.waiting.set(entity, left);
    return "gap";
  }

  /** A subscription restarted with our known versions (a reconnect or an overflow). */
  noteResubscribe(reason) {
    this.#count(reason, 1);
  }

  #count(reason, n) {
    if (reason === Reason.INITIAL) this.counts.loads += n;
    else this.counts.resyncs += n;
    this.resyncsByReason[reason] = (this.resyncsByReason[reason] || 0) + n;
  }

  /** Forget an entity the page no longer shows (e.g. the run page closed). */
  drop(entity) {
    this.records.delete(entity);
    this.waiting.delete(entity);
    this.behind.delete(entity);
  }

  /**
   * Compare our documents with the server's: `digestOf(doc)` makes each digest, and
   * `check(digests)` is the digestCheck query. MISMATCH verdicts read those snapshots
   * (reason MISMATCH). A STALE verdict with a server version above ours may be a delta
   * on its way; if the next check finds us still below that version, the delta was lost
   * and the snapshot is read (reason GAP). Resolves to the MISMATCH entities.
   */
  async verify(digestOf, check, prefix = "") {
    const mine = [];
    for (const entity of this.entities(prefix)) {
      const r = this.records.get(entity);
      mine.push({ entity, version: r.version, digest: await digestOf(r.doc) });
    }
    const mismatched = [];
    const stuck = [];
    const behind = new Map();
    for (const part of chunks(mine, MAX_ENTITIES_PER_CALL)) {
      const verdicts = await check(part);
      for (const v of verdicts) {
        const ours = this.version(v.entity);
        // A delta may have moved the entity on while the answer travelled.
        if (v.status === "MISMATCH" && v.version === ours) mismatched.push(v.entity);
        // Behind: the server is ahead, or has no such entity any more (a retracted
        // breach, version 0). A lower version (a lagging answer) is left alone.
        const gone = v.version === 0;
        if (v.status !== "STALE" || (v.version <= ours && !gone)) continue;
        const before = this.behind.get(v.entity);
        if (before !== undefined && (ours < before || (gone && before === 0))) stuck.push(v.entity);
        else behind.set(v.entity, v.version);
      }
    }
    // Only what this check found behind is remembered: a repaired entity starts over.
    for (const { entity } of mine) this.behind.delete(entity);
    for (const [entity, version] of behind) this.behind.set(entity, version);
    this.counts.mismatches += mismatched.length;
    if (mismatched.length) await this.resync(mismatched, Reason.MISMATCH);
    if (stuck.length) await this.resync(stuck, Reason.GAP);
    return mismatched;
  }

  /** A frozen deep copy of every entity's {version, doc}: nothing live leaks out. */
  snapshot() {
    const out = {};
    for (const [entity, r] of this.records) out[entity] = { version: r.version, doc: clone(r.doc) };
    return deepFreeze(out);
  }
}
