/**
 * External login against real OpenID providers (oidc-provider on local
 * ports) and the real Node server: sign-up, linking, every way a state or a
 * code can be wrong, and the rules of unlinking.
 */
import { createHash } from "node:crypto";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { MfaMethod } from "../../gen/latchkey/auth/v1/token_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { BOOTSTRAP_ADMIN, startNode } from "../support/start-node.js";
import { bearer, rpcError, signInPair, unique } from "../support/rpc-calls.js";
import { authorizeAt } from "../support/oidc-provider.js";
import { APP_REDIRECT, startExternalLoginWorld, type ExternalLoginWorld } from "../support/external-login-setup.js";

const STRONG = "violet-anchor-meadow-71-quartz";

let world: ExternalLoginWorld;
let auth: Client<typeof AuthService>;
let users: Client<typeof UserService>;

beforeAll(async () => {
  world = await startExternalLoginWorld();
  auth = createClient(AuthService, world.latchkey.transports.connect);
  users = createClient(UserService, world.latchkey.transports.connect);
}, 60_000);
afterAll(() => world?.stop());

/** A new account at provider A (or B) with a verified address unless told otherwise. */
function account(provider: "A" | "B" = "A", claims: { email?: string; email_verified?: boolean } = {}) {
  const sub = unique("sub");
  const email = claims.email ?? `${sub}@example.test`;
  (provider === "A" ? world.providerA : world.providerB).accounts.set(sub, { email, email_verified: claims.email_verified ?? true, name: `Person ${sub}` });
  return { sub, email };
}

/** Starts a login and plays the browser through the provider's form. */
async function loginAt(provider: string, sub: string, tamper?: (url: URL) => void) {
  const started = await auth.startExternalLogin({ provider, redirectUrl: APP_REDIRECT });
  const url = new URL(started.authorizationUrl);
  tamper?.(url);
  const back = await authorizeAt(url.href, sub);
  return { state: started.state, code: back.searchParams.get("code") ?? "", iss: back.searchParams.get("iss") ?? "", back };
}

function reasonOf(error: ConnectError) {
  return error.findDetails(ErrorInfoSchema)[0]?.reason;
}

const stateHash = (state: string) => createHash("sha256").update(state).digest("hex");

