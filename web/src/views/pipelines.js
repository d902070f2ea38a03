// The pipelines panel: the active pipelines grid (live progress, current step, quick
// filters) and the single-pipeline page (/pipelines/<name>).
import { state, on, pipelineRuns } from "../store.js";
import {
  h,
  $,
  replace,
  statusBadge,
  fmtCompact,
  fmtUsd,
  fmtDuration,
  fmtTime,
  frameScheduler,
  ts,
  copyText,
  download,
  announce,
  preserveFocus,
} from "../util.js";
import { pipelineHref, runHref, impactHref, navigate } from "../router.js";
import { runProgress } from "../progress.js";
import { principal } from "../auth.js";
import { query } from "../gql.js";
import { LABEL, OPERATE_REASON, canOperate, disabledReason, issue, latest } from "../commands.js";
import { actionButton, commandState, setupSpace } from "./controls.js";
import { openStartDialog } from "./dialogs.js";
import { approvalMarker } from "./approvals.js";
import { contextMenu } from "../menu.js";
import { definitionOf, toCsv, toYaml } from "../forms.js";
import { focusLogs } from "../keys.js";

let panel;
let cur = { name: "home" };
let filter = "all";
let text = "";
const cards = new Map(); // pipeline name -> {el, parts}
// The selected pipeline (a clicked or focused card, or the pipeline page's): Space pauses
// or resumes its active run.
let selected = null;
const ACTIVE = new Set(["RUNNING", "PAUSED", "SCHEDULED"]);

const FILTERS = [
  ["all", "All"],
  ["running", "Running"],
  ["failed", "Failed"],
  ["succeeded", "Succeeded"],
  ["idle", "Idle"],
];

export function mount() {
  panel = $("#panel-pipelines");
  const soon = frameScheduler(render, 250);
  on("pipelines", soon);
  on("run", soon);
  on("resync", soon);
  setInterval(() => {
    if (cur.name === "pipeline") soon();
  }, 1000); // live durations only
  setupSpace(() => {
    if (cur.name === "run") return null; // the run page's own run takes Space there
    const name = cur.name === "pipeline" ? cur.params.name : selected;
    const p = name && state.pipelines.get(name);
    return p ? activeRun(p) : null;
  }, soon);
}

/** The pipeline's newest run still going (running, paused or scheduled), or null. */
export function activeRun(p) {
  return pipelineRuns(p).find((r) => ACTIVE.has(r.status)) || null;
}

function select(name) {
  selected = name;
  for (const [n, c] of cards) {
    c.el.classList.toggle("selected", n === name);
    c.el.setAttribute("aria-current", String(n === name));
  }
}

export function route(r) {
  const changed = r.name !== cur.name || r.params.name !== cur.params?.name;
  cur = r;
  if (changed) {
    panel.replaceChildren();
    cards.clear();
  }
  render();
}

function render() {
  if (cur.name === "pipeline") preserveFocus(panel, () => renderPipeline(cur.params.name));
  else renderGrid();
}

function latestRun(p) {
  return pipelineRuns(p)[0] || null;
}

function matches(p) {
  if (text && !p.name.toLowerCase().includes(text)) return false;
  const run = latestRun(p);
  const active = p.active > 0;
  switch (filter) {
    case "running":
      return active;
    case "failed":
      return run?.status === "FAILED";
    case "succeeded":
      return run?.status === "SUCCEEDED";
    case "idle":
      return !active;
    default:
      return true;
  }
}

