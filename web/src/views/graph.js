// Lineage (/lineage?uri=…) and blast radius (/impact?kind=…&key=…) as a graph: cytoscape
// with the dagre layered layout, pan/zoom, click (or Enter in the list) to re-root.
// Columns (issue 22): /lineage?…&columns=1 expands every artifact version into its fields
// with the field-level edges between them; /lineage?uri=…&field=… is a field's lineage.
import cytoscape from "/static/vendor/cytoscape/cytoscape.esm.min.mjs";
import dagre from "/static/vendor/cytoscape-dagre/cytoscape-dagre.min.mjs";
import { query } from "../gql.js";
import { h, $, replace, statusBadge, announce } from "../util.js";
import { navigate, lineageHref, impactHref, pipelineHref, runHref } from "../router.js";
import { slaText } from "./pipelines.js";
import { errorText, isForbidden } from "../auth.js";

cytoscape.use(dagre);

// Colour and shape both encode the kind, and every label starts with it in words.
const KIND_STYLE = {
  ARTIFACT_VERSION: ["#58a6ff", "round-rectangle", "artifact"],
  ARTIFACT: ["#79c0ff", "round-rectangle", "artifact"],
  PIPELINE: ["#a371f7", "hexagon", "pipeline"],
  STEP: ["#3fb950", "ellipse", "step"],
  STEP_RUN: ["#56d364", "ellipse", "step run"],
  RUN: ["#d29922", "diamond", "run"],
  PROMPT_VERSION: ["#f778ba", "tag", "prompt"],
  MODEL: ["#ff7b72", "octagon", "model"],
  OWNER: ["#e3b341", "star", "owner"],
  LLM_CALL: ["#db61a2", "vee", "llm call"],
  SLA: ["#f85149", "triangle", "sla"],
  FIELD: ["#39c5cf", "rectangle", "field"],
};
const KINDS = [
  "PIPELINE",
  "STEP",
  "RUN",
  "ARTIFACT",
  "ARTIFACT_VERSION",
  "PROMPT_VERSION",
  "MODEL",
  "OWNER",
];

let panel,
  cy = null,
  side,
  cyBox;
let lastKey = null;

export function mount() {
  panel = $("#panel-graph");
}

export function leave() {
  if (cy) {
    cy.destroy();
    cy = null;
  }
  lastKey = null;
}

export function route(r) {
  const key = r.name + "?" + r.query.toString();
  if (key === lastKey) return;
  lastKey = key;
  if (r.name === "lineage") showLineage(r.query);
  else showImpact(r.query);
}

function frame(title, form, note) {
  if (cy) {
    cy.destroy();
    cy = null;
  }
  cyBox = h("div#cy", {
    role: "img",
    "aria-label": `${title} graph; the list beside it has the same nodes`,
  });
  side = h("aside.graphside#graph-side", { "aria-label": "Nodes and details" });
  replace(
    panel,
    h(
      "header.panel-head",
      h(
        "nav.crumbs",
        { "aria-label": "Breadcrumb" },
        h("a", { href: "/", "data-link": true }, "Dashboard"),
        " / ",
      ),
      h("h2#h-graph", title),
      h("span.spacer"),
      form,
    ),
    note,
    h("div.graphwrap", cyBox, side),
  );
}

// A lineage link keeping the view's other settings (direction, depth, version, field,
// columns), with `changes` applied (null removes a setting).
function lineageLink(q, changes) {
  const params = new URLSearchParams(q.toString());
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined) params.delete(k);
    else params.set(k, v);
  }
  return `/lineage?${params.toString()}`;
}

// The parts of a field id: `<uri>@<version>#<name>`.
function fieldParts(id) {
  const hash = id.lastIndexOf("#");
  const at = id.lastIndexOf("@", hash);
  return { uri: id.slice(0, at), version: id.slice(at + 1, hash), name: id.slice(hash + 1) };
}

function versionParts(id) {
  const at = id.lastIndexOf("@");
  return at > 0 ? { uri: id.slice(0, at), version: id.slice(at + 1) } : null;
}

