/**
 * Latchkey's own checks of the provider's ID token, on the real Node server.
 * A real provider never issues a token with the wrong issuer, audience or
 * nonce, an expired one, or one with a bad signature, so the provider here is
 * one that does on request. Its token endpoint accepts each code (PKCE and the
 * client's secret checked), so every refusal below is Latchkey's.
 */
import { Code, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { startNode } from "../support/start-node.js";
import { bearer, rpcError, unique } from "../support/rpc-calls.js";
import { startRogueOidcProvider, type IdTokenTampering, type RunningRogueProvider } from "../support/rogue-oidc-provider.js";
import type { RpcTarget } from "../support/target.js";

const REDIRECT = "https://app.latchkey.test/auth/callback";
const CLIENT = { client_id: "latchkey-rogue", client_secret: "secret-rogue-0123456789", redirect_uris: [REDIRECT] };

let rogue: RunningRogueProvider;
let latchkey: RpcTarget;
let auth: Client<typeof AuthService>;

beforeAll(async () => {
  rogue = await startRogueOidcProvider([CLIENT]);
  latchkey = await startNode({
    LATCHKEY_OIDC_PROVIDERS: JSON.stringify([
      { id: "rogue", issuer: rogue.issuer, client_id: CLIENT.client_id, client_secret: CLIENT.client_secret, redirect_urls: [REDIRECT], allow_sign_up: true },
    ]),
    ...(process.env.E2E_LOG_LEVEL ? { LOG_LEVEL: process.env.E2E_LOG_LEVEL } : {}),
  });
  auth = createClient(AuthService, latchkey.transports.connect);
}, 60_000);
afterAll(async () => {
  await latchkey?.stop();
  await rogue?.stop();
});

/** A login at the rogue provider by a new account whose ID token is tampered as told. */
async function login(idToken?: IdTokenTampering) {
  const sub = unique("rogue-sub");
  const email = `${sub}@example.test`;
  rogue.accounts.set(sub, { email, email_verified: true, name: `Person ${sub}`, ...(idToken ? { idToken } : {}) });
  const started = await auth.startExternalLogin({ provider: "rogue", redirectUrl: REDIRECT });
  const back = await rogue.authorize(started.authorizationUrl, sub);
  const code = back.searchParams.get("code") ?? "";
  expect(code, back.href).not.toBe("");
  return { sub, email, code, request: { code, state: started.state, iss: back.searchParams.get("iss") ?? "" } };
}

async function rowsOf(sub: string, email: string) {
  const users = await latchkey.exec("select id from users where email = ?", [email]);
  const identities = await latchkey.exec("select id from external_identities where provider = 'rogue' and subject = ?", [sub]);
  return { users: users.length, identities: identities.length };
}

it("signs in with an honest ID token from this provider", async () => {
  const { sub, email, code, request } = await login();
  const done = await auth.completeExternalLogin(request);
  expect(rogue.redeemed.has(code)).toBe(true);
  expect(done.result.case).toBe("tokens");
  expect(done.userCreated).toBe(true);
  const token = done.result.case === "tokens" ? done.result.value.accessToken : "";
  expect((await auth.getCurrentUser({}, bearer(token))).user?.email).toBe(email);
  expect(await rowsOf(sub, email)).toEqual({ users: 1, identities: 1 });
});

describe("refuses an ID token", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: [string, () => IdTokenTampering][] = [
    ["from another issuer", () => ({ claims: { iss: "https://issuer.elsewhere.test" } })],
    ["for another client", () => ({ claims: { aud: "someone-else" } })],
    ["for this client and another, without an authorized party", () => ({ claims: { aud: [CLIENT.client_id, "someone-else"] } })],
    ["with another login's nonce", () => ({ claims: { nonce: "a-nonce-this-server-never-made-0123456789abc" } })],
    ["without a nonce", () => ({ claims: { nonce: undefined } })],
    ["that has expired", () => ({ claims: { iat: now() - 1200, exp: now() - 600 } })],
    ["signed by a key the provider does not publish", () => ({ signature: "foreign-key" })],
    ["that is not signed", () => ({ signature: "unsigned" })],
  ];

  it.each(cases)("%s, and writes no user or identity", async (_name, tampering) => {
    const { sub, email, code, request } = await login(tampering());
    const error = await rpcError(auth.completeExternalLogin(request));
    // The provider accepted the code and answered a token: the refusal is Latchkey's.
    expect(rogue.redeemed.has(code)).toBe(true);
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("EXTERNAL_LOGIN_FAILED");
    expect(await rowsOf(sub, email)).toEqual({ users: 0, identities: 0 });
  });
});
