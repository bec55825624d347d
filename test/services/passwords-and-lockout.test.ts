/**
 * Password reset, password change and history, account lockout and
 * per-address limits, on the real app with every interceptor, a real libSQL
 * file and a clock the tests move by hand. The TCP peer is set per request
 * (as the Node adapter sets it from the socket), so trusted-proxy handling
 * runs exactly as in production.
 */
import { Code, createClient, createRouterTransport, type Client, type Interceptor } from "@connectrpc/connect";
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { normaliseEmail } from "../../src/domain/formats.js";
import { throttleKeys } from "../../src/domain/throttle/rules.js";
import { kPeerAddress } from "../../src/services/context.js";
import { DEFAULT_PROFILE_ID } from "../../src/store/queries/security-profiles.js";
import { auditEvents, outbox, passwordHistory, securityProfiles, sessions, throttles, users as usersTable, verificationCodes } from "../../src/store/schema/index.js";
import { manualClock, startInProcess } from "../support/in-process-app.js";
import { rpcError } from "../support/rpc-calls.js";

const ISSUER = "https://id.latchkey.test";
const P = ["violet-anchor-meadow-71-quartz", "amber-falcon-harbour-38-willow", "copper-lantern-glacier-52-thistle", "indigo-ferry-summit-94-bramble", "scarlet-orchard-pylon-27-kestrel", "olive-compass-tundra-63-marble"];
const SECOND = 1000;
const MINUTE = 60 * SECOND;

type InProcess = Awaited<ReturnType<typeof startInProcess>>;

/** Stands in for the runtime adapter: the TCP peer of the request, from a test header. */
const peerFromHeader: Interceptor = (next) => (req) => {
  req.contextValues.set(kPeerAddress, req.header.get("x-test-peer") ?? "192.0.2.1");
  return next(req);
};

function clients(app: InProcess) {
  const transport = createRouterTransport(app.app.routes, { router: { interceptors: [peerFromHeader, ...app.app.interceptors] } });
  return { auth: createClient(AuthService, transport), users: createClient(UserService, transport) };
}

interface From {
  peer?: string;
  forwardedFor?: string;
  token?: string;
}

function from({ peer, forwardedFor, token }: From = {}) {
  const headers: Record<string, string> = { "x-test-peer": peer ?? "192.0.2.1" };
  if (forwardedFor) headers["x-forwarded-for"] = forwardedFor;
  if (token) headers.authorization = `Bearer ${token}`;
  return { headers };
}

async function failure(call: Promise<unknown>) {
  const error = await rpcError(call);
  const delay = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
  return {
    code: error.code,
    reason: error.findDetails(ErrorInfoSchema)[0]?.reason,
    message: error.rawMessage,
    retryMs: delay ? Number(delay.seconds) * 1000 + delay.nanos / 1e6 : undefined,
  };
}

let counter = 0;
const unique = (tag: string) => `${tag}-${counter++}@example.com`;
let peers = 0;
/** A fresh client address, so that tests do not share per-address limits. */
const freshPeer = () => `198.18.${Math.floor(++peers / 250)}.${(peers % 250) + 1}`;

