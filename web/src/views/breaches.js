// SLA breaches with acknowledge: the breach documents (docs/live-deltas.md) kept by the
// `breachChanged` delta subscription in the entity store — the open breaches plus every
// one the page holds — first read with `snapshots` for the ids `slaBreaches` lists;
// `acknowledgeBreach` to acknowledge (the change comes back as a delta).
import { query, schemaInfo } from "../gql.js";
import { entities, onEntity, loadSnapshots, subscribeDeltas, DELTA_FIELDS } from "../live.js";
import {
  h,
  replace,
  fmtTime,
  fmtDuration,
  fmtUsd,
  fmtInt,
  announce,
  preserveFocus,
  frameScheduler,
} from "../util.js";
import { pipelineHref, runHref } from "../router.js";
import { state, on } from "../store.js";
import { can, errorText, isForbidden } from "../auth.js";

const PREFIX = "breach:";
const renderSoon = frameScheduler(() => render(), 500);
let root;
let caps = null;
const breaches = new Map(); // id -> breach document
let statusFilter = "OPEN";
let loaded = false;

export function mount(el) {
  root = el;
  on("pipelines", () => {
    if (root && breaches.size) renderSoon(); // owners come from the cards
  });
  onEntity(PREFIX, (entity, record) => {
    const id = entity.slice(PREFIX.length);
    const isNew = !breaches.has(id);
    if (record) breaches.set(id, record.doc);
    else breaches.delete(id); // retracted: later events disproved it
    const b = record?.doc;
    if (loaded && isNew && b?.status === "OPEN")
      announce(`SLA breach: ${b.pipeline}${b.step ? "/" + b.step : ""} ${kindText(b.kind)}`);
    if (root) render();
  });
}

let started = false;
export async function route() {
  if (started) return;
  started = true;
  try {
    const s = await schemaInfo();
    caps = {
      list: s.query.has("slaBreaches"),
      ack: s.mutation.has("acknowledgeBreach"),
      live: s.subscription.has("breachChanged"),
    };
  } catch {
    caps = { list: false, ack: false, live: false };
  }
  if (!caps.list) {
    render();
    return;
  }
  await load();
  if (caps.live)
    subscribeDeltas(
      `subscription($known: [KnownVersion!]) { breachChanged(known: $known) { ${DELTA_FIELDS} } }`,
      "breachChanged",
      () => ({ known: entities.known(PREFIX) }),
      { onForbidden: () => {} },
    );
}

async function load() {
  try {
    const data = await query(`{ slaBreaches(first: 200) { id } }`);
    await loadSnapshots(data.slaBreaches.map((b) => PREFIX + b.id));
  } catch (e) {
    caps.error = errorText(e);
    caps.forbidden = isForbidden(e);
  }
  loaded = true;
  render();
}

// The breach document has the SLABreach fields (the contract's draft called `at`
// openedAt and `threshold` limit): read either.
const whenOf = (b) => b.at ?? b.openedAt;
// A breach document does not hold owners (an admin change of an owner does not change
// the breach): they are its step's or pipeline's owner on the live pipeline card.
function ownerNames(b) {
  const card = state.pipelines.get(b.pipeline);
  const step = b.step ? card?.steps.find((st) => st.key === b.step) : null;
  const owner = step?.owner || card?.owner;
  return owner ? owner.name || owner.id : "";
}

const KIND = {
  MAX_DURATION_MS: "duration",
  MAX_TOKENS: "tokens",
  MAX_COST_USD: "cost",
  MIN_SUCCESS_RATE: "success rate",
  MAX_START_DELAY_MS: "start delay",
};
const kindText = (k) => KIND[k] || k.toLowerCase();
function figure(kind, v) {
  if (v == null) return "—";
  if (kind === "MAX_DURATION_MS" || kind === "MAX_START_DELAY_MS") return fmtDuration(v);
  if (kind === "MAX_COST_USD") return fmtUsd(v);
  if (kind === "MIN_SUCCESS_RATE") return `${(v * 100).toFixed(1)}%`;
  return fmtInt(v);
}
const STATUS_ICON = { OPEN: "▲ open", ACKNOWLEDGED: "✓ acknowledged", RESOLVED: "✔ resolved" };

