/**
 * Second factors at sign-in on a controlled clock, through the real app and
 * its interceptors on a real libSQL file: the TOTP window around the
 * server's time, replay (one after the other and two sign-ins racing with
 * one code), single-use recovery codes, the death of a challenge after five
 * wrong codes, and a challenge token that works for nothing else.
 */
import { Code, createClient, type Client } from "@connectrpc/connect";
import { and, eq } from "drizzle-orm";
import { Secret } from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { MfaMethod } from "../../gen/latchkey/auth/v1/token_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { totpCodeAt, totpStepAt } from "../../src/domain/mfa/totp.js";
import { deriveKey, base64url, fromBase64url, unseal } from "../../src/domain/tokens/secrets.js";
import { auditEvents, mfaChallenges, outbox, recoveryCodes, securityProfiles, totpFactors, users } from "../../src/store/schema/index.js";
import { KEY_ENCRYPTION_KEY, manualClock, startInProcess } from "../support/in-process-app.js";
import { bearer, rpcError } from "../support/rpc-calls.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
const STEP_MS = 30_000;
// Mid-step, so that moving by whole steps never lands on an edge.
const clock = manualClock(Date.UTC(2026, 10, 23, 12, 0, 15));
let env: Awaited<ReturnType<typeof startInProcess>>;
let auth: Client<typeof AuthService>;
let userService: Client<typeof UserService>;
let counter = 0;

beforeAll(async () => {
  env = await startInProcess({ clock });
  auth = createClient(AuthService, env.transport);
  userService = createClient(UserService, env.transport);
});
afterAll(() => env?.stop());

interface Enrolled {
  email: string;
  userId: string;
  secret: Uint8Array;
  recoveryCodes: string[];
  accessToken: string;
}

async function signUp(tag: string): Promise<{ email: string; userId: string; accessToken: string }> {
  const email = `${tag}-${counter++}@example.com`;
  const { user } = await userService.createUser({ email, name: `User ${tag}`, password: PASSWORD });
  const signedIn = await auth.signIn({ identifier: { case: "email", value: email }, password: PASSWORD, deviceName: "laptop" });
  if (signedIn.result.case !== "tokens") throw new Error("expected tokens");
  return { email, userId: user!.id, accessToken: signedIn.result.value.accessToken };
}

/** A user with a confirmed authenticator app; the confirming code used the current step. */
async function enrolled(tag: string): Promise<Enrolled> {
  const { email, userId, accessToken } = await signUp(tag);
  const enrolment = await auth.enrollTotp({}, bearer(accessToken));
  const secret = Secret.fromBase32(enrolment.secret).bytes;
  const { recoveryCodes: codes } = await auth.confirmTotp({ code: totpCodeAt(secret, totpStepAt(clock.now())) }, bearer(accessToken));
  // Later codes of the tests start from a fresh step.
  clock.advance(STEP_MS);
  return { email, userId, secret, recoveryCodes: codes, accessToken };
}

async function challenge(email: string, deviceName = "laptop") {
  const answer = await auth.signIn({ identifier: { case: "email", value: email }, password: PASSWORD, deviceName });
  if (answer.result.case !== "mfaRequired") throw new Error("expected an MFA challenge");
  return answer.result.value;
}

const codeAt = (secret: Uint8Array, offsetSteps = 0) => totpCodeAt(secret, totpStepAt(clock.now()) + offsetSteps);

