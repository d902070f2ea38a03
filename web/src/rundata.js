// The run being inspected: its document (step runs, LLM calls, artifacts) kept by the
// `runChanged(run)` delta subscription in the entity store (live.js), and its event log
// (params, prompt messages/variables, streamed chunks, logs) read and then followed with
// the run-scoped `events(run:, afterSeq:)` subscription. Nothing here listens to the
// global stream: a viewer of one run receives that run only.
import { query, resilientSubscribe } from "./gql.js";
import { emit, state, runView } from "./store.js";
import { entities, onEntity, loadSnapshots, subscribeDeltas, DELTA_FIELDS } from "./live.js";

const EVENT_FIELDS = "seq id type time pipeline run step attempt data";

export const current = {
  id: null,
  run: null,
  missing: false,
  events: [],
  calls: new Map(), // call id (run/call) -> {id, call, step, sent, chunks: [], received, order}
  stepStarts: new Map(), // step key -> [step.started data per attempt]
  artifacts: new Map(), // `${step}|${uri}` -> latest artifact event data
  outputs: new Map(), // step key -> step.completed outputs
  params: null, // run.started params (a started command's parameters among them)
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
    params: null,
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
    case "run.started":
      current.params = d.params ?? null;
      break;
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

/** The run document in the shape the run views use (RUN_FULL of the old queries). */
export function fullRun(doc) {
  const card = state.pipelines.get(doc.pipeline);
  // The step definitions (name, kind, owner) come from the pipeline card.
  const stepMeta = new Map((card?.steps || []).map((s) => [s.key, s]));
  const run = runView(doc, stepMeta);
  run.pipeline = { name: doc.pipeline, steps: (card?.steps || []).map((s) => ({ key: s.key })) };
  const bySrId = new Map(Object.values(doc.steps || {}).map((sr) => [sr.id, sr]));
  for (const sr of run.steps) {
    const d = bySrId.get(sr.id) || {};
    sr.llmCalls = Object.values(d.calls || {});
    sr.reads = Object.values(d.reads || {});
    sr.writes = Object.values(d.writes || {});
  }
  return run;
}

const runEntity = (id) => `run:${id}`;

onEntity("run:", (entity, record) => {
  if (!current.id || entity !== runEntity(current.id)) return;
  current.run = record ? fullRun(record.doc) : null;
  current.missing = !record;
  emit("runFull", current.run);
});

export async function openRun(id) {
  if (current.id === id) return;
  closeRun();
  reset(id);
  const token = ++loadToken;
  const entity = runEntity(id);
  let lastSeq = null; // the event log's resume point (null until its first read is done)
  const early = [];
  // Its event log: live events of this run only, buffered until the history is read.
  const logDispose = resilientSubscribe(
    `subscription($run: ID, $after: Int) { events(run: $run, afterSeq: $after) { ${EVENT_FIELDS} } }`,
    () => ({ run: id, after: lastSeq ?? state.totalsSeq }),
    (data) => {
      const ev = data.events;
      if (token !== loadToken) return;
      if (lastSeq === null) {
        early.push(ev);
        return;
      }
      if (ev.seq <= lastSeq) return; // replay overlap after a resume: already absorbed
      lastSeq = ev.seq;
      absorb(ev);
      emit("runEvent", ev);
    },
  );
  let runDispose = null;
  unsubscribe = () => {
    if (runDispose) runDispose();
    logDispose();
    entities.drop(entity);
  };
  try {
    // The run's document: its snapshot, then its deltas from the version read (the
    // server sends whatever changed in between, and a run that does not exist yet
    // arrives whole when it does).
    await loadSnapshots([entity]);
    if (token !== loadToken) return;
    runDispose = subscribeDeltas(
      `subscription($run: ID!, $after: Int) { runChanged(run: $run, afterVersion: $after) { ${DELTA_FIELDS} } }`,
      "runChanged",
      () => ({ run: id, after: entities.get(entity) ? entities.version(entity) : null }),
    );
    // Every event of the run, a page at a time. The server caps `first` (at
    // TRACEGRAPH_MAX_PAGE_SIZE) without saying so, so a short page does not mean the
    // end: only an empty one does.
    let after = 0;
    const events = [];
    for (;;) {
      const data = await query(
        `query($run: ID, $after: Int) { events(run: $run, afterSeq: $after, first: ${PAGE}) { ${EVENT_FIELDS} } }`,
        { run: id, after },
      );
      if (token !== loadToken) return;
      if (!data.events.length) break;
      events.push(...data.events);
      after = data.events[data.events.length - 1].seq;
    }
    for (const ev of events) absorb(ev);
    let last = events.length ? events[events.length - 1].seq : 0;
    for (const ev of early.sort((a, b) => a.seq - b.seq))
      if (ev.seq > last) {
        absorb(ev);
        last = ev.seq;
      }
    lastSeq = last;
    const record = entities.get(entity);
    current.run = record ? fullRun(record.doc) : null;
    current.missing = !record;
    emit("runFull", current.run);
  } catch (e) {
    console.warn("run load failed", e);
    current.missing = !current.run;
    emit("runFull", current.run);
  }
  return lastSeq;
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