function renderGrid() {
  if (!panel.firstChild) {
    const search = h("input#pipeline-filter", {
      type: "search",
      placeholder: "Filter pipelines",
      "aria-label": "Filter pipelines by name",
      oninput: (e) => {
        text = e.target.value.trim().toLowerCase();
        renderGrid();
      },
    });
    panel.append(
      h(
        "header.panel-head",
        h("h2#h-pipelines", "Pipelines"),
        h("span.muted.small#pipelines-count"),
        h("span.spacer"),
        h(
          "div.filters",
          { role: "group", "aria-label": "Quick filters" },
          FILTERS.map(([k, label]) =>
            h(
              "button",
              {
                type: "button",
                "aria-pressed": String(filter === k),
                dataset: { filter: k },
                onclick: (e) => {
                  filter = k;
                  for (const b of e.target.parentElement.children)
                    b.setAttribute("aria-pressed", String(b.dataset.filter === k));
                  renderGrid();
                },
              },
              label,
            ),
          ),
        ),
        search,
      ),
      h("div.panel-body", h("div.grid#pipeline-grid", { role: "list", "aria-label": "Pipelines" })),
    );
  }
  const grid = $("#pipeline-grid", panel);
  const all = [...state.pipelines.values()].sort((a, b) => a.name.localeCompare(b.name));
  const shown = all.filter(matches);
  $("#pipelines-count", panel).textContent = `${shown.length} of ${all.length}`;
  const wanted = [];
  for (const p of shown) {
    let c = cards.get(p.name);
    if (!c) {
      c = makeCard(p.name);
      cards.set(p.name, c);
    }
    updateCard(c, p);
    wanted.push(c.el);
  }
  // Touch the DOM order only when the set or order of cards changed.
  const same =
    wanted.length === grid.children.length && wanted.every((el, i) => grid.children[i] === el);
  if (!same) grid.replaceChildren(...wanted);
  if (!state.ready && !all.length) grid.replaceChildren(h("p.empty", "Loading pipelines…"));
  else if (!all.length)
    grid.replaceChildren(h("p.empty", "No pipelines yet. Send a pipeline.defined or run event."));
}

function makeCard(name) {
  const parts = {
    status: h("span"),
    bar: h("span"),
    progress: null,
    step: h("span.current-step"),
    meta: h("div.meta"),
    active: h("span.active-count"),
    actions: h("div.card-actions"),
  };
  parts.progress = h(
    "div.progress",
    {
      role: "progressbar",
      "aria-label": `${name} progress`,
      "aria-valuemin": "0",
      "aria-valuemax": "100",
    },
    parts.bar,
  );
  const el = h(
    "article.card",
    {
      role: "listitem",
      tabindex: "0",
      dataset: { pipeline: name },
      "aria-label": `Pipeline ${name}`,
      "aria-current": String(selected === name),
      onclick: (e) => {
        if (e.target.closest("a, button")) return;
        select(name);
        el.focus({ preventScroll: true });
      },
      onfocusin: () => select(name),
    },
    h(
      "div.card-title",
      h("a", { href: pipelineHref(name), "data-link": true }, name),
      parts.status,
    ),
    parts.progress,
    h("div.meta", h("span", "Step: ", parts.step), parts.active),
    parts.meta,
    parts.actions,
  );
  contextMenu(el, `Pipeline ${name}`, () => pipelineMenu(name));
  return { el, parts, sig: "" };
}

function updateCard(c, p) {
  const run = latestRun(p);
  const prog = runProgress(run, p);
  const activeRuns = p.active || 0; // the card's running runs and older ones still running
  const sig = JSON.stringify([
    run?.id,
    run?.status,
    Math.round(prog.pct),
    prog.current,
    activeRuns,
    run?.inputTokens,
    run?.outputTokens,
    run?.costUsd,
    activeRun(p)?.id,
    activeRun(p)?.status,
    principal.permissions,
    controlTargets(p).map((t) => latest.get(t) || null),
    approvalMarker(p)?.getAttribute("href") ?? null,
  ]);
  if (sig === c.sig) return; // nothing visible changed: leave the DOM alone
  c.sig = sig;
  const { parts } = c;
  parts.status.replaceChildren(
    run ? statusBadge(run.status) : h("span.badge.st-scheduled", "no runs"),
  );
  parts.bar.style.width = `${prog.pct.toFixed(1)}%`;
  parts.progress.className = `progress ${(run?.status || "").toLowerCase()}`;
  parts.progress.setAttribute("aria-valuenow", String(Math.round(prog.pct)));
  parts.progress.setAttribute(
    "aria-valuetext",
    `${Math.round(prog.pct)}% (${prog.done} of ${prog.total} steps)`,
  );
  parts.step.textContent =
    prog.current || (run ? (run.status === "RUNNING" ? "starting" : "—") : "—");
  parts.active.textContent = activeRuns ? `${activeRuns} active` : "";
  replace(
    parts.meta,
    approvalMarker(p),
    run
      ? h("a", { href: runHref(run.id), "data-link": true, title: `Run ${run.id}` }, "latest run")
      : null,
    run ? h("span", `${fmtCompact((run.inputTokens || 0) + (run.outputTokens || 0))} tok`) : null,
    run ? h("span", fmtUsd(run.costUsd)) : null,
    run?.startedAt
      ? h("span", fmtDuration((ts(run.endedAt) || Date.now()) - ts(run.startedAt)))
      : null,
  );
  // A live update must not take the focus off the button just pressed.
  preserveFocus(parts.actions, () => replace(parts.actions, ...cardControls(p)));
}

