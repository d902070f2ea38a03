// Operator screens for reviewers (issue 19 item 6): the quarantine (/quarantine) — list,
// inspect the raw event, discard with a reason or fix and re-submit it through normal
// validation — and the audit trail (/audit) — filters, paging, CSV export of the whole
// filtered set. Each needs its permission; without it the screen says which.
import { query } from "../gql.js";
import { can, errorText } from "../auth.js";
import { h, $, replace, fmtTime, download, announce } from "../util.js";

const QUARANTINE_REASON = "Needs the quarantine permission (reviewer or admin role).";
const AUDIT_REASON = "Needs the read:audit permission (reviewer or admin role).";
// The CSV export reads the filtered trail a page at a time, up to this many entries.
export const CSV_CAP = 10000;
const AUDIT_PAGE = 50;
const CSV_PAGE = 200;

const ENTRY = `id eventId reason principal pipeline receivedAt raw payload resolvedAt
  resolvedBy resolution resolvedSeq discardReason`;
const Q_QUARANTINE = `query($status: QuarantineStatus, $after: String) {
  quarantine(status: $status, first: 50, after: $after) {
    edges { node { ${ENTRY} } } pageInfo { hasNextPage endCursor } } }`;
const M_DISCARD = `mutation($id: ID!, $reason: String!) {
  discardQuarantined(id: $id, reason: $reason) { ${ENTRY} } }`;
const M_RESUBMIT = `mutation($id: ID!, $event: JSON) {
  resubmitQuarantined(id: $id, event: $event) { seq accepted duplicates entry { ${ENTRY} } } }`;
const Q_AUDIT = `query($actor: String, $action: String, $target: String, $from: DateTime,
  $to: DateTime, $first: Int, $after: String) {
  auditTrail(actor: $actor, action: $action, target: $target, from: $from, to: $to,
             first: $first, after: $after) {
    edges { node { id at actor action target before after } }
    pageInfo { hasNextPage endCursor } } }`;

let panel;
let screen = null; // "quarantine" | "audit" | null
const q = { status: "OPEN", items: [], next: null, selected: null, error: null, result: null };
const a = {
  filters: {},
  shown: {}, // the filters of the rows on screen
  cursors: [null],
  page: 0,
  rows: [],
  hasNext: false,
  error: null,
};

export function mount() {
  panel = $("#panel-review");
}

export function route(r) {
  const wanted = r.name === "quarantine" || r.name === "audit" ? r.name : null;
  if (wanted === screen) return;
  screen = wanted;
  if (screen === "quarantine") loadQuarantine();
  else if (screen === "audit") loadAudit(0);
  render();
}

function render() {
  if (!panel || !screen) return;
  replace(panel, screen === "quarantine" ? quarantineView() : auditView());
}

function head(title, id) {
  return h(
    "header.panel-head",
    h("h2", { id }, title),
    h("span.spacer"),
    h("a", { href: "/quarantine", "data-link": true }, "Quarantine"),
    " · ",
    h("a", { href: "/audit", "data-link": true }, "Audit trail"),
  );
}

// -- quarantine ------------------------------------------------------------------------

async function loadQuarantine(more = false) {
  if (!can("quarantine")) return render();
  try {
    const data = await query(Q_QUARANTINE, { status: q.status, after: more ? q.next : null });
    const page = data.quarantine;
    const items = page.edges.map((e) => e.node);
    q.items = more ? [...q.items, ...items] : items;
    q.next = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    q.error = null;
  } catch (e) {
    q.error = errorText(e);
  }
  render();
}

function quarantineView() {
  const top = head("Quarantine", "h-review");
  if (!can("quarantine"))
    return [top, h("div.panel-body", h("p.empty#review-unavailable", QUARANTINE_REASON))];
  const status = h(
    "select#quarantine-status",
    {
      "aria-label": "Which entries",
      onchange: (e) => {
        q.status = e.target.value;
        q.selected = null;
        loadQuarantine();
      },
    },
    ["OPEN", "RESOLVED", "ALL"].map((s) =>
      h("option", { value: s, selected: s === q.status }, s.toLowerCase()),
    ),
  );
  const rows = q.items.map((e) =>
    h(
      "tr",
      {
        dataset: { id: e.id },
        class: q.selected?.id === e.id ? "selected" : null,
        tabindex: "0",
        onclick: () => select(e),
        onkeydown: (ev) => ev.key === "Enter" && select(e),
      },
      h("td", fmtTime(e.receivedAt)),
      h("td", e.pipeline || "—"),
      h("td", e.principal || "—"),
      h("td.reason", e.reason),
      h("td", e.resolution || "open"),
    ),
  );
  return [
    top,
    h(
      "div.panel-body.review-layout",
      h(
        "section",
        h("div.row", h("label", "Show ", status)),
        q.error ? h("p.st-failed", q.error) : null,
        h(
          "table.review-table#quarantine-table",
          h(
            "thead",
            h(
              "tr",
              ["Received", "Pipeline", "Sent by", "Reason", "Status"].map((t) => h("th", t)),
            ),
          ),
          h("tbody", rows),
        ),
        q.items.length ? null : h("p.empty", "Nothing in the quarantine."),
        q.next
          ? h(
              "button#quarantine-more",
              { type: "button", onclick: () => loadQuarantine(true) },
              "More",
            )
          : null,
      ),
      q.selected ? entryDetail(q.selected) : null,
    ),
  ];
}

