// The prompt inspector: full prompt and response (syntax highlighted), chunks streaming in
// as they arrive, template name/version and variables, token counts, copy/export, search.
import hljs from "/static/vendor/highlight.js/core.min.js";
import json from "/static/vendor/highlight.js/languages/json.min.js";
import markdown from "/static/vendor/highlight.js/languages/markdown.min.js";
import { on } from "../store.js";
import { current, mergedCalls } from "../rundata.js";
import {
  h,
  replace,
  fmtInt,
  fmtUsd,
  fmtDuration,
  copyText,
  download,
  announce,
  frameScheduler,
  preserveFocus,
} from "../util.js";
import { navigate, runHref, impactHref } from "../router.js";
import { can, principal, roleName } from "../auth.js";

hljs.registerLanguage("json", json);
hljs.registerLanguage("markdown", markdown);

let root;
let route = null;
let search = "";
let matchIndex = 0;
let soon;

let content, pickerSlot, exportBtn, searchInput;
let exportFn = null;

export function mount(el) {
  root = el;
  // The toolbar is built once so typing in the search box never loses its caret to a
  // live re-render; only `content` (and the call picker) are redrawn.
  searchInput = h("input#prompt-search", {
    type: "search",
    placeholder: "Search prompt & response",
    "aria-label": "Search prompt and response",
    oninput: (e) => {
      search = e.target.value.toLowerCase();
      matchIndex = 0;
      render();
    },
    onkeydown: (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        jump(e.shiftKey ? -1 : 1);
      }
    },
  });
  pickerSlot = h("span");
  exportBtn = h("button", { type: "button", onclick: () => exportFn && exportFn() }, "Export JSON");
  content = h("div");
  root.append(
    h(
      "div.inspector#prompt-inspector",
      h(
        "div.callpick#prompt-toolbar",
        pickerSlot,
        searchInput,
        h("span.muted.small#prompt-matches", { "aria-live": "polite" }),
        h("span.spacer"),
        exportBtn,
      ),
      content,
    ),
  );
  soon = frameScheduler(render);
  on("runFull", () => soon());
  on("runEvent", (ev) => {
    if (
      ev.type === "prompt.sent" ||
      ev.type === "response.received" ||
      ev.type === "response.chunk"
    ) {
      if (ev.type === "response.chunk" && selectedId() === `${ev.run}/${ev.data?.call}`)
        appendChunk(ev);
      else soon();
    }
  });
}

export function route_(r) {
  route = r;
  render();
}

function selectedId() {
  const want = route?.query.get("call");
  if (want) return want;
  const calls = mergedCalls();
  const streaming = calls.find((c) => c.live && !c.live.received && c.live.chunks.length);
  return (streaming || calls[calls.length - 1])?.id || null;
}

function langOf(text) {
  const t = text.trim();
  if ((t.startsWith("{") && t.endsWith("}")) || (t.startsWith("[") && t.endsWith("]"))) {
    try {
      JSON.parse(t);
      return "json";
    } catch {
      /* not JSON after all */
    }
  }
  return "markdown";
}

function codeBlock(text) {
  const code = h("code");
  if (search) {
    // Search results take precedence over syntax colours so every match can be marked.
    const lower = text.toLowerCase();
    let i = 0;
    for (let j = lower.indexOf(search); j >= 0; j = lower.indexOf(search, i)) {
      code.append(text.slice(i, j), h("mark", text.slice(j, j + search.length)));
      i = j + search.length;
    }
    code.append(text.slice(i));
  } else {
    const lang = langOf(text);
    code.className = `hljs language-${lang}`;
    code.innerHTML = hljs.highlight(text, { language: lang, ignoreIllegals: true }).value;
  }
  return h("pre", code);
}

export function messagesOf(call) {
  const sent = call.live?.sent;
  if (sent?.messages?.length)
    return sent.messages.map((m) => ({
      role: m.role,
      content: typeof m.content === "string" ? m.content : JSON.stringify(m.content, null, 2),
    }));
  const text = sent?.text ?? call.prompt;
  return text != null ? [{ role: "prompt", content: text }] : [];
}

export function responseOf(call) {
  const rec = call.live?.received;
  if (rec?.text != null) return rec.text;
  if (rec?.messages) return rec.messages.map((m) => m.content).join("\n");
  if (call.response != null) return call.response;
  return null;
}

