// Small DOM and formatting helpers shared by the views.

/** h("div.card#id", {attrs}, ...children): build an element; strings become text nodes. */
export function h(tag, attrs, ...children) {
  const m = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(tag);
  const node = document.createElement(m[1] || "div");
  for (const part of (m[2] || "").match(/[.#][\w-]+/g) || []) {
    if (part[0] === ".") node.classList.add(part.slice(1));
    else node.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = [node.className, v].filter(Boolean).join(" ");
    else if (k === "style" && typeof v === "object") {
      for (const [prop, val] of Object.entries(v)) {
        // Custom properties (--x) only take effect through setProperty.
        if (prop.startsWith("--")) node.style.setProperty(prop, val);
        else node.style[prop] = val;
      }
    } else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else node.append(c instanceof Node ? c : String(c));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

const nf = new Intl.NumberFormat("en-US");
export const fmtInt = (n) => (n === null || n === undefined ? "—" : nf.format(Math.round(n)));
export function fmtCompact(n) {
  if (n === null || n === undefined) return "—";
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(2) + "B";
  if (a >= 1e6) return (n / 1e6).toFixed(2) + "M";
  if (a >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return nf.format(Math.round(n));
}
export function fmtUsd(n) {
  if (n === null || n === undefined) return "—";
  if (n !== 0 && Math.abs(n) < 0.01) return "$" + n.toFixed(4);
  return "$" + n.toFixed(2);
}
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}
export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").slice(0, 19) + "Z";
}
export const ts = (iso) => (iso ? Date.parse(iso) : null);

// Status is always shown as an icon + word, never by colour alone (WCAG 1.4.1).
const STATUS = {
  RUNNING: ["▶", "running"],
  SUCCEEDED: ["✓", "succeeded"],
  FAILED: ["✕", "failed"],
  CANCELLED: ["⊘", "cancelled"],
  PAUSED: ["⏸", "paused"],
  SKIPPED: ["↷", "skipped"],
  SCHEDULED: ["◷", "scheduled"],
};
export function statusBadge(status) {
  const s = (status || "SCHEDULED").toUpperCase();
  const [icon, word] = STATUS[s] || ["•", s.toLowerCase()];
  return h(
    `span.badge.st-${s.toLowerCase()}`,
    { title: word },
    h("span", { "aria-hidden": "true" }, icon),
    " ",
    word,
  );
}

export const LEVELS = ["debug", "info", "warning", "error", "critical"];
const LEVEL_ICON = { debug: "·", info: "ℹ", warning: "⚠", error: "✕", critical: "‼" };
export const levelIcon = (l) => LEVEL_ICON[l] || "•";

export function download(filename, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API refused (no permission / insecure context): fall back to a selection.
    const ta = h("textarea", { style: { position: "fixed", opacity: "0" } }, text);
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand("copy");
    ta.remove();
    return ok;
  }
}

let announcer = null;
/** Screen-reader announcement through the polite live region. */
export function announce(msg) {
  announcer ||= document.getElementById("announcer");
  if (announcer) announcer.textContent = msg;
}

/** Coalesce work into one animation frame (many events per frame -> one DOM update). */
export function frameScheduler(fn, minIntervalMs = 0) {
  // minIntervalMs caps how often heavy views redraw under a flood of updates (a grid that
  // repaints 4 times a second still looks live, and leaves the main thread free).
  let queued = false;
  let last = 0;
  const run = () => {
    queued = false;
    last = performance.now();
    fn();
  };
  return () => {
    if (queued) return;
    queued = true;
    const wait = last + minIntervalMs - performance.now();
    if (wait > 0) setTimeout(() => requestAnimationFrame(run), wait);
    else requestAnimationFrame(run);
  };
}

export function debounce(fn, ms) {
  let t = null;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

/**
 * Re-render a region without losing keyboard focus: live updates replace nodes, so the
 * focused control is found again by its data-focus-key (or href) and refocused.
 */
export function preserveFocus(root, fn) {
  const active = document.activeElement;
  let key = null;
  if (active && root.contains(active) && active !== root) {
    key = active.dataset.focusKey
      ? `[data-focus-key="${CSS.escape(active.dataset.focusKey)}"]`
      : active.getAttribute("href")
        ? `[href="${CSS.escape(active.getAttribute("href"))}"]`
        : active.id
          ? `#${CSS.escape(active.id)}`
          : null;
  }
  const scrollers = [...root.querySelectorAll(".panel-body")].map((el) => [
    el.dataset.scrollKey || "",
    el.scrollTop,
  ]);
  fn();
  for (const [k, top] of scrollers) {
    const el = root.querySelector(k ? `.panel-body[data-scroll-key="${k}"]` : ".panel-body");
    if (el) el.scrollTop = top;
  }
  if (key) {
    const again = root.querySelector(key);
    if (again && again !== document.activeElement) again.focus({ preventScroll: true });
  }
}
