// Commands to runs (issue 18): issue pause/resume/cancel/retry over GraphQL and follow
// each command's state until it is done. Listeners get every change; nothing here
// touches the DOM (views/controls.js renders).
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
const DONE = new Set(["DONE", "REJECTED", "EXPIRED"]);

// The run statuses each action applies to (the server checks again).
export const ACTIONS = {
  pause: ["RUNNING", "SCHEDULED"],
  resume: ["PAUSED"],
  cancel: ["RUNNING", "SCHEDULED", "PAUSED"],
  retry: ["FAILED"],
};

export const OPERATE_REASON = "Needs the operate permission (operator or admin role)";

/** Latest command per run id: {kind, state, stateReason, error}. */
export const latest = new Map();
const listeners = new Set();
export const onCommand = (fn) => listeners.add(fn);
const emit = (runId) => listeners.forEach((fn) => fn(runId, latest.get(runId)));

export const canOperate = () => can("operate");

/** Why `kind` cannot be issued for a run in `status` now, or null when it can. */
export function disabledReason(kind, status) {
  if (!canOperate()) return OPERATE_REASON;
  if (!ACTIONS[kind].includes(status))
    return `Only for a run that is ${ACTIONS[kind].join(" or ").toLowerCase()}`;
  const cmd = [...latest.values()].find((c) => c.kind === kind && c.pending);
  return cmd ? "A command is on its way" : null;
}

/** Issue `kind` for `runId`; the state is followed until the command is done. */
export async function issue(kind, runId) {
  const key = crypto.randomUUID();
  latest.set(runId, { kind, state: "SENDING", pending: true });
  emit(runId);
  try {
    const data = await query(MUTATION[kind], { run: runId, key });
    const cmd = data[FIELD[kind]];
    latest.set(runId, { ...cmd, kind, pending: !DONE.has(cmd.state) });
    emit(runId);
    follow(runId, cmd.id);
    return cmd;
  } catch (err) {
    latest.set(runId, { kind, state: "REFUSED", error: errorText(err), pending: false });
    emit(runId);
    return null;
  }
}

// The state changes server-side (delivered, acknowledged, done): poll the one command
// until it is finished, at most a minute (expiry takes over after that).
async function follow(runId, id) {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    let cmd;
    try {
      cmd = (await query(`query($id: ID!) { command(id: $id) { ${FIELDS} } }`, { id })).command;
    } catch {
      continue;
    }
    const mine = latest.get(runId);
    if (!cmd || !mine || (mine.id && mine.id !== id)) return;
    latest.set(runId, { ...cmd, kind: mine.kind, pending: !DONE.has(cmd.state) });
    emit(runId);
    if (DONE.has(cmd.state)) return;
  }
}
