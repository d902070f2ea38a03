// The client rule of docs/live-deltas.md, on the real fast-json-patch and canonicalize.
// Run: `npm test --prefix web` (node --test); tests/unit/web/test_web_node_tests.py runs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { webcrypto, createHash } from "node:crypto";
import { applyPatch } from "fast-json-patch/index.mjs";
import canonicalize from "canonicalize";
import { EntityStore, Reason, digester } from "../src/entities.js";

const apply = (doc, patch) => applyPatch(doc, patch, false, true).newDocument;

/** A store whose snapshot reads answer from `server` (entity -> {version, doc}). */
function harness(server = {}) {
  const reads = [];
  const changes = [];
  const store = new EntityStore({
    applyPatch: apply,
    fetchSnapshots: async (entities, reason) => {
      reads.push([entities, reason]);
      return entities.map((entity) => ({
        entity,
        version: server[entity]?.version ?? 0,
        seq: 0,
        doc: server[entity]?.doc ?? null,
        digest: "",
      }));
    },
    onChange: (entity, rec) => changes.push([entity, rec?.version ?? null]),
  });
  return { store, reads, changes };
}

const full = (entity, version, doc) => ({
  entity,
  version,
  baseVersion: null,
  seq: version,
  patch: [{ op: "replace", path: "", value: doc }],
});
const delta = (entity, baseVersion, version, patch) => ({
  entity,
  version,
  baseVersion,
  seq: version,
  patch,
});
const settle = () => new Promise((r) => setTimeout(r, 0));

test("a full document replaces, a delta on our version applies", () => {
  const { store } = harness();
  assert.equal(store.apply(full("run:r", 2, { id: "r", status: "RUNNING", steps: {} })), "applied");
  const out = store.apply(
    delta("run:r", 2, 3, [{ op: "add", path: "/steps/s1", value: { id: "s1" } }]),
  );
  assert.equal(out, "applied");
  assert.deepEqual(store.get("run:r").doc, {
    id: "r",
    status: "RUNNING",
    steps: { s1: { id: "s1" } },
  });
  assert.equal(store.version("run:r"), 3);
});

test("a delta at or below our version is stale and changes nothing", () => {
  const { store, reads } = harness();
  store.apply(full("run:r", 5, { a: 1 }));
  assert.equal(
    store.apply(delta("run:r", 4, 5, [{ op: "replace", path: "/a", value: 9 }])),
    "stale",
  );
  assert.equal(store.apply(full("run:r", 3, { a: 7 })), "stale");
  assert.deepEqual(store.get("run:r").doc, { a: 1 });
  assert.equal(reads.length, 0);
});

test("a gap reads that entity's snapshot (reason GAP) and applies what waited on top", async () => {
  const server = { "run:r": { version: 4, doc: { a: 4 } } };
  const { store, reads } = harness(server);
  store.apply(full("run:r", 1, { a: 1 }));
  // Version 2..4 were missed; 5 arrives, then 6 while the snapshot is read.
  assert.equal(store.apply(delta("run:r", 4, 5, [{ op: "replace", path: "/a", value: 5 }])), "gap");
  assert.equal(store.apply(delta("run:r", 5, 6, [{ op: "add", path: "/b", value: 6 }])), "waiting");
  await settle();
  assert.deepEqual(reads, [[["run:r"], Reason.GAP]]);
  assert.equal(store.version("run:r"), 6);
  assert.deepEqual(store.get("run:r").doc, { a: 5, b: 6 });
  assert.equal(store.resyncsByReason.GAP, 1);
});

test("a patch that does not fit the document is a gap, not a corrupted document", async () => {
  const server = { "run:r": { version: 2, doc: { a: 2, steps: { x: 1 } } } };
  const { store, reads } = harness(server);
  store.apply(full("run:r", 1, { a: 1 }));
  const out = store.apply(delta("run:r", 1, 2, [{ op: "replace", path: "/steps/x", value: 1 }]));
  assert.equal(out, "gap");
  assert.deepEqual(store.get("run:r").doc, { a: 1 }); // untouched until the snapshot
  await settle();
  assert.equal(reads.length, 1);
  assert.deepEqual(store.get("run:r").doc, { a: 2, steps: { x: 1 } });
});

test("a snapshot with no document (version 0) removes the entity", async () => {
  const { store, changes } = harness({});
  store.apply(full("breach:b", 1, { id: "b" }));
  store.apply(delta("breach:b", 3, 4, []));
  await settle();
  assert.equal(store.get("breach:b"), null);
  assert.deepEqual(changes.at(-1), ["breach:b", null]);
});

test("known() lists versions for a resubscription", () => {
  const { store } = harness();
  store.apply(full("pipeline:a", 3, { name: "a" }));
  store.apply(full("pipeline:b", 7, { name: "b" }));
  store.apply(full("run:r", 2, { id: "r" }));
  assert.deepEqual(store.known("pipeline:"), [
    { entity: "pipeline:a", version: 3 },
    { entity: "pipeline:b", version: 7 },
  ]);
});

test("snapshot() is a frozen copy: changing it or the store later does not leak", () => {
  const { store } = harness();
  store.apply(full("run:r", 1, { steps: { s: { n: 1 } } }));
  const snap = store.snapshot();
  assert.ok(Object.isFrozen(snap["run:r"].doc.steps.s));
  assert.throws(() => {
    snap["run:r"].doc.steps.s.n = 2;
  });
  store.apply(delta("run:r", 1, 2, [{ op: "replace", path: "/steps/s/n", value: 5 }]));
  assert.equal(snap["run:r"].doc.steps.s.n, 1);
  assert.equal(store.snapshot()["run:r"].doc.steps.s.n, 5);
});

