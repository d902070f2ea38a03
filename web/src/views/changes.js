// The governance gate's screen (/changes, /changes/<pipeline>; docs/governance.md, "The
// gate"): change requests with their diff, approved or rejected with a comment (disabled
// with the reason for those who cannot review, and for the author); a pipeline's
// definition history with the diff between two versions and rollback; owner and SLA
// forms that go through the gate ("pending approval" when it holds them).
import { query, resilientSubscribe } from "../gql.js";
import { can, errorText } from "../auth.js";
import { h, $, replace, announce, fmtTime } from "../util.js";

const DIFF = "diff { fromVersion toVersion text changes { kind step field before after } }";
const REQUEST = `id kind state pipeline step author createdAt payload baseVersion reviewer
  comment decidedAt appliedSeq reviewBlocked ${DIFF}`;
const Q_REQUESTS = `query($s: ChangeRequestState, $p: String) {
  changeRequests(state: $s, pipeline: $p) { ${REQUEST} } }`;
const Q_PIPELINE = `query($p: String!) { pipeline(name: $p) { name version owner { id }
  sla { maxDurationMs maxTokens maxCostUsd }
  versions { version author createdAt approvedBy changeRequest } }
  gatePolicy(pipeline: $p) { gated inherited } }`;
const Q_DIFF = `query($p: String!, $f: String!, $t: String!) { pipeline(name: $p) {
  diff(from: $f, to: $t) { fromVersion toVersion text changes { kind step field before after } } } }`;
const M_APPROVE = `mutation($id: ID!, $c: String) { approveChange(id: $id, comment: $c) { id state } }`;
const M_REJECT = `mutation($id: ID!, $c: String!) { rejectChange(id: $id, comment: $c) { id state } }`;
const M_ROLLBACK = `mutation($p: String!, $v: String!) { rollbackPipeline(name: $p, toVersion: $v) {
  version seq changeRequest { id } } }`;
const M_OWNER = `mutation($p: String!, $o: String!) { setOwner(pipeline: $p, owner: $o) {
  owner { id } pendingChanges { id } } }`;
const M_SLA = `mutation($p: String!, $s: SLAInput!) { setSla(pipeline: $p, sla: $s) {
  pendingChanges { id } } }`;
const S_CHANGED = `subscription { changeRequestChanged { id state } }`;

const REVIEW_REASON = "Needs the changes:review permission (reviewer or admin role)";
const OPERATE_REASON = "Needs the operate permission (operator or admin role)";

let panel;
let els = {};
const current = { pipeline: null, state: "PENDING", requests: [], info: null };
let live = null;

export function mount() {
  panel = $("#panel-changes");
}

export function route(r) {
  if (r.name !== "changes") return;
  if (!els.list) render();
  current.pipeline = r.params.name || null;
  if (!live)
    live = resilientSubscribe(
      S_CHANGED,
      () => ({}),
      () => loadRequests(),
    );
  loadRequests();
  loadPipeline();
}

function render() {
  els = {
    title: h("h2#h-changes", "Changes"),
    filter: h(
      "select#changes-state",
      {
        "aria-label": "Show",
        onchange: () => {
          current.state = els.filter.value || null;
          loadRequests();
        },
      },
      h("option", { value: "PENDING" }, "Pending"),
      h("option", { value: "" }, "All"),
    ),
    list: h("ul.changes-list#changes-list", { "aria-label": "Change requests" }),
    pipeline: h("section.changes-pipeline#changes-pipeline", { "aria-label": "Pipeline" }),
    result: h("p.small#changes-result", { role: "status" }),
  };
  panel.replaceChildren(
    h("header.panel-head", els.title, h("span.spacer"), els.filter),
    h("div.panel-body", els.result, els.list, els.pipeline),
  );
}

async function loadRequests() {
  try {
    const data = await query(Q_REQUESTS, { s: current.state, p: current.pipeline });
    current.requests = data.changeRequests;
    renderRequests();
  } catch (err) {
    replace(els.list, h("li.muted", errorText(err)));
  }
}

const shown = (v) => (v === null || v === undefined ? "—" : JSON.stringify(v));

