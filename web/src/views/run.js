// The run panel: recent runs (home), and on /runs/<id> the run detail: summary, Gantt
// timeline of step runs (every attempt), and the selected step's detail (provider/model,
// token budget vs actual, live timer, parameters, input/output preview, LLM calls).
import { state, on, pipelineRuns, runTime } from "../store.js";
import { current, openRun, closeRun, mergedCalls } from "../rundata.js";
import {
  h,
  $,
  replace,
  statusBadge,
  fmtCompact,
  fmtInt,
  fmtUsd,
  fmtDuration,
  fmtTime,
  frameScheduler,
  ts,
  preserveFocus,
  copyText,
  announce,
} from "../util.js";
import { navigate, pipelineHref, runHref, lineageHref, impactHref } from "../router.js";
import { runProgress } from "../progress.js";
import { actionButton, commandState, keep, runControls, setupSpace } from "./controls.js";
import {
  ACTIONS,
  LABEL,
  OPERATE_REASON,
  canOperate,
  disabledReason,
  issueBatch,
  latest,
  retryStep,
  stateText,
} from "../commands.js";
import { contextMenu } from "../menu.js";
import { showRaw } from "./dialogs.js";
import { messagesOf, responseOf } from "./prompt.js";
import { principal, roleName } from "../auth.js";
import * as timeslider from "./timeslider.js";
import { approvalsSection } from "./approvals.js";

let panel;
let cur = { name: "home", params: {}, query: new URLSearchParams() };
let soon;
// Multi-select in the runs table: the chosen run ids, the anchor of a Shift-click range,
// and the last batch sent (its runs' outcomes stay listed until dismissed).
const chosen = new Set();
let anchor = null;
let lastBatch = null; // {kind, runs: [ids]}

export function mount() {
  panel = $("#panel-run");
  soon = frameScheduler(render, 250);
  timeslider.setup(() => soon());
  on("run", () => {
    if (cur.name !== "run") soon();
  });
  on("runFull", soon);
  on("runEvent", (ev) => {
    if (
      ev.type.startsWith("step.") ||
      ev.type.startsWith("artifact.") ||
      ev.type === "prompt.sent" ||
      ev.type === "run.started"
    )
      soon();
  });
  on("resync", soon);
  // Run actions (issue 18): re-render on command changes; Space pauses/resumes this run.
  setupSpace(
    () => (cur.name === "run" ? current.run : null),
    () => soon(),
  );
  // The live timers (run and running steps) tick once a second, nothing else polls.
  setInterval(() => {
    if (cur.name === "run" && current.run?.status === "RUNNING") soon();
  }, 1000);
}

export function route(r) {
  cur = r;
  if (r.name === "run") openRun(r.params.id);
  else closeRun();
  render();
}

function render() {
  preserveFocus(panel, () => {
    if (cur.name === "run") renderRun();
    else if (cur.name === "pipeline")
      renderRuns(state.pipelines.get(cur.params.name), `Runs of ${cur.params.name}`);
    else renderRuns(null, "Recent runs");
  });
}

