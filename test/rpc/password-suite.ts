/**
 * Password reset and change, and the account lockout, written once and run
 * against every target: the Node server with a real SMTP server (test/e2e)
 * and the Worker inside workerd with D1 (test/worker). Only the way the
 * suite reads mail differs (see the Inbox of the verification suite).
 */
import { Code, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { bearer, rpcError, signInPair } from "../support/rpc-calls.js";
import type { ReceivedMessage, VerificationTarget } from "./verification-suite.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
const NEW_PASSWORD = "amber-falcon-harbour-38-willow";
const RESET_SUBJECT = "Reset your Latchkey password";
const RESET_CODE = /\b(\d{8})\b/;

let counter = 0;
const uniqueEmail = (tag: string) => `${tag}-${Date.now().toString(36)}-${counter++}@example.com`;

export function definePasswordSuite(start: () => Promise<VerificationTarget>): void {
  let env: VerificationTarget;
  let auth: Client<typeof AuthService>;
  let users: Client<typeof UserService>;

  beforeAll(async () => {
    env = await start();
    auth = createClient(AuthService, env.target.transports.connect);
    users = createClient(UserService, env.target.transports.connect);
  });
  afterAll(async () => {
    await env?.target.stop();
    await env?.stop?.();
  });

  async function signUp(tag: string) {
    const email = uniqueEmail(tag);
    const { user } = await users.createUser({ email, name: `User ${tag}`, password: PASSWORD });
    return { email, id: user!.id };
  }

  /** The next mail to `to` with this subject; other mail to it (the registration code) is passed over. */
  async function nextMail(to: string, subject: string): Promise<ReceivedMessage> {
    for (let i = 0; i < 10; i++) {
      const message = await env.inbox.nextEmail(to);
      if (message.subject === subject) return message;
    }
    throw new Error(`no mail "${subject}" to ${to}`);
  }

  /** A Connect JSON call as any HTTP client makes it: a POST of JSON. */
  async function postJson(method: string, body: unknown, headers: Record<string, string> = {}) {
    const response = await env.target.fetch(`${env.target.baseUrl}/latchkey.auth.v1.AuthService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  describe("password reset", () => {
    it("runs end to end over Connect JSON: request, mail from the configured origin, new password, every session signed out", async () => {
      const { email } = await signUp("json-reset");
      const signedIn = await postJson("SignIn", { email, password: PASSWORD, deviceName: "laptop" });
      expect(signedIn.status).toBe(200);
      const oldAccessToken = (signedIn.json.tokens as { accessToken: string }).accessToken;

      const started = await postJson("StartPasswordReset", { email }, { "x-forwarded-host": "evil.example", origin: "https://evil.example" });
      expect(started).toEqual({ status: 200, json: {} });
      const mail = await nextMail(email, RESET_SUBJECT);
      expect(mail.text).toContain(`${env.issuer}/reset-password#`);
      expect(mail.text).not.toContain("evil.example");
      const code = RESET_CODE.exec(mail.text)?.[1];
      expect(code).toBeDefined();

      const completed = await postJson("CompletePasswordReset", { email, code, newPassword: NEW_PASSWORD });
      expect(completed).toEqual({ status: 200, json: {} });
      expect((await nextMail(email, "Your password was reset")).text).toContain(env.issuer);

      // The old session is over, the old password is refused, the new one works.
      const me = await env.target.fetch(`${env.target.baseUrl}/latchkey.auth.v1.AuthService/GetCurrentUser`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${oldAccessToken}` },
        body: "{}",
      });
      expect(me.status).toBe(401);
      expect(((await me.json()) as { code: string }).code).toBe("unauthenticated");
      expect((await postJson("SignIn", { email, password: PASSWORD })).status).toBe(401);
      const renewed = await postJson("SignIn", { email, password: NEW_PASSWORD });
      expect(renewed.status).toBe(200);
      expect(renewed.json.tokens).toMatchObject({ tokenType: "Bearer" });

      // The code worked once.
      const reused = await postJson("CompletePasswordReset", { email, code, newPassword: "copper-lantern-glacier-52-thistle" });
      expect(reused.status).toBe(401);
      expect(reused.json.code).toBe("unauthenticated");
    });

    it("answers an unknown email like a known one and mails nobody", async () => {
      const email = uniqueEmail("nobody");
      const known = (await signUp("somebody")).email;
      const forUnknown = await postJson("StartPasswordReset", { email });
      const forKnown = await postJson("StartPasswordReset", { email: known });
      expect(forUnknown).toEqual({ status: 200, json: {} });
      expect(forKnown).toEqual(forUnknown);
      const queued = async (recipient: string) => Number((await env.target.exec("select count(*) as n from outbox where recipient = ?", [recipient]))[0]?.n);
      expect(await queued(email)).toBe(0);
      // Registration mailed a verification code; the reset added one more.
      expect(await queued(known)).toBe(2);
    });

    it("refuses a wrong code with the one credentials error, and a weak password with the strength feedback", async () => {
      const { email } = await signUp("wrong-code");
      await auth.startPasswordReset({ email });
      const code = RESET_CODE.exec((await nextMail(email, RESET_SUBJECT)).text)![1]!;
      const wrong = await rpcError(auth.completePasswordReset({ email, code: code.replace(/^./, (d) => String((Number(d) + 1) % 10)), newPassword: NEW_PASSWORD }));
      expect(wrong.code).toBe(Code.Unauthenticated);
      expect(wrong.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INVALID_CREDENTIALS");
      const weak = await rpcError(auth.completePasswordReset({ email, code, newPassword: "password1234" }));
      expect(weak.code).toBe(Code.InvalidArgument);
      expect(weak.findDetails(ErrorInfoSchema)[0]?.reason).toBe("WEAK_PASSWORD");
      await auth.completePasswordReset({ email, code, newPassword: NEW_PASSWORD });
      await signInPair(auth, email, NEW_PASSWORD);
    });
  });

  describe("password change", () => {
    it("needs the current password, refuses the current one as the new one, and signs the other sessions out", async () => {
      const { email } = await signUp("change");
      const mine = await signInPair(auth, email, PASSWORD);
      const other = await signInPair(auth, email, PASSWORD);
      expect((await rpcError(auth.changePassword({ currentPassword: NEW_PASSWORD, newPassword: NEW_PASSWORD }, bearer(mine.accessToken)))).code).toBe(Code.Unauthenticated);
      const same = await rpcError(auth.changePassword({ currentPassword: PASSWORD, newPassword: PASSWORD }, bearer(mine.accessToken)));
      expect(same.findDetails(ErrorInfoSchema)[0]?.reason).toBe("PASSWORD_REUSED");

      await auth.changePassword({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, bearer(mine.accessToken));
      expect((await auth.getCurrentUser({}, bearer(mine.accessToken))).user?.email).toBe(email);
      expect((await rpcError(auth.getCurrentUser({}, bearer(other.accessToken)))).code).toBe(Code.Unauthenticated);
      expect((await nextMail(email, "Your password was changed")).text).toContain(env.issuer);
      await signInPair(auth, email, NEW_PASSWORD);
    });
  });

  describe("lockout", () => {
    it("refuses an account after 10 failed sign-ins with resource_exhausted and a retry delay, known or unknown", async () => {
      const known = (await signUp("lockout")).email;
      const unknown = uniqueEmail("lockout-unknown");
      for (const email of [known, unknown]) {
        for (let i = 0; i < 10; i++) {
          expect((await rpcError(auth.signIn({ identifier: { case: "email", value: email }, password: "not the password" }))).code).toBe(Code.Unauthenticated);
        }
        const refused = await rpcError(auth.signIn({ identifier: { case: "email", value: email }, password: PASSWORD }));
        expect(refused.code).toBe(Code.ResourceExhausted);
        expect(refused.findDetails(ErrorInfoSchema)[0]?.reason).toBe("TOO_MANY_ATTEMPTS");
        const delay = refused.findDetails(RetryInfoSchema)[0]?.retryDelay;
        expect(Number(delay?.seconds)).toBeGreaterThan(20);
        expect(Number(delay?.seconds)).toBeLessThanOrEqual(30);
      }
    });
  });
}
