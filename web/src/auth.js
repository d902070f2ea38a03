// Who is signed in: the credential (an API key `tg_…` or a bearer JWT), where it is kept,
// and what the service said about it (`me { actor kind roles permissions }`).
//
// The credential lives in sessionStorage (this tab only, gone when it closes) unless the
// user ticks "remember on this device", which also puts it in localStorage. A sign-in link
// `/#key=<key>` stores it for the session and removes it from the address bar at once.

const STORE_KEY = "tracegraph.credential";

// Mirrors tracegraph.auth.roles for servers that answer `me` without `permissions`.
const ROLE_PERMISSIONS = {
  viewer: ["read"],
  reviewer: ["read", "read:prompts", "read:audit", "quarantine", "breaches:ack"],
  ingester: ["ingest"],
  admin: [
    "read",
    "read:prompts",
    "read:audit",
    "quarantine",
    "breaches:ack",
    "ingest",
    "admin:keys",
    "admin:owners",
    "admin:slas",
    "admin:policy",
  ],
};

/** What `me` answered; `known` stays false against a server without the `me` query. */
export const principal = { known: false, actor: null, kind: null, roles: [], permissions: [] };

export class AuthError extends Error {
  constructor(status, detail) {
    super(detail ? `${status}: ${detail}` : String(status));
    this.name = "AuthError";
    this.status = status;
    this.detail = detail || "";
  }
}

function safeGet(storage) {
  try {
    return storage.getItem(STORE_KEY);
  } catch {
    return null;
  }
}

export function credential() {
  return safeGet(sessionStorage) || safeGet(localStorage) || null;
}

export function saveCredential(text, remember = false) {
  sessionStorage.setItem(STORE_KEY, text);
  if (remember) localStorage.setItem(STORE_KEY, text);
  else localStorage.removeItem(STORE_KEY);
}

export function forgetCredential() {
  sessionStorage.removeItem(STORE_KEY);
  localStorage.removeItem(STORE_KEY);
  Object.assign(principal, { known: false, actor: null, kind: null, roles: [], permissions: [] });
}

/** `Authorization` header value for the stored (or a given) credential. */
export function bearer(text = credential()) {
  return text ? `Bearer ${text}` : null;
}

/** A `#key=…` sign-in link: keep the key for this tab and scrub it from the URL/history. */
export function takeKeyFromUrl() {
  const hash = location.hash.startsWith("#") ? location.hash.slice(1) : "";
  const params = new URLSearchParams(hash);
  const key = params.get("key") || params.get("token");
  if (!key) return false;
  params.delete("key");
  params.delete("token");
  const rest = params.toString();
  history.replaceState(
    history.state,
    "",
    location.pathname + location.search + (rest ? `#${rest}` : ""),
  );
  saveCredential(key.trim(), false);
  return true;
}

export function setPrincipal(me) {
  const roles = (me?.roles || []).map((r) => String(r).toLowerCase());
  const permissions = me?.permissions?.length
    ? me.permissions.map((p) => String(p).toLowerCase())
    : [...new Set(roles.flatMap((r) => ROLE_PERMISSIONS[r] || []))];
  Object.assign(principal, {
    known: Boolean(me),
    actor: me?.actor ?? null,
    kind: me?.kind ?? null,
    roles,
    permissions,
  });
}

/** Does the signed-in principal hold `permission`? Unknown (no `me` on the server): yes. */
export function can(permission) {
  if (!principal.known) return true;
  return principal.permissions.includes(permission);
}

/** The role shown in messages: the strongest one held. */
export function roleName() {
  for (const r of ["admin", "reviewer", "viewer", "ingester"])
    if (principal.roles.includes(r)) return r;
  return principal.roles[0] || "unknown";
}

/** A GraphQL error list (or an Error carrying one) that says "not for your role". */
export function isForbidden(err) {
  if (err instanceof AuthError) return err.status === 403;
  const list = Array.isArray(err) ? err : err?.errors;
  if (!Array.isArray(list)) return false;
  return list.some(
    (e) => e?.extensions?.code === "FORBIDDEN" || /^forbidden\b/i.test(e?.message || ""),
  );
}

// The service refused the credential (401, or the WebSocket closed with 4401/4403): one
// handler (the sign-in view) takes over; everything else stops retrying.
let refusedHandler = null;
let refusedAlready = false;
export function onRefused(fn) {
  refusedHandler = fn;
}
export function isRefused() {
  return refusedAlready;
}
export function refused(reason) {
  if (refusedAlready) return;
  refusedAlready = true;
  if (refusedHandler) refusedHandler(reason);
}

/** How a panel words a failed query: a quiet note for "not for your role", else the error. */
export function errorText(err) {
  if (err?.forbidden || isForbidden(err))
    return `Not available for your role${principal.known ? ` (${roleName()})` : ""}.`;
  return err?.message || String(err);
}