function diffView(d) {
  const rows = d.changes.map((c) =>
    h(
      "li",
      { class: `change-${c.kind.toLowerCase()}`, "data-kind": c.kind.toLowerCase() },
      h("span.change-kind", c.kind.toLowerCase()),
      " ",
      h("code", [c.step ? `step ${c.step}` : "pipeline", c.field].filter(Boolean).join(" · ")),
      c.field ? ` ${shown(c.before)} → ${shown(c.after)}` : "",
    ),
  );
  return h(
    "div.changes-diff",
    rows.length ? h("ul.config-changes", ...rows) : h("p.muted", "No change."),
    h("details", h("summary", "Text diff"), h("pre.config-textdiff", d.text)),
  );
}

/** Why the caller cannot decide `r` now (the server says, the role is checked here too). */
function reviewReason(r) {
  if (!can("changes:review")) return REVIEW_REASON;
  return r.reviewBlocked;
}

function requestItem(r) {
  const comment = h("input.changes-comment", {
    type: "text",
    placeholder: "Comment (required to reject)",
    "aria-label": `Comment on ${r.id}`,
  });
  const reason = reviewReason(r);
  const decide = async (approve) => {
    const c = comment.value.trim();
    try {
      await query(approve ? M_APPROVE : M_REJECT, { id: r.id, c: c || null });
      const msg = `Change request ${r.id} ${approve ? "approved" : "rejected"}.`;
      els.result.textContent = msg;
      announce(msg);
    } catch (err) {
      els.result.textContent = `Not decided: ${errorText(err)}`;
    }
    loadRequests();
    loadPipeline();
  };
  const what =
    r.kind === "ROLLBACK" ? `rollback to v${r.payload.rollback_of}` : r.kind.toLowerCase();
  return h(
    "li.changes-item",
    { "data-id": r.id, "data-state": r.state.toLowerCase() },
    h(
      "div.row",
      h("strong", `${r.pipeline}${r.step ? ` / ${r.step}` : ""}`),
      h("span.chip", what),
      h("span.chip.changes-state", r.state.toLowerCase()),
      h("span.muted.small", ` by ${r.author} · ${fmtTime(r.createdAt)}`),
      r.reviewer
        ? h(
            "span.muted.small",
            ` · ${r.state.toLowerCase()} by ${r.reviewer}${r.comment ? `: “${r.comment}”` : ""}`,
          )
        : null,
    ),
    h("p.small", `v${r.diff.fromVersion ?? "—"} → v${r.diff.toVersion ?? "—"}`),
    diffView(r.diff),
    r.state === "PENDING"
      ? h(
          "div.row",
          comment,
          h(
            "button.primary.changes-approve",
            {
              type: "button",
              disabled: Boolean(reason),
              title: reason || "Approve",
              onclick: () => decide(true),
            },
            "Approve",
          ),
          h(
            "button.changes-reject",
            {
              type: "button",
              disabled: Boolean(reason),
              title: reason || "Reject",
              onclick: () => decide(false),
            },
            "Reject",
          ),
          h("span.muted.small.changes-reason", reason || ""),
        )
      : null,
  );
}

function renderRequests() {
  els.title.textContent = current.pipeline ? `Changes — ${current.pipeline}` : "Changes";
  replace(
    els.list,
    ...(current.requests.length
      ? current.requests.map(requestItem)
      : [h("li.muted", "No change requests.")]),
  );
}

async function loadPipeline() {
  const name = current.pipeline;
  if (!name) {
    replace(els.pipeline, h("p.muted", "Open /changes/<pipeline> for its history, owner and SLA."));
    return;
  }
  try {
    const data = await query(Q_PIPELINE, { p: name });
    if (current.pipeline !== name) return;
    current.info = data;
    renderPipeline();
  } catch (err) {
    replace(els.pipeline, h("p.muted", errorText(err)));
  }
}

function say(msg) {
  els.result.textContent = msg;
  announce(msg);
}

async function rollback(version) {
  try {
    const data = await query(M_ROLLBACK, { p: current.pipeline, v: version });
    const s = data.rollbackPipeline;
    say(
      s.changeRequest
        ? `Rollback to v${version} is pending approval (change request ${s.changeRequest.id}).`
        : `Rolled back: v${version} is live again as v${s.version}.`,
    );
  } catch (err) {
    say(`Not rolled back: ${errorText(err)}`);
  }
  loadRequests();
  loadPipeline();
}