function lineageForm(q) {
  const uri = h("input#graph-uri", {
    type: "text",
    name: "uri",
    value: q.get("uri") || "",
    placeholder: "artifact URI, e.g. s3://bucket/path",
    "aria-label": "Artifact URI",
    size: 36,
    required: true,
  });
  const field = h("input#graph-field", {
    type: "text",
    name: "field",
    value: q.get("field") || "",
    placeholder: "field (optional)",
    "aria-label": "Field (column-level lineage)",
    size: 12,
  });
  const dir = h(
    "select#graph-direction",
    { name: "direction", "aria-label": "Direction" },
    ["UPSTREAM", "DOWNSTREAM"].map((d) =>
      h(
        "option",
        { value: d, selected: (q.get("direction") || "UPSTREAM") === d },
        d.toLowerCase(),
      ),
    ),
  );
  const depth = h("input#graph-depth", {
    type: "number",
    name: "depth",
    min: "1",
    max: "20",
    value: q.get("depth") || "5",
    "aria-label": "Depth",
    style: { width: "4.5em" },
  });
  const observed = h("input#graph-observed", {
    type: "checkbox",
    name: "observed",
    checked: q.get("observed") === "1",
  });
  return h(
    "form.row",
    {
      role: "search",
      onsubmit: (e) => {
        e.preventDefault();
        const f = field.value.trim();
        const only = observed.checked ? "&observed=1" : "";
        navigate(
          `${lineageHref(uri.value.trim(), dir.value)}&depth=${depth.value}${only}` +
            (f ? `&field=${encodeURIComponent(f)}` : ""),
        );
      },
    },
    uri,
    field,
    dir,
    depth,
    h(
      "label.small",
      { title: "Leave out lineage inferred along a run's step DAG" },
      observed,
      " observed only",
    ),
    h("button", { type: "submit" }, "Show lineage"),
  );
}

function impactForm(q) {
  const kind = h(
    "select#graph-kind",
    { "aria-label": "Node kind" },
    KINDS.map((k) =>
      h("option", { value: k, selected: q.get("kind") === k }, k.toLowerCase().replace("_", " ")),
    ),
  );
  const key = h("input#graph-uri", {
    type: "text",
    value: q.get("key") || "",
    placeholder: "key (uri, pipeline/step, template@version…)",
    "aria-label": "Node key",
    size: 30,
    required: true,
  });
  return h(
    "form.row",
    {
      role: "search",
      onsubmit: (e) => {
        e.preventDefault();
        navigate(impactHref(kind.value, key.value.trim()));
      },
    },
    kind,
    key,
    h("button", { type: "submit" }, "Show blast radius"),
  );
}

function legend() {
  return h(
    "div.legend",
    { "aria-hidden": "true" },
    Object.entries(KIND_STYLE)
      .filter(([k], i) => i < 9 || k === "FIELD")
      .map(([, [c, , w]]) => h("span", { style: { "--c": c } }, w)),
  );
}