describe("TOTP enrolment", () => {
  it("stores the secret sealed, and sign-in asks for the app once it is confirmed", async () => {
    const { email, userId, accessToken } = await signUp("enrol");
    const enrolment = await auth.enrollTotp({}, bearer(accessToken));
    expect(enrolment.otpauthUri).toMatch(/^otpauth:\/\/totp\/Latchkey:/);
    expect(enrolment.qrCodeSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    // Not yet confirmed: the password alone still signs in.
    expect((await auth.signIn({ identifier: { case: "email", value: email }, password: PASSWORD })).result.case).toBe("tokens");

    const row = await env.database.db.select().from(totpFactors).where(eq(totpFactors.userId, userId)).get();
    expect(row!.secretSealed).not.toContain(enrolment.secret);
    const secret = Secret.fromBase32(enrolment.secret).bytes;
    const key = await deriveKey(base64url(KEY_ENCRYPTION_KEY), "latchkey totp secrets v1");
    expect(await unseal(key, fromBase64url(row!.secretSealed), `totp-secret:${userId}`)).toEqual(secret);
    expect(await unseal(new Uint8Array(32), fromBase64url(row!.secretSealed), `totp-secret:${userId}`)).toBeUndefined();

    const wrong = await rpcError(auth.confirmTotp({ code: codeAt(secret, 3) }, bearer(accessToken)));
    expect(wrong.code).toBe(Code.InvalidArgument);
    const { recoveryCodes: codes } = await auth.confirmTotp({ code: codeAt(secret) }, bearer(accessToken));
    expect(codes).toHaveLength(10);
    const stored = await env.database.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, userId)).all();
    expect(stored).toHaveLength(10);
    for (const code of codes) expect(stored.some((r) => r.codeHash.includes(code) || r.codeHash.includes(code.replace(/-/g, "")))).toBe(false);

    const status = await auth.getMfaStatus({}, bearer(accessToken));
    expect(status).toMatchObject({ totpEnabled: true, recoveryCodesRemaining: 10, emailEnabled: false, smsEnabled: false });
    // Enrolling again over a confirmed app is refused.
    expect((await rpcError(auth.enrollTotp({}, bearer(accessToken)))).code).toBe(Code.FailedPrecondition);

    const answer = await challenge(email);
    expect(answer.methods).toEqual([MfaMethod.TOTP, MfaMethod.RECOVERY_CODE]);
    expect(answer.challengeToken).toMatch(/^lkc_/);
    const notices = await env.database.db.select().from(outbox).where(and(eq(outbox.recipient, email), eq(outbox.subject, "A second factor was added to your account"))).all();
    expect(notices).toHaveLength(1);
  });

  it("confirming again with a later code replaces the recovery codes", async () => {
    const user = await enrolled("reconfirm");
    const { recoveryCodes: fresh } = await auth.confirmTotp({ code: codeAt(user.secret) }, bearer(user.accessToken));
    expect(fresh).toHaveLength(10);
    expect(fresh.some((c) => user.recoveryCodes.includes(c))).toBe(false);
    const old = await challenge(user.email);
    expect((await rpcError(auth.completeMfaChallenge({ challengeToken: old.challengeToken, method: MfaMethod.RECOVERY_CODE, code: user.recoveryCodes[0]! }))).code).toBe(Code.Unauthenticated);
    const done = await auth.completeMfaChallenge({ challengeToken: old.challengeToken, method: MfaMethod.RECOVERY_CODE, code: fresh[0]! });
    expect(done.tokens?.accessToken).toBeTruthy();
  });
});

describe("the TOTP window at sign-in", () => {
  it("accepts the codes of T-1, T and T+1 and refuses those of T-2 and T+2", async () => {
    const user = await enrolled("window");
    const outcomes: Record<number, boolean> = {};
    for (const offset of [-2, -1, 0, 1, 2]) {
      // Far enough on that every earlier acceptance is behind the window.
      clock.advance(5 * STEP_MS);
      const { challengeToken } = await challenge(user.email);
      const code = codeAt(user.secret, offset);
      const inside = [-1, 0, 1].some((o) => codeAt(user.secret, o) === code);
      const result = await auth.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code }).then(
        () => true,
        () => false,
      );
      if (Math.abs(offset) <= 1 || !inside) outcomes[offset] = result;
    }
    expect(outcomes).toMatchObject({ [-1]: true, 0: true, 1: true });
    if (-2 in outcomes) expect(outcomes[-2]).toBe(false);
    if (2 in outcomes) expect(outcomes[2]).toBe(false);
  });
});

