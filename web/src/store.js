// Client-side state: seeded by GraphQL queries, then kept current by two subscriptions
// (every event; every run state change). Views subscribe to topics and re-render in rAF.
import { query, resilientSubscribe, onReconnect } from "./gql.js";
import { ts } from "./util.js";

export const RUN_LIGHT = `id status scheduledFor startedAt endedAt durationMs inputTokens outputTokens
  costUsd costEstimated error trigger pipeline { name }
  steps { id attempt status startedAt endedAt durationMs percent tokensUsed tokenBudget provider model error step { key } }`;

const PIPELINE_FIELDS = `name version owner { id name kind }
  sla { maxDurationMs maxTokens maxCostUsd minSuccessRate window maxStartDelayMs }
  steps { id key name kind owner { id name } dependsOn { key } }
  runs(first: 10) { ${RUN_LIGHT} }`;

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
  overviewSeq: 0, // events at or below this seq are already in the overview's totals
  totalsSeq: 0, // events at or below this seq are already in tokens and cost
  lastSeq: 0, // last event seq applied: the resume point after a reconnect
  tokens: 0,
  cost: 0,
  activeRuns: 0,
  pipelines: new Map(), // name -> {name, version, owner, sla, steps, runs: Map}
  runs: new Map(), // id -> light run
  ready: false,
  eventsSeen: 0,
};

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED"]);
const MAX_RUNS = 3000;

export async function loadOverview() {
  const { overview } = await query(
    `{ overview { activeRuns tokensToday costTodayUsd healthy lastSeq } }`,
  );
  state.overview = overview;
  state.overviewSeq = overview.lastSeq;
  setTotals(overview);
  state.activeRuns = overview.activeRuns;
  if (!state.lastSeq) state.lastSeq = overview.lastSeq;
  emit("overview", overview);
  return overview;
}

// Today's tokens and cost in the header. The server prices a call that reports no cost
// from its price table, and takes input tokens the response omits from the prompt; an
// event alone cannot say what it added, so such events make the page re-read the
// server's totals (coalesced, at most one read a second) instead of guessing.
const added = new Map(); // seq -> [tokens, cost] counted from events above totalsSeq
let totalsWanted = 0; // highest seq of an event whose share only the server knows
let totalsTimer = null;
const respondedCalls = new Set(); // run/call ids whose response.received was counted

function setTotals({ tokensToday, costTodayUsd, lastSeq }) {
  if (lastSeq < state.totalsSeq) return; // an older answer than the totals shown
  // Events already applied above the answer's seq are not in its totals: add them again.
  let tokens = tokensToday;
  let cost = costTodayUsd;
  for (const [seq, [t, c]] of added) {
    if (seq <= lastSeq) added.delete(seq);
    else {
      tokens += t;
      cost += c;
    }
  }
  state.totalsSeq = lastSeq;
  state.tokens = tokens;
  state.cost = cost;
}

function wantServerTotals(seq) {
  totalsWanted = Math.max(totalsWanted, seq);
  if (!totalsTimer) totalsTimer = setTimeout(readServerTotals, 250);
}

async function readServerTotals() {
  try {
    const { overview } = await query(`{ overview { tokensToday costTodayUsd lastSeq } }`);
    setTotals(overview);
    emit("counters");
  } catch (e) {
    console.warn(e);
  }
  // Events that came in while the query ran are read with the next one.
  totalsTimer = totalsWanted > state.totalsSeq ? setTimeout(readServerTotals, 1000) : null;
}

function countTotals(ev, d) {
  if (ev.seq <= state.totalsSeq) return; // already in the totals read from the server
  const callId = `${ev.run}/${d.call}`;
  if (ev.type === "prompt.sent") {
    // A prompt behind its response can bring the call's input tokens (and its estimate).
    if (respondedCalls.has(callId)) wantServerTotals(ev.seq);
    return;
  }
  const t = (d.input_tokens || 0) + (d.output_tokens || 0);
  const c = typeof d.cost_usd === "number" ? d.cost_usd : 0;
  state.tokens += t;
  state.cost += c;
  added.set(ev.seq, [t, c]);
  // Only events newer than a pending answer matter; the oldest go first.
  if (added.size > 2000) added.delete(added.keys().next().value);
  if (respondedCalls.size > 10000) respondedCalls.clear();
  respondedCalls.add(callId);
  if (typeof d.cost_usd !== "number" || typeof d.input_tokens !== "number")
    wantServerTotals(ev.seq);
  emit("counters");
}

