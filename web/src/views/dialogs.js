// The controls' dialogs: start a run (parameters as JSON, environment overrides with
// secrets by name only, checked before anything is sent), create an alert (an SLA on a
// pipeline through `setSla`) and view raw data. Built once, on first use.
import { h, $, replace } from "../util.js";
import { query } from "../gql.js";
import { can, errorText } from "../auth.js";
import { state } from "../store.js";
import { parseParams, parseEnv } from "../forms.js";
import { OPERATE_REASON, startRun } from "../commands.js";

export const SLA_REASON = "Needs the admin role (permission admin:slas)";

function dialog(id, title, ...body) {
  let dlg = document.getElementById(id);
  if (dlg) return dlg;
  dlg = h(
    `dialog#${id}`,
    { "aria-labelledby": `${id}-title` },
    h(`h2#${id}-title`, title),
    ...body,
  );
  document.body.append(dlg);
  return dlg;
}

// ---- start a run -------------------------------------------------------------------------

/** The start dialog for `pipeline`; the command's state then shows on its card. */
export function openStartDialog(pipeline) {
  const dlg = dialog(
    "dlg-start",
    "Start a run",
    h(
      "form.form#start-form",
      { method: "dialog", novalidate: true },
      h("p.muted.small#start-pipeline"),
      h("label", { for: "start-params" }, "Parameters (a JSON object)"),
      h("textarea#start-params", { rows: 5, spellcheck: "false", placeholder: '{"corpus": "kb"}' }),
      h(
        "label",
        { for: "start-env" },
        "Environment overrides, one a line: KEY=value, or KEY={secret: NAME} for a secret",
      ),
      h("textarea#start-env", {
        rows: 4,
        spellcheck: "false",
        placeholder: "LOG_LEVEL=debug\nOPENAI_API_KEY={secret: OPENAI_KEY_PROD}",
      }),
      h("ul.form-errors#start-errors", { role: "alert" }),
      h(
        "div.form-actions",
        h("button#start-submit", { type: "submit", value: "start" }, "Start run"),
        h("button", { type: "button", onclick: () => dlg.close() }, "Cancel"),
      ),
    ),
  );
  const form = $("#start-form", dlg);
  form.onsubmit = (e) => {
    e.preventDefault();
    const params = parseParams($("#start-params", dlg).value);
    const env = parseEnv($("#start-env", dlg).value);
    const errors = [params.error, ...env.errors].filter(Boolean);
    replace(
      $("#start-errors", dlg),
      errors.map((m) => h("li", m)),
    );
    if (errors.length) return; // nothing is sent until every line is right
    dlg.close();
    startRun(dlg.dataset.pipeline, params.value, Object.keys(env.value).length ? env.value : null);
  };
  // Another pipeline's parameters and secret references must not carry over to this one.
  if (dlg.dataset.pipeline !== pipeline) {
    $("#start-params", dlg).value = "";
    $("#start-env", dlg).value = "";
  }
  dlg.dataset.pipeline = pipeline;
  $("#start-pipeline", dlg).textContent = `Pipeline ${pipeline}`;
  replace($("#start-errors", dlg));
  const submit = $("#start-submit", dlg);
  submit.disabled = !can("operate");
  submit.title = can("operate") ? "" : OPERATE_REASON;
  dlg.showModal();
  $("#start-params", dlg).focus();
}

// ---- create an alert (an SLA) ------------------------------------------------------------

const SLA_FIELDS = [
  ["maxDurationMs", "Run duration over (ms)"],
  ["maxTokens", "Tokens per run over"],
  ["maxCostUsd", "Cost per run over (USD)"],
  ["minSuccessRate", "Success rate under (0–1)"],
];

/** The alert form for `pipeline` (or a choice of pipeline): sets one SLA field. */
export function openAlertDialog(pipeline) {
  const dlg = dialog(
    "dlg-alert",
    "Create an alert",
    h(
      "form.form#alert-form",
      { method: "dialog", novalidate: true },
      h("label", { for: "alert-pipeline" }, "Pipeline"),
      h("select#alert-pipeline"),
      h("label", { for: "alert-field" }, "Alert when"),
      h(
        "select#alert-field",
        SLA_FIELDS.map(([k, label]) => h("option", { value: k }, label)),
      ),
      h("label", { for: "alert-value" }, "Threshold"),
      h("input#alert-value", { type: "number", step: "any", min: "0", required: true }),
      h("ul.form-errors#alert-errors", { role: "alert" }),
      h("p.small#alert-result", { role: "status" }),
      h(
        "div.form-actions",
        h("button#alert-submit", { type: "submit" }, "Create alert"),
        h("button", { type: "button", onclick: () => dlg.close() }, "Close"),
      ),
    ),
  );
  replace(
    $("#alert-pipeline", dlg),
    [...state.pipelines.keys()].sort().map((n) => h("option", { value: n }, n)),
  );
  if (pipeline) $("#alert-pipeline", dlg).value = pipeline;
  replace($("#alert-errors", dlg));
  $("#alert-result", dlg).textContent = "";
  $("#alert-form", dlg).onsubmit = async (e) => {
    e.preventDefault();
    const name = $("#alert-pipeline", dlg).value;
    const field = $("#alert-field", dlg).value;
    const value = Number($("#alert-value", dlg).value);
    const bad =
      !$("#alert-value", dlg).value.trim() || !Number.isFinite(value) || value <= 0
        ? "Threshold: a number above 0"
        : field === "minSuccessRate" && value > 1
          ? "Threshold: a success rate is between 0 and 1"
          : null;
    replace($("#alert-errors", dlg), bad ? h("li", bad) : null);
    if (bad) return;
    // setSla sets the whole SLA: keep the fields the pipeline already has.
    const current = { ...(state.pipelines.get(name)?.sla || {}) };
    const sla = Object.fromEntries(
      ["maxDurationMs", "maxTokens", "maxCostUsd", "minSuccessRate", "window", "maxStartDelayMs"]
        .filter((k) => current[k] != null)
        .map((k) => [k, current[k]]),
    );
    sla[field] = field === "maxDurationMs" || field === "maxTokens" ? Math.round(value) : value;
    try {
      await query(
        `mutation($p: String!, $sla: SLAInput!) { setSla(pipeline: $p, sla: $sla) { name } }`,
        { p: name, sla },
      );
      $("#alert-result", dlg).textContent = `Alert created on ${name}.`;
    } catch (err) {
      replace($("#alert-errors", dlg), h("li", errorText(err)));
    }
  };
  const submit = $("#alert-submit", dlg);
  submit.disabled = !can("admin:slas");
  submit.title = can("admin:slas") ? "" : SLA_REASON;
  dlg.showModal();
  $("#alert-value", dlg).focus();
}

// ---- raw data ----------------------------------------------------------------------------

export function showRaw(title, value) {
  const dlg = dialog(
    "dlg-raw",
    "Raw data",
    h("p.muted.small#dlg-raw-what"),
    h("pre.json#dlg-raw-body"),
    h("form", { method: "dialog" }, h("button", "Close")),
  );
  $("#dlg-raw-what", dlg).textContent = title;
  $("#dlg-raw-body", dlg).textContent = JSON.stringify(value, null, 2);
  dlg.showModal();
}