test("the digest is SHA-256 of the RFC 8785 form (keys sorted, ECMAScript numbers)", async () => {
  const digest = digester(canonicalize, webcrypto.subtle);
  const doc = { b: [1, 2.5, 1e21], a: { z: null, é: "x" }, c: 0.1 + 0.2 };
  const jcs = '{"a":{"z":null,"é":"x"},"b":[1,2.5,1e+21],"c":0.30000000000000004}';
  assert.equal(canonicalize(doc), jcs);
  assert.equal(await digest(doc), createHash("sha256").update(jcs, "utf8").digest("hex"));
});

test("verify() resyncs the MISMATCH entities only, with reason MISMATCH", async () => {
  const server = { "run:a": { version: 1, doc: { v: "server" } } };
  const { store, reads } = harness(server);
  store.apply(full("run:a", 1, { v: "drifted" }));
  store.apply(full("run:b", 1, { v: "fine" }));
  const digest = digester(canonicalize, webcrypto.subtle);
  const serverDigest = await digest({ v: "server" });
  const sent = [];
  const mismatched = await store.verify(digest, async (digests) => {
    sent.push(...digests);
    return digests.map((d) => ({
      entity: d.entity,
      version: d.version,
      digest: d.entity === "run:a" ? serverDigest : d.digest,
      status: d.entity === "run:a" ? "MISMATCH" : "MATCH",
    }));
  });
  assert.equal(sent.length, 2);
  assert.deepEqual(mismatched, ["run:a"]);
  assert.deepEqual(reads, [[["run:a"], Reason.MISMATCH]]);
  assert.deepEqual(store.get("run:a").doc, { v: "server" });
  assert.equal(store.counts.mismatches, 1);
});

test("verify() resyncs an entity STALE and behind the server on two checks in a row (GAP)", async () => {
  // Review finding 2 (issue 17): a client whose delta was lost stays behind; STALE
  // alone may be a delta in flight, so one check waits and the next one repairs.
  const server = { "run:a": { version: 6, doc: { v: 6 } } };
  const { store, reads } = harness(server);
  store.apply(full("run:a", 5, { v: 5 }));
  store.apply(full("run:b", 7, { v: 7 }));
  const digest = digester(canonicalize, webcrypto.subtle);
  const check = async (digests) =>
    digests.map((d) => ({
      entity: d.entity,
      version: server[d.entity]?.version ?? 7,
      digest: "",
      status: d.entity === "run:a" ? "STALE" : "MATCH",
    }));
  assert.deepEqual(await store.verify(digest, check), []);
  assert.deepEqual(reads, []); // once: maybe the delta is on its way
  await store.verify(digest, check);
  assert.deepEqual(reads, [[["run:a"], Reason.GAP]]);
  assert.equal(store.version("run:a"), 6);
  assert.deepEqual(store.get("run:a").doc, { v: 6 });
});

test("verify() does not resync an entity whose delta arrived between two STALE checks", async () => {
  const server = { "run:a": { version: 6, doc: { v: 6 } } };
  const { store, reads } = harness(server);
  store.apply(full("run:a", 5, { v: 5 }));
  const digest = digester(canonicalize, webcrypto.subtle);
  const check = async (digests) =>
    digests.map((d) => ({
      entity: d.entity,
      version: server[d.entity].version,
      digest: "",
      status: "STALE",
    }));
  await store.verify(digest, check);
  store.apply(delta("run:a", 5, 6, [{ op: "replace", path: "/v", value: 6 }]));
  server["run:a"] = { version: 7, doc: { v: 7 } }; // moving on: streaming, not stuck
  await store.verify(digest, check);
  assert.deepEqual(reads, []);
});

test("a server version below ours (a lagging replica) is not a reason to resync", async () => {
  const { store, reads } = harness({});
  store.apply(full("run:a", 5, { v: 5 }));
  const digest = digester(canonicalize, webcrypto.subtle);
  const check = async (digests) =>
    digests.map((d) => ({ entity: d.entity, version: 4, digest: "", status: "STALE" }));
  await store.verify(digest, check);
  await store.verify(digest, check);
  assert.deepEqual(reads, []);
});

test("verify() removes an entity the server no longer has (STALE at version 0, twice)", async () => {
  const { store, reads } = harness({});
  store.apply(full("breach:b", 3, { id: "b" }));
  const digest = digester(canonicalize, webcrypto.subtle);
  const check = async (digests) =>
    digests.map((d) => ({ entity: d.entity, version: 0, digest: "", status: "STALE" }));
  await store.verify(digest, check);
  assert.deepEqual(reads, []);
  await store.verify(digest, check);
  assert.deepEqual(reads, [[["breach:b"], Reason.GAP]]);
  assert.equal(store.get("breach:b"), null);
});

test("a page's first snapshot loads are loads, not resyncs (a fresh page is not drifting)", async () => {
  const server = { "run:a": { version: 2, doc: { a: 2 } }, "run:b": { version: 1, doc: {} } };
  const { store } = harness(server);
  await store.resync(["run:a", "run:b"], Reason.INITIAL);
  assert.equal(store.counts.resyncs, 0);
  assert.equal(store.counts.loads, 2);
  assert.equal(store.resyncsByReason.INITIAL, 2);
  await store.resync(["run:a"], Reason.GAP);
  assert.equal(store.counts.resyncs, 1);
});
