// The configuration panel (/config, /config/<pipeline>; docs/definitions.md): a pipeline's
// definition as YAML in an editor with line numbers, validated by the server while typing
// (each problem marked at its line in the gutter and listed; a click jumps to the line),
// the diff to the current version, and submission as a new version (permission operate).
import { query } from "../gql.js";
import { can, errorText } from "../auth.js";
import { h, $, replace, debounce, announce } from "../util.js";
import { navigate } from "../router.js";

const VALIDATE_MS = 300;
const OPERATE_REASON = "Needs the operate permission (operator or admin role)";

const Q_PIPELINES = `query($after: String) { pipelines(first: 200, after: $after) {
  edges { node { name version } } pageInfo { hasNextPage endCursor } } }`;
const Q_DEFINITION = `query($p: String!) { pipelineDefinition(pipeline: $p) {
  pipeline version yaml versions definedAt } }`;
const DIFF = "diff { fromVersion toVersion text changes { kind step field before after } }";
const Q_VALIDATE = `query($p: String!, $y: String!) { validateDefinition(pipeline: $p, yaml: $y) {
  valid version versionGenerated problems { message path line column }
  warnings { message path line column } ${DIFF} } }`;
const M_SUBMIT = `mutation($p: String!, $y: String!) { submitDefinition(pipeline: $p, yaml: $y) {
  pipeline version seq isCurrent changeRequest { id } } }`;

let panel;
let els = {};
let pipelines = [];
// What the editor holds and what the server said about it.
const ed = {
  pipeline: null,
  current: null, // pipelineDefinition answer
  validation: null, // validateDefinition answer for `validatedText`
  validatedText: null,
  checking: false,
  submitting: false,
  error: null,
  ticket: 0, // answers to older texts are ignored
};

export function mount() {
  panel = $("#panel-config");
}

export function route(r) {
  if (r.name !== "config") return;
  if (!els.text) render();
  loadPipelines();
  const name = r.params.name || null;
  if (name !== ed.pipeline) open(name);
}

function render() {
  const textarea = h("textarea#config-yaml", {
    spellcheck: "false",
    autocomplete: "off",
    wrap: "off",
    "aria-label": "Definition (YAML)",
    "aria-describedby": "config-problems",
    oninput: () => {
      renderGutter();
      renderSubmit();
      validateSoon();
    },
    onscroll: () => (els.gutter.scrollTop = els.text.scrollTop),
  });
  els = {
    list: h("ul.config-list#config-pipelines", { "aria-label": "Pipelines" }),
    title: h("h2#h-config", "Configuration"),
    current: h("span.chip#config-current"),
    // The definition history, its diffs, rollback and pending changes (views/changes.js).
    history: h(
      "a.small#config-history",
      { "data-link": true, hidden: true },
      "History and changes",
    ),
    gutter: h("div.config-gutter#config-gutter", { "aria-hidden": "true" }),
    text: textarea,
    status: h("span.muted.small#config-status", { "aria-live": "polite" }),
    problems: h("ul.config-problems#config-problems", { "aria-label": "Problems" }),
    diff: h("section.config-diff#config-diff", { "aria-label": "Changes" }),
    submit: h(
      "button.primary#config-submit",
      { type: "button", onclick: submit },
      "Submit as new version",
    ),
    reason: h("span.muted.small#config-submit-reason"),
    result: h("p.small#config-result", { role: "status" }),
  };
  panel.replaceChildren(
    h("header.panel-head", els.title, els.current, els.history, h("span.spacer"), els.status),
    h(
      "div.panel-body.config-layout",
      h("nav.config-nav", { "aria-label": "Pipelines to configure" }, els.list),
      h(
        "div.config-main",
        h("div.config-editor", els.gutter, els.text),
        els.problems,
        h("div.row", els.submit, els.reason),
        els.result,
        els.diff,
      ),
    ),
  );
  renderAll();
}

