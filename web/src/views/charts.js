// Performance charts (uPlot) from the `metrics` query: tokens, latency percentiles, cost,
// error rate, throughput. Re-fetched when new events arrive (throttled), not on a timer.
import uPlot from "/static/vendor/uplot/uPlot.esm.js";
import { query, schemaInfo } from "../gql.js";
import { on } from "../store.js";
import { h, replace, download } from "../util.js";
import { can, errorText, isForbidden } from "../auth.js";
import { contextMenu } from "../menu.js";
import { toCsv } from "../forms.js";
import { openAlertDialog, SLA_REASON } from "./dialogs.js";

const RANGES = [
  ["1h", 3600, 60],
  ["6h", 6 * 3600, 300],
  ["24h", 86400, 1800],
  ["7d", 7 * 86400, 6 * 3600],
];
const MIN_REFRESH_MS = 5000;

let root, grid, note;
let range = RANGES[0];
let pipeline = null;
let isVisible = false;
let lastFetch = 0;
let timer = null;
let available = null;
const plots = [];
const shown = new Map(); // chart title -> {x, series: [[label, values]]} (what it draws now)

export function mount(el) {
  root = el;
  const sel = h(
    "select#metrics-range",
    {
      "aria-label": "Time range",
      onchange: (e) => {
        range = RANGES.find((r) => r[0] === e.target.value);
        refresh(true);
      },
    },
    RANGES.map(([k]) => h("option", { value: k }, `Last ${k}`)),
  );
  note = h("p.muted.small#metrics-note");
  grid = h("div.charts#charts");
  root.append(h("div.row", sel, note), grid);
  on("pipelines", () => {
    if (isVisible) refresh(false);
  });
  on("resync", () => refresh(true));
  new ResizeObserver(() => {
    for (const p of plots) p.setSize(sizeOf(p.root.parentElement));
  }).observe(grid);
}

export function visible(v) {
  isVisible = v;
  if (v) refresh(true);
}

export function route(r) {
  const p = r.name === "pipeline" ? r.params.name : r.name === "run" ? null : null;
  if (p !== pipeline) {
    pipeline = p;
    refresh(true);
  }
}

function refresh(force) {
  if (!isVisible) return;
  const wait = force ? 0 : Math.max(0, lastFetch + MIN_REFRESH_MS - Date.now());
  if (timer) {
    if (!force) return;
    clearTimeout(timer);
  }
  timer = setTimeout(() => {
    timer = null;
    fetchAndDraw();
  }, wait);
}

const FIELDS =
  "start inputTokens outputTokens costUsd latencyP50Ms latencyP95Ms latencyP99Ms errorRate llmCalls llmCallErrors runs stepRuns events";

async function fetchAndDraw() {
  lastFetch = Date.now();
  if (available === null) {
    try {
      available = (await schemaInfo()).query.has("metrics");
    } catch {
      available = false;
    }
  }
  if (!available) {
    replace(
      grid,
      h(
        "p.unavailable#metrics-unavailable",
        { role: "status" },
        "⚠ Metrics unavailable: this server's GraphQL schema has no metrics query.",
      ),
    );
    return;
  }
  const [, seconds, bucket] = range;
  const to = new Date(Math.ceil(Date.now() / (bucket * 1000)) * bucket * 1000);
  const from = new Date(to.getTime() - seconds * 1000);
  let data;
  try {
    data = await query(
      `query($from: DateTime!, $to: DateTime!, $b: Int!, $p: String) {
      metrics(from: $from, to: $to, bucketSeconds: $b, pipeline: $p) { series { ${FIELDS} } totals { ${FIELDS} } } }`,
      { from: from.toISOString(), to: to.toISOString(), b: bucket, p: pipeline },
    );
  } catch (e) {
    replace(
      grid,
      isForbidden(e)
        ? h("p.muted#metrics-unavailable", { role: "status" }, errorText(e))
        : h(
            "p.unavailable#metrics-unavailable",
            { role: "status" },
            `⚠ Metrics unavailable: ${e.message}`,
          ),
    );
    plots.length = 0;
    return;
  }
  const s = data.metrics.series;
  const t = data.metrics.totals;
  note.textContent = `${pipeline ? pipeline + " · " : ""}${t.llmCalls} LLM calls, ${(t.inputTokens + t.outputTokens).toLocaleString()} tokens, $${t.costUsd.toFixed(2)} · updates as events arrive`;
  const x = s.map((p) => Date.parse(p.start) / 1000);
  const col = (f) => s.map((p) => p[f] ?? null);
  const specs = [
    [
      "Tokens over time",
      [
        ["input", col("inputTokens"), "#58a6ff"],
        ["output", col("outputTokens"), "#a371f7"],
      ],
      (v) => fmtNum(v),
    ],
    [
      "LLM latency (ms)",
      [
        ["p50", col("latencyP50Ms"), "#3fb950"],
        ["p95", col("latencyP95Ms"), "#d29922"],
        ["p99", col("latencyP99Ms"), "#f85149"],
      ],
      (v) => fmtNum(v),
    ],
    [
      "Cost (USD)",
      [["cost", col("costUsd"), "#d29922"]],
      (v) => (v == null ? "" : "$" + v.toFixed(v < 1 ? 3 : 2)),
    ],
    [
      "Error rate (step runs)",
      [["error %", s.map((p) => (p.errorRate == null ? null : p.errorRate * 100)), "#f85149"]],
      (v) => (v == null ? "" : v.toFixed(1) + "%"),
    ],
    [
      "Throughput per bucket",
      [
        ["runs", col("runs"), "#58a6ff"],
        ["step runs", col("stepRuns"), "#3fb950"],
        ["LLM calls", col("llmCalls"), "#a371f7"],
      ],
      (v) => fmtNum(v),
    ],
  ];
  draw(x, specs);
}