describe("StartExternalLogin", () => {
  it("answers the provider's authorization URL with PKCE S256, a nonce and the state", async () => {
    const started = await auth.startExternalLogin({ provider: "alpha", redirectUrl: APP_REDIRECT });
    const url = new URL(started.authorizationUrl);
    expect(url.origin).toBe(world.providerA.issuer);
    expect(url.searchParams.get("client_id")).toBe("latchkey-a");
    expect(url.searchParams.get("redirect_uri")).toBe(APP_REDIRECT);
    expect(url.searchParams.get("state")).toBe(started.state);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("nonce")?.length).toBeGreaterThanOrEqual(43);
    expect(url.searchParams.has("code_verifier")).toBe(false);
    // Stored hashed; the verifier and nonce only sealed.
    const rows = await world.latchkey.exec("select * from external_login_states where state_hash = ?", [stateHash(started.state)]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(started.state);
    expect(JSON.stringify(rows)).not.toContain(url.searchParams.get("nonce"));
  });

  it("refuses an unknown provider, naming the field", async () => {
    const error = await rpcError(auth.startExternalLogin({ provider: "nobody", redirectUrl: APP_REDIRECT }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("provider");
  });

  it("answers unavailable while the provider cannot be discovered", async () => {
    const error = await rpcError(auth.startExternalLogin({ provider: "down", redirectUrl: APP_REDIRECT }));
    expect(error.code).toBe(Code.Unavailable);
  });

  it("refuses a redirect URL that only matches an allowed one by prefix", async () => {
    for (const redirectUrl of [APP_REDIRECT.slice(0, -3), `${APP_REDIRECT}/more`, `${APP_REDIRECT}?x=1`, `${APP_REDIRECT}/`, APP_REDIRECT.toUpperCase()]) {
      const error = await rpcError(auth.startExternalLogin({ provider: "alpha", redirectUrl }));
      expect(error.code, redirectUrl).toBe(Code.InvalidArgument);
      expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("redirect_url");
    }
  });
});

describe("CompleteExternalLogin with the provider's code", () => {
  it("creates a user on the first login and signs the same user in on the second", async () => {
    const { sub, email } = account();
    const first = await loginAt("alpha", sub);
    const done = await auth.completeExternalLogin({ code: first.code, state: first.state, iss: first.iss, deviceName: "e2e" });
    expect(done.result.case).toBe("tokens");
    expect(done.userCreated).toBe(true);
    expect(done.identityLinked).toBe(true);
    expect(done.provider).toBe("alpha");
    const token = done.result.case === "tokens" ? done.result.value.accessToken : "";
    const me = await auth.getCurrentUser({}, bearer(token));
    expect(me.user?.email).toBe(email);

    const second = await loginAt("alpha", sub);
    const again = await auth.completeExternalLogin({ code: second.code, state: second.state, iss: second.iss });
    expect(again.userCreated).toBe(false);
    expect(again.identityLinked).toBe(false);
    const token2 = again.result.case === "tokens" ? again.result.value.accessToken : "";
    expect((await auth.getCurrentUser({}, bearer(token2))).user?.id).toBe(me.user?.id);

    const identities = await auth.listExternalIdentities({}, bearer(token2));
    expect(identities.passwordSet).toBe(false);
    expect(identities.identities.map((i) => [i.provider, i.subject, i.email, i.createdUser])).toEqual([["alpha", sub, email, true]]);
    expect(identities.identities[0]?.providerDisplayName).toBe("Alpha");
    const audit = await world.latchkey.exec("select type from audit_events where user_id = ? order by occurred_at", [me.user?.id ?? ""]);
    expect(audit.map((row) => row.type)).toEqual(expect.arrayContaining(["user.created", "sign_in.succeeded"]));
  });

  it("asks for the second factor, as SignIn does, when the user has one", async () => {
    const { sub } = account();
    const first = await loginAt("alpha", sub);
    const done = await auth.completeExternalLogin({ code: first.code, state: first.state, iss: first.iss });
    const token = done.result.case === "tokens" ? done.result.value.accessToken : "";
    await auth.setMfaMethod({ method: MfaMethod.EMAIL, enabled: true }, bearer(token));
    const second = await loginAt("alpha", sub);
    const again = await auth.completeExternalLogin({ code: second.code, state: second.state, iss: second.iss });
    expect(again.result.case).toBe("mfaRequired");
    expect(again.result.case === "mfaRequired" ? again.result.value.methods : []).toEqual([MfaMethod.EMAIL]);
  });

  it("refuses a missing, unknown, reused or expired state", async () => {
    const { sub } = account();
    const login = await loginAt("alpha", sub);
    const missing = await rpcError(auth.completeExternalLogin({ code: login.code, state: "" }));
    expect(missing.code).toBe(Code.InvalidArgument);
    expect(missing.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("state");

    const unknown = await rpcError(auth.completeExternalLogin({ code: login.code, state: "lkst_made-up" }));
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(reasonOf(unknown)).toBe("EXTERNAL_STATE_INVALID");

    await auth.completeExternalLogin({ code: login.code, state: login.state, iss: login.iss });
    const reused = await rpcError(auth.completeExternalLogin({ code: login.code, state: login.state, iss: login.iss }));
    expect(reused.code).toBe(Code.InvalidArgument);
    expect(reasonOf(reused)).toBe("EXTERNAL_STATE_INVALID");

    const late = await loginAt("alpha", sub);
    await world.latchkey.exec("update external_login_states set expires_at = 0 where state_hash = ?", [stateHash(late.state)]);
    const expired = await rpcError(auth.completeExternalLogin({ code: late.code, state: late.state, iss: late.iss }));
    expect(reasonOf(expired)).toBe("EXTERNAL_STATE_INVALID");
  });

  it("lets exactly one of two racing completions use a state", async () => {
    const { sub } = account();
    const login = await loginAt("alpha", sub);
    const request = { code: login.code, state: login.state, iss: login.iss };
    const results = await Promise.allSettled([auth.completeExternalLogin(request), auth.completeExternalLogin(request)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const [failed] = results.filter((r) => r.status === "rejected");
    expect(reasonOf(ConnectError.from((failed as PromiseRejectedResult).reason))).toBe("EXTERNAL_STATE_INVALID");
  });

  it("refuses a code presented with the state of another login, and burns that state", async () => {
    const { sub } = account();
    const one = await loginAt("alpha", sub);
    const two = await auth.startExternalLogin({ provider: "alpha", redirectUrl: APP_REDIRECT });
    const error = await rpcError(auth.completeExternalLogin({ code: one.code, state: two.state, iss: one.iss }));
    expect(error.code).toBe(Code.Unauthenticated);
    expect(reasonOf(error)).toBe("EXTERNAL_LOGIN_FAILED");
    const burnt = await rpcError(auth.completeExternalLogin({ code: one.code, state: two.state, iss: one.iss }));
    expect(reasonOf(burnt)).toBe("EXTERNAL_STATE_INVALID");
  });

  it("refuses a reused authorization code", async () => {
    const { sub } = account();
    const login = await loginAt("alpha", sub);
    await auth.completeExternalLogin({ code: login.code, state: login.state, iss: login.iss });
    // The same code again, with a fresh state and the same PKCE verifier is impossible; the provider refuses the code itself.
    const fresh = await loginAt("alpha", sub);
    const error = await rpcError(auth.completeExternalLogin({ code: login.code, state: fresh.state, iss: login.iss }));
    expect(error.code).toBe(Code.Unauthenticated);
    expect(reasonOf(error)).toBe("EXTERNAL_LOGIN_FAILED");
  });

  it("refuses an ID token whose nonce is not the login's", async () => {
    const { sub } = account();
    const login = await loginAt("alpha", sub, (url) => url.searchParams.set("nonce", "a-nonce-the-server-never-made-0123456789abc"));
    const error = await rpcError(auth.completeExternalLogin({ code: login.code, state: login.state, iss: login.iss }));
    expect(error.code).toBe(Code.Unauthenticated);
    expect(reasonOf(error)).toBe("EXTERNAL_LOGIN_FAILED");
  });

  it("refuses a code issued to another client (audience) of the same provider", async () => {
    const { sub } = account();
    const forBeta = await loginAt("beta", sub);
    const alpha = await auth.startExternalLogin({ provider: "alpha", redirectUrl: APP_REDIRECT });
    const error = await rpcError(auth.completeExternalLogin({ code: forBeta.code, state: alpha.state, iss: forBeta.iss }));
    expect(reasonOf(error)).toBe("EXTERNAL_LOGIN_FAILED");
  });

  it("refuses an answer from another issuer", async () => {
    const { sub } = account("B");
    const fromB = await loginAt("gamma", sub);
    expect(fromB.iss).toBe(world.providerB.issuer);
    const alpha = await auth.startExternalLogin({ provider: "alpha", redirectUrl: APP_REDIRECT });
    const error = await rpcError(auth.completeExternalLogin({ code: fromB.code, state: alpha.state, iss: fromB.iss }));
    expect(reasonOf(error)).toBe("EXTERNAL_LOGIN_FAILED");
    // Claiming to be issuer A does not help: A never issued that code.
    const alpha2 = await auth.startExternalLogin({ provider: "alpha", redirectUrl: APP_REDIRECT });
    const claimed = await rpcError(auth.completeExternalLogin({ code: fromB.code, state: alpha2.state, iss: world.providerA.issuer }));
    expect(reasonOf(claimed)).toBe("EXTERNAL_LOGIN_FAILED");
  });

  it("does not create users through a provider without sign-up", async () => {
    const { sub } = account();
    const login = await loginAt("beta", sub);
    const error = await rpcError(auth.completeExternalLogin({ code: login.code, state: login.state, iss: login.iss }));
    expect(error.code).toBe(Code.PermissionDenied);
    expect(reasonOf(error)).toBe("SIGN_UP_DISABLED");
  });
});

describe("linking to an existing user", () => {
  async function passwordUser(verified: boolean) {
    const email = `${unique("linked")}@example.test`;
    const { user } = await users.createUser({ email, name: "Linked Person", password: STRONG });
    if (verified) await world.latchkey.exec("update users set email_verified_at = 1 where id = ?", [user?.id ?? ""]);
    return { id: user?.id ?? "", email };
  }

  it("links the provider's account to the user with the same verified address", async () => {
    const existing = await passwordUser(true);
    const { sub } = account("A", { email: existing.email.toUpperCase() });
    // Even a provider without sign-up links to an existing user.
    const login = await loginAt("beta", sub);
    const done = await auth.completeExternalLogin({ code: login.code, state: login.state, iss: login.iss });
    expect(done.userCreated).toBe(false);
    expect(done.identityLinked).toBe(true);
    const token = done.result.case === "tokens" ? done.result.value.accessToken : "";
    expect((await auth.getCurrentUser({}, bearer(token))).user?.id).toBe(existing.id);
    const audit = await world.latchkey.exec("select type from audit_events where user_id = ? and type = 'external_identity.linked'", [existing.id]);
    expect(audit).toHaveLength(1);
  });

  it("does not link when the provider has not verified the address", async () => {
    const existing = await passwordUser(true);
    const { sub } = account("A", { email: existing.email, email_verified: false });
    const login = await loginAt("alpha", sub);
    const error = await rpcError(auth.completeExternalLogin({ code: login.code, state: login.state, iss: login.iss }));
    expect(error.code).toBe(Code.FailedPrecondition);
  });

  it("does not link to a user who has not verified the address", async () => {
    const existing = await passwordUser(false);
    const { sub } = account("A", { email: existing.email });
    const login = await loginAt("alpha", sub);
    const error = await rpcError(auth.completeExternalLogin({ code: login.code, state: login.state, iss: login.iss }));
    expect(error.code).toBe(Code.FailedPrecondition);
  });

  it("refuses a blocked user", async () => {
    const existing = await passwordUser(true);
    const { sub } = account("A", { email: existing.email });
    const first = await loginAt("alpha", sub);
    await auth.completeExternalLogin({ code: first.code, state: first.state, iss: first.iss });
    const admin = await signInPair(auth, BOOTSTRAP_ADMIN.email, BOOTSTRAP_ADMIN.password);
    await users.blockUser({ userId: existing.id }, bearer(admin.accessToken));
    const second = await loginAt("alpha", sub);
    const error = await rpcError(auth.completeExternalLogin({ code: second.code, state: second.state, iss: second.iss }));
    expect(error.code).toBe(Code.Unauthenticated);
  });
});

describe("UnlinkExternalIdentity", () => {
  it("never removes the last way to sign in", async () => {
    const { sub, email } = account();
    const login = await loginAt("alpha", sub);
    const done = await auth.completeExternalLogin({ code: login.code, state: login.state, iss: login.iss });
    const token = done.result.case === "tokens" ? done.result.value.accessToken : "";
    const [only] = (await auth.listExternalIdentities({}, bearer(token))).identities;
    const last = await rpcError(auth.unlinkExternalIdentity({ identityId: only!.id }, bearer(token)));
    expect(last.code).toBe(Code.FailedPrecondition);
    expect(reasonOf(last)).toBe("LAST_SIGN_IN_METHOD");

    // A second identity (same verified address, other client) makes one removable.
    const { sub: sub2 } = account("A", { email });
    const other = await loginAt("beta", sub2);
    await auth.completeExternalLogin({ code: other.code, state: other.state, iss: other.iss });
    const both = (await auth.listExternalIdentities({}, bearer(token))).identities;
    expect(both.map((i) => i.provider)).toEqual(["alpha", "beta"]);
    await auth.unlinkExternalIdentity({ identityId: only!.id }, bearer(token));
    const remaining = (await auth.listExternalIdentities({}, bearer(token))).identities;
    expect(remaining.map((i) => i.provider)).toEqual(["beta"]);
    const again = await rpcError(auth.unlinkExternalIdentity({ identityId: remaining[0]!.id }, bearer(token)));
    expect(reasonOf(again)).toBe("LAST_SIGN_IN_METHOD");
  });

  it("lets a user with a password unlink, and hides other users' identities", async () => {
    const email = `${unique("pw")}@example.test`;
    const { user } = await users.createUser({ email, name: "Password Person", password: STRONG });
    await world.latchkey.exec("update users set email_verified_at = 1 where id = ?", [user?.id ?? ""]);
    const { sub } = account("A", { email });
    const login = await loginAt("alpha", sub);
    await auth.completeExternalLogin({ code: login.code, state: login.state, iss: login.iss });
    const pair = await signInPair(auth, email, STRONG);
    const listed = await auth.listExternalIdentities({}, bearer(pair.accessToken));
    expect(listed.passwordSet).toBe(true);

    const stranger = account();
    const strangerLogin = await loginAt("alpha", stranger.sub);
    const strangerDone = await auth.completeExternalLogin({ code: strangerLogin.code, state: strangerLogin.state, iss: strangerLogin.iss });
    const strangerToken = strangerDone.result.case === "tokens" ? strangerDone.result.value.accessToken : "";
    const foreign = await rpcError(auth.unlinkExternalIdentity({ identityId: listed.identities[0]!.id }, bearer(strangerToken)));
    expect(foreign.code).toBe(Code.NotFound);

    await auth.unlinkExternalIdentity({ identityId: listed.identities[0]!.id }, bearer(pair.accessToken));
    expect((await auth.listExternalIdentities({}, bearer(pair.accessToken))).identities).toHaveLength(0);
    const audit = await world.latchkey.exec("select type from audit_events where user_id = ? and type = 'external_identity.unlinked'", [user?.id ?? ""]);
    expect(audit).toHaveLength(1);
  });
});

describe("GET /auth/external/callback", () => {
  it("redeems the code server-side and hands the front end a single-use code, never tokens", async () => {
    const { sub, email } = account();
    const started = await auth.startExternalLogin({ provider: "alpha", redirectUrl: world.callbackUrl });
    const back = await authorizeAt(started.authorizationUrl, sub);
    expect(back.href.startsWith(world.callbackUrl)).toBe(true);
    const response = await fetch(back, { redirect: "manual" });
    expect(response.status).toBe(303);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    const onward = new URL(response.headers.get("location") ?? "");
    expect(onward.href.split("?")[0]).toBe(world.testPageUrl);
    expect([...onward.searchParams.keys()].sort()).toEqual(["code", "state"]);
    expect(onward.searchParams.get("state")).toBe(started.state);
    const handoff = onward.searchParams.get("code") ?? "";
    expect(handoff).not.toBe(back.searchParams.get("code"));

    // The provider's code was used by the callback; replaying the callback fails.
    const replay = await fetch(back, { redirect: "manual" });
    expect(replay.status).toBe(400);

    // With another login's state the hand-off code is taken for a provider's code, which the provider refuses.
    const wrongState = await auth.startExternalLogin({ provider: "alpha", redirectUrl: world.callbackUrl });
    expect(reasonOf(await rpcError(auth.completeExternalLogin({ code: handoff, state: wrongState.state })))).toBe("EXTERNAL_LOGIN_FAILED");
    expect(reasonOf(await rpcError(auth.completeExternalLogin({ code: `${handoff}x`, state: started.state })))).toBe("EXTERNAL_STATE_INVALID");
    const done = await auth.completeExternalLogin({ code: handoff, state: started.state });
    expect(done.result.case).toBe("tokens");
    const token = done.result.case === "tokens" ? done.result.value.accessToken : "";
    expect((await auth.getCurrentUser({}, bearer(token))).user?.email).toBe(email);
    const reused = await rpcError(auth.completeExternalLogin({ code: handoff, state: started.state }));
    expect(reasonOf(reused)).toBe("EXTERNAL_STATE_INVALID");
  });

  it("answers 400 to an unknown state, uncached", async () => {
    const response = await fetch(`${world.callbackUrl}?code=x&state=lkst_unknown`, { redirect: "manual" });
    expect(response.status).toBe(400);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect((await fetch(world.callbackUrl, { redirect: "manual" })).status).toBe(400);
  });

  it("sends the provider's error on to the front end", async () => {
    const started = await auth.startExternalLogin({ provider: "alpha", redirectUrl: world.callbackUrl });
    const response = await fetch(`${world.callbackUrl}?error=access_denied&state=${encodeURIComponent(started.state)}`, { redirect: "manual" });
    expect(response.status).toBe(303);
    const onward = new URL(response.headers.get("location") ?? "");
    expect(onward.searchParams.get("error")).toBe("access_denied");
    expect(onward.searchParams.has("code")).toBe(false);
  });
});

it("serves the test page only when configured to", async () => {
  expect((await fetch(world.testPageUrl)).status).toBe(200);
  const plain = await startNode();
  try {
    expect((await fetch(`${plain.baseUrl}/auth/external/test-page`)).status).toBe(404);
  } finally {
    await plain.stop();
  }
});