describe("replay", () => {
  it("a code accepted once is refused on the next sign-in, and an earlier one with it", async () => {
    const user = await enrolled("replay");
    const code = codeAt(user.secret);
    const first = await challenge(user.email);
    const done = await auth.completeMfaChallenge({ challengeToken: first.challengeToken, method: MfaMethod.TOTP, code });
    expect(done.tokens?.accessToken).toBeTruthy();

    const second = await challenge(user.email);
    const replayed = await rpcError(auth.completeMfaChallenge({ challengeToken: second.challengeToken, method: MfaMethod.TOTP, code }));
    expect(replayed.code).toBe(Code.Unauthenticated);
    expect((await rpcError(auth.completeMfaChallenge({ challengeToken: second.challengeToken, method: MfaMethod.TOTP, code: codeAt(user.secret, -1) }))).code).toBe(Code.Unauthenticated);
    // The challenge survives the failures; the next step's code completes it.
    expect((await auth.completeMfaChallenge({ challengeToken: second.challengeToken, method: MfaMethod.TOTP, code: codeAt(user.secret, 1) })).tokens).toBeDefined();
    // And the code that completed a challenge never completes it twice.
    expect((await rpcError(auth.completeMfaChallenge({ challengeToken: second.challengeToken, method: MfaMethod.TOTP, code: codeAt(user.secret, 1) }))).code).toBe(Code.Unauthenticated);
  });

  it("of two sign-ins racing with one code exactly one succeeds, every time", async () => {
    const user = await enrolled("race");
    for (let round = 0; round < 5; round++) {
      clock.advance(5 * STEP_MS);
      const [a, b] = await Promise.all([challenge(user.email), challenge(user.email)]);
      const code = codeAt(user.secret);
      const results = await Promise.allSettled([
        auth.completeMfaChallenge({ challengeToken: a.challengeToken, method: MfaMethod.TOTP, code }),
        auth.completeMfaChallenge({ challengeToken: b.challengeToken, method: MfaMethod.TOTP, code }),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect((await rpcError(Promise.reject(lost.reason))).code).toBe(Code.Unauthenticated);
    }
    const succeeded = await env.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.userId, user.userId), eq(auditEvents.type, "sign_in.succeeded")))
      .all();
    // The sign-up session plus one per round.
    expect(succeeded).toHaveLength(1 + 5);
  });

  it("two completions of one challenge racing with one code: exactly one session", async () => {
    const user = await enrolled("same-challenge");
    const { challengeToken } = await challenge(user.email);
    const code = codeAt(user.secret);
    const results = await Promise.allSettled([
      auth.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code }),
      auth.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });
});