const fmtNum = (v) =>
  v == null
    ? ""
    : Math.abs(v) >= 1e6
      ? (v / 1e6).toFixed(1) + "M"
      : Math.abs(v) >= 1e3
        ? (v / 1e3).toFixed(1) + "k"
        : String(Math.round(v * 10) / 10);

function sizeOf(box) {
  const w = Math.max(220, (box?.clientWidth || 280) - 12);
  return { width: w, height: 140 };
}

function draw(x, specs) {
  for (const [title, series] of specs) shown.set(title, { x, series });
  // Same shape as before: just feed new data (cheap); otherwise rebuild the plots.
  if (
    plots.length === specs.length &&
    plots.every((p, i) => p.series.length === specs[i][1].length + 1)
  ) {
    specs.forEach(([, series], i) => plots[i].setData([x, ...series.map((s) => s[1])]));
    return;
  }
  for (const p of plots) p.destroy();
  plots.length = 0;
  grid.replaceChildren();
  for (const [title, series, fmt] of specs) {
    const box = h(
      "figure.chart",
      {
        "aria-label": `${title} (Shift+F10: actions)`,
        role: "img",
        tabindex: "0",
        dataset: { chart: title },
      },
      h("h3", title),
    );
    contextMenu(box, `Chart ${title}`, () => chartMenu(title));
    box.style.margin = "0";
    grid.append(box);
    const axis = {
      stroke: "#9da7b3",
      grid: { stroke: "#30363d", width: 1 },
      ticks: { stroke: "#30363d" },
    };
    const opts = {
      ...sizeOf(box),
      legend: { show: true },
      cursor: { points: { size: 5 } },
      scales: { x: { time: true } },
      axes: [axis, { ...axis, size: 50, values: (u, vals) => vals.map(fmt) }],
      series: [
        {},
        ...series.map(([label, , color]) => ({
          label,
          stroke: color,
          width: 1.5,
          fill: color + "22",
          spanGaps: true,
          value: (u, v) => fmt(v),
        })),
      ],
    };
    plots.push(new uPlot(opts, [x, ...series.map((s) => s[1])], box));
  }
}

// ---- the chart's context menu -------------------------------------------------------------

function chartMenu(title) {
  return [
    { label: "Export data (CSV)", action: () => exportChart(title) },
    {
      label: "Create alert…",
      action: () => openAlertDialog(pipeline),
      disabled: can("admin:slas") ? null : SLA_REASON,
    },
  ];
}

/** The chart's series as drawn, one row per bucket (time in ISO 8601, UTC). */
function exportChart(title) {
  const data = shown.get(title);
  if (!data) return;
  const rows = data.x.map((t, i) => [
    new Date(t * 1000).toISOString(),
    ...data.series.map((s) => s[1][i]),
  ]);
  const name = `${title
    .replace(/[^\w]+/g, "-")
    .replace(/^-|-$/g, "")
    .toLowerCase()}${pipeline ? `-${pipeline}` : ""}.csv`;
  download(name, toCsv([["time", ...data.series.map((s) => s[0])], ...rows]), "text/csv");
}