async function showDiff(from, to, into) {
  try {
    const data = await query(Q_DIFF, { p: current.pipeline, f: from, t: to });
    replace(into, h("h4", `v${from} → v${to}`), diffView(data.pipeline.diff));
  } catch (err) {
    replace(into, h("p.muted", errorText(err)));
  }
}

function versionsView(p) {
  const versions = p.versions;
  const rollbackReason = can("operate") ? null : OPERATE_REASON;
  const diffBox = h("div#changes-version-diff");
  const rows = versions.map((v, i) =>
    h(
      "tr",
      { "data-version": v.version },
      h("td", `v${v.version}`, v.version === p.version ? h("span.chip", "current") : null),
      h("td", v.author || "—"),
      h("td", fmtTime(v.createdAt)),
      h("td", v.approvedBy ? `${v.approvedBy} (${v.changeRequest})` : "—"),
      h(
        "td",
        i > 0
          ? h(
              "button.link.changes-diff-btn",
              {
                type: "button",
                onclick: () => showDiff(versions[i - 1].version, v.version, diffBox),
              },
              `Diff v${versions[i - 1].version}`,
            )
          : null,
        " ",
        v.version !== p.version
          ? h(
              "button.changes-rollback",
              {
                type: "button",
                disabled: Boolean(rollbackReason),
                title: rollbackReason || `Propose v${v.version} again as a new version`,
                onclick: () => rollback(v.version),
              },
              `Roll back to v${v.version}`,
            )
          : null,
      ),
    ),
  );
  return h(
    "div",
    h("h3", "Definition history"),
    h(
      "table.changes-versions#changes-versions",
      h(
        "thead",
        h("tr", ...["Version", "Author", "Created", "Approved by", ""].map((t) => h("th", t))),
      ),
      h("tbody", ...rows),
    ),
    rollbackReason ? h("p.muted.small", rollbackReason) : null,
    diffBox,
  );
}

function governanceForms(p) {
  const ownerReason = can("admin:owners") ? null : "Needs the admin:owners permission (admin role)";
  const slaReason = can("admin:slas") ? null : "Needs the admin:slas permission (admin role)";
  const owner = h("input#changes-owner", {
    type: "text",
    value: p.owner?.id || "",
    "aria-label": "Owner",
  });
  const tokens = h("input#changes-max-tokens", {
    type: "number",
    min: "0",
    value: p.sla?.maxTokens ?? "",
    "aria-label": "SLA max tokens",
  });
  const outcome = (res, what) =>
    res.pendingChanges.length
      ? say(`${what} is pending approval (change request ${res.pendingChanges[0].id}).`)
      : say(`${what} is set.`);
  const setOwner = async () => {
    try {
      outcome((await query(M_OWNER, { p: p.name, o: owner.value.trim() })).setOwner, "The owner");
    } catch (err) {
      say(`Owner not set: ${errorText(err)}`);
    }
    loadRequests();
    loadPipeline();
  };
  const setSla = async () => {
    const sla = { ...(p.sla || {}), maxTokens: tokens.value === "" ? null : Number(tokens.value) };
    try {
      outcome((await query(M_SLA, { p: p.name, s: sla })).setSla, "The SLA");
    } catch (err) {
      say(`SLA not set: ${errorText(err)}`);
    }
    loadRequests();
    loadPipeline();
  };
  return h(
    "div",
    h("h3", "Owner and SLA"),
    h(
      "div.row",
      owner,
      h(
        "button#changes-set-owner",
        {
          type: "button",
          disabled: Boolean(ownerReason),
          title: ownerReason || "Set the owner",
          onclick: setOwner,
        },
        "Set owner",
      ),
      h("span.muted.small", ownerReason || ""),
    ),
    h(
      "div.row",
      tokens,
      h(
        "button#changes-set-sla",
        {
          type: "button",
          disabled: Boolean(slaReason),
          title: slaReason || "Set the SLA",
          onclick: setSla,
        },
        "Set SLA",
      ),
      h("span.muted.small", slaReason || ""),
    ),
  );
}

function renderPipeline() {
  const { pipeline: p, gatePolicy: g } = current.info;
  const gated = g.gated.length
    ? `Gated: ${g.gated.map((k) => k.toLowerCase()).join(", ")}${g.inherited ? " (default policy)" : ""}`
    : "Not gated: changes apply at once";
  replace(els.pipeline, h("p.small#changes-gate", gated), versionsView(p), governanceForms(p));
}