async function loadPipelines() {
  const out = [];
  let after = null;
  try {
    for (;;) {
      const data = await query(Q_PIPELINES, { after });
      out.push(...data.pipelines.edges.map((e) => e.node));
      if (!data.pipelines.pageInfo.hasNextPage) break;
      after = data.pipelines.pageInfo.endCursor;
    }
  } catch (err) {
    replace(els.list, h("li.muted", errorText(err)));
    return;
  }
  pipelines = out.sort((a, b) => a.name.localeCompare(b.name));
  renderList();
}

function renderList() {
  if (!els.list) return;
  replace(
    els.list,
    ...pipelines.map((p) =>
      h(
        "li",
        h(
          "a",
          {
            href: `/config/${encodeURIComponent(p.name)}`,
            "data-link": true,
            "aria-current": p.name === ed.pipeline ? "page" : null,
          },
          p.name,
        ),
        p.version ? h("span.muted.small", ` v${p.version}`) : null,
      ),
    ),
  );
}

async function open(name) {
  Object.assign(ed, {
    pipeline: name,
    current: null,
    validation: null,
    validatedText: null,
    error: null,
    ticket: ed.ticket + 1,
  });
  els.text.value = "";
  els.result.textContent = "";
  renderAll();
  if (!name) return;
  try {
    const data = await query(Q_DEFINITION, { p: name });
    if (ed.pipeline !== name) return;
    ed.current = data.pipelineDefinition;
    els.text.value = ed.current.yaml || "version: '1'\nsteps: []\n";
  } catch (err) {
    ed.error = errorText(err);
  }
  renderAll();
  validate();
}

const validateSoon = debounce(() => validate(), VALIDATE_MS);

async function validate() {
  if (!ed.pipeline) return;
  const text = els.text.value;
  const ticket = ++ed.ticket;
  ed.checking = true;
  renderStatus();
  try {
    const data = await query(Q_VALIDATE, { p: ed.pipeline, y: text });
    if (ticket !== ed.ticket) return;
    ed.validation = data.validateDefinition;
    ed.validatedText = text;
    ed.error = null;
  } catch (err) {
    if (ticket !== ed.ticket) return;
    ed.error = errorText(err);
  }
  ed.checking = false;
  renderAll();
}

async function submit() {
  if (submitReason()) return;
  const text = els.text.value;
  ed.submitting = true;
  renderSubmit();
  try {
    const data = await query(M_SUBMIT, { p: ed.pipeline, y: text });
    const s = data.submitDefinition;
    // Stored is not always live: a later-dated definition stored meanwhile wins.
    const msg = s.changeRequest
      ? `Version ${s.version} of ${s.pipeline} is pending approval (change request ${s.changeRequest.id}).`
      : s.isCurrent === false
        ? `Version ${s.version} of ${s.pipeline} is stored (event seq ${s.seq}) but not current: a later-dated definition wins.`
        : `Version ${s.version} of ${s.pipeline} is live (event seq ${s.seq}).`;
    ed.submitting = false;
    await open(ed.pipeline);
    els.result.textContent = msg;
    announce(msg);
    loadPipelines();
  } catch (err) {
    ed.submitting = false;
    els.result.textContent = `Not submitted: ${errorText(err)}`;
    renderSubmit();
  }
}

/** Why the definition cannot be submitted now, or null. */
function submitReason() {
  if (!can("operate")) return OPERATE_REASON;
  if (!ed.pipeline) return "Choose a pipeline";
  if (ed.submitting) return "Submitting…";
  if (ed.checking || ed.validatedText !== els.text.value) return "Validating…";
  const v = ed.validation;
  if (!v) return ed.error || "Not validated";
  if (!v.valid) {
    const n = v.problems.length;
    return `Fix ${n} problem${n === 1 ? "" : "s"} first`;
  }
  if (!v.diff.changes.length) return "No change to the current version";
  return null;
}

function renderAll() {
  if (!els.text) return;
  els.title.textContent = ed.pipeline ? `Configuration — ${ed.pipeline}` : "Configuration";
  const cur = ed.current;
  els.current.textContent = cur?.version ? `current v${cur.version}` : "";
  els.current.hidden = !cur?.version;
  els.history.hidden = !ed.pipeline;
  if (ed.pipeline) els.history.setAttribute("href", `/changes/${encodeURIComponent(ed.pipeline)}`);
  els.text.disabled = !ed.pipeline;
  els.text.placeholder = ed.pipeline ? "" : "Choose a pipeline on the left";
  renderList();
  renderGutter();
  renderProblems();
  renderDiff();
  renderSubmit();
  renderStatus();
}

