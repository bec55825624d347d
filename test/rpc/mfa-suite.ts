/**
 * Second factors over the wire, written once and run against every target:
 * authenticator apps, recovery codes, emailed and SMS sign-in codes, and the
 * notices they cause. Codes and notices are read from the target's Inbox
 * (the real SMTP and SMS sinks on Node, the outbox table in workerd); TOTP
 * codes are computed from the enrolled secret on the real clock, so each
 * sign-in uses a step after the one its user last spent.
 */
import { Code, createClient, type Client, type Transport } from "@connectrpc/connect";
import { Secret } from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { MfaMethod } from "../../gen/latchkey/auth/v1/token_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { totpCodeAt, totpStepAt } from "../../src/domain/mfa/totp.js";
import { bearer, rpcError } from "../support/rpc-calls.js";
import type { ReceivedMessage, VerificationTarget } from "./verification-suite.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
const DEVICE = "suite";

let counter = 0;
function uniqueEmail(tag: string): string {
  return `${tag}-${Date.now().toString(36)}-${counter++}@example.com`;
}

function phoneNumber(): string {
  return `+4178${String(1_000_000 + Math.floor(Math.random() * 8_999_999))}`;
}

/** The code of the step `offset` steps from now. */
function totpNow(secret: Uint8Array, offset = 0): string {
  return totpCodeAt(secret, totpStepAt(Date.now()) + offset);
}

function codeIn(message: ReceivedMessage, digits: number): string {
  const code = new RegExp(`\\b(\\d{${digits}})\\b`).exec(message.text)?.[1];
  if (!code) throw new Error(`no code in: ${message.text}`);
  return code;
}

