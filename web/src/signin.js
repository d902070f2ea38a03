// The sign-in view (paste an API key or a bearer JWT), the "who am I" badge in the header
// and sign-out. The page shell is public; every piece of data needs the credential.
import { rawQuery } from "./gql.js";
import { AuthError, forgetCredential, principal, roleName, saveCredential } from "./auth.js";
import { $, h, replace, announce } from "./util.js";

const ME_FULL = "{ me { actor kind roles permissions } }";
const ME_SHORT = "{ me { actor roles } }";
// Servers without `me` yet: any read proves the credential works.
const PROBE = "{ overview { lastSeq } }";

const missingField = (errors, name) =>
  errors?.some((e) => new RegExp(`Cannot query field ['"]${name}['"]`).test(e.message || ""));

/**
 * Ask the service who `cred` is. Resolves to the `me` answer (null when the server has no
 * `me` query); rejects with an AuthError for a refused credential.
 */
export async function whoIs(cred) {
  for (const text of [ME_FULL, ME_SHORT]) {
    const { body } = await rawQuery(text, {}, cred);
    if (body.data?.me) return body.data.me;
    if (missingField(body.errors, "permissions") || missingField(body.errors, "kind")) continue;
    if (missingField(body.errors, "me")) break;
    const msg = body.errors?.map((e) => e.message).join("; ") || "no answer";
    throw new Error(msg);
  }
  const { body } = await rawQuery(PROBE, {}, cred);
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join("; "));
  return null;
}

/** A sentence for the sign-in form explaining why a credential cannot be used. */
export function refusalText(err) {
  if (err instanceof AuthError && err.status === 401)
    return "Sign-in failed: that key was not accepted. Check it was copied whole and has not been revoked.";
  if (err instanceof AuthError && err.status === 403)
    return `Sign-in failed: the service refused this credential (403${err.detail ? `: ${err.detail}` : ""}).`;
  return `Sign-in failed: ${err?.message || err}`;
}

/** Why `me` cannot use the dashboard (an ingester key), or null when it can. */
export function cannotRead(me) {
  if (!me) return null;
  const roles = (me.roles || []).map((r) => String(r).toLowerCase());
  const perms = (me.permissions || []).map((p) => String(p).toLowerCase());
  if (
    perms.includes("read") ||
    roles.some((r) => r === "viewer" || r === "reviewer" || r === "admin")
  )
    return null;
  return `Sign-in failed: that key belongs to ${me.actor} (${roles.join(", ") || "no role"}), which cannot read the dashboard. Use a viewer, reviewer or admin key.`;
}

let onSignedIn = null;

/** Wire the form once; `signedIn(me)` runs after a credential was accepted. */
export function setupSignIn(signedIn) {
  onSignedIn = signedIn;
  const form = $("#signin-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("#signin-credential");
    const text = input.value.trim().replace(/^bearer\s+/i, "");
    const remember = $("#signin-remember").checked;
    if (!text) {
      showError("Paste an API key (tg_…) or a bearer token first.");
      input.focus();
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    showError("");
    $("#signin-status").textContent = "Checking…";
    try {
      const me = await whoIs(text);
      const unusable = cannotRead(me);
      if (unusable) {
        showError(unusable);
        return;
      }
      saveCredential(text, remember);
      input.value = "";
      $("#signin-status").textContent = "";
      onSignedIn(me);
    } catch (err) {
      showError(refusalText(err));
      input.select();
    } finally {
      button.disabled = false;
      if ($("#signin-status").textContent === "Checking…") $("#signin-status").textContent = "";
    }
  });
  $("#btn-signout").addEventListener("click", signOut);
}

function showError(msg) {
  const el = $("#signin-error");
  el.textContent = msg;
  el.hidden = !msg;
}

/** Show the sign-in view (optionally with why); the data views stay hidden behind it. */
export function showSignIn(message = "") {
  document.body.dataset.auth = "signed-out";
  $("#signin").hidden = false;
  $("#whoami").hidden = true;
  showError(message);
  const input = $("#signin-credential");
  input.focus();
  document.title = "Sign in · Tracegraph";
  if (message) announce(message);
}

export function hideSignIn() {
  document.body.dataset.auth = "signed-in";
  $("#signin").hidden = true;
  showError("");
}

/** The header badge: who is signed in and with which role. */
export function renderWhoAmI() {
  const box = $("#whoami");
  box.hidden = false;
  const actor = principal.actor || "signed in";
  const role = principal.known ? roleName() : null;
  replace($("#whoami-actor"), h("span.visually-hidden", "Signed in as "), actor);
  $("#whoami-actor").title = principal.kind ? `${actor} (${principal.kind})` : actor;
  const badge = $("#whoami-role");
  badge.hidden = !role;
  badge.textContent = role || "";
  badge.className = `role-badge role-${role || "unknown"}`;
}

export function signOut() {
  forgetCredential();
  // A reload drops every piece of data the page held and closes the live connection.
  location.replace(location.pathname + location.search);
}