describe("with a clock in hand", () => {
  const clock = manualClock();
  let app: InProcess;
  let auth: Client<typeof AuthService>;
  let users: Client<typeof UserService>;

  beforeAll(async () => {
    app = await startInProcess({ clock, env: { LATCHKEY_ISSUER: ISSUER } });
    ({ auth, users } = clients(app));
  });
  afterAll(async () => {
    await app?.stop();
  });

  const db = () => app.database.db;

  async function signUp(tag: string, password = P[0]!) {
    const email = unique(tag);
    const { user } = await users.createUser({ email, name: `User ${tag}`, password }, from({ peer: freshPeer() }));
    return { email, id: user!.id };
  }

  async function signIn(email: string, password: string, who: From = { peer: freshPeer() }) {
    const answer = await auth.signIn({ identifier: { case: "email", value: email }, password, deviceName: "test" }, from(who));
    if (answer.result.case !== "tokens") throw new Error("expected tokens");
    return answer.result.value;
  }

  async function lastEmail(to: string) {
    const row = await db().select().from(outbox).where(eq(outbox.recipient, to)).orderBy(desc(outbox.createdAt), desc(sql`rowid`)).get();
    if (!row) throw new Error(`nothing was sent to ${to}`);
    return row;
  }

  async function resetCode(email: string, who: From = { peer: freshPeer() }) {
    await auth.startPasswordReset({ email }, from(who));
    const mail = await lastEmail(email);
    expect(mail.subject).toBe("Reset your Latchkey password");
    const code = /\b(\d{8})\b/.exec(mail.body)?.[1];
    if (!code) throw new Error(`no code in ${mail.body}`);
    return { code, mail };
  }

  const liveSessions = async (userId: string) =>
    (await db().select({ id: sessions.id }).from(sessions).where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt))).all()).map((r) => r.id);
  const auditTypes = async (userId: string) =>
    (await db().select({ type: auditEvents.type }).from(auditEvents).where(eq(auditEvents.userId, userId)).all()).map((r) => r.type);
  const wrongSignIn = (email: string, who: From = { peer: freshPeer() }) =>
    failure(auth.signIn({ identifier: { case: "email", value: email }, password: "not the password" }, from(who)));
  const lockoutRow = async (email: string) => db().select().from(throttles).where(eq(throttles.key, await throttleKeys.lockout(normaliseEmail(email)))).get();

  describe("password reset", () => {
    it("mails a code with a link on the configured origin, and the code sets a new password, once, signing every session out", async () => {
      const { email, id } = await signUp("reset");
      const first = await signIn(email, P[0]!);
      const second = await signIn(email, P[0]!);
      await auth.startPasswordReset({ email }, { headers: { ...from().headers, host: "evil.example", "x-forwarded-host": "evil.example", origin: "https://evil.example" } });
      const mail = await lastEmail(email);
      expect(mail.subject).toBe("Reset your Latchkey password");
      expect(mail.body).toContain(`${ISSUER}/reset-password#`);
      expect(mail.body).not.toContain("evil.example");
      const code = /\b(\d{8})\b/.exec(mail.body)![1]!;
      expect(mail.body).toContain(`code=${code}`);
      const stored = await db().select().from(verificationCodes).where(and(eq(verificationCodes.userId, id), eq(verificationCodes.purpose, "password_reset"))).all();
      expect(stored).toHaveLength(1);
      expect(stored[0]!.codeHash).not.toContain(code);

      await auth.completePasswordReset({ email, code, newPassword: P[1]! }, from());
      // Every session is gone, and none was opened: the next sign-in still asks for everything.
      expect(await liveSessions(id)).toEqual([]);
      for (const tokens of [first, second]) {
        expect((await failure(auth.getCurrentUser({}, from({ token: tokens.accessToken })))).code).toBe(Code.Unauthenticated);
        expect((await failure(auth.refreshToken({ refreshToken: tokens.refreshToken }, from()))).code).toBe(Code.Unauthenticated);
      }
      expect((await failure(auth.signIn({ identifier: { case: "email", value: email }, password: P[0]! }, from({ peer: freshPeer() })))).code).toBe(Code.Unauthenticated);
      await signIn(email, P[1]!);

      // Used once: the same answer as any wrong code.
      const reused = await failure(auth.completePasswordReset({ email, code, newPassword: P[2]! }, from()));
      expect(reused).toMatchObject({ code: Code.Unauthenticated, reason: "INVALID_CREDENTIALS" });
      expect((await lastEmail(email)).subject).toBe("Your password was reset");
      expect(await auditTypes(id)).toEqual(expect.arrayContaining(["verification.code_sent", "password.reset", "session.revoked_all"]));
    });

    it("of two concurrent resets with the right code exactly one succeeds, with one notice and one audit row", async () => {
      const { email, id } = await signUp("race");
      const { code } = await resetCode(email);
      const results = await Promise.allSettled([P[1]!, P[2]!].map((newPassword) => auth.completePasswordReset({ email, code, newPassword }, from())));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const winner = results[0]!.status === "fulfilled" ? P[1]! : P[2]!;
      await signIn(email, winner);
      expect((await auditTypes(id)).filter((t) => t === "password.reset")).toHaveLength(1);
      expect(await db().select().from(outbox).where(and(eq(outbox.recipient, email), eq(outbox.subject, "Your password was reset"))).all()).toHaveLength(1);
      expect(await db().select().from(passwordHistory).where(eq(passwordHistory.userId, id)).all()).toHaveLength(1);
    });

    it("a code expires after an hour; expired, wrong and used codes get one answer", async () => {
      const { email } = await signUp("expiry");
      const old = await resetCode(email);
      clock.advance(60 * MINUTE);
      const expired = await failure(auth.completePasswordReset({ email, code: old.code, newPassword: P[1]! }, from()));
      const fresh = await resetCode(email);
      const wrongCode = fresh.code.replace(/^./, (d) => String((Number(d) + 1) % 10));
      const wrong = await failure(auth.completePasswordReset({ email, code: wrongCode, newPassword: P[1]! }, from()));
      const unknown = await failure(auth.completePasswordReset({ email: unique("nobody"), code: fresh.code, newPassword: P[1]! }, from()));
      expect(expired).toEqual(wrong);
      expect(unknown).toEqual(wrong);
      expect(wrong).toMatchObject({ code: Code.Unauthenticated, reason: "INVALID_CREDENTIALS" });
      // One millisecond before its expiry the fresh code still works.
      clock.advance(60 * MINUTE - 1);
      await auth.completePasswordReset({ email, code: fresh.code, newPassword: P[1]! }, from());
      expect(await failure(auth.completePasswordReset({ email, code: fresh.code, newPassword: P[2]! }, from()))).toEqual(wrong);
    });

    it("five wrong codes kill the code, and the right one fails after them", async () => {
      const { email } = await signUp("guess");
      const { code } = await resetCode(email);
      const wrongCode = code.replace(/.$/, (d) => String((Number(d) + 1) % 10));
      for (let i = 0; i < 5; i++) await failure(auth.completePasswordReset({ email, code: wrongCode, newPassword: P[1]! }, from()));
      expect((await failure(auth.completePasswordReset({ email, code, newPassword: P[1]! }, from()))).code).toBe(Code.Unauthenticated);
      await signIn(email, P[0]!);
    });

    it("refuses a weak, breached or recent password and leaves the code working", async () => {
      const { email } = await signUp("weak");
      const { code } = await resetCode(email);
      const weak = await failure(auth.completePasswordReset({ email, code, newPassword: "password1234" }, from()));
      expect(weak).toMatchObject({ code: Code.InvalidArgument, reason: "WEAK_PASSWORD" });
      const current = await failure(auth.completePasswordReset({ email, code, newPassword: P[0]! }, from()));
      expect(current).toMatchObject({ code: Code.InvalidArgument, reason: "PASSWORD_REUSED" });
      await auth.completePasswordReset({ email, code, newPassword: P[3]! }, from());
      await signIn(email, P[3]!);
    });

    it("answers an unknown address exactly like a known one, and sends nothing", async () => {
      const known = await signUp("known");
      const unknown = unique("unknown");
      const peer = freshPeer();
      expect(await auth.startPasswordReset({ email: unknown }, from({ peer }))).toEqual(await auth.startPasswordReset({ email: known.email }, from({ peer })));
      expect(await db().select().from(outbox).where(eq(outbox.recipient, unknown)).all()).toEqual([]);
      expect(await db().select().from(verificationCodes).where(eq(verificationCodes.target, unknown)).all()).toEqual([]);
      // Five mails an hour per address, counted alike whether or not there is an account.
      for (let i = 0; i < 4; i++) {
        await auth.startPasswordReset({ email: unknown }, from({ peer }));
        await auth.startPasswordReset({ email: known.email }, from({ peer }));
      }
      const capped = [await failure(auth.startPasswordReset({ email: unknown }, from({ peer }))), await failure(auth.startPasswordReset({ email: known.email }, from({ peer })))];
      expect(capped[0]).toEqual(capped[1]);
      expect(capped[0]).toMatchObject({ code: Code.ResourceExhausted, reason: "TOO_MANY_ATTEMPTS", retryMs: 60 * MINUTE });
      expect(await db().select().from(outbox).where(eq(outbox.recipient, known.email)).all()).toHaveLength(1 + 5);
    });

    it("works for a locked-out account, and clears the lockout", async () => {
      const { email } = await signUp("locked-reset");
      for (let i = 0; i < 10; i++) await wrongSignIn(email);
      expect((await failure(auth.signIn({ identifier: { case: "email", value: email }, password: P[0]! }, from({ peer: freshPeer() })))).code).toBe(Code.ResourceExhausted);
      const { code } = await resetCode(email);
      await auth.completePasswordReset({ email, code, newPassword: P[2]! }, from());
      expect(await lockoutRow(email)).toBeUndefined();
      await signIn(email, P[2]!);
    });
  });

  describe("password change", () => {
    it("needs the current password, keeps the calling session, revokes the others and sends a notice", async () => {
      const { email, id } = await signUp("change");
      const mine = await signIn(email, P[0]!);
      const other = await signIn(email, P[0]!);
      const wrong = await failure(auth.changePassword({ currentPassword: P[5]!, newPassword: P[1]! }, from({ token: mine.accessToken })));
      expect(wrong).toMatchObject({ code: Code.Unauthenticated, reason: "INVALID_CREDENTIALS" });
      expect((await lockoutRow(email))?.hits).toBe(1);

      await auth.changePassword({ currentPassword: P[0]!, newPassword: P[1]! }, from({ token: mine.accessToken }));
      expect((await auth.getCurrentUser({}, from({ token: mine.accessToken }))).user?.id).toBe(id);
      expect((await failure(auth.getCurrentUser({}, from({ token: other.accessToken })))).code).toBe(Code.Unauthenticated);
      expect(await liveSessions(id)).toHaveLength(1);
      expect(await lockoutRow(email)).toBeUndefined();
      expect((await lastEmail(email)).subject).toBe("Your password was changed");
      expect(await auditTypes(id)).toEqual(expect.arrayContaining(["password.change_failed", "password.changed", "session.revoked_all"]));
      await signIn(email, P[1]!);
    });

    it("rejects each of the last N passwords (the profile's history length, 5) and accepts the one before them", async () => {
      const { email, id } = await signUp("history");
      const { accessToken } = await signIn(email, P[0]!);
      const as = from({ token: accessToken });
      for (let i = 1; i <= 5; i++) await auth.changePassword({ currentPassword: P[i - 1]!, newPassword: P[i]! }, as);
      for (let i = 1; i <= 5; i++) {
        const reused = await failure(auth.changePassword({ currentPassword: P[5]!, newPassword: P[i]! }, as));
        expect(reused, `password ${i}`).toMatchObject({ code: Code.InvalidArgument, reason: "PASSWORD_REUSED" });
      }
      // The history keeps the N−1 passwords before the current one, no more.
      expect(await db().select().from(passwordHistory).where(eq(passwordHistory.userId, id)).all()).toHaveLength(4);
      await auth.changePassword({ currentPassword: P[5]!, newPassword: P[0]! }, as);
      const stored = await db().select({ hash: usersTable.passwordHash }).from(usersTable).where(eq(usersTable.id, id)).get();
      expect(stored?.hash).toMatch(/^\$argon2id\$/);
      await signIn(email, P[0]!);
    });

    it("refuses a weak new password with the strength feedback", async () => {
      const { email } = await signUp("change-weak");
      const { accessToken } = await signIn(email, P[0]!);
      const weak = await failure(auth.changePassword({ currentPassword: P[0]!, newPassword: "short" }, from({ token: accessToken })));
      expect(weak).toMatchObject({ code: Code.InvalidArgument, reason: "WEAK_PASSWORD" });
    });
  });

  describe("lockout", () => {
    it("blocks an account after 10 failures from any addresses, with a delay that doubles per strike; success resets", async () => {
      const { email } = await signUp("lockout");
      for (let i = 0; i < 10; i++) expect((await wrongSignIn(email)).code).toBe(Code.Unauthenticated);
      // Even the right password is refused while blocked, from any address.
      const blocked = await failure(auth.signIn({ identifier: { case: "email", value: email }, password: P[0]! }, from({ peer: freshPeer() })));
      expect(blocked).toMatchObject({ code: Code.ResourceExhausted, reason: "TOO_MANY_ATTEMPTS", retryMs: 30 * SECOND });
      clock.advance(30 * SECOND - 1);
      expect((await wrongSignIn(email)).retryMs).toBe(1);

      clock.advance(1);
      for (let i = 0; i < 10; i++) expect((await wrongSignIn(email)).code).toBe(Code.Unauthenticated);
      expect(await wrongSignIn(email)).toMatchObject({ code: Code.ResourceExhausted, retryMs: 60 * SECOND });
      clock.advance(60 * SECOND);
      for (let i = 0; i < 10; i++) await wrongSignIn(email);
      expect(await wrongSignIn(email)).toMatchObject({ code: Code.ResourceExhausted, retryMs: 120 * SECOND });

      clock.advance(120 * SECOND);
      await signIn(email, P[0]!);
      expect(await lockoutRow(email)).toBeUndefined();
      // A fresh start: nine failures and the right password still gets in.
      for (let i = 0; i < 9; i++) await wrongSignIn(email);
      await signIn(email, P[0]!);
    });

    it("follows the threshold of the account's security profile", async () => {
      const { email } = await signUp("profile-threshold");
      await db().update(securityProfiles).set({ lockoutThreshold: 3 }).where(eq(securityProfiles.id, DEFAULT_PROFILE_ID));
      try {
        for (let i = 0; i < 3; i++) expect((await wrongSignIn(email)).code).toBe(Code.Unauthenticated);
        expect((await wrongSignIn(email)).code).toBe(Code.ResourceExhausted);
      } finally {
        await db().update(securityProfiles).set({ lockoutThreshold: 10 }).where(eq(securityProfiles.id, DEFAULT_PROFILE_ID));
      }
    });

    it("counts failures only within the profile's window (15 minutes)", async () => {
      const { email } = await signUp("window");
      for (let i = 0; i < 9; i++) await wrongSignIn(email);
      clock.advance(15 * MINUTE);
      for (let i = 0; i < 9; i++) await wrongSignIn(email);
      await signIn(email, P[0]!);
    });

    it("locks an unknown email out exactly like a known one", async () => {
      const known = (await signUp("known-lock")).email;
      const unknown = unique("unknown-lock");
      const answers = { known: [] as unknown[], unknown: [] as unknown[] };
      for (let i = 0; i < 11; i++) {
        answers.known.push(await wrongSignIn(known));
        answers.unknown.push(await wrongSignIn(unknown));
      }
      expect(answers.unknown).toEqual(answers.known);
      expect(answers.known.at(-1)).toMatchObject({ code: Code.ResourceExhausted, retryMs: 30 * SECOND });
    });

    it("counts every one of concurrent failures", async () => {
      const { email } = await signUp("concurrent");
      const results = await Promise.all(Array.from({ length: 9 }, () => wrongSignIn(email)));
      expect(results.every((r) => r.code === Code.Unauthenticated)).toBe(true);
      expect((await lockoutRow(email))?.hits).toBe(9);
      await wrongSignIn(email);
      expect((await wrongSignIn(email)).code).toBe(Code.ResourceExhausted);
    });

    it("counts wrong current passwords of ChangePassword too", async () => {
      const { email } = await signUp("change-lock");
      const { accessToken } = await signIn(email, P[0]!);
      for (let i = 0; i < 10; i++) await failure(auth.changePassword({ currentPassword: "not the password", newPassword: P[1]! }, from({ token: accessToken })));
      expect(await failure(auth.changePassword({ currentPassword: P[0]!, newPassword: P[1]! }, from({ token: accessToken })))).toMatchObject({ code: Code.ResourceExhausted, reason: "TOO_MANY_ATTEMPTS" });
      expect((await wrongSignIn(email)).code).toBe(Code.ResourceExhausted);
    });
  });

  describe("limits per client address", () => {
    it("a spoofed X-Forwarded-For from an untrusted peer does not reset the sign-in limit", async () => {
      const peer = "203.0.113.50";
      const { email } = await signUp("victim");
      // 100 failures over 100 accounts (none gets locked), each naming another client.
      for (let batch = 0; batch < 25; batch++) {
        await Promise.all(
          Array.from({ length: 4 }, async (_, i) => {
            const n = batch * 4 + i;
            expect((await wrongSignIn(unique("spray"), { peer, forwardedFor: `100.64.${n}.${n % 250}` })).code).toBe(Code.Unauthenticated);
          }),
        );
      }
      const refused = await failure(auth.signIn({ identifier: { case: "email", value: email }, password: P[0]! }, from({ peer, forwardedFor: "100.127.0.1" })));
      expect(refused).toMatchObject({ code: Code.ResourceExhausted, reason: "TOO_MANY_ATTEMPTS", retryMs: 15 * MINUTE });
      const row = await db().select().from(throttles).where(eq(throttles.key, `sign_in:address:${peer}`)).get();
      expect(row?.blockedUntil).toBe(clock.now() + 15 * MINUTE);
      // Another address is not affected.
      await signIn(email, P[0]!, { peer: freshPeer() });
    });

    it("limits reset requests and completions per address, whatever X-Forwarded-For says", async () => {
      const peer = freshPeer();
      for (let i = 0; i < 30; i++) await auth.startPasswordReset({ email: unique("burst") }, from({ peer, forwardedFor: `100.65.0.${i}` }));
      expect(await failure(auth.startPasswordReset({ email: unique("burst") }, from({ peer, forwardedFor: "100.65.1.1" })))).toMatchObject({
        code: Code.ResourceExhausted,
        reason: "TOO_MANY_ATTEMPTS",
        retryMs: 15 * MINUTE,
      });
      const other = freshPeer();
      for (let i = 0; i < 30; i++) {
        const answer = await failure(auth.completePasswordReset({ email: unique("burst"), code: "12345678", newPassword: P[1]! }, from({ peer: other, forwardedFor: `100.66.0.${i}` })));
        expect(answer.code).toBe(Code.Unauthenticated);
      }
      expect((await failure(auth.completePasswordReset({ email: unique("burst"), code: "12345678", newPassword: P[1]! }, from({ peer: other })))).code).toBe(Code.ResourceExhausted);
      clock.advance(15 * MINUTE);
      await auth.startPasswordReset({ email: unique("burst") }, from({ peer }));
    });
  });
});