describe("recovery codes", () => {
  it("sign in once each, are counted down, and send a notice", async () => {
    const user = await enrolled("recovery");
    const [code] = user.recoveryCodes;
    const first = await challenge(user.email);
    // Typed in capitals with spaces: the same code.
    const typed = code!.toUpperCase().replace(/-/g, " ");
    const done = await auth.completeMfaChallenge({ challengeToken: first.challengeToken, method: MfaMethod.RECOVERY_CODE, code: typed });
    expect(done.tokens?.accessToken).toBeTruthy();
    expect((await auth.getMfaStatus({}, bearer(done.tokens!.accessToken))).recoveryCodesRemaining).toBe(9);

    const second = await challenge(user.email);
    expect((await rpcError(auth.completeMfaChallenge({ challengeToken: second.challengeToken, method: MfaMethod.RECOVERY_CODE, code: code! }))).code).toBe(Code.Unauthenticated);
    const notices = await env.database.db.select().from(outbox).where(and(eq(outbox.recipient, user.email), eq(outbox.subject, "A recovery code was used to sign in"))).all();
    expect(notices).toHaveLength(1);
    const audit = await env.database.db.select().from(auditEvents).where(and(eq(auditEvents.userId, user.userId), eq(auditEvents.type, "mfa.recovery_code_used"))).all();
    expect(audit).toHaveLength(1);
  });

  it("one code used by two racing sign-ins works once", async () => {
    const user = await enrolled("recovery-race");
    const [a, b] = await Promise.all([challenge(user.email), challenge(user.email)]);
    const code = user.recoveryCodes[1]!;
    const results = await Promise.allSettled([
      auth.completeMfaChallenge({ challengeToken: a.challengeToken, method: MfaMethod.RECOVERY_CODE, code }),
      auth.completeMfaChallenge({ challengeToken: b.challengeToken, method: MfaMethod.RECOVERY_CODE, code }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const used = await env.database.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, user.userId)).all();
    expect(used.filter((r) => r.usedAt !== null)).toHaveLength(1);
  });
});

describe("the challenge", () => {
  it("dies after five wrong codes: the right code then fails too", async () => {
    const user = await enrolled("dead");
    const { challengeToken } = await challenge(user.email);
    const right = codeAt(user.secret);
    const wrong = right.replace(/^./, (d) => String((Number(d) + 1) % 10));
    for (let i = 0; i < 5; i++) {
      expect((await rpcError(auth.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code: wrong }))).code).toBe(Code.Unauthenticated);
    }
    const after = await rpcError(auth.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code: right }));
    expect(after.code).toBe(Code.Unauthenticated);
    expect(after.rawMessage).toBe("invalid credentials");
    const failures = await env.database.db.select().from(auditEvents).where(and(eq(auditEvents.userId, user.userId), eq(auditEvents.type, "mfa.challenge_failed"))).all();
    expect(failures).toHaveLength(5);
    const row = await env.database.db.select().from(mfaChallenges).where(eq(mfaChallenges.userId, user.userId)).get();
    expect(row).toMatchObject({ attempts: 5, consumedAt: null });
    // The right password with a wrong second factor is news for the holder: told once per challenge.
    const warned = await env.database.db
      .select()
      .from(outbox)
      .where(and(eq(outbox.recipient, user.email), eq(outbox.subject, "Someone entered your password but not your second factor")))
      .all();
    expect(warned).toHaveLength(1);
    expect(warned[0]!.body).toContain("(authenticator app)");
    // The code was not spent on the dead challenge: a new sign-in takes it.
    const next = await challenge(user.email);
    expect((await auth.completeMfaChallenge({ challengeToken: next.challengeToken, method: MfaMethod.TOTP, code: right })).tokens).toBeDefined();
  });

  it("wrong codes count per account across challenges: past the profile's threshold, a wait", async () => {
    const user = await enrolled("lockout");
    const wrongCode = () => codeAt(user.secret).replace(/^./, (d) => String((Number(d) + 1) % 10));
    // The default profile allows ten; two challenges of five each use them up.
    for (let round = 0; round < 2; round++) {
      const { challengeToken } = await challenge(user.email);
      for (let i = 0; i < 5; i++) await rpcError(auth.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code: wrongCode() }));
    }
    const fresh = await challenge(user.email);
    const blocked = await rpcError(auth.completeMfaChallenge({ challengeToken: fresh.challengeToken, method: MfaMethod.TOTP, code: codeAt(user.secret) }));
    expect(blocked.code).toBe(Code.ResourceExhausted);
    const delay = blocked.findDetails(RetryInfoSchema)[0]?.retryDelay;
    expect(Number(delay?.seconds)).toBeGreaterThan(0);
    expect(Number(delay?.seconds)).toBeLessThanOrEqual(30);
    clock.advance(31_000);
    // The wait is over; the challenge was not touched by the refused call.
    const done = await auth.completeMfaChallenge({ challengeToken: fresh.challengeToken, method: MfaMethod.TOTP, code: codeAt(user.secret) });
    expect(done.tokens).toBeDefined();
    // Success forgets the count: five more wrong codes are not blocked.
    clock.advance(STEP_MS);
    const next = await challenge(user.email);
    for (let i = 0; i < 4; i++) expect((await rpcError(auth.completeMfaChallenge({ challengeToken: next.challengeToken, method: MfaMethod.TOTP, code: wrongCode() }))).code).toBe(Code.Unauthenticated);
    expect((await auth.completeMfaChallenge({ challengeToken: next.challengeToken, method: MfaMethod.TOTP, code: codeAt(user.secret) })).tokens).toBeDefined();
  });

  it("expires after five minutes", async () => {
    const user = await enrolled("expiry");
    const { challengeToken } = await challenge(user.email);
    clock.advance(5 * 60_000);
    expect((await rpcError(auth.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code: codeAt(user.secret) }))).code).toBe(Code.Unauthenticated);
  });

  it("is stored only as a hash, and is useless as an access, refresh or API token", async () => {
    const user = await enrolled("not-a-token");
    const { challengeToken } = await challenge(user.email);
    const rows = await env.database.db.select().from(mfaChallenges).where(eq(mfaChallenges.userId, user.userId)).all();
    expect(rows.some((r) => r.tokenHash === challengeToken || r.tokenHash.includes(challengeToken.slice(4)))).toBe(false);
    expect((await rpcError(auth.getCurrentUser({}, bearer(challengeToken)))).code).toBe(Code.Unauthenticated);
    expect((await rpcError(auth.getMfaStatus({}, { headers: { "x-api-key": challengeToken } }))).code).toBe(Code.Unauthenticated);
    expect((await rpcError(auth.refreshToken({ refreshToken: challengeToken }))).code).toBe(Code.Unauthenticated);
    // Unknown and malformed tokens get the same answer as a wrong code.
    for (const token of [`lkc_${"A".repeat(43)}`, "not-a-token"]) {
      const error = await rpcError(auth.completeMfaChallenge({ challengeToken: token, method: MfaMethod.TOTP, code: codeAt(user.secret) }));
      expect(error.code).toBe(Code.Unauthenticated);
      expect(error.rawMessage).toBe("invalid credentials");
    }
    // It still works for what it is for.
    expect((await auth.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code: codeAt(user.secret) })).tokens).toBeDefined();
  });

  it("refuses a method it did not offer", async () => {
    const user = await enrolled("method");
    const { challengeToken } = await challenge(user.email);
    const error = await rpcError(auth.completeMfaChallenge({ challengeToken, method: MfaMethod.SMS, code: "123456" }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect((await rpcError(auth.resendMfaCode({ challengeToken, method: MfaMethod.EMAIL }))).code).toBe(Code.InvalidArgument);
  });
});

