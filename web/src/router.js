// History-API routing; every view is a deep link (/pipelines/<name>, /runs/<id>, ...).
import { state } from "./store.js";

const listeners = new Set();

export function parseRoute(loc = location) {
  const path = decodeURIComponent(loc.pathname);
  const q = new URLSearchParams(loc.search);
  let m;
  if ((m = /^\/pipelines\/(.+)$/.exec(path)))
    return { name: "pipeline", params: { name: m[1] }, query: q };
  if ((m = /^\/runs\/(.+)$/.exec(path))) return { name: "run", params: { id: m[1] }, query: q };
  if ((m = /^\/config(?:\/(.+))?$/.exec(path)))
    return { name: "config", params: { name: m[1] || null }, query: q };
  if (path === "/quarantine") return { name: "quarantine", params: {}, query: q };
  if (path === "/audit") return { name: "audit", params: {}, query: q };
  if ((m = /^\/changes(?:\/(.+))?$/.exec(path)))
    return { name: "changes", params: { name: m[1] || null }, query: q };
  if (path === "/lineage") return { name: "lineage", params: {}, query: q };
  if (path === "/impact") return { name: "impact", params: {}, query: q };
  return { name: "home", params: {}, query: q };
}

let current = parseRoute();
export const currentRoute = () => current;

export function onRoute(fn) {
  listeners.add(fn);
}

function fire() {
  current = parseRoute();
  for (const fn of listeners) fn(current);
}

export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, location.origin);
  if (target.pathname + target.search === location.pathname + location.search) return;
  history[replace ? "replaceState" : "pushState"](
    {},
    "",
    target.pathname + target.search + target.hash,
  );
  fire();
}

/** Esc: one level up: run -> its pipeline, pipeline/graph -> home. */
export function back() {
  const r = current;
  if (r.name === "run") {
    const step = r.query.get("step");
    if (step || r.query.get("call")) return navigate(`/runs/${encodeURIComponent(r.params.id)}`);
    const pipeline = state.runs.get(r.params.id)?.pipeline?.name;
    return navigate(pipeline ? `/pipelines/${encodeURIComponent(pipeline)}` : "/");
  }
  if (r.name !== "home") return navigate("/");
}

export const pipelineHref = (name) => `/pipelines/${encodeURIComponent(name)}`;
export const runHref = (id, extra = {}) => {
  const q = new URLSearchParams(
    Object.entries(extra).filter(([, v]) => v !== null && v !== undefined),
  );
  return `/runs/${encodeURIComponent(id)}${q.toString() ? "?" + q : ""}`;
};
export const lineageHref = (uri, direction) =>
  `/lineage?uri=${encodeURIComponent(uri)}${direction ? `&direction=${direction}` : ""}`;
export const impactHref = (kind, key) =>
  `/impact?kind=${encodeURIComponent(kind)}&key=${encodeURIComponent(key)}`;

window.addEventListener("popstate", fire);
// Same-origin links marked data-link route in place instead of reloading the page.
document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-link]");
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute("href"));
});
