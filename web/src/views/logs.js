// The logs panel, a streaming log viewer: level filter, search, auto-scroll toggle, export.
// Its own subscription (types: ["log"]) replays recent stored logs, then streams live
// ones and resumes from the last log seq after a reconnect.
import { resilientSubscribe } from "../gql.js";
import { state, on, emit } from "../store.js";
import { current } from "../rundata.js";
import { h, $, replace, LEVELS, levelIcon, download, debounce, announce } from "../util.js";
import { runHref } from "../router.js";

const MAX_BUFFER = 5000;
const MAX_ROWS = 1500;
const BACKLOG = 5000; // how many seqs back the first subscription replays

let panel, list, countEl;
const buffer = [];
let lastLogSeq = null;
let pending = [];
let queued = false;
const levels = new Set(LEVELS);
let search = "";
let autoScroll = true;
let scope = "all"; // "all" | "run"
let cur = { name: "home", params: {} };
let shown = 0;

export function mount() {
  panel = $("#panel-logs");
  const searchInput = h("input#log-search", {
    type: "search",
    placeholder: "Search logs",
    "aria-label": "Search logs",
    oninput: (e) => {
      search = e.target.value.trim().toLowerCase();
      rerenderSoon();
    },
  });
  // The query applies at once (export, new lines); only the full redraw is debounced.
  const rerenderSoon = debounce(rerender, 120);
  const auto = h(
    "button#log-autoscroll",
    {
      type: "button",
      "aria-pressed": "true",
      title: "Keep the newest line in view",
      onclick: () => {
        autoScroll = !autoScroll;
        auto.setAttribute("aria-pressed", String(autoScroll));
        auto.textContent = `Auto-scroll ${autoScroll ? "on" : "off"}`;
        if (autoScroll) list.scrollTop = list.scrollHeight;
      },
    },
    "Auto-scroll on",
  );
  const scopeSel = h(
    "select#log-scope",
    {
      "aria-label": "Log scope",
      onchange: (e) => {
        scope = e.target.value;
        rerender();
      },
    },
    h("option", { value: "all" }, "All runs"),
    h("option", { value: "run" }, "This run"),
  );
  list = h("div.loglist#log-list", {
    role: "log",
    "aria-label": "Log lines",
    "aria-live": "off",
    tabindex: "0",
  });
  countEl = h("span.muted.small#log-count");
  panel.append(
    h(
      "header.panel-head",
      h("h2#h-logs", "Logs"),
      countEl,
      h("span.spacer"),
      h(
        "div.lvltoggles.filters",
        { role: "group", "aria-label": "Log levels" },
        LEVELS.map((l) =>
          h(
            "button",
            {
              type: "button",
              "aria-pressed": "true",
              dataset: { level: l },
              class: `lvl-btn`,
              onclick: (e) => {
                const b = e.currentTarget;
                if (levels.has(l)) levels.delete(l);
                else levels.add(l);
                b.setAttribute("aria-pressed", String(levels.has(l)));
                rerender();
              },
            },
            h("span", { "aria-hidden": "true", class: `lvl-${l}` }, levelIcon(l)),
            " ",
            l,
          ),
        ),
      ),
    ),
    h(
      "div.panel-head.logtools",
      searchInput,
      scopeSel,
      auto,
      h(
        "button#log-export",
        { type: "button", onclick: exportLogs, title: "Download the shown lines as NDJSON" },
        "Export",
      ),
    ),
    list,
  );
  list.addEventListener("wheel", () => pauseIfScrolledUp(auto), { passive: true });
  list.addEventListener("keydown", (e) => {
    if (["ArrowUp", "PageUp", "Home"].includes(e.key))
      setTimeout(() => pauseIfScrolledUp(auto), 50);
  });
  on("runEvent", (ev) => {
    if (ev.type === "log" && scope === "run") {
      pending.push(ev);
      schedule();
    }
  });
  on("runFull", () => {
    if (scope === "run") rerender();
  });
}

function pauseIfScrolledUp(auto) {
  // Reading back through history should not be yanked to the bottom by new lines.
  if (autoScroll && list.scrollTop + list.clientHeight < list.scrollHeight - 40) {
    autoScroll = false;
    auto.setAttribute("aria-pressed", "false");
    auto.textContent = "Auto-scroll off";
  }
}