function renderRuns(pipeline, title) {
  let runs;
  if (pipeline) runs = pipelineRuns(pipeline);
  else {
    runs = [...state.runs.values()].filter((r) => r.pipeline?.name);
    runs.sort(
      (a, b) => (b.status === "RUNNING") - (a.status === "RUNNING") || runTime(b) - runTime(a),
    );
  }
  runs = runs.slice(0, 60);
  const order = runs.map((r) => r.id);
  replace(
    panel,
    h(
      "header.panel-head",
      h("h2#h-run", title),
      h("span.muted.small", `${runs.filter((r) => r.status === "RUNNING").length} running`),
    ),
    batchBar(),
    h(
      "div.panel-body",
      runs.length
        ? h(
            "table#runs-table",
            h("caption.visually-hidden", title),
            h(
              "thead",
              h(
                "tr",
                h("th.sel", h("span.visually-hidden", "Select")),
                h("th", "Run"),
                h("th", "Pipeline"),
                h("th", "Status"),
                h("th", "Progress"),
                h("th.num", "Tokens"),
                h("th.num", "Cost"),
              ),
            ),
            h(
              "tbody",
              runs.map((r) => {
                const p = state.pipelines.get(r.pipeline?.name);
                const prog = runProgress(r, p);
                return h(
                  "tr",
                  {
                    dataset: { run: r.id },
                    "aria-selected": String(chosen.has(r.id)),
                    class: chosen.has(r.id) ? "chosen" : null,
                    onmousedown: (e) => {
                      if (e.shiftKey) e.preventDefault(); // a range, not a text selection
                    },
                    onclick: (e) => rowClick(e, r.id, order),
                  },
                  h(
                    "td.sel",
                    h("input", {
                      type: "checkbox",
                      checked: chosen.has(r.id),
                      "aria-label": `Select run ${r.id}`,
                      dataset: { focusKey: `sel-${r.id}` },
                      onclick: (e) => {
                        e.stopPropagation();
                        if (e.shiftKey && anchor) selectRange(anchor, r.id, order);
                        else toggle(r.id, e.target.checked);
                      },
                    }),
                  ),
                  h("td", h("a", { href: runHref(r.id), "data-link": true }, r.id)),
                  h(
                    "td",
                    h(
                      "a",
                      { href: pipelineHref(r.pipeline.name), "data-link": true },
                      r.pipeline.name,
                    ),
                  ),
                  h("td", statusBadge(r.status)),
                  h(
                    "td",
                    { title: prog.current ? `current: ${prog.current}` : "" },
                    h(
                      "div.progress",
                      {
                        class: (r.status || "").toLowerCase(),
                        role: "progressbar",
                        "aria-label": `Run ${r.id} progress`,
                        "aria-valuenow": String(Math.round(prog.pct)),
                        "aria-valuemin": "0",
                        "aria-valuemax": "100",
                      },
                      h("span", { style: { width: `${prog.pct}%` } }),
                    ),
                    prog.current ? h("span.small.muted", prog.current) : null,
                  ),
                  h("td.num", fmtCompact((r.inputTokens || 0) + (r.outputTokens || 0))),
                  h("td.num", fmtUsd(r.costUsd)),
                );
              }),
            ),
          )
        : h("p.empty", state.ready ? "No runs yet." : "Loading…"),
    ),
  );
}

// ---- multi-select and the batch action bar ------------------------------------------------

function toggle(id, wanted = !chosen.has(id)) {
  if (wanted) chosen.add(id);
  else chosen.delete(id);
  anchor = id;
  soon();
}

function selectRange(from, to, order) {
  const a = order.indexOf(from);
  const b = order.indexOf(to);
  if (a < 0 || b < 0) return toggle(to, true);
  for (const id of order.slice(Math.min(a, b), Math.max(a, b) + 1)) chosen.add(id);
  soon();
}

function rowClick(e, id, order) {
  if (e.target.closest("a, button, input")) return;
  if (e.shiftKey && anchor) selectRange(anchor, id, order);
  else if (e.ctrlKey || e.metaKey) toggle(id);
}

/** Why `kind` cannot go to every chosen run, or null (the batch is all or nothing). */
function batchReason(kind, ids) {
  if (!canOperate()) return OPERATE_REASON;
  const bad = ids
    .map((id) => [id, disabledReason(kind, state.runs.get(id)?.status, id)])
    .filter(([, why]) => why);
  if (!bad.length) return null;
  const [id, why] = bad[0];
  return bad.length === 1 && ids.length === 1
    ? why
    : `${bad.length} of ${ids.length} selected runs do not apply (${id}: ${why})`;
}

