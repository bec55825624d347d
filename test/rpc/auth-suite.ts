/**
 * The backbone's RPC behaviour, written once and run against every target:
 * the Node server (test/e2e) and the Worker inside workerd (test/worker).
 */
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { SignJWT, base64url, exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { SubjectKind } from "../../gen/latchkey/auth/v1/token_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { bearer, rpcError } from "../support/rpc-calls.js";
import type { RpcTarget } from "../support/target.js";

export const ADMIN = { email: "root@latchkey.test", password: "correct horse battery staple 42" };
const STRONG = "violet-anchor-meadow-71-quartz";

let emailCounter = 0;
function uniqueEmail(tag: string): string {
  return `${tag}-${Date.now().toString(36)}-${emailCounter++}@example.com`;
}

export function defineAuthSuite(start: () => Promise<RpcTarget>): void {
  let target: RpcTarget;
  let auth: Client<typeof AuthService>;
  let users: Client<typeof UserService>;
  let adminToken: string;

  async function signUp(tag: string, transport: Transport = target.transports.connect) {
    const email = uniqueEmail(tag);
    const { user } = await createClient(UserService, transport).createUser({ email, name: `User ${tag}`, password: STRONG });
    const signedIn = await createClient(AuthService, transport).signIn({ identifier: { case: "email", value: email }, password: STRONG, deviceName: "test" });
    if (signedIn.result.case !== "tokens") throw new Error("expected tokens");
    return { email, user: user!, tokens: signedIn.result.value };
  }

  async function validate(token: string) {
    return auth.validateToken({ token }, bearer(adminToken));
  }

  beforeAll(async () => {
    target = await start();
    auth = createClient(AuthService, target.transports.connect);
    users = createClient(UserService, target.transports.connect);
    const signedIn = await auth.signIn({ identifier: { case: "email", value: ADMIN.email }, password: ADMIN.password });
    if (signedIn.result.case !== "tokens") throw new Error("bootstrap admin cannot sign in");
    adminToken = signedIn.result.value.accessToken;
  });
  afterAll(async () => {
    await target?.stop();
  });

  describe("registration and password strength", () => {
    it("scores passwords and flags breached ones", async () => {
      const weak = await auth.checkPasswordStrength({ password: "password1234" });
      expect(weak.breached).toBe(true);
      expect(weak.acceptable).toBe(false);
      const strong = await auth.checkPasswordStrength({ password: STRONG });
      expect(strong.acceptable).toBe(true);
      expect(strong.score).toBeGreaterThanOrEqual(3);
      expect(strong.minLength).toBe(12);
    });

    it("creates a user and refuses the same email twice", async () => {
      const email = uniqueEmail("dup");
      const { user } = await users.createUser({ email, name: "Dup", password: STRONG });
      expect(user?.email).toBe(email);
      expect(user?.id).toMatch(/^[0-9a-f-]{36}$/);
      const again = await rpcError(users.createUser({ email: email.toUpperCase(), name: "Dup", password: STRONG }));
      expect(again.code).toBe(Code.AlreadyExists);
      expect(again.findDetails(ErrorInfoSchema)[0]?.reason).toBe("EMAIL_TAKEN");
    });

    it("rejects a weak password with the field and the strength feedback", async () => {
      const error = await rpcError(users.createUser({ email: uniqueEmail("weak"), name: "Weak", password: "password1234" }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("WEAK_PASSWORD");
      expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("password");
    });

    it("names every malformed field", async () => {
      const error = await rpcError(users.createUser({ email: "not-an-email", name: "", password: STRONG }));
      expect(error.code).toBe(Code.InvalidArgument);
      const fields = error.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field);
      expect(fields).toEqual(expect.arrayContaining(["email", "name"]));
    });
  });

  describe("sign-in", () => {
    it("answers an unknown user and a wrong password identically", async () => {
      const { email } = await signUp("same-error");
      const unknown = await rpcError(auth.signIn({ identifier: { case: "email", value: uniqueEmail("nobody") }, password: STRONG }));
      const wrong = await rpcError(auth.signIn({ identifier: { case: "email", value: email }, password: `${STRONG}x` }));
      expect(unknown.code).toBe(Code.Unauthenticated);
      expect(wrong.code).toBe(Code.Unauthenticated);
      expect(wrong.rawMessage).toBe(unknown.rawMessage);
      expect(wrong.findDetails(ErrorInfoSchema)[0]?.reason).toBe(unknown.findDetails(ErrorInfoSchema)[0]?.reason);
    });

    it("returns a bearer pair and keep_logged_in lengthens the refresh lifetime", async () => {
      const { email, tokens } = await signUp("pair");
      expect(tokens.tokenType).toBe("Bearer");
      expect(tokens.expiresIn).toBeGreaterThan(0);
      const kept = await auth.signIn({ identifier: { case: "email", value: email }, password: STRONG, keepLoggedIn: true });
      if (kept.result.case !== "tokens") throw new Error("expected tokens");
      expect(kept.result.value.refreshExpiresIn).toBeGreaterThan(tokens.refreshExpiresIn);
    });

    it("describes the caller's token and user", async () => {
      const { user, tokens } = await signUp("me");
      const info = await auth.getTokenInfo({}, bearer(tokens.accessToken));
      expect(info.header?.alg).toBe("EdDSA");
      expect(info.header?.typ).toBe("at+jwt");
      expect(info.header?.kid).not.toBe("");
      expect(info.claims?.sub).toBe(user.id);
      expect(info.claims?.jti).not.toBe("");
      const me = await auth.getCurrentUser({}, bearer(tokens.accessToken));
      expect(me.user?.email).toBe(user.email);
      const anonymous = await rpcError(auth.getCurrentUser({}));
      expect(anonymous.code).toBe(Code.Unauthenticated);
    });
  });

  describe("refresh rotation", () => {
    it("rotates: the new pair works and the old refresh token is used up", async () => {
      const { tokens } = await signUp("rotate");
      const next = (await auth.refreshToken({ refreshToken: tokens.refreshToken })).tokens!;
      expect(next.refreshToken).not.toBe(tokens.refreshToken);
      expect((await validate(next.accessToken)).active).toBe(true);
    });

    it("10 concurrent refreshes of one token yield exactly one successor", async () => {
      const { tokens } = await signUp("race");
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => auth.refreshToken({ refreshToken: tokens.refreshToken })));
      const pairs = results.filter((r) => r.status === "fulfilled").map((r) => r.value.tokens!);
      for (const failed of results.filter((r) => r.status === "rejected")) {
        expect(ConnectError.from(failed.reason).code).toBe(Code.Unauthenticated);
      }
      expect(pairs.length).toBeGreaterThan(0);
      // Within the grace window every winner of the race gets the same successor.
      expect(new Set(pairs.map((p) => p.refreshToken)).size).toBe(1);
      const { sub } = JSON.parse(atob(tokens.accessToken.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { sid: string; sub: string };
      const sid = (JSON.parse(atob(tokens.accessToken.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { sid: string }).sid;
      const heads = await target.exec("SELECT COUNT(*) AS n FROM refresh_tokens WHERE session_id = ? AND consumed_at IS NULL", [sid]);
      expect(Number(heads[0]!.n)).toBe(1);
      expect(sub).toBeTruthy();
    });

    it("a retry within the grace window gets the same pair back", async () => {
      const { tokens } = await signUp("grace");
      const first = (await auth.refreshToken({ refreshToken: tokens.refreshToken })).tokens!;
      const retry = (await auth.refreshToken({ refreshToken: tokens.refreshToken })).tokens!;
      expect(retry.refreshToken).toBe(first.refreshToken);
      expect(retry.accessToken).toBe(first.accessToken);
    });

    it("reuse after the grace window revokes the whole family", async () => {
      await target.exec("UPDATE security_profiles SET refresh_grace_seconds = 0 WHERE name = 'default'");
      try {
        const { tokens } = await signUp("reuse");
        const second = (await auth.refreshToken({ refreshToken: tokens.refreshToken })).tokens!;
        const third = (await auth.refreshToken({ refreshToken: second.refreshToken })).tokens!;
        const replay = await rpcError(auth.refreshToken({ refreshToken: tokens.refreshToken }));
        expect(replay.code).toBe(Code.Unauthenticated);
        // The thief's replay ended the session: the newest tokens are dead too.
        expect((await rpcError(auth.refreshToken({ refreshToken: third.refreshToken }))).code).toBe(Code.Unauthenticated);
        expect((await validate(third.accessToken)).active).toBe(false);
        expect((await validate(second.accessToken)).active).toBe(false);
        const events = await target.exec("SELECT COUNT(*) AS n FROM audit_events WHERE type = 'refresh_token.reuse_detected'");
        expect(Number(events[0]!.n)).toBeGreaterThan(0);
      } finally {
        await target.exec("UPDATE security_profiles SET refresh_grace_seconds = 10 WHERE name = 'default'");
      }
    });
  });

  describe("sign-out and revocation", () => {
    it("sign-out makes the access token inactive and the refresh token useless", async () => {
      const { tokens } = await signUp("signout");
      await auth.signOut({}, bearer(tokens.accessToken));
      expect((await validate(tokens.accessToken)).active).toBe(false);
      expect((await rpcError(auth.refreshToken({ refreshToken: tokens.refreshToken }))).code).toBe(Code.Unauthenticated);
    });

    it("sign-out of all sessions ends every session of the user", async () => {
      const { email, tokens } = await signUp("signout-all");
      const other = await auth.signIn({ identifier: { case: "email", value: email }, password: STRONG });
      if (other.result.case !== "tokens") throw new Error("expected tokens");
      await auth.signOut({ allSessions: true }, bearer(tokens.accessToken));
      expect((await validate(other.result.value.accessToken)).active).toBe(false);
    });

    it("RevokeToken always answers OK and ends the token's session", async () => {
      const { tokens } = await signUp("revoke");
      await auth.revokeToken({ token: "garbage" });
      await auth.revokeToken({ token: "lkr_" + "A".repeat(43) });
      await auth.revokeToken({ token: tokens.refreshToken });
      expect((await validate(tokens.accessToken)).active).toBe(false);
      await auth.revokeToken({ token: tokens.refreshToken });
    });
  });

  describe("ValidateToken", () => {
    it("requires an internal caller", async () => {
      const { tokens } = await signUp("validate-caller");
      expect((await rpcError(auth.validateToken({ token: tokens.accessToken }))).code).toBe(Code.Unauthenticated);
      expect((await rpcError(auth.validateToken({ token: tokens.accessToken }, bearer(tokens.accessToken)))).code).toBe(Code.PermissionDenied);
    });

    it("reports an active token with its subject and profile", async () => {
      const { user, tokens } = await signUp("validate");
      const result = await validate(tokens.accessToken);
      expect(result.active).toBe(true);
      expect(result.subject).toBe(user.id);
      expect(result.securityProfile).toBe("default");
      expect(result.expiresAt).toBeDefined();
    });

    it("answers inactive, and nothing else, for forged and broken tokens", async () => {
      const { tokens } = await signUp("forged");
      const [header, payload] = tokens.accessToken.split(".") as [string, string, string];
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as Record<string, unknown>;
      const jwks = (await (await target.fetch(`${target.baseUrl}/.well-known/jwks.json`)).json()) as { keys: { x: string; kid: string }[] };
      const noneToken = `${base64url.encode(JSON.stringify({ alg: "none", typ: "at+jwt", kid: jwks.keys[0]!.kid }))}.${payload}.`;
      const hsToken = await new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: jwks.keys[0]!.kid })
        .sign(new TextEncoder().encode(jwks.keys[0]!.x));
      const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
      const foreignKey = await new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid: jwks.keys[0]!.kid }).sign(privateKey);
      const wrongAudience = await new SignJWT({ ...claims, aud: "https://other.example" }).setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid: jwks.keys[0]!.kid }).sign(privateKey);
      const expired = await new SignJWT({ ...claims, exp: 1_000_000 }).setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid: jwks.keys[0]!.kid }).sign(privateKey);
      const tampered = `${header}.${base64url.encode(JSON.stringify({ ...claims, sub: "someone-else" }))}.${tokens.accessToken.split(".")[2]}`;
      for (const token of [noneToken, hsToken, foreignKey, wrongAudience, expired, tampered, "", "a.b.c", tokens.refreshToken, "x".repeat(5000)]) {
        const result = await validate(token);
        expect(result.active, token.slice(0, 40)).toBe(false);
        expect(result.subject).toBe("");
        expect(result.expiresAt).toBeUndefined();
      }
      expect(exportJWK).toBeDefined();
    });

    it("a suspended, blocked or deleted user's live token is inactive at once", async () => {
      for (const change of ["UPDATE users SET state = 'suspended' WHERE id = ?", "UPDATE users SET state = 'blocked' WHERE id = ?", "DELETE FROM users WHERE id = ?"]) {
        const { user, tokens } = await signUp("disabled");
        expect((await validate(tokens.accessToken)).active).toBe(true);
        await target.exec(change, [user.id]);
        expect((await validate(tokens.accessToken)).active).toBe(false);
        expect((await rpcError(auth.refreshToken({ refreshToken: tokens.refreshToken }))).code).toBe(Code.Unauthenticated);
      }
    });
  });

  describe("API keys", () => {
    it("creates a key shown once, lists it without secrets, and accepts it in every header form", async () => {
      const { tokens } = await signUp("keys");
      const created = await auth.createApiKey({ name: "ci", description: "build robot", permissions: ["users.read"] }, bearer(tokens.accessToken));
      expect(created.key).toMatch(/^lk_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$/);
      expect(created.key.startsWith(created.apiKey!.prefix)).toBe(true);
      expect(created.clientSecret.length).toBeGreaterThanOrEqual(43);
      const listed = await auth.listApiKeys({}, bearer(tokens.accessToken));
      expect(listed.apiKeys.map((k) => k.id)).toEqual([created.apiKey!.id]);
      const listedText = JSON.stringify(listed, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
      expect(listedText).not.toContain(created.key.slice(12));
      expect(listedText).not.toContain(created.clientSecret);
      const stored = await target.exec("SELECT key_hash, client_secret_hash FROM api_keys WHERE id = ?", [created.apiKey!.id]);
      expect(JSON.stringify(stored)).not.toContain(created.clientSecret);
      expect(JSON.stringify(stored)).not.toContain(created.key);

      for (const headers of [
        { "x-api-key": created.key },
        { authorization: `Bearer ${created.key}` },
        { authorization: `Basic ${btoa(`${created.apiKey!.id}:${created.clientSecret}`)}` },
      ]) {
        const me = await auth.getCurrentUser({}, { headers });
        expect(me.user?.id).toBe(created.apiKey!.userId);
      }
      const wrongSecret = await rpcError(auth.getCurrentUser({}, { headers: { authorization: `Basic ${btoa(`${created.apiKey!.id}:nope`)}` } }));
      expect(wrongSecret.code).toBe(Code.Unauthenticated);
      const forged = created.key.slice(0, -4) + "AAAA";
      expect((await rpcError(auth.getCurrentUser({}, { headers: { "x-api-key": forged } }))).code).toBe(Code.Unauthenticated);
    });

    it("pages through keys newest first with signed page tokens", async () => {
      const { tokens } = await signUp("keys-paging");
      for (const name of ["one", "two", "three"]) await auth.createApiKey({ name, permissions: ["users.read"] }, bearer(tokens.accessToken));
      const first = await auth.listApiKeys({ pageSize: 2 }, bearer(tokens.accessToken));
      expect(first.apiKeys).toHaveLength(2);
      expect(first.nextPageToken).not.toBe("");
      const second = await auth.listApiKeys({ pageSize: 2, pageToken: first.nextPageToken }, bearer(tokens.accessToken));
      expect(second.apiKeys).toHaveLength(1);
      expect(second.nextPageToken).toBe("");
      expect([...first.apiKeys, ...second.apiKeys].map((k) => k.name).sort()).toEqual(["one", "three", "two"]);
      const tampered = await rpcError(auth.listApiKeys({ pageSize: 2, pageToken: first.nextPageToken.slice(0, -2) + "xx" }, bearer(tokens.accessToken)));
      expect(tampered.code).toBe(Code.InvalidArgument);
      expect((await rpcError(auth.listApiKeys({ pageSize: -1 }, bearer(tokens.accessToken)))).code).toBe(Code.InvalidArgument);
    });

    it("a revoked or expired key fails on the next call", async () => {
      const { tokens } = await signUp("keys-revoke");
      const created = await auth.createApiKey({ name: "short", permissions: ["users.read"] }, bearer(tokens.accessToken));
      const headers = { "x-api-key": created.key };
      await auth.getCurrentUser({}, { headers });
      await auth.revokeApiKey({ apiKeyId: created.apiKey!.id }, bearer(tokens.accessToken));
      expect((await rpcError(auth.getCurrentUser({}, { headers }))).code).toBe(Code.Unauthenticated);

      const expiring = await auth.createApiKey({ name: "expiring", permissions: ["users.read"] }, bearer(tokens.accessToken));
      await target.exec("UPDATE api_keys SET expires_at = 1 WHERE id = ?", [expiring.apiKey!.id]);
      expect((await rpcError(auth.getCurrentUser({}, { headers: { "x-api-key": expiring.key } }))).code).toBe(Code.Unauthenticated);
    });

    it("refuses permissions above the creator's role and keys outside their permissions", async () => {
      const { tokens } = await signUp("keys-escalate");
      const escalate = await rpcError(auth.createApiKey({ name: "validator", permissions: ["tokens.validate"] }, bearer(tokens.accessToken)));
      expect(escalate.code).toBe(Code.PermissionDenied);
      const unknown = await rpcError(auth.createApiKey({ name: "odd", permissions: ["launch.missiles"] }, bearer(tokens.accessToken)));
      expect(unknown.code).toBe(Code.InvalidArgument);
      const readOnly = await auth.createApiKey({ name: "reader", permissions: ["users.read"] }, bearer(tokens.accessToken));
      const mint = await rpcError(auth.createApiKey({ name: "child", permissions: ["users.read"] }, { headers: { "x-api-key": readOnly.key } }));
      expect(mint.code).toBe(Code.PermissionDenied);
    });

    it("an internal service validates tokens with a tokens.validate key", async () => {
      const service = await auth.createApiKey({ name: `validator-${Date.now()}`, permissions: ["tokens.validate"] }, bearer(adminToken));
      const { user, tokens } = await signUp("validated-by-key");
      const result = await auth.validateToken({ token: tokens.accessToken }, { headers: { "x-api-key": service.key } });
      expect(result.active).toBe(true);
      expect(result.subject).toBe(user.id);
      const plainKey = await auth.createApiKey({ name: "no-validate", permissions: ["users.read"] }, bearer(tokens.accessToken));
      expect((await rpcError(auth.validateToken({ token: tokens.accessToken }, { headers: { "x-api-key": plainKey.key } }))).code).toBe(Code.PermissionDenied);
    });

    it("introspects an API key: active with its permissions until revoked", async () => {
      const { user, tokens } = await signUp("key-introspected");
      const created = await auth.createApiKey({ name: "robot", permissions: ["users.read", "api_keys.read"] }, bearer(tokens.accessToken));
      const live = await validate(created.key);
      expect(live.active).toBe(true);
      expect(live.subject).toBe(user.id);
      expect(live.subjectKind).toBe(SubjectKind.API_KEY);
      expect(live.tokenId).toBe(created.apiKey!.id);
      expect(live.scopes).toEqual(["api_keys.read", "users.read"]);
      expect(live.securityProfile).toBe("default");
      await auth.revokeApiKey({ apiKeyId: created.apiKey!.id }, bearer(tokens.accessToken));
      const revoked = await validate(created.key);
      expect(revoked.active).toBe(false);
      expect(revoked.subject).toBe("");
      // Shaped like a key but unknown: inactive as well.
      expect((await validate(`${created.key.slice(0, -4)}AAAA`)).active).toBe(false);
    });
  });

  describe("protocols and limits", () => {
    it("serves the same RPCs over gRPC-Web", async () => {
      const { tokens } = await signUp("grpc-web", target.transports.grpcWeb);
      const me = await createClient(AuthService, target.transports.grpcWeb).getCurrentUser({}, bearer(tokens.accessToken));
      expect(me.user?.email).toContain("grpc-web");
    });

    it("a 10 MB request body gets resource_exhausted", async () => {
      const body = JSON.stringify({ password: "x".repeat(10 * 1024 * 1024) });
      const response = await target.fetch(`${target.baseUrl}/latchkey.auth.v1.AuthService/CheckPasswordStrength`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      const answer = (await response.json()) as { code: string };
      expect(answer.code).toBe("resource_exhausted");
    });

    it("publishes the signing keys and the discovery document", async () => {
      const jwks = await target.fetch(`${target.baseUrl}/.well-known/jwks.json`);
      expect(jwks.status).toBe(200);
      expect(jwks.headers.get("cache-control")).toContain("max-age");
      const keys = ((await jwks.json()) as { keys: { kty: string; crv: string; d?: string }[] }).keys;
      expect(keys.length).toBeGreaterThan(0);
      expect(keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519" });
      expect(keys.every((k) => k.d === undefined)).toBe(true);
      const discovery = (await (await target.fetch(`${target.baseUrl}/.well-known/openid-configuration`)).json()) as { jwks_uri: string; issuer: string };
      expect(discovery.jwks_uri).toBe(`${discovery.issuer}/.well-known/jwks.json`);
    });
  });
}
