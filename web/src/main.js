// Bootstrap: sign in (or reuse the stored credential), load the initial state over
// GraphQL, start the live subscriptions, route.
import { onConnState, closeLive } from "./gql.js";
import {
  AuthError,
  credential,
  forgetCredential,
  onRefused,
  setPrincipal,
  takeKeyFromUrl,
} from "./auth.js";
import {
  setupSignIn,
  showSignIn,
  hideSignIn,
  renderWhoAmI,
  whoIs,
  refusalText,
  cannotRead,
} from "./signin.js";
import { state, on, loadOverview, loadPipelines, startLive } from "./store.js";
import { onDrift, drift, startDigestChecks } from "./live.js";
import { $, h, fmtInt, fmtUsd, fmtCompact, frameScheduler, announce } from "./util.js";
import { parseRoute, navigate, onRoute, currentRoute, back } from "./router.js";
import * as pipelinesView from "./views/pipelines.js";
import * as runView from "./views/run.js";
import * as logsView from "./views/logs.js";
import * as insightsView from "./views/insights.js";
import * as graphView from "./views/graph.js";
import * as configView from "./views/config.js";
import * as reviewView from "./views/review.js";
import * as changesView from "./views/changes.js";
import { setupKeys, openPicker } from "./keys.js";

const views = [pipelinesView, runView, logsView, insightsView, configView, reviewView, changesView];

function renderHeader() {
  $("#stat-active").textContent = fmtInt(state.activeRuns);
  const tok = $("#stat-tokens");
  tok.textContent = fmtCompact(state.tokens);
  tok.title = `${fmtInt(state.tokens)} tokens since UTC midnight`;
  $("#stat-cost").textContent = fmtUsd(state.cost);
  const hl = $("#stat-health");
  const healthy = state.overview?.healthy;
  hl.replaceChildren(
    h(
      "span",
      { class: healthy ? "health-ok" : "health-bad", "aria-hidden": "true" },
      healthy ? "● " : "▲ ",
    ),
    healthy ? "healthy" : healthy === false ? "degraded" : "—",
  );
}
const headerSoon = frameScheduler(renderHeader);

// The drift indicator: how often the page had to re-read an entity (a missed version, a
// reconnect, a queue overflow) and how often its digest differed from the server's.
function renderDrift(d = drift()) {
  const el = $("#stat-drift");
  const r = d.byReason;
  el.replaceChildren(
    h(
      "span",
      { class: d.mismatches ? "health-bad" : d.resyncs ? "health-warn" : "health-ok" },
      `⟳ ${fmtInt(d.resyncs)} · ≠ ${fmtInt(d.mismatches)}`,
    ),
  );
  el.title =
    `Live view integrity. Resyncs: ${d.resyncs} — the page re-read an entity's state from ` +
    `the server instead of applying a change (gap ${r.GAP}, reconnect ${r.RECONNECT}, ` +
    `overflow ${r.OVERFLOW}, mismatch ${r.MISMATCH}; first loads, not counted: ` +
    `${r.INITIAL}). ` +
    `Digest mismatches: ${d.mismatches} — the page's copy differed from the server's ` +
    (d.digests
      ? `and was replaced. Checked every 30 s; the view never reloads.`
      : `— not checked: digests need HTTPS (crypto.subtle).`);
  el.dataset.resyncs = String(d.resyncs);
  el.dataset.mismatches = String(d.mismatches);
}
const driftSoon = frameScheduler(() => renderDrift());

function renderConn(s) {
  const el = $("#stat-conn");
  const [cls, icon, word] =
    s === "live"
      ? ["health-ok", "●", "live"]
      : s === "connecting"
        ? ["health-warn", "◌", "connecting…"]
        : s === "signed out"
          ? ["health-bad", "⊘", "signed out"]
          : ["health-warn", "↻", "reconnecting…"];
  el.replaceChildren(h("span", { class: cls, "aria-hidden": "true" }, icon + " "), word);
  document.body.dataset.conn = s;
}