function select(entry) {
  q.selected = entry;
  q.result = null;
  render();
  $("#quarantine-editor")?.focus();
}

function entryDetail(e) {
  const open = !e.resolvedAt;
  const editor = h("textarea#quarantine-editor", {
    spellcheck: "false",
    rows: 14,
    "aria-label": "Event to re-submit (JSON)",
    disabled: !open,
  });
  editor.value = e.payload ? JSON.stringify(e.payload, null, 2) : e.raw;
  const reason = h("input#quarantine-discard-reason", {
    type: "text",
    placeholder: "why it is discarded",
    "aria-label": "Discard reason",
    disabled: !open,
  });
  return h(
    "section.review-detail#quarantine-detail",
    { "aria-label": "Quarantined event" },
    h("h3", `Entry ${e.id}`),
    h("p.small", h("strong", "Reason: "), e.reason),
    h("p.small.muted", `Sent by ${e.principal || "—"} at ${fmtTime(e.receivedAt)}`),
    e.resolvedAt
      ? h(
          "p.small#quarantine-resolved",
          `${e.resolution} by ${e.resolvedBy || "—"} at ${fmtTime(e.resolvedAt)}`,
          e.resolvedSeq ? ` · stored as seq ${e.resolvedSeq}` : "",
          e.discardReason ? ` · “${e.discardReason}”` : "",
        )
      : null,
    h("details", h("summary", "Raw event as received"), h("pre.raw#quarantine-raw", e.raw)),
    editor,
    h(
      "div.row",
      h(
        "button.primary#quarantine-resubmit",
        { type: "button", disabled: !open, onclick: () => resubmit(e, editor.value) },
        "Re-submit",
      ),
      reason,
      h(
        "button#quarantine-discard",
        { type: "button", disabled: !open, onclick: () => discard(e, reason.value) },
        "Discard",
      ),
    ),
    q.result
      ? h(
          `p.small#quarantine-result.${q.result.ok ? "st-succeeded" : "st-failed"}`,
          { role: "status" },
          q.result.text,
        )
      : null,
  );
}

function showResult(ok, text) {
  q.result = { ok, text };
  announce(text);
  render();
}

async function resubmit(entry, text) {
  let event;
  try {
    event = JSON.parse(text);
  } catch (e) {
    return showResult(false, `Not JSON: ${e.message}`);
  }
  try {
    const data = await query(M_RESUBMIT, { id: entry.id, event });
    const done = data.resubmitQuarantined;
    q.selected = done.entry;
    replaceItem(done.entry);
    showResult(
      true,
      done.duplicates
        ? `Already stored (a duplicate, seq ${done.seq}); the entry is resolved.`
        : `Stored as seq ${done.seq}; the entry is resolved.`,
    );
  } catch (e) {
    showResult(false, `Still invalid, nothing stored: ${errorText(e)}`);
  }
}

async function discard(entry, reason) {
  try {
    const data = await query(M_DISCARD, { id: entry.id, reason });
    q.selected = data.discardQuarantined;
    replaceItem(data.discardQuarantined);
    showResult(true, "Discarded; the entry is resolved.");
  } catch (e) {
    showResult(false, errorText(e));
  }
}

function replaceItem(entry) {
  q.items = q.items.map((e) => (e.id === entry.id ? entry : e));
}

// -- audit trail -----------------------------------------------------------------------

function variables(extra) {
  const f = a.filters;
  const iso = (v) => (v ? new Date(v + "Z").toISOString() : null); // inputs are UTC
  return {
    actor: f.actor || null,
    action: f.action || null,
    target: f.target || null,
    from: iso(f.from),
    to: iso(f.to),
    ...extra,
  };
}