async function showLineage(q) {
  const uri = q.get("uri");
  frame("Lineage", lineageForm(q), null);
  if (!uri) {
    replace(
      side,
      h("p.empty", "Enter an artifact URI (or click an artifact in a step's inputs/outputs)."),
    );
    return;
  }
  replace(side, h("p.empty", "Loading…"));
  const direction = q.get("direction") || "UPSTREAM";
  const depth = Number(q.get("depth") || 5);
  const field = q.get("field") || null;
  const version = q.get("version") || null;
  const columns = !field && q.get("columns") === "1";
  const observedOnly = q.get("observed") === "1";
  let g;
  let changes;
  let fields = { nodes: [], edges: [], count: 0 };
  try {
    ({ lineage: g, schemaChanges: changes } = await query(
      `query($uri: String!, $v: String, $d: Direction, $depth: Int, $f: String, $o: Boolean) {
      lineage(uri: $uri, version: $v, direction: $d, depth: $depth, field: $f,
        observedOnly: $o) {
      root { id kind key label depth } nodes { id kind key label depth }
      edges { from to kind via path transformation description } truncated }
      schemaChanges(uri: $uri) { version previousVersion added removed
        retyped { name from to } breaking alerted } }`,
      { uri, v: version, d: direction, depth, f: field, o: observedOnly },
    ));
    if (columns) fields = await versionFields(g.nodes);
  } catch (e) {
    replace(side, h(isForbidden(e) ? "p.muted" : "p.unavailable", errorText(e)));
    return;
  }
  const nodes = dedupe([g.root, ...g.nodes, ...fields.nodes]);
  const edgeLabel = (e) =>
    e.transformation ? e.transformation.toLowerCase() : e.kind === "OBSERVED" ? "" : e.kind;
  draw(
    nodes,
    [
      ...g.edges.map((e) => ({
        from: e.from,
        to: e.to,
        label: e.kind === "INFERRED" ? "inferred" : edgeLabel(e),
        kind: e.kind,
        tip: edgeTip(e),
      })),
      ...(columns ? fields.edges : []),
    ],
    g.root.id,
  );
  const subject = field ? `${uri} · ${field}` : uri;
  const inferred = g.edges.filter((e) => e.kind === "INFERRED");
  replace(
    side,
    legend(),
    h(
      "p.small",
      `${direction === "UPSTREAM" ? "Upstream of" : "Downstream of"} `,
      h("strong", subject),
      g.truncated ? h("span.badge.st-failed", " truncated") : null,
    ),
    field
      ? h(
          "p.row",
          h(
            "a#graph-all-columns",
            { href: lineageLink(q, { field: null }), "data-link": true },
            "Whole artifact",
          ),
          h(
            "a",
            {
              href: `${impactHref("ARTIFACT", uri)}&field=${encodeURIComponent(field)}`,
              "data-link": true,
            },
            "What reads this field",
          ),
        )
      : h(
          "p.row",
          h(
            "button#graph-columns",
            {
              type: "button",
              "aria-pressed": String(columns),
              onclick: () => navigate(lineageLink(q, { columns: columns ? null : "1" })),
            },
            columns ? "Hide columns" : "Columns",
          ),
          columns
            ? h(
                "span.muted.small#graph-columns-note",
                ` ${fields.count} fields, ${fields.edges.filter((e) => e.derived).length} field-level edges`,
              )
            : null,
        ),
    h(
      "p.row",
      h(
        "a",
        {
          href: `${lineageHref(uri, direction === "UPSTREAM" ? "DOWNSTREAM" : "UPSTREAM")}&depth=${depth}`,
          "data-link": true,
        },
        `Show ${direction === "UPSTREAM" ? "downstream" : "upstream"}`,
      ),
      h("a", { href: impactHref("ARTIFACT", uri), "data-link": true }, "Blast radius"),
    ),
    field ? null : schemaChanges(uri, changes),
    nodeList(nodes, g.root.id),
    inferred.length
      ? [
          h("h3", `Inferred edges (${inferred.length})`),
          h(
            "p.muted.small",
            "Dashed in the graph: inside a run, a later step wrote the target and depends " +
              "(through the step DAG) on a step that read or wrote the source.",
          ),
          h(
            "ul.calls#graph-inferred",
            inferred.map((e) => h("li", { title: edgeTip(e) }, `${e.from} → ${e.to}`)),
          ),
        ]
      : null,
  );
  announce(`Lineage of ${subject}: ${nodes.length} nodes`);
}

// The artifact's schema changes, newest first: a removed or retyped field links to what
// reads it (the blast radius of that field).
function schemaChanges(uri, changes) {
  if (!changes.length) return null;
  const reads = (name) =>
    h(
      "a.schema-reads",
      {
        href: `${impactHref("ARTIFACT", uri)}&field=${encodeURIComponent(name)}`,
        "data-link": true,
      },
      `what reads ${name}`,
    );
  return [
    h("h3#schema-changes", `Schema changes (${changes.length})`),
    h(
      "ul.calls#schema-change-list",
      changes.map((c) =>
        h(
          "li",
          { dataset: { version: c.version || "" } },
          h("strong", c.version || "?"),
          h("span.muted", ` from ${c.previousVersion || "?"}`),
          c.breaking ? h("span.badge.st-failed", " breaking") : null,
          c.alerted ? h("span.badge", " owners alerted") : null,
          c.removed.length
            ? h(
                "div",
                "removed ",
                c.removed.map((n) => [h("code", n), " (", reads(n), ") "]),
              )
            : null,
          c.retyped.length
            ? h(
                "div",
                "retyped ",
                c.retyped.map((r) => [
                  h("code", `${r.name}: ${r.from || "?"} → ${r.to || "?"}`),
                  " (",
                  reads(r.name),
                  ") ",
                ]),
              )
            : null,
          c.added.length
            ? h(
                "div",
                "added ",
                c.added.map((n) => [h("code", n), " "]),
              )
            : null,
        ),
      ),
    ),
  ];
}

