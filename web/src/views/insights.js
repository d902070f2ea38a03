// The insights panel: tabs for the prompt inspector, performance charts and SLA breaches.
import { h, $ } from "../util.js";
import * as prompt from "./prompt.js";
import * as charts from "./charts.js";
import * as breaches from "./breaches.js";

const TABS = [
  ["prompt", "Prompts"],
  ["metrics", "Performance"],
  ["breaches", "SLA breaches"],
];
let panel;
let active = "metrics";
let userChose = false;
const bodies = {};

export function mount() {
  panel = $("#panel-insights");
  const tablist = h(
    "div",
    { role: "tablist", "aria-label": "Insights" },
    TABS.map(([k, label]) =>
      h(
        "button",
        {
          type: "button",
          role: "tab",
          id: `tab-${k}`,
          "aria-controls": `tabpanel-${k}`,
          "aria-selected": "false",
          tabindex: "-1",
          onclick: () => {
            userChose = true;
            select(k);
          },
          onkeydown: (e) => {
            // Arrow keys move between tabs (WAI-ARIA tabs pattern).
            const i = TABS.findIndex(([t]) => t === k);
            const next =
              e.key === "ArrowRight"
                ? TABS[(i + 1) % TABS.length]
                : e.key === "ArrowLeft"
                  ? TABS[(i - 1 + TABS.length) % TABS.length]
                  : null;
            if (next) {
              e.preventDefault();
              userChose = true;
              select(next[0]);
              $(`#tab-${next[0]}`).focus();
            }
          },
        },
        label,
      ),
    ),
  );
  panel.append(h("header.panel-head", h("h2#h-insights.visually-hidden", "Insights"), tablist));
  for (const [k] of TABS) {
    bodies[k] = h("div.panel-body", {
      role: "tabpanel",
      id: `tabpanel-${k}`,
      "aria-labelledby": `tab-${k}`,
      hidden: true,
      dataset: { scrollKey: k },
    });
    panel.append(bodies[k]);
  }
  prompt.mount(bodies.prompt);
  charts.mount(bodies.metrics);
  breaches.mount(bodies.breaches);
  select(active);
}

export function select(k) {
  active = k;
  for (const [t] of TABS) {
    const tab = $(`#tab-${t}`);
    tab.setAttribute("aria-selected", String(t === k));
    tab.tabIndex = t === k ? 0 : -1;
    bodies[t].hidden = t !== k;
  }
  charts.visible(k === "metrics");
}

export function route(r) {
  // A run page opens on its prompts, other pages on the charts, unless the user picked a tab.
  if (r.name === "run" && (!userChose || r.query.get("call"))) select("prompt");
  else if (r.name !== "run" && !userChose) select("metrics");
  prompt.route_(r);
  charts.route(r);
  breaches.route(r);
}