function msgBox(role, text, extraClass = "", id = null) {
  return h(
    `div.msg${extraClass}`,
    { id },
    h(
      "div.role",
      h("span", role),
      h(
        "button",
        {
          type: "button",
          class: "small",
          "aria-label": `Copy ${role}`,
          onclick: async () => announce((await copyText(text)) ? `${role} copied` : "Copy failed"),
        },
        "Copy",
      ),
    ),
    codeBlock(text),
  );
}

function render() {
  if (!root) return;
  preserveFocus(root, renderInner);
}

function setEmpty(msg) {
  document.getElementById("prompt-toolbar").hidden = true;
  replace(content, h("p.empty", msg));
}

function renderInner() {
  if (!route || route.name !== "run") {
    setEmpty(
      "Open a run (click a run or an LLM call) to inspect its prompts and responses as they stream.",
    );
    return;
  }
  const calls = mergedCalls();
  if (!calls.length) {
    setEmpty(current.run || current.missing ? "This run has made no LLM calls yet." : "Loading…");
    return;
  }
  const id = selectedId();
  const call = calls.find((c) => c.id === id) || calls[calls.length - 1];
  const sent = call.live?.sent || {};
  const rec = call.live?.received || {};
  const template = call.promptTemplate || sent.template?.name;
  const version = call.promptVersion || sent.template?.version;
  const provider = call.provider && call.provider !== "unknown" ? call.provider : sent.provider;
  const model = call.model && call.model !== "unknown" ? call.model : sent.model;
  const inTok = call.inputTokens ?? rec.input_tokens ?? sent.input_tokens;
  const outTok = call.outputTokens ?? rec.output_tokens;
  const response = responseOf(call);
  const chunks = call.live?.chunks || [];
  const streaming = response == null && chunks.length > 0;
  // Viewers get the call's metadata but never its text: LLMCall.prompt/response come back
  // null and the events carry a `hidden` marker instead of messages, variables and deltas.
  const hidden =
    !can("read:prompts") ||
    "hidden" in sent ||
    "hidden" in rec ||
    (call.live?.chunks || []).some((c) => c.hidden);
  if (hidden) {
    renderHidden(call, { template, version, provider, model, inTok, outTok, rec, calls });
    return;
  }
  const variables = sent.variables;
  const messages = messagesOf(call);
  const picker = h(
    "select#call-picker",
    {
      "aria-label": "LLM call",
      onchange: (e) =>
        navigate(runHref(current.id, { step: route.query.get("step"), call: e.target.value }), {
          replace: true,
        }),
    },
    calls.map((c) =>
      h(
        "option",
        { value: c.id, selected: c.id === call.id },
        `${c.stepKey || "?"} · ${c.id.split("/").pop()}${c.live && !c.live.received ? " (streaming)" : ""}`,
      ),
    ),
  );
  document.getElementById("prompt-toolbar").hidden = false;
  searchInput.hidden = false;
  exportBtn.hidden = false;
  replace(pickerSlot, picker);
  exportFn = () => exportCall(call, messages, response);
  replace(
    content,
    callMeta(call, { template, version, provider, model, inTok, outTok, rec }),
    variables && Object.keys(variables).length
      ? [
          h("h3", "Variables"),
          h(
            "table#call-vars",
            h(
              "tbody",
              Object.entries(variables).map(([k, v]) =>
                h("tr", h("th", k), h("td.mono", typeof v === "string" ? v : JSON.stringify(v))),
              ),
            ),
          ),
        ]
      : null,
    h("h3", "Prompt"),
    h(
      "div#prompt-messages",
      messages.length
        ? messages.map((m) => msgBox(m.role, m.content))
        : h("p.muted.small", "Prompt not visible (redacted or not received yet)."),
    ),
    h("h3", "Response"),
    streaming
      ? streamingBox(chunks)
      : response != null
        ? msgBox("assistant", response, "", "prompt-response")
        : h("p.muted.small#prompt-response", "Waiting for the response…"),
    h("h3", `Streamed chunks (${chunks.length})`),
    h(
      "ol.chips#chunk-list",
      { start: "0", "aria-label": "Streamed chunks in order" },
      chunks.map((c) => h("li.chip.mono", { title: `chunk ${c.index}` }, JSON.stringify(c.delta))),
    ),
  );
  updateMatches();
}