describe("behind a trusted proxy", () => {
  let app: InProcess;
  let auth: Client<typeof AuthService>;
  const proxy = "10.0.0.1";

  beforeAll(async () => {
    app = await startInProcess({ env: { LATCHKEY_TRUSTED_PROXIES: `${proxy},10.0.1.0/24` } });
    ({ auth } = clients(app));
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("counts the client the proxy names, so clients are limited one by one", async () => {
    for (let i = 0; i < 30; i++) await auth.startPasswordReset({ email: unique("proxied") }, from({ peer: proxy, forwardedFor: "198.51.100.7" }));
    expect((await failure(auth.startPasswordReset({ email: unique("proxied") }, from({ peer: proxy, forwardedFor: "198.51.100.7" })))).code).toBe(Code.ResourceExhausted);
    // A spoofed hop in front of the real client changes nothing: the rightmost untrusted hop is the client.
    expect((await failure(auth.startPasswordReset({ email: unique("proxied") }, from({ peer: proxy, forwardedFor: "1.2.3.4, 198.51.100.7" })))).code).toBe(Code.ResourceExhausted);
    // Another client behind the same proxy (through a second trusted hop) is not affected.
    await auth.startPasswordReset({ email: unique("proxied") }, from({ peer: proxy, forwardedFor: "198.51.100.8, 10.0.1.9" }));
    const keys = (await app.database.db.select({ key: throttles.key }).from(throttles).all()).map((r) => r.key);
    expect(keys).toEqual(expect.arrayContaining(["password_reset:address:198.51.100.7", "password_reset:address:198.51.100.8"]));
    expect(keys).not.toContain(`password_reset:address:${proxy}`);
  });
});