function batchBar() {
  for (const id of chosen) if (!state.runs.has(id)) chosen.delete(id); // gone from the page
  const ids = [...chosen];
  if (!ids.length && !lastBatch) return null;
  const runs = [...new Set([...ids, ...(lastBatch?.runs || [])])];
  const sig = JSON.stringify([
    ids,
    lastBatch,
    canOperate(),
    runs.map((id) => [state.runs.get(id)?.status, latest.get(id) || null]),
  ]);
  return keep("batch-bar", sig, () => buildBatchBar(ids));
}

function buildBatchBar(ids) {
  return h(
    "div.batch-bar",
    { role: "toolbar", "aria-label": "Batch actions on the selected runs" },
    ids.length
      ? [
          h("span.batch-count", `${ids.length} selected — `),
          Object.keys(ACTIONS).map((kind) =>
            actionButton(LABEL[kind], {
              reason: batchReason(kind, ids),
              title: `${LABEL[kind]} the ${ids.length} selected runs (all or none)`,
              ariaLabel: `${LABEL[kind]} ${ids.length} selected runs`,
              dataset: { batch: kind, focusKey: `batch-${kind}` },
              onclick: () => {
                lastBatch = { kind, runs: ids };
                chosen.clear();
                issueBatch(kind, ids);
                soon();
              },
            }),
          ),
          h(
            "button.btn-link",
            {
              type: "button",
              dataset: { focusKey: "batch-clear" },
              onclick: () => {
                chosen.clear();
                soon();
              },
            },
            "Clear",
          ),
        ]
      : null,
    lastBatch
      ? h(
          "div.batch-outcomes",
          h(
            "ul",
            { "aria-label": `Outcome of ${lastBatch.kind} on ${lastBatch.runs.length} runs` },
            lastBatch.runs.map((id) =>
              h(
                "li",
                { dataset: { forRun: id, state: (latest.get(id)?.state || "").toLowerCase() } },
                h("a", { href: runHref(id), "data-link": true }, id),
                ": ",
                stateText(latest.get(id)) || "sending",
              ),
            ),
          ),
          h(
            "button.btn-link",
            {
              type: "button",
              dataset: { focusKey: "batch-dismiss" },
              onclick: () => {
                lastBatch = null;
                soon();
              },
            },
            "Dismiss",
          ),
        )
      : null,
  );
}

function selectedStepRun(run) {
  const want = cur.query.get("step");
  const steps = run.steps || [];
  if (want)
    return steps.find((s) => s.id === want) || steps.find((s) => s.step.key === want) || null;
  return (
    [...steps].reverse().find((s) => s.status === "RUNNING") || steps[steps.length - 1] || null
  );
}