// The fields of every artifact version of a lineage graph (one request: an aliased
// artifactFields per version, capped), as FIELD nodes beside their versions, with the
// edges field -> version and input field -> derived field (transformation as label).
const MAX_EXPANDED = 40;
async function versionFields(lineageNodes) {
  const versions = lineageNodes
    .filter((n) => n.kind === "ARTIFACT_VERSION")
    .map((n) => ({ id: n.id, ...versionParts(n.id) }))
    .filter((v) => v.uri)
    .slice(0, MAX_EXPANDED);
  if (!versions.length) return { nodes: [], edges: [], count: 0 };
  const args = versions.map((_, i) => `$u${i}: String!, $v${i}: String`).join(", ");
  const body = versions
    .map(
      (_, i) => `f${i}: artifactFields(uri: $u${i}, version: $v${i}) { versionId
        fields { id name type derivedFrom { id transformation subtype description } } }`,
    )
    .join("\n");
  const vars = {};
  versions.forEach((v, i) => {
    vars[`u${i}`] = v.uri;
    vars[`v${i}`] = v.version;
  });
  const data = await query(`query(${args}) { ${body} }`, vars);
  const nodes = [];
  const edges = [];
  const shown = new Set();
  versions.forEach((v, i) => {
    for (const f of data[`f${i}`]?.fields || []) {
      shown.add(f.id);
      nodes.push({
        id: f.id,
        kind: "FIELD",
        key: f.id,
        label: `${v.uri} @ ${v.version} · ${f.name}${f.type ? ": " + f.type : ""}`,
        depth: 0,
        sources: f.derivedFrom,
      });
      edges.push({ from: f.id, to: v.id, label: "", field: true });
    }
  });
  for (const n of nodes)
    for (const s of n.sources)
      if (shown.has(s.id))
        edges.push({
          from: s.id,
          to: n.id,
          label: [s.transformation, s.subtype].filter(Boolean).join("/").toLowerCase(),
          field: true,
          derived: true,
        });
  return { nodes, edges, count: nodes.length };
}

async function showImpact(q) {
  const kind = q.get("kind");
  const key = q.get("key");
  const field = q.get("field") || null;
  frame("Blast radius", impactForm(q), null);
  if (!kind || !key) {
    replace(side, h("p.empty", "Choose a kind and key to see everything downstream of it."));
    return;
  }
  replace(side, h("p.empty", "Loading…"));
  let im;
  try {
    ({ impact: im } = await query(
      `query($k: NodeKind!, $key: String!, $f: String) { impact(kind: $k, key: $key, field: $f) {
      root { id kind key label depth } fields { id uri version name type }
      artifacts { id uri version kind } steps { id key name } pipelines { name owner { name } }
      runs { id status pipeline { name } } owners { id name kind }
      slas { id maxDurationMs maxTokens maxCostUsd minSuccessRate window maxStartDelayMs }
      paths truncated } }`,
      { k: kind, key, f: field },
    ));
  } catch (e) {
    replace(side, h(isForbidden(e) ? "p.muted" : "p.unavailable", errorText(e)));
    return;
  }
  const label = new Map();
  const kindOf = new Map();
  const put = (id, k, l) => {
    if (id && !label.has(id)) {
      label.set(id, l);
      kindOf.set(id, k);
    }
  };
  put(im.root.id, im.root.kind, im.root.label);
  for (const a of im.artifacts)
    put(a.id, "ARTIFACT_VERSION", `${a.uri}${a.version ? "@" + a.version : ""}`);
  for (const s of im.steps) put(s.id, "STEP", s.name || s.key);
  for (const r of im.runs) put(r.id, "RUN", r.id);
  for (const o of im.owners) put(o.id, "OWNER", o.name);
  for (const s of im.slas) put(s.id, "SLA", `SLA ${slaText(s)}`);
  for (const f of im.fields) put(f.id, "FIELD", `${f.uri} @ ${f.version} · ${f.name}`);
  const ids = new Set(im.paths.flat());
  ids.add(im.root.id);
  const edges = new Map();
  for (const p of im.paths)
    for (let i = 1; i < p.length; i++)
      edges.set(`${p[i - 1]}>${p[i]}`, { from: p[i - 1], to: p[i], label: "" });
  const nodes = [...ids].map((id) => ({
    id,
    kind: kindOf.get(id) || guessKind(id, im),
    key: id,
    label: label.get(id) || shortId(id),
    depth: 0,
  }));
  draw(nodes, [...edges.values()], im.root.id);
  replace(
    side,
    legend(),
    h(
      "p.small",
      field ? "Everything reading the field " : "Everything affected by ",
      h("strong", `${kind.toLowerCase()} ${key}${field ? ` · ${field}` : ""}`),
      im.truncated ? h("span.badge.st-failed", " truncated") : null,
    ),
    section(
      "Affected owners",
      im.owners,
      (o) => h("li", h("a", { href: impactHref("OWNER", o.id), "data-link": true }, o.id)),
      "affected-owners",
    ),
    section("SLAs at risk", im.slas, (s) => h("li", slaText(s)), "affected-slas"),
    field
      ? section(
          "Fields reading it",
          im.fields,
          (f) =>
            h(
              "li",
              h(
                "a",
                { href: nodeHref({ kind: "FIELD", key: f.id }), "data-link": true },
                `${f.uri} · ${f.name}`,
              ),
              f.version ? h("span.muted", ` @ ${f.version}`) : null,
            ),
          "affected-fields",
        )
      : null,
    section("Pipelines", im.pipelines, (p) =>
      h(
        "li",
        h("a", { href: pipelineHref(p.name), "data-link": true }, p.name),
        p.owner ? h("span.muted", ` · ${p.owner.name}`) : null,
      ),
    ),
    section("Artifacts", im.artifacts, (a) =>
      h(
        "li",
        h("a", { href: lineageHref(a.uri, "DOWNSTREAM"), "data-link": true }, a.uri),
        a.version ? h("span.muted", ` @ ${a.version}`) : null,
      ),
    ),
    section("Steps", im.steps, (s) => h("li", s.name || s.key)),
    section("Runs", im.runs.slice(0, 50), (r) =>
      h("li", h("a", { href: runHref(r.id), "data-link": true }, r.id), " ", statusBadge(r.status)),
    ),
  );
  announce(
    `Blast radius: ${im.pipelines.length} pipelines, ${im.owners.length} owners, ${im.slas.length} SLAs`,
  );
}

