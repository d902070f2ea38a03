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
} from "../util.js";
import { pipelineHref, runHref, impactHref, navigate } from "../router.js";
import { runProgress } from "../progress.js";

let panel;
let cur = { name: "home" };
let filter = "all";
let text = "";
const cards = new Map(); // pipeline name -> {el, parts}

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
  if (cur.name === "pipeline") renderPipeline(cur.params.name);
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
    { role: "listitem", dataset: { pipeline: name }, "aria-label": `Pipeline ${name}` },
    h(
      "div.card-title",
      h("a", { href: pipelineHref(name), "data-link": true }, name),
      parts.status,
    ),
    parts.progress,
    h("div.meta", h("span", "Step: ", parts.step), parts.active),
    parts.meta,
  );
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
    run
      ? h("a", { href: runHref(run.id), "data-link": true, title: `Run ${run.id}` }, "latest run")
      : null,
    run ? h("span", `${fmtCompact((run.inputTokens || 0) + (run.outputTokens || 0))} tok`) : null,
    run ? h("span", fmtUsd(run.costUsd)) : null,
    run?.startedAt
      ? h("span", fmtDuration((ts(run.endedAt) || Date.now()) - ts(run.startedAt)))
      : null,
  );
}

function renderPipeline(name) {
  const p = state.pipelines.get(name);
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