function renderRun() {
  const id = cur.params.id;
  // While the time slider is scrubbed back: the run folded as of that seq, read-only.
  const run = timeslider.shown(id, current.run);
  const head = h(
    "header.panel-head",
    h(
      "nav.crumbs",
      { "aria-label": "Breadcrumb" },
      h("a", { href: "/", "data-link": true }, "Runs"),
      " / ",
      run
        ? [
            h("a", { href: pipelineHref(run.pipeline.name), "data-link": true }, run.pipeline.name),
            " / ",
          ]
        : null,
    ),
    h("h2#h-run", id),
    run ? statusBadge(run.status) : null,
    h("span.spacer"),
    run ? h("a", { href: impactHref("RUN", id), "data-link": true }, "Blast radius") : null,
    run && !timeslider.active() ? runControls(run) : null,
  );
  if (!run) {
    replace(
      panel,
      head,
      h(
        "div.panel-body",
        h("p.empty", current.missing ? `No run with id “${id}”.` : "Loading run…"),
      ),
    );
    return;
  }
  const now = timeslider.now() ?? Date.now();
  const start = ts(run.startedAt) || Math.min(...run.steps.map((s) => ts(s.startedAt) || now), now);
  const end =
    ts(run.endedAt) ||
    (run.status === "RUNNING"
      ? now
      : Math.max(start + 1, ...run.steps.map((s) => ts(s.endedAt) || ts(s.startedAt) || start)));
  const span = Math.max(1, end - start);
  const sel = selectedStepRun(run);
  const prog = runProgress(run, state.pipelines.get(run.pipeline.name) || run.pipeline);
  replace(
    panel,
    head,
    timeslider.bar(id, current.run),
    h(
      "div.panel-body",
      { dataset: { scrollKey: "run" } },
      h(
        "div.summary",
        kv("Started", fmtTime(run.startedAt || run.scheduledFor)),
        kv(
          "Duration",
          h("span#run-timer", fmtDuration(run.startedAt ? end - start : null)),
          run.status === "RUNNING" ? " (live)" : "",
        ),
        kv("Progress", `${Math.round(prog.pct)}%`),
        kv("Tokens", `${fmtCompact(run.inputTokens)} in / ${fmtCompact(run.outputTokens)} out`),
        kv("Cost", `${fmtUsd(run.costUsd)}${run.costEstimated ? " (est.)" : ""}`),
        kv("Trigger", run.trigger || "—"),
        current.params && Object.keys(current.params).length
          ? kv("Parameters", h("code#run-params", JSON.stringify(current.params)))
          : null,
      ),
      run.error ? h("p.st-failed", h("span", { "aria-hidden": "true" }, "✕ "), run.error) : null,
      approvalsSection(run, state.pipelines.get(run.pipeline.name)?.owner?.id, now),
      h("h3#timeline-h", "Step timeline"),
      h(
        "div.gantt#gantt",
        { role: "list", "aria-labelledby": "timeline-h" },
        run.steps.map((s) => ganttRow(s, start, span, now, sel)),
        h(
          "div.gantt-axis",
          { "aria-hidden": "true" },
          h("span", "0"),
          h("span", fmtDuration(span / 2)),
          h("span", fmtDuration(span)),
        ),
      ),
      run.steps.length ? null : h("p.empty", "No step has started yet."),
      sel ? stepDetail(run, sel, now) : null,
    ),
  );
}

const kv = (k, ...v) => h("div", h("span.k", k), h("span.v", ...v));

function ganttRow(s, start, span, now, sel) {
  const a = ts(s.startedAt) || start;
  const b = ts(s.endedAt) || (s.status === "RUNNING" ? now : a);
  const left = ((a - start) / span) * 100;
  const width = Math.max(0.5, ((b - a) / span) * 100);
  const label = `${s.step.key}${s.attempt > 1 ? ` #${s.attempt}` : ""}`;
  const dur = fmtDuration(s.durationMs ?? (s.startedAt ? b - a : null));
  const selected = sel && sel.id === s.id;
  const href = runHref(current.id, { step: s.id });
  const go = (e) => {
    e.preventDefault();
    navigate(href, { replace: true });
  };
  const row = h(
    "div",
    { role: "listitem", style: { display: "contents" } },
    h(
      "a.lbl",
      {
        href,
        onclick: go,
        title: label,
        "aria-current": selected ? "true" : null,
        dataset: { focusKey: `lbl-${s.id}` },
      },
      label,
    ),
    h(
      "div.track",
      h(
        "button.bar",
        {
          type: "button",
          class: `st-${s.status.toLowerCase()}${selected ? " selected" : ""}`,
          style: { left: `${left}%`, width: `${Math.min(width, 100 - left)}%` },
          "aria-label": `${label}: ${s.status.toLowerCase()}, ${dur}${s.attempt > 1 ? `, retry ${s.attempt - 1}` : ""}`,
          title: `${label} · ${s.status.toLowerCase()} · ${dur}${s.provider ? ` · ${s.provider}/${s.model}` : ""}`,
          dataset: { focusKey: `bar-${s.id}`, step: s.step.key, attempt: String(s.attempt) },
          onclick: go,
        },
        s.status === "FAILED" ? "✕ " : s.status === "RUNNING" ? "▶ " : "",
        width > 12 ? dur : "",
      ),
    ),
  );
  contextMenu(row, `Step ${label}`, () => stepMenu(s));
  return row;
}

