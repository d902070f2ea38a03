// Commands (issue 18): issue pause/resume/cancel/retry/start over GraphQL, one at a time or
// as a batch, and follow each command's state until it is done. Every view that shows a
// command (run page, pipeline cards, batch bar) reads it here, by its target: a run id, a
// step run (`step:<id>`) or a pipeline's start (`start:<name>`). Nothing here touches the
// DOM (views/controls.js renders).
import { query } from "./gql.js";
import { can, errorText } from "./auth.js";

const FIELDS = "id seq kind state stateReason run stepRun pipeline resultRun";
const MUTATION = {
  pause: `mutation($run: ID!, $key: String!) { pauseRun(run: $run, idempotencyKey: $key) { ${FIELDS} } }`,
  resume: `mutation($run: ID!, $key: String!) { resumeRun(run: $run, idempotencyKey: $key) { ${FIELDS} } }`,
  cancel: `mutation($run: ID!, $key: String!) { cancelRun(run: $run, idempotencyKey: $key) { ${FIELDS} } }`,
  retry: `mutation($run: ID!, $key: String!) { retry(run: $run, idempotencyKey: $key) { ${FIELDS} } }`,
};
const FIELD = { pause: "pauseRun", resume: "resumeRun", cancel: "cancelRun", retry: "retry" };
const BATCH_FIELD = {
  pause: "pauseRuns",
  resume: "resumeRuns",
  cancel: "cancelRuns",
  retry: "retryRuns",
};
const DONE = new Set(["DONE", "REJECTED", "EXPIRED"]);
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED"]);

// The run statuses each action applies to (the server checks again).
export const ACTIONS = {
  pause: ["RUNNING", "SCHEDULED"],
  resume: ["PAUSED"],
  cancel: ["RUNNING", "SCHEDULED", "PAUSED"],
  retry: ["FAILED"],
};
export const LABEL = { pause: "Pause", resume: "Resume", cancel: "Cancel", retry: "Retry" };

export const OPERATE_REASON = "Needs the operator role (permission operate)";

/** Latest command per target: {kind, state, stateReason, resultRun, error, pending}. */
export const latest = new Map();
const listeners = new Set();
export const onCommand = (fn) => listeners.add(fn);
const emit = (target) => listeners.forEach((fn) => fn(target, latest.get(target)));

export const canOperate = () => can("operate");

/** Why `kind` cannot be issued for a run in `status` now, or null when it can. */
export function disabledReason(kind, status, runId = null) {
  if (!canOperate()) return OPERATE_REASON;
  if (!ACTIONS[kind].includes(status)) return statusReason(kind, status);
  const cmd = runId ? latest.get(runId) : null;
  return cmd?.pending ? `A ${cmd.kind} command is on its way` : null;
}

function statusReason(kind, status) {
  const s = (status || "").toLowerCase();
  if (kind === "retry")
    return s ? `Only a failed run can be retried (this one is ${s})` : "No failed run";
  if (TERMINAL.has(status)) return `Run is finished (${s})`;
  if (kind === "resume") return `Run is not paused (it is ${s})`;
  if (kind === "pause" && status === "PAUSED") return "Run is already paused";
  return `Only for a run that is ${ACTIONS[kind].join(" or ").toLowerCase()}`;
}

/** A command's state in words: `pause: done (paused at a checkpoint)`. */
export function stateText(cmd) {
  if (!cmd) return "";
  let text = `${cmd.kind}: ${(cmd.state || "").toLowerCase()}`;
  if (cmd.stateReason) text += ` (${cmd.stateReason})`;
  if (cmd.error) text += ` — ${cmd.error}`;
  return text;
}

function settle(target, kind, cmd) {
  const issuedAt = latest.get(target)?.issuedAt ?? Date.now();
  latest.set(target, { ...cmd, kind, issuedAt, pending: !DONE.has(cmd.state) });
  emit(target);
  if (!DONE.has(cmd.state)) follow(target, cmd.id);
}

function refuse(target, kind, error) {
  latest.set(target, { kind, state: "REFUSED", error, pending: false, issuedAt: Date.now() });
  emit(target);
}

async function send(target, kind, text, variables, field) {
  latest.set(target, { kind, state: "SENDING", pending: true, issuedAt: Date.now() });
  emit(target);
  try {
    const cmd = (await query(text, { ...variables, key: crypto.randomUUID() }))[field];
    settle(target, kind, cmd);
    return cmd;
  } catch (err) {
    refuse(target, kind, errorText(err));
    return null;
  }
}

/** Issue `kind` for `runId`; the state is followed until the command is done. */
export const issue = (kind, runId) =>
  send(runId, kind, MUTATION[kind], { run: runId }, FIELD[kind]);

/** Retry one failed step run: its next attempt. */
export const retryStep = (stepRunId) =>
  send(
    `step:${stepRunId}`,
    "retry",
    `mutation($sr: ID!, $key: String!) { retry(stepRun: $sr, idempotencyKey: $key) { ${FIELDS} } }`,
    { sr: stepRunId },
    "retry",
  );

/** Start a run of `pipeline` with `params` and `env` (checked by views/start.js first). */
export const startRun = (pipeline, params, env) =>
  send(
    `start:${pipeline}`,
    "start",
    `mutation($p: String!, $params: JSON, $env: JSON, $key: String!) {
      startRun(pipeline: $p, params: $params, env: $env, idempotencyKey: $key) { ${FIELDS} } }`,
    { p: pipeline, params, env },
    "startRun",
  );

/**
 * One batch mutation for `runIds` (all or nothing, one idempotency key): each run's
 * command is followed like a single one; a refused batch marks every run with its own
 * problem (`extensions.problems`) or with the batch's error.
 */
export async function issueBatch(kind, runIds) {
  const field = BATCH_FIELD[kind];
  const issuedAt = Date.now();
  for (const id of runIds) latest.set(id, { kind, state: "SENDING", pending: true, issuedAt });
  runIds.forEach(emit);
  try {
    const data = await query(
      `mutation($runs: [ID!]!, $key: String!) { ${field}(runs: $runs, idempotencyKey: $key) { ${FIELDS} } }`,
      { runs: runIds, key: crypto.randomUUID() },
    );
    data[field].forEach((cmd, i) => settle(cmd.run || runIds[i], kind, cmd));
    return data[field];
  } catch (err) {
    const problems = err.errors?.flatMap((e) => e.extensions?.problems || []) || [];
    const byIndex = new Map(problems.map((p) => [p.index, p.message]));
    runIds.forEach((id, i) =>
      refuse(
        id,
        kind,
        byIndex.get(i) ||
          (byIndex.size ? "not sent: another run of the batch was refused" : errorText(err)),
      ),
    );
    return null;
  }
}

// The state changes server-side (delivered, acknowledged, done): poll the one command
// until it is finished, at most a minute (expiry takes over after that).
async function follow(target, id) {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    let cmd;
    try {
      cmd = (await query(`query($id: ID!) { command(id: $id) { ${FIELDS} } }`, { id })).command;
    } catch {
      continue;
    }
    const mine = latest.get(target);
    // Another command of this target took over (even one still being sent, which has
    // no id yet): this poll must not overwrite its state.
    if (!cmd || !mine || mine.id !== id) return;
    latest.set(target, { ...mine, ...cmd, kind: mine.kind, pending: !DONE.has(cmd.state) });
    emit(target);
    if (DONE.has(cmd.state)) return;
  }
}
