// Client-side state for the grid and the header. The pipelines grid is the pipeline card
// documents (docs/live-deltas.md) kept by the `pipelineChanged` delta subscription in
// the entity store (live.js); `state.pipelines` / `state.runs` are views of those
// documents in the shape the views use. The header's totals are the server's `overview`,
// re-read (coalesced, at most once a second) after deltas arrive — the page keeps no
// global event subscription. Views subscribe to topics and re-render in rAF.
import { query, onReconnect } from "./gql.js";
import { ts } from "./util.js";
import { entities, onEntity, loadSnapshots, subscribeDeltas, DELTA_FIELDS } from "./live.js";

const listeners = new Map();
export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
  return () => listeners.get(topic).delete(fn);
}
function emit(topic, payload) {
  for (const fn of listeners.get(topic) || []) {
    try {
      fn(payload);
    } catch (e) {
      console.error(e);
    }
  }
}

export const state = {
  overview: null,
  totalsSeq: 0, // the seq of the overview answer the header's totals come from
  tokens: 0,
  cost: 0,
  activeRuns: 0,
  pipelines: new Map(), // name -> {name, version, cardVersion, owner, sla, steps, runs: Map, active}
  runs: new Map(), // id -> light run (the runs on the pipeline cards)
  ready: false,
  eventsSeen: 0, // events reflected in the pipeline cards (the sum of their version steps)
};

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED"]);
const PIPELINE_PREFIX = "pipeline:";

export async function loadOverview() {
  const { overview } = await query(
    `{ overview { activeRuns tokensToday costTodayUsd healthy lastSeq } }`,
  );
  setTotals(overview);
  emit("overview", overview);
  return overview;
}

function setTotals(overview) {
  if (overview.lastSeq < state.totalsSeq) return; // an older answer than the one shown
  state.overview = { ...(state.overview || {}), ...overview };
  state.totalsSeq = overview.lastSeq;
  state.tokens = overview.tokensToday;
  state.cost = overview.costTodayUsd;
  state.activeRuns = overview.activeRuns;
}

// Today's tokens and cost and the active runs are the server's figures (it prices calls
// that report no cost, and takes input tokens from prompts): a delta says something
// changed, and the page re-reads `overview`, coalesced to at most one read a second.
let totalsWanted = 0; // highest delta seq the totals should reflect
let totalsTimer = null;
let totalsLast = 0;

function wantServerTotals(seq) {
  totalsWanted = Math.max(totalsWanted, seq || 0, state.totalsSeq + 1);
  if (totalsTimer) return;
  const wait = Math.max(0, totalsLast + 1000 - Date.now());
  totalsTimer = setTimeout(readServerTotals, Math.max(wait, 50));
}

async function readServerTotals() {
  totalsLast = Date.now();
  try {
    await loadOverview();
    emit("counters");
  } catch (e) {
    console.warn(e);
  }
  totalsTimer = null;
  // Deltas that came in while the query ran are read with the next one.
  if (totalsWanted > state.totalsSeq) wantServerTotals(0);
}

// ---- documents -> the views' shapes -------------------------------------------------

const ownerOf = (o) => (o == null ? null : typeof o === "string" ? { id: o, name: o } : o);
const byStart = (a, b) =>
  (a.startedAt || "").localeCompare(b.startedAt || "") || a.id.localeCompare(b.id);

/** A step run of a run document, as the views use it (`step: {key}`). */
export function stepRunView(sr, stepMeta) {
  const rest = { ...sr };
  for (const heavy of ["calls", "reads", "writes"]) delete rest[heavy]; // full run only
  return { ...rest, step: { key: sr.step, ...(stepMeta?.get(sr.step) || {}) } };
}

/** A (light) run document as the views use it (`pipeline: {name}`, `steps: [...]`). */
export function runView(doc, stepMeta) {
  const { steps, pipeline, ...rest } = doc;
  return {
    ...rest,
    pipeline: { name: pipeline },
    steps: Object.values(steps || {})
      .map((sr) => stepRunView(sr, stepMeta))
      .sort(byStart),
  };
}

function pipelineView(doc) {
  const steps = Object.values(doc.steps || {}).map((s) => ({
    ...s,
    owner: ownerOf(s.owner),
    dependsOn: (s.dependsOn || []).map((key) => (typeof key === "string" ? { key } : key)),
  }));
  const runs = new Map();
  for (const r of Object.values(doc.runs || {})) runs.set(r.id, runView(r));
  return {
    name: doc.name,
    version: doc.version,
    cardVersion: doc.cardVersion,
    owner: ownerOf(doc.owner),
    sla: doc.sla ?? null,
    steps,
    runs,
  };
}

// Running runs older than a card's ten newest still count on the grid ("N active"):
// pipeline name -> ids of running runs that are not on its card. Read with the grid
// (every RUNNING run, paged) and re-read for that pipeline (at most once a second) when
// a running run leaves its card or a card changes while it has some; a card delta
// comes with every event of its pipeline, so a finished one is noticed at once.
const offCardRunning = new Map();
const MAX_RUNNING = 3000; // running runs a tab counts (its memory bound)

function activeOf(p) {
  const onCard = [...p.runs.values()].filter((r) => r.status === "RUNNING").length;
  return onCard + (offCardRunning.get(p.name)?.size || 0);
}