// ---- the step's context menu and retry ----------------------------------------------------

function stepCalls(s) {
  return mergedCalls().filter(
    (c) => c.stepKey === s.step.key && (c.attempt === undefined || c.attempt === s.attempt),
  );
}

function stepMenu(s) {
  const calls = stepCalls(s);
  const texts = (pick) => calls.map(pick).filter((t) => t != null && t !== "");
  const prompts = texts((c) =>
    messagesOf(c)
      .map((m) => (m.role === "prompt" ? m.content : `${m.role}: ${m.content}`))
      .join("\n\n"),
  );
  const responses = texts(responseOf);
  const hidden = `Prompt and response text are hidden for your role${principal.known ? ` (${roleName()})` : ""}`;
  const why = (list) => (!calls.length ? "No LLM call in this step" : list.length ? null : hidden);
  const copy = async (content, what) =>
    announce((await copyText(content)) ? `${what} copied` : `Could not copy the ${what}`);
  return [
    {
      label: "Copy prompt",
      action: () => copy(prompts.join("\n\n---\n\n"), "prompt"),
      disabled: why(prompts),
    },
    {
      label: "Copy response",
      action: () => copy(responses.join("\n\n---\n\n"), "response"),
      disabled: why(responses),
    },
    {
      label: "View raw data",
      action: () =>
        showRaw(`Step run ${s.id}`, {
          stepRun: s,
          started: current.stepStarts.get(s.step.key)?.[s.attempt - 1] ?? null,
          outputs: current.outputs.get(s.step.key) ?? null,
          calls: calls.map(({ live, ...c }) => ({ ...c, events: live })),
        }),
    },
  ];
}

/** Why the step run `s` of `run` cannot be retried now, or null. */
function stepRetryReason(run, s) {
  if (!canOperate()) return OPERATE_REASON;
  if (s.status !== "FAILED")
    return `Only a failed step can be retried (this one is ${s.status.toLowerCase()})`;
  const later = run.steps.find((o) => o.step.key === s.step.key && o.attempt > s.attempt);
  if (later) return `Superseded by attempt ${later.attempt}: retry the latest attempt`;
  if (latest.get(`step:${s.id}`)?.pending) return "A retry is on its way";
  return null;
}