export async function loadPipelines() {
  let after = null;
  for (let page = 0; page < 10; page++) {
    const data = await query(
      `query($after: String) { pipelines(first: 100, after: $after) {
        edges { node { ${PIPELINE_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
      { after },
    );
    for (const { node } of data.pipelines.edges) putPipeline(node);
    if (!data.pipelines.pageInfo.hasNextPage) break;
    after = data.pipelines.pageInfo.endCursor;
  }
  // Active runs beyond each pipeline's latest ten still belong on the grid: all of them,
  // page by page on hasNextPage (the server caps a page; MAX_RUNS bounds the tab's memory).
  let cursor = null;
  for (let loaded = 0; loaded < MAX_RUNS;) {
    const { runs } = await query(
      `query($after: String) { runs(status: RUNNING, first: 200, after: $after) {
        edges { node { ${RUN_LIGHT} } } pageInfo { hasNextPage endCursor } } }`,
      { after: cursor },
    );
    for (const { node } of runs.edges) putRun(node, false);
    loaded += runs.edges.length;
    if (!runs.pageInfo.hasNextPage || !runs.edges.length) break;
    cursor = runs.pageInfo.endCursor;
  }
  emit("pipelines");
}

function putPipeline(node) {
  const prev = state.pipelines.get(node.name);
  const p = { ...node, runs: prev ? prev.runs : new Map() };
  delete p.runs_;
  state.pipelines.set(node.name, p);
  for (const r of node.runs || []) putRun(r, false);
  return p;
}

export function pipelineRuns(p) {
  return [...p.runs.values()].sort((a, b) => runTime(b) - runTime(a));
}
export const runTime = (r) => ts(r.startedAt) || ts(r.scheduledFor) || 0;

const RANK = { SCHEDULED: 0, RUNNING: 1, SUCCEEDED: 2, FAILED: 2, CANCELLED: 2, SKIPPED: 2 };
const rank = (status) => RANK[status] ?? -1;

function mergeSteps(known = [], incoming) {
  if (!incoming) return known;
  const byId = new Map(known.map((sr) => [sr.id, sr]));
  for (const sr of incoming) {
    const prev = byId.get(sr.id);
    if (!prev) {
      byId.set(sr.id, sr);
      continue;
    }
    const m = { ...prev, ...sr };
    if (rank(prev.status) > rank(sr.status)) m.status = prev.status;
    if ((prev.percent ?? 0) > (sr.percent ?? 0)) m.percent = prev.percent;
    byId.set(sr.id, m);
  }
  return [...byId.values()];
}

function putRun(run, notify = true) {
  const prev = state.runs.get(run.id);
  if (prev && prev.status === "RUNNING" && run.status !== "RUNNING")
    state.activeRuns = Math.max(0, state.activeRuns - 1);
  const merged = { ...(prev || {}), ...run };
  if (prev) {
    // A query answer can be older than events already applied from the live stream:
    // statuses only move forward and progress only grows, whichever arrives last.
    if (rank(prev.status) > rank(run.status)) merged.status = prev.status;
    merged.steps = mergeSteps(prev.steps, run.steps);
  }
  state.runs.set(run.id, merged);
  const name = run.pipeline?.name;
  if (name) {
    let p = state.pipelines.get(name);
    if (!p) {
      p = { name, steps: [], runs: new Map(), placeholder: true };
      state.pipelines.set(name, p);
      refreshPipeline(name);
    }
    p.runs.set(run.id, merged);
    if (p.runs.size > 30) {
      // Keep the newest runs and every running one; old finished runs fall off the card.
      const keep = pipelineRuns(p).filter((r, i) => i < 20 || r.status === "RUNNING");
      p.runs = new Map(keep.map((r) => [r.id, r]));
    }
  }
  if (state.runs.size > MAX_RUNS) {
    for (const [id, r] of state.runs) {
      if (state.runs.size <= MAX_RUNS * 0.8) break;
      if (r.status !== "RUNNING") state.runs.delete(id);
    }
  }
  if (notify) emit("run", merged);
  return merged;
}

const pendingPipelines = new Set();
let pipelineTimer = null;
export function refreshPipeline(name) {
  // Definitions change rarely; batch the refetches of a burst into one query.
  pendingPipelines.add(name);
  if (pipelineTimer) return;
  pipelineTimer = setTimeout(async () => {
    pipelineTimer = null;
    const names = [...pendingPipelines];
    pendingPipelines.clear();
    for (const n of names) {
      try {
        const { pipeline } = await query(
          `query($n: String!) { pipeline(name: $n) { ${PIPELINE_FIELDS} } }`,
          { n },
        );
        if (pipeline) putPipeline(pipeline);
      } catch (e) {
        console.warn(e);
      }
    }
    emit("pipelines");
  }, 300);
}

const RUN_END = {
  "run.completed": "SUCCEEDED",
  "run.failed": "FAILED",
  "run.cancelled": "CANCELLED",
};
const STEP_STATUS = {
  "step.started": "RUNNING",
  "step.progress": "RUNNING",
  "step.completed": "SUCCEEDED",
  "step.failed": "FAILED",
  "step.skipped": "SKIPPED",
};

function applyRunEvent(ev, d) {
  const known = state.runs.get(ev.run);
  const run = known
    ? { ...known, steps: [...(known.steps || [])] }
    : {
        id: ev.run,
        pipeline: { name: ev.pipeline },
        status: "RUNNING",
        steps: [],
        inputTokens: 0,
        outputTokens: 0,
        costUsd: 0,
      };
  if (!known && !RUN_END[ev.type]) state.activeRuns += 1;
  if (RUN_END[ev.type]) {
    if (isTerminal(run.status) && ts(run.endedAt) > ts(ev.time)) return; // a later end won
    run.status = RUN_END[ev.type];
    run.endedAt = ev.time;
    if (run.startedAt) run.durationMs = ts(ev.time) - ts(run.startedAt);
    run.error = ev.type === "run.failed" ? (d.error && d.error.message) || null : null;
  } else if (STEP_STATUS[ev.type]) {
    const id = `${ev.run}/${ev.step}#${ev.attempt || 1}`;
    const i = run.steps.findIndex((sr) => sr.id === id);
    const sr =
      i >= 0
        ? { ...run.steps[i] }
        : { id, attempt: ev.attempt || 1, step: { key: ev.step }, status: "RUNNING" };
    if (ev.type === "step.progress") {
      if (!isTerminal(sr.status)) sr.status = "RUNNING";
      if (typeof d.percent === "number") sr.percent = Math.max(sr.percent ?? 0, d.percent);
      if (typeof d.tokens_used === "number") sr.tokensUsed = d.tokens_used;
    } else if (ev.type === "step.started") {
      sr.startedAt = sr.startedAt || ev.time;
      if (!isTerminal(sr.status)) sr.status = "RUNNING";
      if (d.provider) sr.provider = d.provider;
      if (d.model) sr.model = d.model;
      if (d.token_budget != null) sr.tokenBudget = d.token_budget;
    } else {
      sr.status = STEP_STATUS[ev.type];
      sr.endedAt = ev.time;
      if (sr.status === "SUCCEEDED") sr.percent = 100;
    }
    if (i >= 0) run.steps[i] = sr;
    else run.steps.push(sr);
  } else {
    if (ev.seq <= state.overviewSeq) return; // already in the totals the page loaded
    run.inputTokens = (run.inputTokens || 0) + (d.input_tokens || 0);
    run.outputTokens = (run.outputTokens || 0) + (d.output_tokens || 0);
    if (typeof d.cost_usd === "number") run.costUsd = (run.costUsd || 0) + d.cost_usd;
  }
  putRun(run);
  emit("counters");
}

function applyEvent(ev) {
  if (ev.seq <= state.lastSeq) return; // replay overlap after a resume: already applied
  state.lastSeq = ev.seq;
  state.eventsSeen += 1;
  const d = ev.data || {};
  const counted = ev.seq > state.overviewSeq;
  if (ev.type === "response.received" || ev.type === "prompt.sent") countTotals(ev, d);
  if (counted && ev.type === "run.started") {
    const r = state.runs.get(ev.run);
    // Status only moves forward: the runUpdated push (another subscription) may already
    // have brought a later state of this run than this event.
    if (!r || r.status === "SCHEDULED") {
      state.activeRuns += 1;
      // Shown at once; the runUpdated push that follows fills in the rest.
      putRun({
        ...(r || {
          id: ev.run,
          pipeline: { name: ev.pipeline },
          steps: [],
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
        }),
        status: "RUNNING",
        startedAt: r?.startedAt || ev.time,
      });
    }
    emit("counters");
  }
  if (ev.type === "run.scheduled" && ev.run) {
    // A run announced ahead of its start belongs on the grid and in the runs list now,
    // as it would be after a reload (the server orders it by its scheduled time).
    const r = state.runs.get(ev.run);
    if (!r || !r.scheduledFor)
      putRun({
        ...(r || {
          id: ev.run,
          pipeline: { name: ev.pipeline },
          status: "SCHEDULED",
          steps: [],
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
        }),
        scheduledFor: d.scheduled_for ?? null,
      });
  }
  if (ev.run && (RUN_END[ev.type] || STEP_STATUS[ev.type] || ev.type === "response.received")) {
    // Run state follows the event stream itself: one subscription, no per-run re-reads
    // on the server. (The run detail view still takes authoritative runUpdated pushes.)
    applyRunEvent(ev, d);
  }
  if (ev.type === "pipeline.defined" && ev.pipeline) {
    if (!state.pipelines.has(ev.pipeline)) {
      const steps = (d.steps || []).map((st) => ({
        key: st.key,
        name: st.name,
        kind: st.kind,
        dependsOn: (st.depends_on || []).map((k) => ({ key: k })),
      }));
      state.pipelines.set(ev.pipeline, {
        name: ev.pipeline,
        version: d.version,
        steps,
        runs: new Map(),
        placeholder: true,
      });
      emit("pipelines");
    }
    refreshPipeline(ev.pipeline);
  }
  emit("event", ev);
}

let started = false;
export function startLive() {
  if (started) return;
  started = true;
  resilientSubscribe(
    `subscription($afterSeq: Int) { events(afterSeq: $afterSeq) { seq id type time pipeline run step attempt data } }`,
    () => ({ afterSeq: state.lastSeq }),
    (data) => applyEvent(data.events),
  );
  onReconnect(async () => {
    // Totals re-sync from the server; the events subscription resumes by itself.
    try {
      await loadOverview();
      await loadPipelines();
      emit("counters");
      emit("resync");
    } catch (e) {
      console.warn(e);
    }
  });
}

export function isTerminal(status) {
  return TERMINAL.has(status);
}
export { emit };
