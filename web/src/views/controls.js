// Run controls (issue 18): pause, resume, cancel and retry buttons with the command's
// state next to them; disabled with the reason for a role without `operate`; Space
// pauses or resumes the run on screen.
import { h } from "../util.js";
import { ACTIONS, disabledReason, issue, latest, onCommand } from "../commands.js";

const LABEL = { pause: "Pause", resume: "Resume", cancel: "Cancel", retry: "Retry" };

/** The controls of `run` ({id, status}); `rerender` is called when a command changes. */
export function runControls(run) {
  const cmd = latest.get(run.id);
  return h(
    "div.run-controls",
    { role: "group", "aria-label": "Run actions", dataset: { run: run.id } },
    Object.keys(ACTIONS).map((kind) => {
      const reason = disabledReason(kind, run.status);
      return h(
        "button.btn-action",
        {
          type: "button",
          dataset: { action: kind },
          disabled: reason !== null,
          title: reason || `${LABEL[kind]} this run`,
          "aria-label": `${LABEL[kind]} run ${run.id}`,
          onclick: () => issue(kind, run.id),
        },
        LABEL[kind],
      );
    }),
    cmd
      ? h(
          "span.command-state",
          { role: "status", "aria-live": "polite" },
          `${cmd.kind}: ${(cmd.state || "").toLowerCase()}`,
          cmd.stateReason ? ` (${cmd.stateReason})` : "",
          cmd.error ? ` — ${cmd.error}` : "",
        )
      : null,
  );
}

/** Space: pause the run on screen when it runs, resume it when paused. */
export function setupSpace(currentRun, rerender) {
  onCommand(rerender);
  document.addEventListener("keydown", (e) => {
    if (e.key !== " " || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON|A)$/.test(t.tagName))) return;
    const run = currentRun();
    if (!run) return;
    const kind = run.status === "PAUSED" ? "resume" : "pause";
    if (disabledReason(kind, run.status) !== null) return;
    e.preventDefault();
    issue(kind, run.id);
  });
}
