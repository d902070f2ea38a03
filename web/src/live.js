// The page's versioned entities (docs/live-deltas.md): one EntityStore for every run,
// pipeline card and breach the page shows, fed by the per-entity delta subscriptions
// (pipelineChanged, runChanged, breachChanged), read back with `snapshots` on a gap and
// checked with `digestCheck` every few seconds. The header's drift indicator shows its
// counts; `window.__tracegraphStore` gives tests a read-only copy.
import { applyPatch } from "/static/vendor/fast-json-patch/index.mjs";
import canonicalize from "/static/vendor/canonicalize/canonicalize.js";
import { query, resilientSubscribe } from "./gql.js";
import { EntityStore, Reason, digester } from "./entities.js";

export { Reason };

export const DELTA_FIELDS = "entity version baseVersion seq patch";
const SNAPSHOTS = `query($entities: [String!]!, $reason: ResyncReason) {
  snapshots(entities: $entities, reason: $reason) { entity version seq doc digest } }`;
const DIGEST_CHECK = `query($digests: [ClientDigest!]!) {
  digestCheck(digests: $digests) { entity version digest status } }`;

// How often the page compares its documents with the server's (seconds). The default is
// the contract's; `localStorage["tracegraph.digestIntervalS"]` overrides it for a tab.
const DEFAULT_DIGEST_INTERVAL_S = 30;

const listeners = new Map(); // entity prefix ("run:") -> Set of fn(entity, record|null)
const driftListeners = new Set();

/** Call `fn(entity, record)` when an entity whose key starts with `prefix` changes. */
export function onEntity(prefix, fn) {
  if (!listeners.has(prefix)) listeners.set(prefix, new Set());
  listeners.get(prefix).add(fn);
  return () => listeners.get(prefix).delete(fn);
}

export function onDrift(fn) {
  driftListeners.add(fn);
  return () => driftListeners.delete(fn);
}
const driftChanged = () => driftListeners.forEach((fn) => fn(drift()));

export const entities = new EntityStore({
  // Patches apply to the store's own copy (EntityStore clones before and after).
  applyPatch: (doc, patch) => applyPatch(doc, patch, true, true).newDocument,
  fetchSnapshots: async (list, reason) => {
    const data = await query(SNAPSHOTS, { entities: list, reason });
    driftChanged();
    return data.snapshots;
  },
  onChange: (entity, record) => {
    for (const [prefix, fns] of listeners)
      if (entity.startsWith(prefix))
        for (const fn of fns) {
          try {
            fn(entity, record);
          } catch (e) {
            console.error(e);
          }
        }
  },
  onError: (e) => console.warn("delta did not apply; reading the snapshot", e),
});

/** Read snapshots of `list` (e.g. the grid's first load) into the store. */
export const loadSnapshots = (list, reason = Reason.INITIAL) => entities.resync(list, reason);

/** The drift indicator's figures: resyncs by reason and digest mismatches. */
export function drift() {
  return {
    resyncs: entities.counts.resyncs,
    mismatches: entities.counts.mismatches,
    byReason: { ...entities.resyncsByReason },
    gaps: entities.counts.gaps,
    digests: canDigest,
    applied: entities.counts.applied,
  };
}

// A subscription that ended with this code fell behind its queue (an overflow).
const OVERFLOW_CODES = new Set(["SUBSCRIBER_TOO_SLOW"]);
function restartReason(err) {
  const codes = Array.isArray(err) ? err.map((e) => e?.extensions?.code) : [];
  return codes.some((c) => OVERFLOW_CODES.has(c)) ? Reason.OVERFLOW : Reason.RECONNECT;
}

/**
 * A delta subscription that resubscribes after a disconnect or an overflow with the
 * versions it knows (`variables()` is read on every start), so the server sends only
 * what changed meanwhile. Every delta goes through the store's rule.
 */
export function subscribeDeltas(text, field, variables, { onDelta, onForbidden } = {}) {
  return resilientSubscribe(
    text,
    variables,
    (data) => {
      const delta = data[field];
      const outcome = entities.apply(delta);
      if (outcome === "gap") driftChanged();
      if (onDelta) onDelta(delta, outcome);
    },
    {
      onRestart: (err) => {
        entities.noteResubscribe(restartReason(err));
        driftChanged();
      },
      onForbidden,
    },
  );
}

// crypto.subtle exists in secure contexts only (HTTPS, or 127.0.0.1 / localhost): a page
// served over plain HTTP elsewhere cannot hash, and says so in the drift indicator.
export const canDigest = Boolean(globalThis.crypto?.subtle);
const digestOf = canDigest ? digester(canonicalize, crypto.subtle) : null;
let digestTimer = null;

/** One digest check of every entity held; resolves to the mismatched entities. */
export async function verifyNow() {
  if (!canDigest) return [];
  const mismatched = await entities.verify(digestOf, async (digests) => {
    const data = await query(DIGEST_CHECK, { digests });
    return data.digestCheck;
  });
  driftChanged();
  return mismatched;
}

function digestIntervalS() {
  const stored = Number(localStorage.getItem("tracegraph.digestIntervalS"));
  return stored > 0 ? stored : DEFAULT_DIGEST_INTERVAL_S;
}

/** Check digests every `seconds` (default: the tab's setting, else 30 s). */
export function startDigestChecks(seconds = digestIntervalS()) {
  clearInterval(digestTimer);
  if (!canDigest) return;
  digestTimer = setInterval(() => {
    if (document.hidden || !entities.records.size) return;
    verifyNow().catch((e) => console.warn("digest check failed", e));
  }, seconds * 1000);
}

// Read-only for tests and debugging: copies, never the live documents.
window.__tracegraphStore = Object.freeze({
  snapshot: () => entities.snapshot(),
  drift,
  verifyNow,
  setDigestInterval: (seconds) => startDigestChecks(seconds),
});