/** Problems (and warnings) of the text on screen, by line. */
function problemsByLine(key = "problems") {
  const fresh = ed.validatedText === els.text.value;
  const byLine = new Map();
  for (const p of (fresh && ed.validation?.[key]) || []) {
    if (!p.line) continue;
    byLine.set(p.line, [...(byLine.get(p.line) || []), p]);
  }
  return byLine;
}

function renderGutter() {
  const lines = els.text.value.split("\n").length;
  const byLine = problemsByLine();
  const warned = problemsByLine("warnings");
  const rows = [];
  for (let n = 1; n <= lines; n++) {
    const here = byLine.get(n) || warned.get(n);
    const error = byLine.has(n);
    rows.push(
      h(
        "div.gutter-line",
        {
          class: here ? (error ? "has-error" : "has-warning") : null,
          "data-line": String(n),
          title: here ? here.map((p) => p.message).join("\n") : null,
        },
        here ? (error ? "● " : "▲ ") : "",
        String(n),
      ),
    );
  }
  els.gutter.replaceChildren(...rows);
  els.gutter.scrollTop = els.text.scrollTop;
}

function renderProblems() {
  const v = ed.validation;
  const items = [];
  if (ed.error) items.push(h("li.problem", ed.error));
  const listed = v ? (v.valid ? v.warnings : v.problems) : [];
  for (const p of listed) {
    const where = p.line ? `Line ${p.line}${p.column ? `:${p.column}` : ""}` : "Definition";
    items.push(
      h(
        v.valid ? "li.warning" : "li.problem",
        { "data-line": p.line ? String(p.line) : null },
        h(
          "button.link",
          { type: "button", disabled: !p.line, onclick: () => p.line && jumpTo(p.line) },
          where,
        ),
        " ",
        p.path ? h("code", p.path) : null,
        p.path ? ": " : "",
        p.message,
      ),
    );
  }
  els.problems.replaceChildren(...items);
  els.problems.hidden = !items.length;
}

function jumpTo(line) {
  const lines = els.text.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  els.text.focus();
  els.text.setSelectionRange(start, start + (lines[line - 1] || "").length);
  const lh = parseFloat(getComputedStyle(els.text).lineHeight) || 18;
  els.text.scrollTop = Math.max(0, (line - 3) * lh);
  els.gutter.scrollTop = els.text.scrollTop;
}

const shown = (v) => (v === null || v === undefined ? "—" : JSON.stringify(v));

function renderDiff() {
  const d = ed.validation?.valid ? ed.validation.diff : null;
  if (!d) {
    els.diff.replaceChildren();
    els.diff.hidden = true;
    return;
  }
  const version = ed.validation.versionGenerated
    ? `${ed.validation.version} (generated)`
    : ed.validation.version;
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
  els.diff.hidden = false;
  els.diff.replaceChildren(
    h("h3", `Changes: v${d.fromVersion ?? "—"} → v${version}`),
    rows.length ? h("ul.config-changes", ...rows) : h("p.muted", "No change."),
    h("details", h("summary", "Text diff"), h("pre.config-textdiff", d.text)),
  );
}

function renderSubmit() {
  const reason = submitReason();
  els.submit.disabled = Boolean(reason);
  els.submit.title = reason || "Store this definition as a new version";
  els.reason.textContent = reason || "";
}

function renderStatus() {
  const v = ed.validation;
  els.status.textContent = !ed.pipeline
    ? ""
    : ed.checking
      ? "validating…"
      : v
        ? v.valid
          ? "valid"
          : `${v.problems.length} problem${v.problems.length === 1 ? "" : "s"}`
        : "";
  renderSubmit();
}

/** For the header: open the panel. */
export const openConfig = () => navigate("/config");
