// Run progress from its step runs and the pipeline's step list.
export function runProgress(run, pipeline) {
  const steps = run?.steps || [];
  const total =
    Math.max(pipeline?.steps?.length || 0, new Set(steps.map((s) => s.step?.key)).size) || 0;
  if (run?.status === "SUCCEEDED") return { pct: 100, current: null, total, done: total };
  // The latest attempt of each step decides it.
  const latest = new Map();
  for (const s of steps) {
    const k = s.step?.key;
    const prev = latest.get(k);
    if (!prev || s.attempt >= prev.attempt) latest.set(k, s);
  }
  let done = 0;
  let partial = 0;
  const running = [];
  for (const s of latest.values()) {
    if (s.status === "SUCCEEDED" || s.status === "SKIPPED") done += 1;
    else if (s.status === "RUNNING") {
      running.push(s);
      partial += (s.percent || 0) / 100;
    }
  }
  const pct = total
    ? Math.min(100, ((done + partial) / total) * 100)
    : run?.status === "RUNNING"
      ? 0
      : 100;
  const current = running.length
    ? running.map((s) => s.step.key + (s.attempt > 1 ? ` (attempt ${s.attempt})` : "")).join(", ")
    : null;
  return { pct, current, total, done };
}