onEntity(PIPELINE_PREFIX, (entity, record) => {
  const name = entity.slice(PIPELINE_PREFIX.length);
  const before = state.pipelines.get(name);
  if (before) for (const id of before.runs.keys()) state.runs.delete(id);
  if (!record) {
    state.pipelines.delete(name);
    offCardRunning.delete(name);
  } else {
    const p = pipelineView(record.doc);
    const off = offCardRunning.get(name) || new Set();
    for (const id of p.runs.keys()) off.delete(id);
    for (const [id, r] of before?.runs || [])
      if (r.status === "RUNNING" && !p.runs.has(id)) off.add(id); // left the card running
    if (off.size) {
      offCardRunning.set(name, off);
      recountSoon(name);
    } else offCardRunning.delete(name);
    p.active = activeOf(p);
    state.pipelines.set(name, p);
    for (const [id, r] of p.runs) state.runs.set(id, r);
  }
  emit("pipelines");
  emit("run");
});

/** Ids of RUNNING runs (of `pipeline`, or all), page by page up to MAX_RUNNING. */
async function runningRuns(pipeline = null) {
  const out = [];
  let after = null;
  while (out.length < MAX_RUNNING) {
    const { runs } = await query(
      `query($p: String, $after: String) { runs(pipeline: $p, status: RUNNING, first: 200, after: $after) {
        edges { node { id pipeline { name } } } pageInfo { hasNextPage endCursor } } }`,
      { p: pipeline, after },
    );
    out.push(...runs.edges.map((e) => e.node));
    if (!runs.pageInfo.hasNextPage || !runs.edges.length) break;
    after = runs.pageInfo.endCursor;
  }
  return out;
}

function setOffCard(name, ids) {
  const p = state.pipelines.get(name);
  const off = new Set(ids.filter((id) => !p?.runs.has(id)));
  if (off.size) offCardRunning.set(name, off);
  else offCardRunning.delete(name);
  if (p) p.active = activeOf(p);
}

const recountTimers = new Map();
function recountSoon(name) {
  if (recountTimers.has(name)) return;
  recountTimers.set(
    name,
    setTimeout(async () => {
      try {
        setOffCard(
          name,
          (await runningRuns(name)).map((r) => r.id),
        );
        emit("pipelines");
      } catch (e) {
        console.warn(e);
      }
      recountTimers.delete(name);
    }, 1000),
  );
}

export function pipelineRuns(p) {
  return [...p.runs.values()].sort((a, b) => runTime(b) - runTime(a));
}
export const runTime = (r) => ts(r.startedAt) || ts(r.scheduledFor) || 0;

// ---- loading and the live grid ---------------------------------------------------------

/** Every pipeline name, a page at a time (the grid's first snapshot read). */
async function pipelineNames() {
  const names = [];
  let after = null;
  for (let page = 0; page < 50; page++) {
    const data = await query(
      `query($after: String) { pipelines(first: 200, after: $after) {
        edges { node { name } } pageInfo { hasNextPage endCursor } } }`,
      { after },
    );
    names.push(...data.pipelines.edges.map((e) => e.node.name));
    if (!data.pipelines.pageInfo.hasNextPage) break;
    after = data.pipelines.pageInfo.endCursor;
  }
  return names;
}

export async function loadPipelines() {
  const names = await pipelineNames();
  await loadSnapshots(names.map((n) => PIPELINE_PREFIX + n));
  const byPipeline = new Map();
  for (const r of await runningRuns()) {
    const list = byPipeline.get(r.pipeline.name) || [];
    list.push(r.id);
    byPipeline.set(r.pipeline.name, list);
  }
  for (const [name, ids] of byPipeline) setOffCard(name, ids);
  emit("pipelines");
}

let started = false;
/**
 * The grid's live topic: `pipelineChanged` for every pipeline (names null, so new ones
 * arrive too), resumed with the versions the page holds after any restart.
 */
export function startLive() {
  if (started) return;
  started = true;
  // After a reconnect the delta topics resume by themselves; the totals are re-read.
  onReconnect(() => wantServerTotals(0));
  subscribeDeltas(
    `subscription($known: [KnownVersion!]) {
      pipelineChanged(names: null, known: $known) { ${DELTA_FIELDS} } }`,
    "pipelineChanged",
    () => ({ known: entities.known(PIPELINE_PREFIX) }),
    {
      onDelta: (delta, outcome) => {
        // A card's version counts the events of its pipeline (bench/ui.py reads this).
        if (outcome === "applied" && delta.baseVersion != null)
          state.eventsSeen += delta.version - delta.baseVersion;
        wantServerTotals(delta.seq);
      },
    },
  );
}

let refreshes = 0;
/**
 * F5: re-read what the page shows without reloading it — the header's totals, the grid
 * (pipeline names, cards, running runs) and every other entity held (the open run, the
 * breaches) — then the views redraw ("resync"). Read as loads (reason INITIAL): a refresh
 * the user asked for is not drift.
 */
export async function refreshView() {
  const others = entities.entities().filter((e) => !e.startsWith(PIPELINE_PREFIX));
  await Promise.all([loadOverview(), loadPipelines(), loadSnapshots(others)]);
  refreshes += 1;
  document.body.dataset.refreshes = String(refreshes);
  emit("counters");
  emit("resync");
}

export function isTerminal(status) {
  return TERMINAL.has(status);
}
export { emit };