describe("a profile that requires a second factor", () => {
  it("emails a code at once to a user without one, bound to that sign-in", async () => {
    const { email } = await signUp("required");
    await env.database.db.update(securityProfiles).set({ mfaRequired: true }).run();
    try {
      const first = await challenge(email, "phone");
      expect(first.methods).toEqual([MfaMethod.EMAIL]);
      const mails = await env.database.db.select().from(outbox).where(and(eq(outbox.recipient, email), eq(outbox.subject, "Your Latchkey sign-in code"))).all();
      expect(mails).toHaveLength(1);
      const code = /\b(\d{8})\b/.exec(mails[0]!.body)![1]!;
      // The code completes this sign-in only.
      const other = await challenge(email, "phone");
      expect((await rpcError(auth.completeMfaChallenge({ challengeToken: other.challengeToken, method: MfaMethod.EMAIL, code }))).code).toBe(Code.Unauthenticated);
      const resent = await auth.resendMfaCode({ challengeToken: other.challengeToken, method: MfaMethod.EMAIL });
      expect(resent.destinationHint).toMatch(/^r\*\*\*@example\.com$/);
      const latest = (await env.database.db.select().from(outbox).where(and(eq(outbox.recipient, email), eq(outbox.subject, "Your Latchkey sign-in code"))).all()).at(-1)!;
      const fresh = /\b(\d{8})\b/.exec(latest.body)![1]!;
      const done = await auth.completeMfaChallenge({ challengeToken: other.challengeToken, method: MfaMethod.EMAIL, code: fresh });
      expect(done.tokens?.accessToken).toBeTruthy();
      expect((await auth.getMfaStatus({}, bearer(done.tokens!.accessToken))).requiredByProfile).toBe(true);
    } finally {
      await env.database.db.update(securityProfiles).set({ mfaRequired: false }).run();
    }
  });
});