// The commands a card shows the state of, newest first: those on any of its runs (a run
// acted on stays listed when a newer run becomes the active one) and its last start.
const CARD_STATES = 3;
// Runs acted on from each card: a busy pipeline's card document holds only its recent
// runs, and the state of a command on a run that dropped out must stay on the card.
const actedOn = new Map();
function actOn(p, kind, runId) {
  if (!actedOn.has(p.name)) actedOn.set(p.name, new Set());
  actedOn.get(p.name).add(runId);
  issue(kind, runId);
}
function controlTargets(p) {
  const candidates = new Set([...p.runs.keys(), ...(actedOn.get(p.name) || []), `start:${p.name}`]);
  const targets = [...candidates].filter((t) => latest.has(t));
  targets.sort((a, b) => (latest.get(b).issuedAt || 0) - (latest.get(a).issuedAt || 0));
  return targets.slice(0, CARD_STATES);
}

/**
 * Quick actions: pause / resume / cancel the active run, retry the latest run when it
 * failed, start a run; each disabled with its reason, and each command's state after them.
 */
function cardControls(p) {
  const active = activeRun(p);
  const last = latestRun(p);
  const target = active || last; // a finished latest run explains why nothing applies
  const noRun = canOperate() ? "No run yet" : OPERATE_REASON;
  const buttons = ["pause", "resume", "cancel"].map((kind) =>
    actionButton(LABEL[kind], {
      reason: target ? disabledReason(kind, target.status, target.id) : noRun,
      title: `${LABEL[kind]} run ${target?.id}`,
      ariaLabel: `${LABEL[kind]} the active run of ${p.name}`,
      dataset: { action: kind, forRun: target?.id || "", focusKey: `card-${kind}` },
      onclick: () => actOn(p, kind, target.id),
    }),
  );
  buttons.push(
    actionButton(LABEL.retry, {
      reason: last ? disabledReason("retry", last.status, last.id) : noRun,
      title: `Retry run ${last?.id} from its first failed step`,
      ariaLabel: `Retry the latest run of ${p.name}`,
      dataset: { action: "retry", forRun: last?.id || "", focusKey: "card-retry" },
      onclick: () => actOn(p, "retry", last.id),
    }),
    actionButton("Start…", {
      reason: canOperate() ? null : OPERATE_REASON,
      title: "Start a run with parameters and environment overrides",
      ariaLabel: `Start a run of ${p.name}`,
      dataset: { action: "start", focusKey: "card-start" },
      onclick: () => openStartDialog(p.name),
    }),
  );
  const states = controlTargets(p).map((t) =>
    commandState(t, t.startsWith("start:") ? "" : `${shortId(t)} · `),
  );
  return [
    h("div.run-controls", { role: "group", "aria-label": `Actions on ${p.name}` }, buttons),
    states.length ? h("div.card-commands", states) : null,
  ];
}

const shortId = (id) => (id.length > 12 ? `${id.slice(0, 8)}…` : id);

// ---- the card's context menu -------------------------------------------------------------

function pipelineMenu(name) {
  const p = state.pipelines.get(name);
  const copy = async (content, what) =>
    announce((await copyText(content)) ? `${what} copied` : `Could not copy the ${what}`);
  const def = () => definitionOf(p);
  return [
    {
      label: "Copy config (JSON)",
      action: () => copy(JSON.stringify(def(), null, 2), "config"),
      disabled: p ? null : "Not loaded yet",
    },
    {
      label: "Copy config (YAML)",
      action: () => copy(toYaml(def()) + "\n", "config"),
      disabled: p ? null : "Not loaded yet",
    },
    null,
    { label: "Export results (CSV)", action: () => exportRuns(name, "csv") },
    { label: "Export results (JSON)", action: () => exportRuns(name, "json") },
    null,
    {
      label: "View logs",
      action: () => {
        navigate(pipelineHref(name));
        const search = $("#log-search");
        if (search) {
          search.value = name;
          search.dispatchEvent(new Event("input", { bubbles: true }));
        }
        focusLogs();
      },
    },
  ];
}

const RUN_COLUMNS = [
  "id",
  "status",
  "trigger",
  "startedAt",
  "endedAt",
  "durationMs",
  "inputTokens",
  "outputTokens",
  "costUsd",
  "error",
];