function applyRoute(route) {
  const main = $("#main");
  const graphMode = route.name === "lineage" || route.name === "impact";
  main.classList.toggle("graph-mode", graphMode);
  $("#panel-graph").hidden = !graphMode;
  main.classList.toggle("config-mode", route.name === "config" || route.name === "changes");
  $("#panel-config").hidden = route.name !== "config";
  const reviewMode = route.name === "quarantine" || route.name === "audit";
  main.classList.toggle("review-mode", reviewMode);
  $("#panel-review").hidden = !reviewMode;
  $("#panel-changes").hidden = route.name !== "changes";
  document.body.dataset.route = route.name;
  const titles = {
    home: "Overview",
    pipeline: `Pipeline ${route.params.name}`,
    run: `Run ${route.params.id}`,
    lineage: "Lineage",
    impact: "Blast radius",
    config: route.params.name ? `Configure ${route.params.name}` : "Configuration",
    quarantine: "Quarantine",
    audit: "Audit trail",
    changes: route.params.name ? `Changes to ${route.params.name}` : "Changes",
  };
  document.title = `${titles[route.name] || "Tracegraph"} · Tracegraph`;
  $("#page-title").textContent = `Tracegraph — ${titles[route.name] || ""}`;
  if (graphMode) graphView.route(route);
  else graphView.leave();
  for (const v of views) v.route(route);
}

let booted = false;
async function boot() {
  booted = true;
  hideSignIn();
  renderWhoAmI();
  onConnState(renderConn);
  for (const v of views) v.mount();
  graphView.mount();
  setupKeys();
  $("#btn-help").addEventListener("click", () => $("#dlg-help").showModal());
  $("#btn-picker").addEventListener("click", openPicker);
  $("#btn-lineage").addEventListener("click", () => navigate("/lineage"));
  $("#btn-config").addEventListener("click", () => navigate("/config"));
  $("#btn-review").addEventListener("click", () => navigate("/quarantine"));
  $("#btn-changes").addEventListener("click", () => navigate("/changes"));
  on("counters", headerSoon);
  on("overview", headerSoon);
  onDrift(driftSoon);
  renderDrift();
  onRoute(applyRoute);
  try {
    await loadOverview();
    renderHeader();
    // The grid's snapshots first, then its delta topic resumed from their versions: the
    // server sends whatever changed in between, so nothing is lost or sent twice.
    await loadPipelines();
    startLive();
    startDigestChecks();
  } catch (e) {
    console.warn("initial load failed", e);
    announce("Could not load the dashboard data; retrying on reconnect.");
  }
  state.ready = true;
  document.body.dataset.ready = "1";
  applyRoute(currentRoute());
}

async function start() {
  setupSignIn((me) => {
    // A fresh page for a new credential when data of an earlier one is loaded.
    if (booted) {
      location.reload();
      return;
    }
    setPrincipal(me);
    boot();
  });
  onRefused((err) => {
    // The key was revoked (or the token expired) while the page was open.
    forgetCredential();
    closeLive();
    showSignIn(`${refusalText(err).replace(/^Sign-in failed: /, "Signed out: ")}`);
  });
  const fromLink = takeKeyFromUrl();
  if (!credential()) {
    showSignIn();
    return;
  }
  let me;
  try {
    me = await whoIs(credential());
  } catch (err) {
    if (!(err instanceof AuthError)) {
      // The service is unreachable or failing, not refusing: keep the credential and let
      // the views show their own errors and recover on reconnect.
      console.warn("sign-in check failed", err);
      boot();
      return;
    }
    forgetCredential();
    showSignIn(
      fromLink ? refusalText(err).replace("that key", "the key in that link") : refusalText(err),
    );
    return;
  }
  const unusable = cannotRead(me);
  if (unusable) {
    forgetCredential();
    showSignIn(unusable);
    return;
  }
  setPrincipal(me);
  boot();
}

// A read-only handle for benchmarks and debugging from the console.
window.tracegraph = { state, on };
start();
export { navigate, back, parseRoute };