async function acknowledge(b, btn) {
  btn.disabled = true;
  try {
    // The acknowledged breach comes back as a breachChanged delta.
    await query(`mutation($id: ID!, $by: String) { acknowledgeBreach(id: $id, by: $by) { id } }`, {
      id: b.id,
      by: "dashboard",
    });
    announce(`Breach acknowledged`);
  } catch (e) {
    announce(`Acknowledge failed: ${errorText(e)}`);
    if (isForbidden(e)) caps.ack = false;
    btn.disabled = false;
  }
  render();
}

function render() {
  preserveFocus(root, () => {
    if (!caps?.list) {
      replace(
        root,
        h(
          "p.unavailable#breaches-unavailable",
          { role: "status" },
          "⚠ SLA breaches unavailable: this server's GraphQL schema has no slaBreaches query.",
        ),
      );
      return;
    }
    const all = [...breaches.values()].sort(
      (a, b) => Date.parse(whenOf(b)) - Date.parse(whenOf(a)),
    );
    const shown = all.filter((b) => statusFilter === "ALL" || b.status === statusFilter);
    const open = all.filter((b) => b.status === "OPEN").length;
    const tab = document.getElementById("tab-breaches");
    if (tab) tab.textContent = open ? `SLA breaches (${open} open)` : "SLA breaches";
    replace(
      root,
      h(
        "div.row",
        h("label", { for: "breach-filter" }, "Show "),
        h(
          "select#breach-filter",
          {
            onchange: (e) => {
              statusFilter = e.target.value;
              render();
            },
          },
          ["OPEN", "ACKNOWLEDGED", "RESOLVED", "ALL"].map((s) =>
            h("option", { value: s, selected: s === statusFilter }, s.toLowerCase()),
          ),
        ),
        h("span.muted.small", `${open} open of ${all.length}`),
        caps.error
          ? h(
              caps.forbidden ? "span.muted.small#breaches-forbidden" : "span.unavailable",
              caps.error,
            )
          : null,
      ),
      shown.length
        ? h(
            "table#breaches-table",
            h(
              "thead",
              h(
                "tr",
                h("th", "When"),
                h("th", "Where"),
                h("th", "SLA"),
                h("th.num", "Observed / limit"),
                h("th", "Owners"),
                h("th", "Status"),
                h("th", h("span.visually-hidden", "Action")),
              ),
            ),
            h(
              "tbody",
              shown.map((b) =>
                h(
                  "tr",
                  { dataset: { breach: b.id } },
                  h("td", fmtTime(whenOf(b))),
                  h(
                    "td",
                    h("a", { href: pipelineHref(b.pipeline), "data-link": true }, b.pipeline),
                    b.step ? `/${b.step}` : "",
                    b.subject && !b.subject.includes("/")
                      ? [" · ", h("a", { href: runHref(b.subject), "data-link": true }, "run")]
                      : null,
                  ),
                  h("td", kindText(b.kind)),
                  h(
                    "td.num",
                    `${figure(b.kind, b.observed)} / ${figure(b.kind, b.threshold ?? b.limit)}`,
                  ),
                  h("td", ownerNames(b) || "—"),
                  h(
                    "td",
                    h(
                      `span.badge.${b.status === "OPEN" ? "st-failed" : b.status === "ACKNOWLEDGED" ? "st-running" : "st-succeeded"}`,
                      STATUS_ICON[b.status] || b.status,
                    ),
                    b.acknowledgedBy ? h("div.small.muted", `by ${b.acknowledgedBy}`) : null,
                  ),
                  h(
                    "td",
                    b.status === "OPEN" && caps.ack && can("breaches:ack")
                      ? h(
                          "button",
                          {
                            type: "button",
                            dataset: { focusKey: `ack-${b.id}` },
                            "aria-label": `Acknowledge ${kindText(b.kind)} breach of ${b.pipeline}`,
                            onclick: (e) => acknowledge(b, e.currentTarget),
                          },
                          "Acknowledge",
                        )
                      : null,
                  ),
                ),
              ),
            ),
          )
        : h("p.empty", "No breaches to show."),
    );
  });
}