function stepDetail(run, s, now) {
  const started = current.stepStarts.get(s.step.key)?.[s.attempt - 1] || {};
  const live = s.status === "RUNNING" && s.startedAt ? now - ts(s.startedAt) : null;
  const budget = s.tokenBudget ?? started.token_budget ?? null;
  const used = s.tokensUsed ?? null;
  const pctUsed = budget ? Math.min(100, ((used || 0) / budget) * 100) : null;
  const calls = mergedCalls().filter(
    (c) => c.stepKey === s.step.key && (c.attempt === undefined || c.attempt === s.attempt),
  );
  const artifacts = (kind) => (kind === "reads" ? s.reads : s.writes) || [];
  const artData = (type, uri) => current.artifacts.get(`${s.step.key}|${type}|${uri}`) || {};
  return h(
    "section.stepdetail#step-detail",
    { "aria-labelledby": "step-h" },
    h("h3#step-h", `Step ${s.step.key}${s.attempt > 1 ? ` · attempt ${s.attempt}` : ""}`),
    keep(
      `step:${s.id}`,
      JSON.stringify([stepRetryReason(run, s), latest.get(`step:${s.id}`) || null]),
      () =>
        h(
          "div.run-controls",
          { role: "group", "aria-label": "Step actions" },
          actionButton("Retry step", {
            reason: stepRetryReason(run, s),
            title: `Run step ${s.step.key} again (a new attempt)`,
            ariaLabel: `Retry step ${s.step.key} attempt ${s.attempt}`,
            dataset: { action: "retry-step", focusKey: `retry-${s.id}` },
            onclick: () => retryStep(s.id),
          }),
          commandState(`step:${s.id}`),
        ),
    ),
    h(
      "dl.kv",
      h("dt", "Status"),
      h(
        "dd",
        statusBadge(s.status),
        s.percent != null && s.status === "RUNNING" ? ` ${Math.round(s.percent)}%` : "",
      ),
      h("dt", "Kind"),
      h("dd", s.step.kind || "—"),
      h("dt", "Provider / model"),
      h("dd", s.provider ? `${s.provider} / ${s.model}` : "—"),
      h("dt", "Started"),
      h("dd", fmtTime(s.startedAt)),
      h("dt", "Duration"),
      h(
        "dd#step-timer",
        live !== null ? `${fmtDuration(live)} (running)` : fmtDuration(s.durationMs),
      ),
      h("dt", "Tokens"),
      h(
        "dd",
        budget
          ? h(
              "div.meter",
              h(
                "div.progress",
                {
                  class: used > budget ? "over" : "",
                  role: "meter",
                  "aria-label": "Token budget used",
                  "aria-valuemin": "0",
                  "aria-valuemax": String(budget),
                  "aria-valuenow": String(used || 0),
                },
                h("span", { style: { width: `${pctUsed}%` } }),
              ),
              h(
                "span",
                `${fmtCompact(used || 0)} of ${fmtCompact(budget)} budget (${pctUsed.toFixed(0)}%)${used > budget ? " — over budget" : ""}`,
              ),
            )
          : `${fmtInt(used)}${used == null ? "" : " used"} · no budget`,
      ),
      s.step.owner ? [h("dt", "Owner"), h("dd", s.step.owner.name)] : null,
      s.error ? [h("dt", "Error"), h("dd.st-failed", s.error)] : null,
    ),
    h("h3", "Parameters"),
    started.params
      ? h("pre.json", JSON.stringify(started.params, null, 2))
      : h("p.muted.small", "No parameters recorded."),
    h("h3", "Inputs"),
    artifactList(artifacts("reads"), "artifact.read", artData),
    h("h3", "Outputs"),
    artifactList(artifacts("writes"), "artifact.written", artData),
    current.outputs.get(s.step.key)
      ? h("pre.json", JSON.stringify(current.outputs.get(s.step.key), null, 2))
      : null,
    h("h3", `LLM calls (${calls.length})`),
    calls.length
      ? h(
          "ul.calls",
          calls.map((c) =>
            h(
              "li",
              h(
                "a",
                {
                  href: runHref(current.id, { step: s.id, call: c.id }),
                  "data-link": true,
                  dataset: { call: c.id },
                },
                c.id.split("/").pop(),
              ),
              h(
                "span.muted",
                ` · ${c.model || c.live?.sent?.model || "?"} · ${c.promptTemplate || c.live?.sent?.template?.name || "no template"}${c.promptVersion ? "@" + c.promptVersion : ""} · ${fmtInt((c.inputTokens || 0) + (c.outputTokens || 0))} tok`,
              ),
              !c.live?.received && !c.response ? h("span.badge.st-running", "streaming") : null,
            ),
          ),
        )
      : h("p.muted.small", "None."),
  );
}

function artifactList(list, type, artData) {
  if (!list.length) return h("p.muted.small", "None.");
  return h(
    "ul.calls",
    list.map((a) => {
      const d = artData(type, a.uri);
      return h(
        "li",
        h(
          "a",
          { href: lineageHref(a.uri), "data-link": true, title: "Lineage of this artifact" },
          a.uri,
        ),
        a.version ? h("span.muted", ` @ ${a.version}`) : null,
        a.kind ? h("span.muted", ` · ${a.kind}`) : null,
        d.records != null ? h("span.muted", ` · ${fmtInt(d.records)} records`) : null,
        d.size_bytes != null ? h("span.muted", ` · ${fmtCompact(d.size_bytes)} B`) : null,
      );
    }),
  );
}
