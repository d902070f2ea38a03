// The run being inspected: its full state (step runs, LLM calls, artifacts) and its event
// log (params, prompt messages/variables, streamed chunks, logs), kept live.
import { query, resilientSubscribe } from "./gql.js";
import { on, emit } from "./store.js";

export const RUN_FULL = `id status scheduledFor startedAt endedAt durationMs inputTokens outputTokens
  costUsd costEstimated error trigger pipeline { name steps { key } }
  steps { id attempt status startedAt endedAt durationMs percent tokensUsed tokenBudget provider model error
    step { key name kind owner { name } sla { maxDurationMs maxTokens maxCostUsd } }
    llmCalls { id provider model promptTemplate promptVersion prompt response inputTokens outputTokens latencyMs costUsd }
    reads { id uri version kind hash } writes { id uri version kind hash } }`;

export const current = {
  id: null,
  run: null,
  missing: false,
  events: [],
  calls: new Map(), // call id (run/call) -> {id, call, step, sent, chunks: [], received, order}
  stepStarts: new Map(), // step key -> [step.started data per attempt]
  artifacts: new Map(), // `${step}|${uri}` -> latest artifact event data
  outputs: new Map(), // step key -> step.completed outputs
};
let unsubscribe = null;
let loadToken = 0;
const PAGE = 200; // events asked for per query (the server's default cap)

function reset(id) {
  Object.assign(current, {
    id,
    run: null,
    missing: false,
    events: [],
    calls: new Map(),
    stepStarts: new Map(),
    artifacts: new Map(),
    outputs: new Map(),
  });
}

function callOf(ev) {
  const c = ev.data?.call;
  if (!c) return null;
  const id = `${ev.run}/${c}`;
  let call = current.calls.get(id);
  if (!call) {
    call = {
      id,
      call: c,
      step: ev.step,
      sent: null,
      chunks: [],
      received: null,
      order: current.calls.size,
      lastChunkAt: 0,
    };
    current.calls.set(id, call);
  }
  return call;
}

function absorb(ev) {
  current.events.push(ev);
  const d = ev.data || {};
  switch (ev.type) {
    case "step.started": {
      const list = current.stepStarts.get(ev.step) || [];
      list.push(d);
      current.stepStarts.set(ev.step, list);
      break;
    }
    case "step.completed":
      current.outputs.set(ev.step, d.outputs);
      break;
    case "artifact.read":
    case "artifact.written":
      current.artifacts.set(`${ev.step}|${ev.type}|${d.uri}`, d);
      break;
    case "prompt.sent":
      callOf(ev).sent = d;
      break;
    case "response.chunk": {
      const call = callOf(ev);
      if (!call.chunks.some((c) => c.index === d.index)) {
        call.chunks.push({
          index: d.index,
          delta: d.delta ?? "",
          seq: ev.seq,
          hidden: "hidden" in d,
        });
        call.chunks.sort((a, b) => a.index - b.index);
      }
      call.lastChunkAt = performance.now();
      break;
    }
    case "response.received":
      callOf(ev).received = d;
      break;
    default:
      break;
  }
}

export async function openRun(id) {
  if (current.id === id) return;
  closeRun();
  reset(id);
  const token = ++loadToken;
  let firstSeq = Infinity;
  const early = [];
  // Events arriving while the initial queries run are buffered, then merged by seq.
  const offEvents = on("event", (ev) => {
    if (ev.run !== id) return;
    if (token !== loadToken) return;
    if (current.run === null && !current.missing) {
      early.push(ev);
      return;
    }
    if (current.events.length && ev.seq <= current.events[current.events.length - 1].seq) return;
    absorb(ev);
    emit("runEvent", ev);
  });
  const subDispose = resilientSubscribe(
    `subscription($run: ID) { runUpdated(run: $run) { ${RUN_FULL} } }`,
    () => ({ run: id }),
    (data) => {
      if (token === loadToken) {
        current.run = data.runUpdated;
        emit("runFull", current.run);
      }
    },
  );
  unsubscribe = () => {
    offEvents();
    subDispose();
  };
  try {
    const { run } = await query(`query($id: ID!) { run(id: $id) { ${RUN_FULL} } }`, { id });
    if (token !== loadToken) return;
    // Every event of the run, a page at a time. The server caps `first` (at
    // TRACEGRAPH_MAX_PAGE_SIZE) without saying so, so a short page does not mean the
    // end: only an empty one does.
    let after = 0;
    const events = [];
    for (;;) {
      const data = await query(
        `query($run: ID, $after: Int) { events(run: $run, afterSeq: $after, first: ${PAGE}) { seq id type time pipeline run step attempt data } }`,
        { run: id, after },
      );
      if (token !== loadToken) return;
      if (!data.events.length) break;
      events.push(...data.events);
      after = data.events[data.events.length - 1].seq;
    }
    if (token !== loadToken) return;
    for (const ev of events) absorb(ev);
    const last = events.length ? events[events.length - 1].seq : 0;
    for (const ev of early) if (ev.seq > last) absorb(ev);
    firstSeq = last;
    current.run = run;
    current.missing = !run;
    emit("runFull", run);
  } catch (e) {
    console.warn("run load failed", e);
    current.missing = true;
    emit("runFull", null);
  }
  return firstSeq;
}

export function closeRun() {
  loadToken += 1;
  if (unsubscribe) unsubscribe();
  unsubscribe = null;
  reset(null);
}

export function callsInOrder() {
  return [...current.calls.values()].sort((a, b) => a.order - b.order);
}

/** The calls of the run with what the graph knows (LLMCall) merged with the event view. */
export function mergedCalls() {
  const graphCalls = new Map();
  for (const s of current.run?.steps || [])
    for (const c of s.llmCalls || [])
      graphCalls.set(c.id, { ...c, stepKey: s.step.key, attempt: s.attempt, stepRunId: s.id });
  const out = [];
  const seen = new Set();
  for (const ev of callsInOrder()) {
    out.push({ ...(graphCalls.get(ev.id) || { id: ev.id, stepKey: ev.step }), live: ev });
    seen.add(ev.id);
  }
  for (const [id, c] of graphCalls) if (!seen.has(id)) out.push({ ...c, live: null });
  return out;
}
