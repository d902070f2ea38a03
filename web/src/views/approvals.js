// Human approvals inside runs (issue 19): on the run page, the approvals its steps asked
// for — a waiting one with its question, who may decide, the time waiting and the
// timeout, Approve / Deny with a comment (disabled, with the reason, for a principal who
// may not decide); decided ones with who, when and how long they waited. On the pipeline
// cards, a "waiting for approval" marker linking to the waiting run. The data is the run
// document (steps[].approvals, steps[].awaitingApproval: docs/approvals.md), so a
// decision shows as soon as its delta arrives.
import { h, fmtDuration, fmtTime, ts, announce } from "../util.js";
import { query } from "../gql.js";
import { principal, can } from "../auth.js";
import { runHref } from "../router.js";
import { actionButton, keep } from "./controls.js";

const DECIDE = {
  approve: `mutation($a: ID!, $c: String) { approveStep(approvalId: $a, comment: $c) { id state } }`,
  deny: `mutation($a: ID!, $c: String) { denyStep(approvalId: $a, comment: $c) { id state } }`,
};
const drafts = new Map(); // approval id -> the comment typed so far
const outcome = new Map(); // approval id -> {busy, error}

/** Why the signed-in principal may not decide `a` (null: it may), as the server checks:
 * an approver "owner" is the pipeline's owner by identity, any other entry a role name;
 * admins always may. */
export function decideReason(a, ownerId) {
  if (!can("read")) return "Needs a role that can read runs";
  if (!principal.known || principal.roles.includes("admin")) return null;
  for (const entry of a.approvers || []) {
    if (entry === "owner" && ownerId && principal.actor === ownerId) return null;
    if (entry !== "owner" && principal.roles.includes(entry)) return null;
  }
  return `Only ${whoMay(a, ownerId)} may decide`;
}

function whoMay(a, ownerId) {
  const names = (a.approvers || []).map((e) =>
    e === "owner" ? `the owner (${ownerId || "none set"})` : `the ${e} role`,
  );
  return [...names, "an admin"].join(", ");
}

/** The approvals of a run view (current.run), pending first, then newest request. */
export function approvalsOf(run) {
  const list = [];
  for (const s of run?.steps || [])
    for (const a of Object.values(s.approvals || {}))
      list.push({ ...a, stepKey: s.step?.key || s.step, stepRun: s.id });
  const rank = (a) => (a.state === "PENDING" ? 0 : 1);
  return list.sort(
    (x, y) => rank(x) - rank(y) || (ts(y.requestedAt) || 0) - (ts(x.requestedAt) || 0),
  );
}

/** The run page's approvals section (null when the run asked for none). */
export function approvalsSection(run, ownerId, now = Date.now()) {
  const list = approvalsOf(run);
  if (!list.length) return null;
  return h(
    "section.approvals#approvals",
    { "aria-labelledby": "approvals-h" },
    h("h3#approvals-h", "Approvals"),
    list.map((a) => (a.state === "PENDING" ? waiting(a, ownerId, now) : decided(a))),
  );
}

function waiting(a, ownerId, now) {
  const waited = now - (ts(a.requestedAt) || now);
  const left = a.deadline ? ts(a.deadline) - now : null;
  return h(
    "div.approval.pending",
    { dataset: { approval: a.id } },
    h("p.approval-question", h("strong", `Step ${a.stepKey} asks: `), a.question || "—"),
    h(
      "p.approval-meta",
      h("span", `Who may approve: ${whoMay(a, ownerId)}`),
      " · ",
      h("span.approval-waiting", `waiting ${fmtDuration(Math.max(0, waited))}`),
      " · ",
      h(
        "span",
        left === null
          ? "no timeout"
          : `times out in ${fmtDuration(Math.max(0, left))} (timeout ${fmtDuration((a.timeoutS || 0) * 1000)})`,
      ),
    ),
    decisionForm(a, decideReason(a, ownerId)),
  );
}

function decisionForm(a, reason) {
  const state = outcome.get(a.id) || {};
  const sig = JSON.stringify([reason, state]);
  return keep(`approval:${a.id}`, sig, () => {
    const comment = h("input.approval-comment", {
      type: "text",
      placeholder: "Comment (optional)",
      "aria-label": `Comment on the approval of step ${a.stepKey}`,
      value: drafts.get(a.id) || "",
      disabled: Boolean(reason),
      dataset: { focusKey: `approval-comment-${a.id}` },
      oninput: (e) => drafts.set(a.id, e.target.value),
    });
    const button = (kind, label) =>
      actionButton(label, {
        reason: reason || (state.busy ? "A decision is on its way" : null),
        ariaLabel: `${label} step ${a.stepKey}`,
        dataset: { decide: kind, focusKey: `approval-${kind}-${a.id}` },
        onclick: () => decide(a, kind),
      });
    return h(
      "div.approval-actions",
      comment,
      button("approve", "Approve"),
      button("deny", "Deny"),
      state.error ? h("p.approval-error", { role: "alert" }, state.error) : null,
    );
  });
}

async function decide(a, kind) {
  outcome.set(a.id, { busy: true });
  try {
    await query(DECIDE[kind], { a: a.id, c: drafts.get(a.id) || null });
    outcome.set(a.id, {});
    drafts.delete(a.id);
    announce(`Step ${a.stepKey} ${kind === "approve" ? "approved" : "denied"}`);
  } catch (e) {
    outcome.set(a.id, { error: e?.message || String(e) });
  }
}

function decided(a) {
  const verb = { GRANTED: "Approved", DENIED: "Denied", EXPIRED: "Expired" }[a.state] || a.state;
  return h(
    "div.approval",
    { dataset: { approval: a.id }, class: `decided st-${a.state.toLowerCase()}` },
    h("p.approval-question", h("strong", `Step ${a.stepKey} asked: `), a.question || "—"),
    h(
      "p.approval-meta.approval-decision",
      `${verb}${a.state === "EXPIRED" ? "" : ` by ${a.decidedBy}`} at ${fmtTime(a.decidedAt)}`,
      ` after waiting ${fmtDuration(a.waitingMs)}`,
      a.comment ? ` — “${a.comment}”` : "",
    ),
  );
}

/** The card's marker: its newest run with a step waiting for approval, linked. */
export function approvalMarker(p) {
  for (const run of p?.runs?.values() || [])
    if ((run.steps || []).some((s) => s.awaitingApproval))
      return h(
        "a.approval-marker",
        {
          href: runHref(run.id),
          "data-link": true,
          title: `Run ${run.id} waits for an approval`,
        },
        "⏸ waiting for approval",
      );
  return null;
}
