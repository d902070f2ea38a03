// Keyboard shortcuts (Esc back, Ctrl+F search, Ctrl+L logs, Ctrl+P picker, ? help, F5
// refresh the view's data in place; Ctrl+F5 / Shift+F5 still reload the page).
import { $, h, replace, statusBadge, announce } from "./util.js";
import { state, pipelineRuns, refreshView } from "./store.js";
import { navigate, back, currentRoute, pipelineHref } from "./router.js";

const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

export function setupKeys() {
  document.addEventListener("keydown", (e) => {
    const ctrl = e.ctrlKey || e.metaKey;
    const key = e.key.toLowerCase();
    if (e.key === "F5" && !ctrl && !e.shiftKey && !e.altKey) {
      e.preventDefault(); // no reload: the live view re-reads its data instead
      refreshView().then(
        () => announce("Refreshed"),
        (err) => announce(`Refresh failed: ${err.message}`),
      );
      return;
    }
    if (ctrl && key === "p") {
      e.preventDefault();
      openPicker();
      return;
    }
    if (ctrl && key === "l") {
      e.preventDefault();
      focusLogs();
      return;
    }
    if (ctrl && key === "f") {
      e.preventDefault();
      focusSearch();
      return;
    }
    if (e.key === "Escape") {
      if (document.querySelector("dialog[open]")) return; // the dialog closes itself
      if (typing(document.activeElement) && document.activeElement.value) {
        document.activeElement.value = "";
        document.activeElement.dispatchEvent(new Event("input", { bubbles: true }));
        return;
      }
      e.preventDefault();
      back();
      return;
    }
    if (typing(e.target) || ctrl || e.altKey) return;
    if (e.key === "?") {
      e.preventDefault();
      $("#dlg-help").showModal();
    }
  });
  setupPicker();
}

export function focusLogs() {
  const input = $("#log-search");
  $("#panel-logs").scrollIntoView({ block: "nearest" });
  (input || $("#panel-logs")).focus();
}

function focusSearch() {
  // On a run page the prompt inspector's search is the useful one; elsewhere the logs'.
  const r = currentRoute();
  const prompt = $("#prompt-search");
  if (r.name === "run" && prompt && prompt.offsetParent) {
    prompt.focus();
    prompt.select();
    return;
  }
  if ((r.name === "lineage" || r.name === "impact") && $("#graph-uri")) {
    $("#graph-uri").focus();
    return;
  }
  const logs = $("#log-search");
  if (logs) {
    logs.focus();
    logs.select();
  }
}

let pickIndex = 0;
function setupPicker() {
  const input = $("#picker-input");
  input.addEventListener("input", () => {
    pickIndex = 0;
    renderPicker();
  });
  input.addEventListener("keydown", (e) => {
    const items = [...$("#picker-list").children];
    if (e.key === "ArrowDown") {
      pickIndex = Math.min(items.length - 1, pickIndex + 1);
      renderPicker();
      e.preventDefault();
    } else if (e.key === "ArrowUp") {
      pickIndex = Math.max(0, pickIndex - 1);
      renderPicker();
      e.preventDefault();
    } else if (e.key === "Enter") {
      const it = items[pickIndex];
      if (it) choose(it.dataset.name);
      e.preventDefault();
    }
  });
}

function choose(name) {
  $("#dlg-picker").close();
  navigate(pipelineHref(name));
}

function renderPicker() {
  const q = $("#picker-input").value.trim().toLowerCase();
  const names = [...state.pipelines.keys()].sort().filter((n) => !q || n.toLowerCase().includes(q));
  const list = $("#picker-list");
  replace(
    list,
    names.slice(0, 50).map((n, i) => {
      const latest = pipelineRuns(state.pipelines.get(n))[0];
      return h(
        "li",
        {
          role: "option",
          id: `pick-${i}`,
          "aria-selected": String(i === pickIndex),
          dataset: { name: n },
          onclick: () => choose(n),
        },
        h("span", n),
        latest ? statusBadge(latest.status) : null,
      );
    }),
  );
  $("#picker-input").setAttribute("aria-activedescendant", names.length ? `pick-${pickIndex}` : "");
  list.children[pickIndex]?.scrollIntoView({ block: "nearest" });
}

export function openPicker() {
  const dlg = $("#dlg-picker");
  if (dlg.open) return;
  $("#picker-input").value = "";
  pickIndex = 0;
  renderPicker();
  dlg.showModal();
  $("#picker-input").focus();
}
