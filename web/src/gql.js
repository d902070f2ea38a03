// GraphQL transport: queries over HTTP POST, subscriptions over graphql-transport-ws.
// Live data never polls: subscriptions carry it, and after a reconnect they resume from
// the last sequence number seen so nothing is missed and nothing is applied twice.
// Every request carries the signed-in credential (`Authorization: Bearer …` over HTTP, the
// same in graphql-ws `connectionParams`); a refusal hands over to the sign-in view.
import { createClient } from "/static/vendor/graphql-ws/client.js";
import { AuthError, bearer, credential, isForbidden, isRefused, refused } from "./auth.js";

const wsUrl = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;

/** One GraphQL request over HTTP with `cred` (default: the stored credential). */
export async function rawQuery(text, variables = {}, cred = credential()) {
  const headers = { "content-type": "application/json", accept: "application/json" };
  if (cred) headers.authorization = bearer(cred);
  const res = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query: text, variables }),
  });
  const body = await res.json().catch(() => ({ errors: [{ message: `HTTP ${res.status}` }] }));
  if (res.status === 401 || res.status === 403) {
    const detail = body?.detail || body?.error || body?.errors?.[0]?.message || res.statusText;
    throw new AuthError(res.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return { status: res.status, body };
}

export async function query(text, variables = {}) {
  if (isRefused()) throw new AuthError(401, "signed out");
  let body;
  try {
    ({ body } = await rawQuery(text, variables));
  } catch (e) {
    if (e instanceof AuthError && e.status === 401) refused(e);
    throw e;
  }
  if (body.errors && body.errors.length) {
    const err = new Error(body.errors.map((e) => e.message).join("; "));
    err.errors = body.errors;
    err.data = body.data;
    err.forbidden = isForbidden(body.errors);
    throw err;
  }
  return body.data;
}

// Introspection is used once so panels built on fields that may not exist yet (metrics,
// SLA breaches) can say "unavailable" instead of failing.
let schemaFields = null;
// With introspection off (production mode) every field is assumed present and the panels'
// own queries say what is missing.
const EVERYTHING = { has: () => true, get: () => [] };
export async function schemaInfo() {
  if (schemaFields) return schemaFields;
  let data;
  try {
    data = await query(`{ __schema {
    queryType { fields { name args { name } } }
    mutationType { fields { name } }
    subscriptionType { fields { name } }
  } }`);
  } catch (e) {
    if (e instanceof AuthError) throw e;
    schemaFields = { query: EVERYTHING, mutation: EVERYTHING, subscription: EVERYTHING };
    return schemaFields;
  }
  const s = data.__schema;
  schemaFields = {
    query: new Map((s.queryType?.fields || []).map((f) => [f.name, f.args.map((a) => a.name)])),
    mutation: new Set((s.mutationType?.fields || []).map((f) => f.name)),
    subscription: new Set((s.subscriptionType?.fields || []).map((f) => f.name)),
  };
  return schemaFields;
}

export async function typeFields(typeName) {
  const data = await query(
    `query($n: String!) { __type(name: $n) { name kind
    fields { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
    enumValues { name } } }`,
    { n: typeName },
  );
  return data.__type;
}

/** Connection state listeners: "connecting" | "live" | "reconnecting". */
const stateListeners = new Set();
let connState = "connecting";
export const onConnState = (fn) => {
  stateListeners.add(fn);
  fn(connState);
  return () => stateListeners.delete(fn);
};
const setState = (s) => {
  if (s !== connState) {
    connState = s;
    stateListeners.forEach((f) => f(s));
  }
};

let everConnected = false;
const reconnectListeners = new Set();
export const onReconnect = (fn) => reconnectListeners.add(fn);

// graphql-ws close codes for a refused connection_init (4401 unauthorized, 4403 forbidden).
const AUTH_CLOSE = new Set([4401, 4403]);

const client = createClient({
  url: wsUrl(),
  lazy: true,
  // Evaluated on every (re)connect, so reconnects carry the current credential.
  connectionParams: () => (credential() ? { Authorization: bearer() } : {}),
  // The client itself never retries a dropped socket: resilientSubscribe re-subscribes
  // with fresh variables (afterSeq = last seen), which an automatic retry would not do.
  retryAttempts: 0,
  keepAlive: 10_000,
  on: {
    connected: () => {
      setState("live");
      if (everConnected) reconnectListeners.forEach((f) => f());
      everConnected = true;
    },
    closed: (event) => {
      if (event && AUTH_CLOSE.has(event.code)) {
        // 4401 (expired) and 4403 (refused or revoked, also mid-session) both mean the
        // credential is no longer accepted: the same as an HTTP 401.
        refused(new AuthError(401, event.reason || "the live stream refused the credential"));
        setState("signed out");
        return;
      }
      setState("reconnecting");
    },
    error: () => setState("reconnecting"),
  },
});

/**
 * A subscription that survives disconnects. `variables()` is called on every (re)start,
 * so the events subscription can ask for afterSeq = the last seq applied.
 */
export function resilientSubscribe(text, variables, onData, { onRestart, onForbidden } = {}) {
  let dispose = null;
  let stopped = false;
  let attempt = 0;
  let timer = null;
  let lastError = null; // why the subscription ended: handed to onRestart
  const start = () => {
    if (stopped || isRefused()) return;
    dispose = client.subscribe(
      { query: text, variables: variables() },
      {
        next: (msg) => {
          attempt = 0;
          lastError = null;
          if (msg.errors && msg.errors.length) {
            // The server ends a subscription (e.g. SUBSCRIBER_TOO_SLOW) with a result
            // carrying the error, then completes: remember why for the restart.
            console.warn("subscription error", msg.errors);
            lastError = msg.errors;
          }
          if (msg.data) onData(msg.data);
        },
        error: (err) => {
          // A server-side GraphQL error (e.g. "fell behind, resume from N") or a closed
          // socket: either way restart from what was last applied, with backoff.
          if (Array.isArray(err) && isForbidden(err)) {
            // Not for this role: retrying would only be refused again.
            stopped = true;
            if (onForbidden) onForbidden(err);
            return;
          }
          if (Array.isArray(err))
            console.warn("subscription ended:", err.map((e) => e.message).join("; "));
          lastError = err;
          schedule();
        },
        complete: () => schedule(),
      },
    );
  };
  const schedule = () => {
    if (stopped || timer || isRefused()) return;
    attempt += 1;
    const wait = Math.min(5000, 250 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() / 2);
    timer = setTimeout(() => {
      timer = null;
      onRestart && onRestart(lastError);
      start();
    }, wait);
  };
  start();
  return () => {
    stopped = true;
    clearTimeout(timer);
    dispose && dispose();
  };
}

/** Close the live connection for good (sign-out, refused credential). */
export function closeLive() {
  client.dispose();
}
