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
import { $, h, fmtInt, fmtUsd, fmtCompact, frameScheduler, announce } from "./util.js";
import { parseRoute, navigate, onRoute, currentRoute, back } from "./router.js";
import * as pipelinesView from "./views/pipelines.js";
import * as runView from "./views/run.js";
import * as logsView from "./views/logs.js";
import * as insightsView from "./views/insights.js";
import * as graphView from "./views/graph.js";
import { setupKeys, openPicker } from "./keys.js";

const views = [pipelinesView, runView, logsView, insightsView];

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
  document.body.dataset.route = route.name;
  const titles = {
    home: "Overview",
    pipeline: `Pipeline ${route.params.name}`,
    run: `Run ${route.params.id}`,
    lineage: "Lineage",
    impact: "Blast radius",
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
  on("counters", headerSoon);
  on("overview", headerSoon);
  onRoute(applyRoute);
  try {
    await loadOverview();
    renderHeader();
    // Subscribing before the grid's queries return means no event between the two is lost.
    startLive();
    await loadPipelines();
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