function guessKind(id, im) {
  if (im.pipelines.some((p) => id === p.name || id.endsWith(`:${p.name}`))) return "PIPELINE";
  if (/prompt|@/.test(id)) return "PROMPT_VERSION";
  return "STEP_RUN";
}
const shortId = (id) => (id.length > 40 ? "…" + id.slice(-38) : id);

function section(title, items, fn, id) {
  return [
    h("h3", { id }, `${title} (${items.length})`),
    items.length ? h("ul.calls", items.map(fn)) : h("p.muted.small", "None."),
  ];
}

function dedupe(nodes) {
  const m = new Map();
  for (const n of nodes) if (!m.has(n.id)) m.set(n.id, n);
  return [...m.values()];
}

function nodeHref(n) {
  if (n.kind === "FIELD") {
    const f = fieldParts(n.key);
    return (
      `/lineage?uri=${encodeURIComponent(f.uri)}&version=${encodeURIComponent(f.version)}` +
      `&field=${encodeURIComponent(f.name)}`
    );
  }
  if (n.kind === "ARTIFACT_VERSION" || n.kind === "ARTIFACT") {
    const uri =
      n.kind === "ARTIFACT_VERSION" && n.key.includes("@")
        ? n.key.slice(0, n.key.lastIndexOf("@"))
        : n.key;
    return lineageHref(uri);
  }
  if (n.kind === "RUN") return runHref(n.key);
  if (KINDS.includes(n.kind)) return impactHref(n.kind, n.key);
  return null;
}

function nodeList(nodes, rootId) {
  return [
    h("h3", `Nodes (${nodes.length})`),
    h(
      "ul.calls#graph-nodes",
      nodes.map((n) => {
        const href = nodeHref(n);
        const text = `${KIND_STYLE[n.kind]?.[2] || n.kind.toLowerCase()}: ${n.label}`;
        return h(
          "li",
          { dataset: { node: n.id, kind: n.kind } },
          href ? h("a", { href, "data-link": true }, text) : text,
          n.id === rootId
            ? h("span.muted", " (root)")
            : n.depth
              ? h("span.muted", ` · depth ${n.depth}`)
              : null,
        );
      }),
    ),
  ];
}

// What an edge's tooltip says: an inferred edge's explaining step path and its run.
function edgeTip(e) {
  if (e.kind !== "INFERRED") return e.via ? `${e.kind.toLowerCase()} via ${e.via}` : "";
  return `inferred in run ${e.via} through ${(e.path || []).join(" → ")}`;
}