let subscribed = false;
function subscribe() {
  if (subscribed) return;
  subscribed = true;
  resilientSubscribe(
    `subscription($afterSeq: Int) { events(afterSeq: $afterSeq, types: ["log"]) { seq id type time pipeline run step data } }`,
    () => ({ afterSeq: lastLogSeq ?? Math.max(0, (state.overview?.lastSeq || 0) - BACKLOG) }),
    (data) => {
      const ev = data.events;
      if (lastLogSeq !== null && ev.seq <= lastLogSeq) return;
      lastLogSeq = ev.seq;
      emit("log", ev); // bench/ui.py times log lines from here
      buffer.push(ev);
      if (buffer.length > MAX_BUFFER) buffer.splice(0, buffer.length - MAX_BUFFER);
      if (scope === "all") {
        pending.push(ev);
        schedule();
      }
    },
  );
}

export function route(r) {
  cur = r;
  subscribe();
  const sel = $("#log-scope");
  const runOpt = sel.querySelector('option[value="run"]');
  runOpt.disabled = r.name !== "run";
  const want = r.name === "run" ? "run" : "all";
  if (scope !== want) {
    scope = want;
    sel.value = want;
  }
  rerender();
}

function schedule() {
  if (queued) return;
  queued = true;
  requestAnimationFrame(flush);
}

function source() {
  if (scope === "run") return current.events.filter((e) => e.type === "log");
  return buffer;
}

function match(ev) {
  const d = ev.data || {};
  if (!levels.has(d.level || "info")) return false;
  if (!search) return true;
  return `${d.message} ${ev.pipeline || ""} ${ev.run || ""} ${ev.step || ""} ${d.context ? JSON.stringify(d.context) : ""}`
    .toLowerCase()
    .includes(search);
}

function highlight(text) {
  if (!search) return text;
  const out = [];
  const lower = text.toLowerCase();
  let i = 0;
  for (let j = lower.indexOf(search); j >= 0; j = lower.indexOf(search, i)) {
    out.push(text.slice(i, j), h("mark", text.slice(j, j + search.length)));
    i = j + search.length;
  }
  out.push(text.slice(i));
  return out;
}

function row(ev) {
  const d = ev.data || {};
  const level = d.level || "info";
  const t = ev.time ? ev.time.slice(11, 19) : "";
  return h(
    "div.logrow",
    { dataset: { seq: String(ev.seq), level } },
    h("span.src", { title: ev.time }, t),
    h(`span.lvl.lvl-${level}`, h("span", { "aria-hidden": "true" }, levelIcon(level) + " "), level),
    h(
      "span.msgtext",
      ev.run
        ? h(
            "a.src",
            {
              href: runHref(ev.run, ev.step ? {} : {}),
              "data-link": true,
              title: `${ev.pipeline || ""} ${ev.run}`,
            },
            `${ev.pipeline || ev.run}${ev.step ? "/" + ev.step : ""}`,
          )
        : h("span.src", ev.pipeline || "—"),
      " ",
      highlight(String(d.message ?? "")),
      d.context ? h("span.src", " ", highlight(JSON.stringify(d.context))) : null,
    ),
  );
}

function flush() {
  queued = false;
  const batch = pending.filter(match);
  pending = [];
  if (!batch.length) return;
  const frag = document.createDocumentFragment();
  for (const ev of batch.slice(-MAX_ROWS)) frag.append(row(ev));
  if (list.firstChild?.classList?.contains("empty")) list.replaceChildren();
  list.append(frag);
  shown += batch.length;
  while (list.childElementCount > MAX_ROWS) {
    list.firstElementChild.remove();
    shown -= 1;
  }
  updateCount();
  if (autoScroll) list.scrollTop = list.scrollHeight;
  const loud = batch.filter((e) => ["error", "critical"].includes(e.data?.level));
  if (loud.length) announce(`${loud.length} new ${loud.length === 1 ? "error" : "errors"} in logs`);
}

function rerender() {
  pending = [];
  const rows = source().filter(match).slice(-MAX_ROWS);
  shown = rows.length;
  replace(
    list,
    rows.length
      ? rows.map(row)
      : h(
          "p.empty",
          search || levels.size < LEVELS.length ? "No log lines match." : "No log lines yet.",
        ),
  );
  updateCount();
  if (autoScroll) list.scrollTop = list.scrollHeight;
}

function updateCount() {
  countEl.textContent = `${shown} shown`;
}

function exportLogs() {
  const rows = source().filter(match);
  download(
    `tracegraph-logs${scope === "run" && cur.params.id ? "-" + cur.params.id : ""}.ndjson`,
    rows.map((e) => JSON.stringify(e)).join("\n") + "\n",
    "application/x-ndjson",
  );
}
