// The run page's time slider (issue 19 item 7): scrub back through the run's events
// (runTimeline: one stop per seq, labelled with the time it was received) and see the
// run as it stood then — run(id, asOfSeq), folded from the event log on the server,
// read-only and marked "as of <time> · seq N"; "Live" returns to the live run.
// run.js asks `shown(id, live)` for the run to draw and puts `bar(id, live)` under its head.
import { query } from "../gql.js";
import { state } from "../store.js";
import { errorText } from "../auth.js";
import { h, debounce } from "../util.js";

const Q_STOPS = `query($id: ID!) { runTimeline(id: $id) { seq receivedAt type } }`;
const CALL =
  "id provider model promptTemplate promptVersion inputTokens outputTokens latencyMs costUsd";
const ART = "id uri version hash kind";
const Q_AS_OF = `query($id: ID!, $seq: Int) { run(id: $id, asOfSeq: $seq) {
  id version status scheduledFor startedAt endedAt durationMs inputTokens outputTokens costUsd
  costEstimated error trigger asOfSeq pipeline { name }
  steps { id version attempt status startedAt endedAt durationMs percent tokensUsed
          tokenBudget provider model error step { key name kind }
          llmCalls { ${CALL} } reads { ${ART} } writes { ${ART} } } } }`;

const s = {
  runId: null,
  stops: [],
  stopsFor: -1, // the live run version the stops were read at
  index: null, // the stop shown; null: live
  run: null, // the folded run at stops[index]
  error: null,
  ticket: 0,
};
let redraw = () => {};

/** `onChange`: re-render the run panel (the slider moved, an answer arrived). */
export function setup(onChange) {
  redraw = onChange;
}

function reset(runId) {
  Object.assign(s, { runId, stops: [], stopsFor: -1, index: null, run: null, error: null });
  s.ticket += 1;
}

/** Scrubbing back in time (the panel is read-only then)? */
export const active = () => s.index !== null;

/** The run to draw: the folded one while scrubbing, else the live one. */
export function shown(runId, live) {
  if (s.runId !== runId) reset(runId);
  return s.index !== null && s.run ? s.run : live;
}

/** "Now" for a run drawn as of a stop: the time that stop was received. */
export const now = () => (s.index !== null ? Date.parse(s.stops[s.index].receivedAt) : null);

async function loadStops(liveVersion) {
  const ticket = s.ticket;
  s.stopsFor = liveVersion;
  try {
    const data = await query(Q_STOPS, { id: s.runId });
    if (ticket !== s.ticket) return;
    s.stops = data.runTimeline;
    s.error = null;
  } catch (e) {
    s.error = errorText(e);
  }
  redraw();
}

const fetchAsOf = debounce(async (index) => {
  const ticket = s.ticket;
  const stop = s.stops[index];
  try {
    const data = await query(Q_AS_OF, { id: s.runId, seq: stop.seq });
    if (ticket !== s.ticket || s.index !== index) return;
    s.run = shape(data.run);
    s.error = null;
  } catch (e) {
    s.error = errorText(e);
  }
  redraw();
}, 120);

// The answer in the shape the run view draws (step metadata from the pipeline card).
function shape(run) {
  if (!run) return null;
  const card = state.pipelines.get(run.pipeline.name);
  const meta = new Map((card?.steps || []).map((st) => [st.key, st]));
  return {
    ...run,
    pipeline: {
      name: run.pipeline.name,
      steps: (card?.steps || []).map((st) => ({ key: st.key })),
    },
    steps: run.steps.map((sr) => ({
      ...sr,
      step: { ...sr.step, ...(meta.get(sr.step.key) || {}) },
    })),
  };
}

function moveTo(index) {
  if (index >= s.stops.length - 1) return goLive();
  s.index = index;
  fetchAsOf(index);
  redraw();
}

function goLive() {
  s.index = null;
  s.run = null;
  s.ticket += 1;
  redraw();
}

function preview(input, index) {
  const stop = s.stops[index];
  const label = input.parentElement?.querySelector("#timeslider-label");
  const text =
    index >= s.stops.length - 1 ? "Live" : `As of ${clock(stop.receivedAt)} · seq ${stop.seq}`;
  if (label) label.textContent = text;
  input.setAttribute("aria-valuetext", `${clock(stop.receivedAt)}, seq ${stop.seq}`);
}

const clock = (iso) => new Date(iso).toISOString().slice(11, 19);

/** The slider under the run's head (null until the run is known). */
export function bar(runId, live) {
  if (!live) return null;
  if (s.runId !== runId) reset(runId);
  // The live run's version counts its events: new ones add stops (read when not scrubbing).
  if (s.index === null && s.stopsFor !== live.version) loadStops(live.version);
  if (s.stops.length < 2) return null;
  const last = s.stops.length - 1;
  const at = s.index === null ? last : s.index;
  const stop = s.stops[at];
  const input = h("input#timeslider-range", {
    type: "range",
    min: "0",
    max: String(last),
    step: "1",
    value: String(at),
    "aria-label": "Run as of",
    dataset: { focusKey: "timeslider" },
    "aria-valuetext": `${clock(stop.receivedAt)}, seq ${stop.seq}`,
    // While dragging only the label follows (a redraw would drop the pointer's grip);
    // the run is read when the thumb is let go (keys and clicks fire both at once).
    oninput: (e) => preview(e.target, Number(e.target.value)),
    onchange: (e) => moveTo(Number(e.target.value)),
  });
  const label =
    s.index === null
      ? h("span.asof-label#timeslider-label", "Live")
      : h(
          "span.asof-label#timeslider-label",
          { role: "status" },
          `As of ${clock(stop.receivedAt)} · seq ${stop.seq}`,
          s.run ? "" : " (loading…)",
        );
  return h(
    `div.timeslider${s.index === null ? "" : ".as-of"}#timeslider`,
    { dataset: { seq: String(stop.seq), live: s.index === null ? "1" : "0" } },
    h("span.muted.small", clock(s.stops[0].receivedAt)),
    input,
    label,
    s.index === null
      ? null
      : h("button#timeslider-live", { type: "button", onclick: goLive }, "Live"),
    s.index !== null ? h("span.muted.small", "read-only") : null,
    s.error ? h("span.st-failed.small", s.error) : null,
  );
}