describe("notices", () => {
  it("tell of a sign-in from a device name never used before, but not of the first sign-in or a known device", async () => {
    const email = `devices-${counter++}@example.com`;
    await userService.createUser({ email, name: "Devices", password: PASSWORD });
    const subjectIs = (m: { subject: string }) => m.subject === "New sign-in to your account";
    const notices = async () => (await env.database.db.select().from(outbox).where(eq(outbox.recipient, email)).all()).filter(subjectIs);
    const signIn = (deviceName: string) => auth.signIn({ identifier: { case: "email", value: email }, password: PASSWORD, deviceName });
    await signIn("laptop");
    expect(await notices()).toHaveLength(0);
    await signIn("laptop");
    expect(await notices()).toHaveLength(0);
    await signIn("tablet");
    const [notice] = await notices();
    expect(notice?.body).toContain('("tablet")');
  });

  it("tell of factors switched on and off; switching off needs the password", async () => {
    const { email, userId, accessToken } = await signUp("switch");
    expect((await rpcError(auth.setMfaMethod({ method: MfaMethod.EMAIL, enabled: true }, bearer(accessToken)))).code).toBe(Code.FailedPrecondition);
    await env.database.db.update(users).set({ emailVerifiedAt: clock.now() }).where(eq(users.id, userId)).run();
    await auth.setMfaMethod({ method: MfaMethod.EMAIL, enabled: true }, bearer(accessToken));
    expect((await auth.getMfaStatus({}, bearer(accessToken))).emailEnabled).toBe(true);
    expect((await rpcError(auth.setMfaMethod({ method: MfaMethod.EMAIL, enabled: false, password: "wrong password here" }, bearer(accessToken)))).code).toBe(Code.InvalidArgument);
    await auth.setMfaMethod({ method: MfaMethod.EMAIL, enabled: false, password: PASSWORD }, bearer(accessToken));
    const subjects = (await env.database.db.select().from(outbox).where(eq(outbox.recipient, email)).all()).map((m) => m.subject);
    expect(subjects).toEqual(expect.arrayContaining(["A second factor was added to your account", "A second factor was removed from your account"]));
    const changes = await env.database.db.select().from(auditEvents).where(and(eq(auditEvents.userId, userId), eq(auditEvents.type, "mfa.method_changed"))).all();
    expect(changes).toHaveLength(2);
  });

  it("two racing requests that make one change record and tell it once", async () => {
    const user = await enrolled("twice");
    const disabled = await Promise.allSettled([
      auth.disableTotp({ proof: { case: "password", value: PASSWORD } }, bearer(user.accessToken)),
      auth.disableTotp({ proof: { case: "password", value: PASSWORD } }, bearer(user.accessToken)),
    ]);
    // A request that looks after the other has committed finds nothing to disable.
    expect(disabled.filter((r) => r.status === "fulfilled").length).toBeGreaterThanOrEqual(1);
    for (const r of disabled) if (r.status === "rejected") expect((await rpcError(Promise.reject(r.reason))).code).toBe(Code.FailedPrecondition);
    await env.database.db.update(users).set({ emailVerifiedAt: clock.now() }).where(eq(users.id, user.userId)).run();
    await Promise.all([
      auth.setMfaMethod({ method: MfaMethod.EMAIL, enabled: true }, bearer(user.accessToken)),
      auth.setMfaMethod({ method: MfaMethod.EMAIL, enabled: true }, bearer(user.accessToken)),
    ]);
    const subjects = (await env.database.db.select().from(outbox).where(eq(outbox.recipient, user.email)).all()).map((m) => m.subject);
    expect(subjects.filter((s) => s === "A second factor was removed from your account")).toHaveLength(1);
    // One for the app, one for email codes.
    expect(subjects.filter((s) => s === "A second factor was added to your account")).toHaveLength(2);
    const types = (await env.database.db.select().from(auditEvents).where(eq(auditEvents.userId, user.userId)).all()).map((e) => e.type);
    expect(types.filter((t) => t === "mfa.totp_disabled")).toHaveLength(1);
    expect(types.filter((t) => t === "mfa.method_changed")).toHaveLength(1);
  });

  it("wrong passwords given as proof count against the account's lockout", async () => {
    const user = await enrolled("guess");
    for (let i = 0; i < 10; i++) {
      expect((await rpcError(auth.disableTotp({ proof: { case: "password", value: `guess number ${i}` } }, bearer(user.accessToken)))).code).toBe(Code.InvalidArgument);
    }
    expect((await rpcError(auth.disableTotp({ proof: { case: "password", value: PASSWORD } }, bearer(user.accessToken)))).code).toBe(Code.ResourceExhausted);
    expect((await rpcError(auth.signIn({ identifier: { case: "email", value: user.email }, password: PASSWORD }))).code).toBe(Code.ResourceExhausted);
    clock.advance(31_000);
    await auth.disableTotp({ proof: { case: "password", value: PASSWORD } }, bearer(user.accessToken));
    expect((await auth.getMfaStatus({}, bearer(user.accessToken))).totpEnabled).toBe(false);
  });

  it("disabling the app needs a current code or the password, and the password alone signs in again", async () => {
    const user = await enrolled("disable");
    expect((await rpcError(auth.disableTotp({ proof: { case: "code", value: codeAt(user.secret, -1) } }, bearer(user.accessToken)))).code).toBe(Code.InvalidArgument);
    await auth.disableTotp({ proof: { case: "code", value: codeAt(user.secret) } }, bearer(user.accessToken));
    expect((await auth.signIn({ identifier: { case: "email", value: user.email }, password: PASSWORD })).result.case).toBe("tokens");
    expect(await env.database.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, user.userId)).all()).toHaveLength(0);
    const removed = await env.database.db.select().from(outbox).where(and(eq(outbox.recipient, user.email), eq(outbox.subject, "A second factor was removed from your account"))).all();
    expect(removed).toHaveLength(1);
  });
});