function callMeta(call, { template, version, provider, model, inTok, outTok, rec }) {
  return h(
    "dl.kv#call-meta",
    h("dt", "Template"),
    h(
      "dd",
      template
        ? h(
            "a",
            {
              href: impactHref("PROMPT_VERSION", `${template}@${version}`),
              "data-link": true,
              title: "Blast radius of this prompt version",
            },
            `${template} v${version ?? "?"}`,
          )
        : "—",
    ),
    h("dt", "Model"),
    h(
      "dd",
      model
        ? h(
            "a",
            { href: impactHref("MODEL", `${provider}/${model}`), "data-link": true },
            `${provider} / ${model}`,
          )
        : "—",
    ),
    h("dt", "Tokens"),
    h("dd", `${fmtInt(inTok)} in · ${fmtInt(outTok)} out`),
    h("dt", "Latency · cost"),
    h(
      "dd",
      `${fmtDuration(call.latencyMs ?? rec.latency_ms)} · ${fmtUsd(call.costUsd ?? rec.cost_usd)}`,
    ),
    rec.finish_reason ? [h("dt", "Finish"), h("dd", rec.finish_reason)] : null,
  );
}

function renderHidden(call, meta) {
  const toolbar = document.getElementById("prompt-toolbar");
  toolbar.hidden = false;
  searchInput.hidden = true;
  exportBtn.hidden = true;
  exportFn = null;
  const picker = h(
    "select#call-picker",
    {
      "aria-label": "LLM call",
      onchange: (e) =>
        navigate(runHref(current.id, { step: route.query.get("step"), call: e.target.value }), {
          replace: true,
        }),
    },
    meta.calls.map((c) =>
      h(
        "option",
        { value: c.id, selected: c.id === call.id },
        `${c.stepKey || "?"} · ${c.id.split("/").pop()}`,
      ),
    ),
  );
  replace(pickerSlot, picker);
  replace(
    content,
    callMeta(call, meta),
    h(
      "p.role-hidden#prompt-hidden",
      { role: "note" },
      `Prompt and response text are hidden for your role${principal.known ? ` (${roleName()})` : ""}.`,
    ),
  );
  updateMatches();
}

function streamingBox(chunks) {
  const code = h(
    "code#stream-text",
    chunks.map((c) => h("span.chunk", { dataset: { index: String(c.index) } }, c.delta)),
  );
  return h(
    "div.msg.streaming#prompt-response",
    h("div.role", h("span", "assistant")),
    h("pre", { "aria-live": "polite", "aria-busy": "true" }, code),
  );
}

function appendChunk(ev) {
  // Streaming appends in place: re-rendering the whole inspector per chunk would flicker.
  if (content.querySelector("#prompt-hidden")) {
    soon();
    return;
  }
  const code = content.querySelector("#stream-text");
  const list = content.querySelector("#chunk-list");
  if (!code || !list || search) {
    soon();
    return;
  }
  const d = ev.data || {};
  const span = h("span.chunk.chunk-fresh", { dataset: { index: String(d.index) } }, d.delta ?? "");
  code.append(span);
  setTimeout(() => span.classList.remove("chunk-fresh"), 600);
  list.append(h("li.chip.mono", { title: `chunk ${d.index}` }, JSON.stringify(d.delta ?? "")));
  const head = list.previousElementSibling;
  if (head) head.textContent = `Streamed chunks (${list.childElementCount})`;
}

function updateMatches() {
  const el = root.querySelector("#prompt-matches");
  if (!el) return;
  const marks = content.querySelectorAll("mark");
  el.textContent = search ? `${marks.length} match${marks.length === 1 ? "" : "es"}` : "";
  if (marks.length) jump(0);
}

function jump(delta) {
  const marks = [...content.querySelectorAll("mark")];
  if (!marks.length) return;
  marks.forEach((m) => m.classList.remove("current"));
  matchIndex = (matchIndex + delta + marks.length) % marks.length;
  marks[matchIndex].classList.add("current");
  marks[matchIndex].scrollIntoView({ block: "nearest" });
}

function exportCall(call, messages, response) {
  const body = {
    id: call.id,
    step: call.stepKey,
    provider: call.provider,
    model: call.model,
    template: call.promptTemplate || call.live?.sent?.template?.name,
    version: call.promptVersion || call.live?.sent?.template?.version,
    variables: call.live?.sent?.variables ?? null,
    messages,
    response,
    chunks: call.live?.chunks ?? [],
    inputTokens: call.inputTokens,
    outputTokens: call.outputTokens,
    latencyMs: call.latencyMs,
    costUsd: call.costUsd,
  };
  download(`${call.id.replace(/[^\w.-]+/g, "_")}.json`, JSON.stringify(body, null, 2));
}
