// Pure helpers for the dashboard's controls (no DOM, no network, so node tests run them):
// the start dialog's parameters and environment overrides, checked before anything is
// sent, and the text formats of the context menus' copy and export items.

// A variable name as the service accepts it (docs/commands.md: `env.X: not a variable name`).
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// `{secret: NAME}` (quotes and spaces optional): a reference the executor resolves by name.
const SECRET_REF = /^\{\s*"?secret"?\s*:\s*"?([A-Za-z_][A-Za-z0-9_]*)"?\s*\}$/;
// Values that look like credentials: the service refuses them too (its redaction rules);
// saying so here keeps the secret from ever leaving the page.
const LOOKS_SECRET = [
  /\btg_[A-Za-z0-9_-]{8,}/, // Tracegraph API keys
  /\bsk-[A-Za-z0-9_-]{10,}/, // OpenAI / Anthropic style keys
  /\bAKIA[0-9A-Z]{16}\b/, // AWS access key ids
  /\bgh[pousr]_[A-Za-z0-9]{20,}/, // GitHub tokens
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/, // Slack tokens
  /\bbearer\s+\S{8,}/i,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\./, // JWTs
];

/** The start dialog's parameters: a JSON object (empty text = `{}`). */
export function parseParams(text) {
  const src = (text || "").trim();
  if (!src) return { value: {}, error: null };
  let value;
  try {
    value = JSON.parse(src);
  } catch (e) {
    return { value: null, error: `Parameters: not valid JSON (${e.message})` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    return {
      value: null,
      error: `Parameters: must be a JSON object, not ${Array.isArray(value) ? "a list" : typeof value}`,
    };
  return { value, error: null };
}

/**
 * Environment overrides, one a line: `KEY=value` or `KEY={secret: NAME}`. Blank lines and
 * `#` comments are skipped. Returns `{value, errors}`; every problem names its line.
 */
export function parseEnv(text) {
  const value = {};
  const errors = [];
  (text || "").split("\n").forEach((raw, i) => {
    const line = raw.trim();
    const where = `Environment line ${i + 1}`;
    if (!line || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    if (eq < 0) {
      errors.push(`${where}: expected KEY=value or KEY={secret: NAME}`);
      return;
    }
    const key = line.slice(0, eq).trim();
    const rest = line.slice(eq + 1).trim();
    if (!VAR_NAME.test(key)) {
      errors.push(`${where}: ${JSON.stringify(key)} is not a variable name`);
      return;
    }
    if (key in value) {
      errors.push(`${where}: ${key} is set twice`);
      return;
    }
    const ref = SECRET_REF.exec(rest);
    if (ref) {
      value[key] = { secret: ref[1] };
      return;
    }
    if (rest.startsWith("{")) {
      errors.push(`${where}: ${key}: a reference is written {secret: NAME}`);
      return;
    }
    if (LOOKS_SECRET.some((re) => re.test(rest))) {
      errors.push(
        `${where}: ${key} looks like a secret — never paste one: reference it by name, ${key}={secret: NAME}`,
      );
      return;
    }
    value[key] = rest;
  });
  return { value, errors };
}

/** CSV text of `rows` (arrays), RFC 4180 quoting; the first row is the header. */
export function toCsv(rows) {
  const cell = (v) => {
    if (v === null || v === undefined) return "";
    const s = typeof v === "object" ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

/**
 * YAML text of a JSON value. Every string is written as a JSON string, which YAML reads
 * as the same double-quoted scalar, so no value can change meaning (`no`, `1e3`, `: `).
 */
export function toYaml(value, indent = "") {
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return value
      .map((v) => {
        const inner = toYaml(v, indent + "  ");
        return isBlock(v) ? `${indent}- ${inner.trimStart()}` : `${indent}- ${inner}`;
      })
      .join("\n");
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (!entries.length) return "{}";
    return entries
      .map(([k, v]) => {
        const key = /^[A-Za-z_][\w-]*$/.test(k) ? k : JSON.stringify(k);
        return isBlock(v)
          ? `${indent}${key}:\n${toYaml(v, indent + "  ")}`
          : `${indent}${key}: ${toYaml(v, indent + "  ")}`;
      })
      .join("\n");
  }
  if (value === null || value === undefined) return "null";
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

const isBlock = (v) =>
  v !== null && typeof v === "object" && (Array.isArray(v) ? v.length : Object.keys(v).length) > 0;

/** A pipeline card's definition in the shape of `pipeline.defined` data. */
export function definitionOf(p) {
  const owner = (o) => (o ? o.id || o.name || o : undefined);
  const clean = (o) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));
  return clean({
    pipeline: p.name,
    version: p.version,
    owner: owner(p.owner),
    sla: p.sla ? clean(p.sla) : undefined,
    steps: (p.steps || []).map((s) =>
      clean({
        key: s.key,
        name: s.name,
        kind: s.kind,
        depends_on: (s.dependsOn || []).map((d) => d.key || d),
        owner: owner(s.owner),
        sla: s.sla ? clean(s.sla) : undefined,
      }),
    ),
  });
}
