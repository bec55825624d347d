/**
 * GET /auth/external/callback: where an upstream provider sends the browser
 * back when a login named this server's own callback as its redirect URL.
 * The code is redeemed here, server-side, and the browser goes on to the
 * provider's front-end URL with a single-use hand-off code and the state —
 * never with tokens. The front end exchanges the hand-off code with
 * CompleteExternalLogin.
 *
 * GET /auth/external/test-page: a minimal front end for that flow, served
 * only when LATCHKEY_EXTERNAL_LOGIN_TEST_PAGE=true (end-to-end tests in a
 * real browser). It calls the RPCs over Connect JSON with fetch.
 */
import type { Context, Hono } from "hono";
import { resolveClientAddress } from "../../domain/client-address.js";
import type { CallbackOutcome } from "../../services/external-login/external-login.js";
import type { ClientInfo } from "../../services/tokens/token-service.js";

export const EXTERNAL_TEST_PAGE_PATH = "/auth/external/test-page";

export interface ExternalLoginRouteDeps {
  externalCallback: (query: URLSearchParams, client: ClientInfo) => Promise<CallbackOutcome>;
  externalLoginTestPage: boolean;
  trustedProxies: readonly string[];
}

/** The codes in these URLs must not travel on in a Referer or sit in a cache. */
function noStore(c: Context) {
  c.header("Cache-Control", "no-store");
  c.header("Referrer-Policy", "no-referrer");
}

function peerOf(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? c.req.header("cf-connecting-ip") ?? "";
}

export function mountExternalLoginRoutes(app: Hono, deps: ExternalLoginRouteDeps): void {
  app.get("/auth/external/callback", async (c) => {
    noStore(c);
    const client = {
      clientAddress: resolveClientAddress(peerOf(c), c.req.header("x-forwarded-for") ?? null, deps.trustedProxies),
      userAgent: (c.req.header("user-agent") ?? "").slice(0, 256),
    };
    const outcome = await deps.externalCallback(new URL(c.req.url).searchParams, client);
    if (outcome.kind === "redirect") return c.redirect(outcome.location, 303);
    return c.text(outcome.message, outcome.status);
  });

  if (!deps.externalLoginTestPage) return;
  app.get(EXTERNAL_TEST_PAGE_PATH, (c) => {
    noStore(c);
    c.header("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'none'; img-src 'none'");
    return c.html(TEST_PAGE_HTML);
  });
  app.get(`${EXTERNAL_TEST_PAGE_PATH}/page.js`, (c) => {
    noStore(c);
    c.header("Content-Type", "text/javascript; charset=utf-8");
    return c.body(TEST_PAGE_SCRIPT);
  });
}

const TEST_PAGE_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Latchkey external login</title></head>
<body>
<h1>Latchkey external login</h1>
<form id="start"><label>Provider <input id="provider" name="provider"></label> <button type="submit">Sign in</button></form>
<p id="status">signed out</p>
<p id="user"></p>
<script src="${EXTERNAL_TEST_PAGE_PATH}/page.js"></script>
</body>
</html>
`;

// The page keeps the state it started with in sessionStorage and completes
// only an answer carrying that same state, so a hand-off code planted by
// someone else's login cannot sign this browser in.
const TEST_PAGE_SCRIPT = `"use strict";
const call = async (method, body, token) => {
  const headers = { "Content-Type": "application/json", "Connect-Protocol-Version": "1" };
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch("/latchkey.auth.v1.AuthService/" + method, { method: "POST", headers, body: JSON.stringify(body) });
  const json = await response.json();
  if (!response.ok) throw new Error(json.code + ": " + json.message);
  return json;
};
const status = (text) => { document.getElementById("status").textContent = text; };
document.getElementById("start").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const provider = document.getElementById("provider").value;
    const redirectUrl = location.origin + "/auth/external/callback";
    const started = await call("StartExternalLogin", { provider, redirectUrl });
    sessionStorage.setItem("latchkey.external.state", started.state);
    location.assign(started.authorizationUrl);
  } catch (error) { status("error: " + error.message); }
});
(async () => {
  const params = new URLSearchParams(location.search);
  if (!params.has("state")) return;
  const expected = sessionStorage.getItem("latchkey.external.state");
  sessionStorage.removeItem("latchkey.external.state");
  history.replaceState(null, "", location.pathname);
  if (params.get("state") !== expected) return status("error: state mismatch");
  if (params.has("error")) return status("error: " + params.get("error"));
  try {
    const done = await call("CompleteExternalLogin", { code: params.get("code"), state: expected, deviceName: "test page" });
    if (!done.tokens) return status("second factor required");
    const me = await call("GetCurrentUser", {}, done.tokens.accessToken);
    document.getElementById("user").textContent = me.user.email;
    status("signed in");
  } catch (error) { status("error: " + error.message); }
})();
`;