async function loadAudit(page) {
  if (!can("read:audit")) return render();
  const filters = { ...a.filters };
  try {
    const data = await query(Q_AUDIT, variables({ first: AUDIT_PAGE, after: a.cursors[page] }));
    const trail = data.auditTrail;
    a.shown = filters;
    a.page = page;
    a.rows = trail.edges.map((e) => e.node);
    a.hasNext = trail.pageInfo.hasNextPage;
    a.cursors[page + 1] = trail.pageInfo.endCursor;
    a.error = null;
  } catch (e) {
    a.error = errorText(e);
    a.rows = [];
    a.hasNext = false;
  }
  render();
}

function applyFilters(form) {
  const data = new FormData(form);
  a.filters = Object.fromEntries([...data.entries()].map(([k, v]) => [k, String(v).trim()]));
  a.cursors = [null];
  loadAudit(0);
}

const csvCell = (v) => {
  const s = v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The whole filtered trail as CSV (newest first), read a page at a time up to CSV_CAP. */
async function exportCsv() {
  const rows = [];
  let after = null;
  let capped = false;
  try {
    for (;;) {
      const data = await query(Q_AUDIT, variables({ first: CSV_PAGE, after }));
      rows.push(...data.auditTrail.edges.map((e) => e.node));
      if (rows.length >= CSV_CAP) {
        capped = data.auditTrail.pageInfo.hasNextPage || rows.length > CSV_CAP;
        rows.length = Math.min(rows.length, CSV_CAP);
        break;
      }
      if (!data.auditTrail.pageInfo.hasNextPage) break;
      after = data.auditTrail.pageInfo.endCursor;
    }
  } catch (e) {
    a.error = `Export failed: ${errorText(e)}`;
    return render();
  }
  const cols = ["at", "actor", "action", "target", "before", "after", "id"];
  const text = [cols.join(","), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(","))];
  download("audit-trail.csv", text.join("\r\n") + "\r\n", "text/csv");
  announce(
    capped
      ? `Exported the newest ${CSV_CAP} entries (the export's cap); narrow the filters for the rest.`
      : `Exported ${rows.length} entries.`,
  );
}

function auditView() {
  const top = head("Audit trail", "h-review");
  if (!can("read:audit"))
    return [top, h("div.panel-body", h("p.empty#review-unavailable", AUDIT_REASON))];
  const f = a.filters;
  const field = (name, label, attrs = {}) =>
    h("label", label, " ", h(`input#audit-${name}`, { name, value: f[name] || "", ...attrs }));
  const form = h(
    "form.review-filters#audit-filters",
    {
      onsubmit: (e) => {
        e.preventDefault();
        applyFilters(e.target);
      },
    },
    field("actor", "Actor", { placeholder: "key:… or user:…" }),
    field("action", "Action", { placeholder: "owner.changed" }),
    field("target", "Target", { placeholder: "pipeline:<name>" }),
    field("from", "From (UTC)", { type: "datetime-local", step: "1" }),
    field("to", "To (UTC)", { type: "datetime-local", step: "1" }),
    h("button.primary", { type: "submit" }, "Apply"),
    h(
      "button#audit-csv",
      { type: "button", onclick: exportCsv, title: `Every filtered entry, up to ${CSV_CAP}` },
      "Export CSV",
    ),
  );
  const json = (v) => (v === null || v === undefined ? "—" : JSON.stringify(v));
  return [
    top,
    h(
      "div.panel-body",
      form,
      a.error ? h("p.st-failed", a.error) : null,
      h(
        "table.review-table#audit-table",
        // The filters the rows answer (tests wait on them).
        { dataset: { action: a.shown.action || "", target: a.shown.target || "" } },
        h(
          "thead",
          h(
            "tr",
            ["Time", "Actor", "Action", "Target", "Before", "After"].map((t) => h("th", t)),
          ),
        ),
        h(
          "tbody",
          a.rows.map((r) =>
            h(
              "tr",
              { dataset: { id: r.id } },
              h("td", fmtTime(r.at)),
              h("td", r.actor),
              h("td", r.action),
              h("td", r.target),
              h("td.json", json(r.before)),
              h("td.json", json(r.after)),
            ),
          ),
        ),
      ),
      a.rows.length ? null : h("p.empty", "No audit entry matches."),
      h(
        "div.row",
        h(
          "button#audit-prev",
          { type: "button", disabled: a.page === 0, onclick: () => loadAudit(a.page - 1) },
          "Newer",
        ),
        h("span.muted.small#audit-page", `Page ${a.page + 1}`),
        h(
          "button#audit-next",
          { type: "button", disabled: !a.hasNext, onclick: () => loadAudit(a.page + 1) },
          "Older",
        ),
      ),
    ),
  ];
}