export function defineMfaSuite(start: () => Promise<VerificationTarget>): void {
  let env: VerificationTarget;
  let auth: Client<typeof AuthService>;
  let users: Client<typeof UserService>;

  /** The next email to `to` with this subject; earlier ones (other notices, codes) are passed over. */
  async function emailTitled(to: string, subject: string): Promise<ReceivedMessage> {
    for (let skipped = 0; skipped < 10; skipped++) {
      const message = await env.inbox.nextEmail(to);
      if (message.subject === subject) return message;
    }
    throw new Error(`no email "${subject}" to ${to}`);
  }

  async function signUp(tag: string, options: { phone?: string; transport?: Transport } = {}) {
    const transport = options.transport ?? env.target.transports.connect;
    const email = uniqueEmail(tag);
    const { user } = await createClient(UserService, transport).createUser({ email, name: `User ${tag}`, password: PASSWORD, phoneNumber: options.phone ?? "" });
    const signedIn = await createClient(AuthService, transport).signIn({ identifier: { case: "email", value: email }, password: PASSWORD, deviceName: DEVICE });
    if (signedIn.result.case !== "tokens") throw new Error("expected tokens");
    return { email, userId: user!.id, accessToken: signedIn.result.value.accessToken };
  }

  /** A user with a confirmed app; the confirming code spent the current step. */
  async function withTotp(tag: string, transport?: Transport) {
    const user = await signUp(tag, { transport });
    const client = transport ? createClient(AuthService, transport) : auth;
    const enrolment = await client.enrollTotp({}, bearer(user.accessToken));
    const secret = Secret.fromBase32(enrolment.secret).bytes;
    const { recoveryCodes } = await client.confirmTotp({ code: totpNow(secret) }, bearer(user.accessToken));
    return { ...user, secret, recoveryCodes, enrolment };
  }

  async function challenge(email: string, client: Client<typeof AuthService> = auth) {
    const answer = await client.signIn({ identifier: { case: "email", value: email }, password: PASSWORD, deviceName: DEVICE });
    if (answer.result.case !== "mfaRequired") throw new Error(`expected an MFA challenge, got ${answer.result.case}`);
    return answer.result.value;
  }

  beforeAll(async () => {
    env = await start();
    auth = createClient(AuthService, env.target.transports.connect);
    users = createClient(UserService, env.target.transports.connect);
  });
  afterAll(async () => {
    await env?.target.stop();
    await env?.stop?.();
  });

  describe("authenticator app", () => {
    it("enrols with a secret, URI and QR code, and then sign-in needs a code", async () => {
      const user = await withTotp("totp");
      const { enrolment, recoveryCodes } = user;
      expect(enrolment.secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(new URL(enrolment.otpauthUri).searchParams.get("secret")).toBe(enrolment.secret);
      expect(enrolment.qrCodeSvg.startsWith("<svg")).toBe(true);
      expect(recoveryCodes).toHaveLength(10);
      const added = await emailTitled(user.email, "A second factor was added to your account");
      expect(added.text).toContain("authenticator app");
      expect(added.text).toContain(env.issuer);
      expect(await auth.getMfaStatus({}, bearer(user.accessToken))).toMatchObject({ totpEnabled: true, recoveryCodesRemaining: 10 });

      const { challengeToken, methods } = await challenge(user.email);
      expect(methods).toEqual([MfaMethod.TOTP, MfaMethod.RECOVERY_CODE]);
      const code = totpNow(user.secret, 1);
      const { tokens } = await auth.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code });
      expect((await auth.getCurrentUser({}, bearer(tokens!.accessToken))).user?.email).toBe(user.email);
      expect(tokens!.refreshToken).toBeTruthy();

      // The same code on the next sign-in: refused.
      const next = await challenge(user.email);
      const replay = await rpcError(auth.completeMfaChallenge({ challengeToken: next.challengeToken, method: MfaMethod.TOTP, code }));
      expect(replay.code).toBe(Code.Unauthenticated);
      const audit = await env.target.exec("select type from audit_events where user_id = ? order by occurred_at, rowid", [user.userId]);
      expect(audit.map((r) => r.type)).toEqual(expect.arrayContaining(["mfa.totp_enrolled", "mfa.totp_confirmed", "sign_in.mfa_required", "mfa.challenge_failed", "sign_in.succeeded"]));
    });

    it("completes a sign-in over every protocol the target serves (gRPC over HTTP/2 on Node)", async () => {
      const served = Object.entries(env.target.transports).filter((entry): entry is [string, Transport] => entry[1] !== undefined);
      if (env.target.name === "node") expect(served.map(([name]) => name)).toContain("grpc");
      for (const [, transport] of served) {
        const client = createClient(AuthService, transport);
        const user = await withTotp("protocol", transport);
        const { challengeToken } = await challenge(user.email, client);
        const { tokens } = await client.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code: totpNow(user.secret, 1) });
        const me = await client.getCurrentUser({}, bearer(tokens!.accessToken));
        expect(me.user?.email).toBe(user.email);
      }
    });

    it("of two sign-ins racing with one code exactly one succeeds", async () => {
      const user = await withTotp("race");
      const [a, b] = await Promise.all([challenge(user.email), challenge(user.email)]);
      const code = totpNow(user.secret, 1);
      const results = await Promise.allSettled([
        auth.completeMfaChallenge({ challengeToken: a.challengeToken, method: MfaMethod.TOTP, code }),
        auth.completeMfaChallenge({ challengeToken: b.challengeToken, method: MfaMethod.TOTP, code }),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const [row] = await env.target.exec("select count(*) as n from audit_events where type = 'sign_in.succeeded' and user_id = ?", [user.userId]);
      expect(Number(row?.n)).toBe(2);
    });

    it("is disabled with the password, after which the password alone signs in", async () => {
      const user = await withTotp("disable");
      expect((await rpcError(auth.disableTotp({ proof: { case: "password", value: "not the password at all" } }, bearer(user.accessToken)))).code).toBe(Code.InvalidArgument);
      await auth.disableTotp({ proof: { case: "password", value: PASSWORD } }, bearer(user.accessToken));
      const removed = await emailTitled(user.email, "A second factor was removed from your account");
      expect(removed.text).toContain("authenticator app");
      const answer = await auth.signIn({ identifier: { case: "email", value: user.email }, password: PASSWORD, deviceName: DEVICE });
      expect(answer.result.case).toBe("tokens");
      expect(await auth.getMfaStatus({}, bearer(user.accessToken))).toMatchObject({ totpEnabled: false, recoveryCodesRemaining: 0 });
    });

    it("is a person's own: an API key gets failed_precondition", async () => {
      const user = await signUp("api-key");
      const { key } = await auth.createApiKey({ name: "automation", permissions: ["users.read"] }, bearer(user.accessToken));
      expect((await rpcError(auth.enrollTotp({}, bearer(key)))).code).toBe(Code.FailedPrecondition);
      expect((await rpcError(auth.getMfaStatus({}, bearer(key)))).code).toBe(Code.FailedPrecondition);
    });
  });

  describe("recovery codes", () => {
    it("sign in once each and send a notice", async () => {
      const user = await withTotp("recovery");
      const code = user.recoveryCodes[0]!;
      const first = await challenge(user.email);
      const { tokens } = await auth.completeMfaChallenge({ challengeToken: first.challengeToken, method: MfaMethod.RECOVERY_CODE, code });
      expect(tokens?.accessToken).toBeTruthy();
      const notice = await emailTitled(user.email, "A recovery code was used to sign in");
      expect(notice.text).toContain("no longer works");
      const second = await challenge(user.email);
      expect((await rpcError(auth.completeMfaChallenge({ challengeToken: second.challengeToken, method: MfaMethod.RECOVERY_CODE, code }))).code).toBe(Code.Unauthenticated);
      expect((await auth.getMfaStatus({}, bearer(tokens!.accessToken))).recoveryCodesRemaining).toBe(9);
    });
  });

  describe("the challenge", () => {
    it("dies after five wrong codes and is no access token", async () => {
      const user = await withTotp("dead");
      const { challengeToken } = await challenge(user.email);
      expect((await rpcError(auth.getCurrentUser({}, bearer(challengeToken)))).code).toBe(Code.Unauthenticated);
      expect((await rpcError(auth.refreshToken({ refreshToken: challengeToken }))).code).toBe(Code.Unauthenticated);
      const right = totpNow(user.secret, 1);
      const wrong = right.replace(/^./, (d) => String((Number(d) + 1) % 10));
      for (let i = 0; i < 5; i++) expect((await rpcError(auth.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code: wrong }))).code).toBe(Code.Unauthenticated);
      const after = await rpcError(auth.completeMfaChallenge({ challengeToken, method: MfaMethod.TOTP, code: right }));
      expect(after.code).toBe(Code.Unauthenticated);
      const [row] = await env.target.exec("select attempts, consumed_at from mfa_challenges where user_id = ?", [user.userId]);
      expect(Number(row?.attempts)).toBe(5);
      expect(row?.consumed_at).toBeNull();
    });
  });

  describe("emailed and SMS codes", () => {
    it("an emailed code is sent at once when it is the only factor, and completes the sign-in", async () => {
      const user = await signUp("email-code");
      const verification = await emailTitled(user.email, "Your Latchkey verification code");
      await users.verifyEmail({ code: codeIn(verification, 8) }, bearer(user.accessToken));
      await auth.setMfaMethod({ method: MfaMethod.EMAIL, enabled: true }, bearer(user.accessToken));
      expect((await emailTitled(user.email, "A second factor was added to your account")).text).toContain("email codes");

      const { challengeToken, methods, codeSentTo, expiresAt } = await challenge(user.email);
      expect(methods).toEqual([MfaMethod.EMAIL]);
      expect(codeSentTo).toBe(`${user.email[0]}***@${user.email.split("@")[1]}`);
      expect(Number(expiresAt?.seconds) * 1000 - Date.now()).toBeGreaterThan(4 * 60_000);
      const mail = await emailTitled(user.email, "Your Latchkey sign-in code");
      expect(mail.text).toContain(env.issuer);
      const code = codeIn(mail, 8);
      const { tokens } = await auth.completeMfaChallenge({ challengeToken, method: MfaMethod.EMAIL, code });
      expect(tokens?.accessToken).toBeTruthy();
      // Used once.
      const next = await challenge(user.email);
      expect((await rpcError(auth.completeMfaChallenge({ challengeToken: next.challengeToken, method: MfaMethod.EMAIL, code }))).code).toBe(Code.Unauthenticated);
    });

    it("a resend voids the previous code, keeps the wrong-code count, and names where it went", async () => {
      const user = await signUp("resend");
      await users.verifyEmail({ code: codeIn(await emailTitled(user.email, "Your Latchkey verification code"), 8) }, bearer(user.accessToken));
      await auth.setMfaMethod({ method: MfaMethod.EMAIL, enabled: true }, bearer(user.accessToken));
      const { challengeToken } = await challenge(user.email);
      const first = codeIn(await emailTitled(user.email, "Your Latchkey sign-in code"), 8);
      const wrong = first.replace(/^./, (d) => String((Number(d) + 1) % 10));
      for (let i = 0; i < 4; i++) await rpcError(auth.completeMfaChallenge({ challengeToken, method: MfaMethod.EMAIL, code: wrong }));
      const resent = await auth.resendMfaCode({ challengeToken, method: MfaMethod.EMAIL });
      expect(resent.destinationHint).toBe(`${user.email[0]}***@example.com`);
      expect(Number(resent.expiresAt?.seconds) * 1000).toBeGreaterThan(Date.now());
      // The fresh code carries the four wrong tries of the code it replaced.
      const [latest] = await env.target.exec("select attempts from verification_codes where user_id = ? and purpose = 'mfa_email' order by created_at desc, rowid desc limit 1", [user.userId]);
      expect(Number(latest?.attempts)).toBe(4);
      const second = codeIn(await emailTitled(user.email, "Your Latchkey sign-in code"), 8);
      expect((await rpcError(auth.completeMfaChallenge({ challengeToken, method: MfaMethod.EMAIL, code: first }))).code).toBe(Code.Unauthenticated);
      // That was the fifth wrong code: the challenge is dead, the fresh code with it.
      expect((await rpcError(auth.completeMfaChallenge({ challengeToken, method: MfaMethod.EMAIL, code: second }))).code).toBe(Code.Unauthenticated);
    });

    it("an SMS code goes only to a verified number and completes the sign-in", async () => {
      const phone = phoneNumber();
      const user = await signUp("sms-code", { phone });
      expect((await rpcError(auth.setMfaMethod({ method: MfaMethod.SMS, enabled: true }, bearer(user.accessToken)))).code).toBe(Code.FailedPrecondition);
      await users.startPhoneVerification({}, bearer(user.accessToken));
      await users.completePhoneVerification({ code: codeIn(await env.inbox.nextSms(phone), 6) }, bearer(user.accessToken));
      await auth.setMfaMethod({ method: MfaMethod.SMS, enabled: true }, bearer(user.accessToken));
      const { challengeToken, methods } = await challenge(user.email);
      expect(methods).toEqual([MfaMethod.SMS]);
      const sms = await env.inbox.nextSms(phone);
      expect(sms.text).toContain("sign-in code");
      const { tokens } = await auth.completeMfaChallenge({ challengeToken, method: MfaMethod.SMS, code: codeIn(sms, 6) });
      expect(tokens?.accessToken).toBeTruthy();
    });

    it("with an app as well, codes are sent only on request", async () => {
      const user = await withTotp("both");
      await users.verifyEmail({ code: codeIn(await emailTitled(user.email, "Your Latchkey verification code"), 8) }, bearer(user.accessToken));
      await auth.setMfaMethod({ method: MfaMethod.EMAIL, enabled: true }, bearer(user.accessToken));
      const { challengeToken, methods, codeSentTo } = await challenge(user.email);
      expect(methods).toEqual([MfaMethod.TOTP, MfaMethod.EMAIL, MfaMethod.RECOVERY_CODE]);
      expect(codeSentTo).toBe("");
      const [before] = await env.target.exec("select count(*) as n from verification_codes where user_id = ? and purpose = 'mfa_email'", [user.userId]);
      expect(Number(before?.n)).toBe(0);
      await auth.resendMfaCode({ challengeToken, method: MfaMethod.EMAIL });
      const code = codeIn(await emailTitled(user.email, "Your Latchkey sign-in code"), 8);
      const { tokens } = await auth.completeMfaChallenge({ challengeToken, method: MfaMethod.EMAIL, code });
      expect(tokens?.accessToken).toBeTruthy();
      expect((await rpcError(auth.resendMfaCode({ challengeToken, method: MfaMethod.EMAIL }))).code).toBe(Code.Unauthenticated);
    });
  });

  describe("new devices", () => {
    it("a sign-in from a device name never used before sends a notice", async () => {
      const user = await signUp("device");
      await auth.signIn({ identifier: { case: "email", value: user.email }, password: PASSWORD, deviceName: "kiosk-7" });
      const notice = await emailTitled(user.email, "New sign-in to your account");
      expect(notice.text).toContain('("kiosk-7")');
    });
  });
}
