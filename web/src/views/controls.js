// Run controls (issue 18): pause, resume, cancel and retry buttons with the command's
// state next to them, on the run page and on the pipeline cards. A control that does not
// apply stays focusable but aria-disabled, its reason in the tooltip (a role without
// `operate`, a finished run); Space pauses or resumes the run in focus (views register
// which run that is).
import { h } from "../util.js";
import { runHref } from "../router.js";
import {
  ACTIONS,
  LABEL,
  canOperate,
  disabledReason,
  issue,
  latest,
  onCommand,
  stateText,
} from "../commands.js";

/** A button that says why it is disabled: `reason` null = enabled. */
export function actionButton(label, { reason, title, ariaLabel, onclick, dataset }) {
  return h(
    "button.btn-action",
    {
      type: "button",
      dataset,
      "aria-disabled": reason ? "true" : null,
      title: reason || title,
      "aria-label": ariaLabel,
      onclick: (e) => {
        e.stopPropagation();
        if (!reason) onclick(e);
      },
    },
    label,
  );
}

// Views redraw a few times a second while a run is live: a control rebuilt each time is
// a moving target (a click's press and release can land on two different buttons), so an
// unchanged control is the same element, moved into the new layout.
const kept = new Map(); // key -> {sig, el}

/** `build()`'s element, or the one built before for `key` when `sig` did not change. */
export function keep(key, sig, build) {
  const had = kept.get(key);
  if (had && had.sig === sig) return had.el;
  const el = build();
  kept.set(key, { sig, el });
  return el;
}

/** The controls of `run` ({id, status}); `kinds` chooses which actions are shown. */
export function runControls(run, kinds = Object.keys(ACTIONS)) {
  const sig = JSON.stringify([run.status, kinds, latest.get(run.id) || null, canOperate()]);
  return keep(`run:${run.id}`, sig, () => buildRunControls(run, kinds));
}

function buildRunControls(run, kinds) {
  return h(
    "div.run-controls",
    { role: "group", "aria-label": "Run actions", dataset: { run: run.id } },
    kinds.map((kind) =>
      actionButton(LABEL[kind], {
        reason: disabledReason(kind, run.status, run.id),
        title: `${LABEL[kind]} this run`,
        ariaLabel: `${LABEL[kind]} run ${run.id}`,
        dataset: { action: kind, focusKey: `run-${kind}` },
        onclick: () => issue(kind, run.id),
      }),
    ),
    commandState(run.id),
  );
}

/**
 * The state of the latest command on `target` (a run id, `step:…`, `start:…`);
 * `prefix` says what it is about where that is not obvious (a card's several runs).
 */
export function commandState(target, prefix = "") {
  const cmd = latest.get(target);
  if (!cmd) return null;
  return h(
    "span.command-state",
    {
      role: "status",
      "aria-live": "polite",
      dataset: { state: (cmd.state || "").toLowerCase(), target },
    },
    prefix,
    stateText(cmd),
    cmd.resultRun
      ? [" → ", h("a", { href: runHref(cmd.resultRun), "data-link": true }, cmd.resultRun)]
      : null,
  );
}

const typing = (t) =>
  t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON|A)$/.test(t.tagName));

const spaceTargets = [];
let spaceReady = false;

/**
 * Space: pause the run `currentRun()` returns when it runs, resume it when paused.
 * Several views register one; the first that has a run now takes the key.
 */
export function setupSpace(currentRun, rerender) {
  onCommand(rerender);
  spaceTargets.push(currentRun);
  if (spaceReady) return;
  spaceReady = true;
  document.addEventListener("keydown", (e) => {
    if (e.key !== " " || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    if (typing(e.target) || document.querySelector("dialog[open]")) return;
    const run = spaceTargets.map((fn) => fn()).find(Boolean);
    if (!run) return;
    e.preventDefault(); // never scroll the page instead
    const kind = run.status === "PAUSED" ? "resume" : "pause";
    if (disabledReason(kind, run.status, run.id) !== null) return;
    issue(kind, run.id);
  });
}