function draw(nodes, edges, rootId) {
  const ids = new Set(nodes.map((n) => n.id));
  const elements = [
    ...nodes.map((n) => ({
      data: {
        id: n.id,
        label: `${KIND_STYLE[n.kind]?.[2] || n.kind.toLowerCase()}\n${shortLabel(n)}`,
        full: `${n.kind}: ${n.label}`,
        kind: n.kind,
        root: n.id === rootId ? 1 : 0,
        href: nodeHref(n),
      },
    })),
    ...edges
      .filter((e) => ids.has(e.from) && ids.has(e.to))
      .map((e, i) => ({
        data: {
          id: `e${i}`,
          source: e.from,
          target: e.to,
          label: e.label || "",
          kind: e.kind || "",
          tip: e.tip || "",
        },
        classes: e.derived ? "derived" : e.field ? "field" : "",
      })),
  ];
  cy = cytoscape({
    container: cyBox,
    elements,
    wheelSensitivity: 0.3,
    minZoom: 0.2,
    maxZoom: 3,
    style: [
      {
        selector: "node",
        style: {
          label: "data(label)",
          "text-wrap": "wrap",
          "font-size": 10,
          color: "#e6edf3",
          "text-valign": "bottom",
          "text-margin-y": 4,
          "background-color": (n) => KIND_STYLE[n.data("kind")]?.[0] || "#8b949e",
          shape: (n) => KIND_STYLE[n.data("kind")]?.[1] || "ellipse",
          width: 26,
          height: 26,
          "border-width": 1,
          "border-color": "#0d1117",
          "text-background-color": "#0d1117",
          "text-background-opacity": 0.7,
          "text-background-padding": 2,
        },
      },
      {
        selector: "node[root = 1]",
        style: { "border-width": 4, "border-color": "#ffffff", width: 34, height: 34 },
      },
      {
        selector: "edge",
        style: {
          width: 1.5,
          "line-color": "#4b5563",
          "target-arrow-color": "#6b7280",
          "target-arrow-shape": "triangle",
          "curve-style": "bezier",
          label: "data(label)",
          "font-size": 8,
          color: "#9da7b3",
          "text-rotation": "autorotate",
        },
      },
      // A field hangs off its version (dotted); field-level lineage stands out.
      { selector: "edge.field", style: { "line-style": "dotted", width: 1 } },
      {
        selector: "edge.derived",
        style: { "line-color": "#39c5cf", width: 2, "line-style": "solid" },
      },
      {
        // inferred lineage (inside a run, along the step DAG): dashed, its path on hover
        selector: 'edge[kind = "INFERRED"]',
        style: { "line-style": "dashed", "line-color": "#a371f7", "target-arrow-color": "#a371f7" },
      },
      { selector: "node:active, node:selected", style: { "overlay-opacity": 0.15 } },
    ],
    layout: {
      name: "dagre",
      rankDir: "LR",
      nodeSep: 40,
      rankSep: 110,
      animate: false,
      fit: true,
      padding: 30,
    },
  });
  // The edge's tooltip: the page's own element (the canvas has no title per edge).
  const tip = h("div.cy-tip#cy-tip", { role: "tooltip", hidden: true });
  cyBox.append(tip);
  cy.on("mouseover", "edge", (e) => {
    const text = e.target.data("tip");
    if (!text) return;
    const at = e.renderedPosition || e.target.renderedMidpoint();
    tip.textContent = text;
    tip.style.left = `${at.x + 12}px`;
    tip.style.top = `${at.y + 12}px`;
    tip.hidden = false;
  });
  cy.on("mouseout", "edge", () => {
    tip.hidden = true;
  });
  cy.on("tap", "node", (e) => {
    const href = e.target.data("href");
    if (href) navigate(href); // re-root the view on the clicked node
  });
}

const wrap = (s) => (s.length > 26 ? s.slice(0, 24) + "…" : s);

// Graph labels stay short (the side list has the full names): last path segment + version.
function shortLabel(n) {
  const text = n.label || n.key || n.id;
  if (n.kind === "FIELD")
    return wrap(n.label.includes(" · ") ? n.label.split(" · ").pop() : n.label);
  if (n.kind === "ARTIFACT_VERSION" || n.kind === "ARTIFACT" || /^[a-z0-9]+:\/\//.test(text)) {
    const at = text.lastIndexOf("@");
    const [uri, version] =
      at > text.indexOf("//") ? [text.slice(0, at), text.slice(at + 1)] : [text, null];
    const name = uri.replace(/\/+$/, "").split("/").pop() || uri;
    return `${wrap(name.trim())}${version ? `\n@${wrap(version.trim())}` : ""}`;
  }
  if (/#\d+$/.test(text) && text.includes("/"))
    return wrap(text.split("/").slice(1).join("/").replace("#", " #"));
  return wrap(text);
}