/** The pipeline's recent runs (the newest 100) as a CSV or JSON download. */
async function exportRuns(name, format) {
  let runs;
  try {
    const data = await query(
      `query($p: String) { runs(pipeline: $p, first: 100) { edges { node { ${RUN_COLUMNS.join(" ")} } } } }`,
      { p: name },
    );
    runs = data.runs.edges.map((e) => e.node);
  } catch (e) {
    announce(`Export failed: ${e.message}`);
    return;
  }
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
  if (format === "json")
    download(`${name}-runs-${stamp}.json`, JSON.stringify({ pipeline: name, runs }, null, 2));
  else
    download(
      `${name}-runs-${stamp}.csv`,
      toCsv([RUN_COLUMNS, ...runs.map((r) => RUN_COLUMNS.map((k) => r[k]))]),
      "text/csv",
    );
}

function renderPipeline(name) {
  const p = state.pipelines.get(name);
  selected = name;
  panel.replaceChildren(
    h(
      "header.panel-head",
      h(
        "nav.crumbs",
        { "aria-label": "Breadcrumb" },
        h("a", { href: "/", "data-link": true }, "Pipelines"),
        " / ",
      ),
      h("h2#h-pipelines", name),
      p?.version ? h("span.chip", `v${p.version}`) : null,
      h("span.spacer"),
      h("a", { href: impactHref("PIPELINE", name), "data-link": true }, "Blast radius"),
      p ? h("div.card-actions.page-actions", cardControls(p)) : null,
    ),
    h(
      "div.panel-body",
      p ? pipelineBody(p) : h("p.empty", state.ready ? `No pipeline named “${name}”.` : "Loading…"),
    ),
  );
}

function pipelineBody(p) {
  const runs = pipelineRuns(p);
  const sla = p.sla;
  return [
    h(
      "dl.kv",
      h("dt", "Owner"),
      h(
        "dd",
        p.owner
          ? h("a", { href: impactHref("OWNER", p.owner.id), "data-link": true }, p.owner.id)
          : "—",
      ),
      h("dt", "SLA"),
      h("dd", sla ? slaText(sla) : "none"),
      h("dt", "Runs"),
      h("dd", `${p.active || 0} active, ${runs.length} shown`),
    ),
    h("h3", "Steps"),
    h(
      "ol.steps",
      (p.steps || []).map((s) =>
        h(
          "li",
          h(
            "a",
            {
              href: impactHref("STEP", `${p.name}/${s.key}`),
              "data-link": true,
              title: "Blast radius of this step",
            },
            s.name || s.key,
          ),
          s.kind ? h("span.muted", ` · ${s.kind}`) : null,
          s.dependsOn?.length
            ? h("span.muted", ` · after ${s.dependsOn.map((d) => d.key).join(", ")}`)
            : null,
          s.owner ? h("span.muted", ` · ${s.owner.id}`) : null,
        ),
      ),
    ),
    h("h3", "Recent runs"),
    runs.length
      ? h(
          "table",
          h(
            "thead",
            h(
              "tr",
              h("th", "Run"),
              h("th", "Status"),
              h("th", "Started"),
              h("th.num", "Duration"),
              h("th.num", "Tokens"),
              h("th.num", "Cost"),
            ),
          ),
          h(
            "tbody",
            runs.map((r) =>
              h(
                "tr",
                h("td", h("a", { href: runHref(r.id), "data-link": true }, r.id)),
                h("td", statusBadge(r.status)),
                h("td", fmtTime(r.startedAt || r.scheduledFor)),
                h(
                  "td.num",
                  r.startedAt ? fmtDuration((ts(r.endedAt) || Date.now()) - ts(r.startedAt)) : "—",
                ),
                h("td.num", fmtCompact((r.inputTokens || 0) + (r.outputTokens || 0))),
                h("td.num", fmtUsd(r.costUsd)),
              ),
            ),
          ),
        )
      : h("p.empty", "No runs yet."),
  ];
}

export function slaText(sla) {
  const parts = [];
  if (sla.maxDurationMs) parts.push(`≤ ${fmtDuration(sla.maxDurationMs)}`);
  if (sla.maxTokens) parts.push(`≤ ${fmtCompact(sla.maxTokens)} tokens`);
  if (sla.maxCostUsd) parts.push(`≤ ${fmtUsd(sla.maxCostUsd)}`);
  if (sla.minSuccessRate)
    parts.push(
      `≥ ${(sla.minSuccessRate * 100).toFixed(0)}% success${sla.window ? ` over ${sla.window}` : ""}`,
    );
  if (sla.maxStartDelayMs) parts.push(`start delay ≤ ${fmtDuration(sla.maxStartDelayMs)}`);
  return parts.join(", ") || "defined";
}

export { navigate };
