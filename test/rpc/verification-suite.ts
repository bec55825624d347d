/**
 * Email and phone verification, written once and run against every target.
 * Only the way a test reads what was sent differs: on Node the real SMTP
 * and SMS sinks, in workerd (which has no SMTP) the outbox table.
 */
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { unique } from "../support/rpc-calls.js";
import type { RpcTarget } from "../support/target.js";

/** What was sent to one address, as the recipient reads it. */
export interface ReceivedMessage {
  /** Empty for SMS. */
  subject: string;
  text: string;
}

/** Reads sent messages, each once, oldest first. */
export interface Inbox {
  nextEmail(to: string): Promise<ReceivedMessage>;
  nextSms(to: string): Promise<ReceivedMessage>;
}

export interface VerificationTarget {
  target: RpcTarget;
  inbox: Inbox;
  /** The configured issuer, which emails must name. */
  issuer: string;
  stop?: () => Promise<void>;
}

/**
 * An inbox over the outbox table, for targets without transports: rows are
 * written in the RPC's own batch, so they exist once the call has returned.
 */
export function outboxInbox(target: Pick<RpcTarget, "exec">): Inbox {
  const read = new Set<string>();
  async function next(channel: "email" | "sms", to: string): Promise<ReceivedMessage> {
    const rows = await target.exec("select id, subject, body from outbox where channel = ? and recipient = ? order by created_at, rowid", [channel, to]);
    const row = rows.find((r) => !read.has(String(r.id)));
    if (!row) throw new Error(`no unread ${channel} to ${to} in the outbox`);
    read.add(String(row.id));
    return { subject: String(row.subject), text: String(row.body) };
  }
  return { nextEmail: (to) => next("email", to), nextSms: (to) => next("sms", to) };
}

const PASSWORD = "violet-anchor-meadow-71-quartz";
const EMAIL_CODE = /\b(\d{8})\b/;
const SMS_CODE = /\b(\d{6})\b/;


function codeIn(message: ReceivedMessage, pattern: RegExp): string {
  const code = pattern.exec(message.text)?.[1];
  if (!code) throw new Error(`no code in: ${message.text}`);
  return code;
}

/** A different code of the same length. */
function wrong(code: string): string {
  return code.replace(/^./, (d) => String((Number(d) + 1) % 10));
}

interface Failure {
  code: Code;
  reason: string | undefined;
  fields: string[];
  descriptions: string[];
  retryMs: number | undefined;
}

async function failure(call: Promise<unknown>): Promise<Failure> {
  try {
    await call;
  } catch (thrown) {
    const error = ConnectError.from(thrown);
    const delay = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
    const violations = error.findDetails(BadRequestSchema)[0]?.fieldViolations ?? [];
    return {
      code: error.code,
      reason: error.findDetails(ErrorInfoSchema)[0]?.reason,
      fields: violations.map((v) => v.field),
      descriptions: violations.map((v) => v.description),
      retryMs: delay ? Number(delay.seconds) * 1000 + delay.nanos / 1e6 : undefined,
    };
  }
  throw new Error("expected the call to fail");
}

export function defineVerificationSuite(start: () => Promise<VerificationTarget>): void {
  let env: VerificationTarget;
  let users: Client<typeof UserService>;
  let auth: Client<typeof AuthService>;

  async function signUp(tag: string, phoneNumber = "") {
    const email = `${unique(tag)}@example.com`;
    const { user } = await users.createUser({ email, name: `User ${tag}`, password: PASSWORD, phoneNumber });
    const signedIn = await auth.signIn({ identifier: { case: "email", value: email }, password: PASSWORD });
    if (signedIn.result.case !== "tokens") throw new Error("expected tokens");
    const options = { headers: { authorization: `Bearer ${signedIn.result.value.accessToken}` } };
    return { email, user: user!, options };
  }

  const emailCode = async (to: string) => codeIn(await env.inbox.nextEmail(to), EMAIL_CODE);
  const smsCode = async (to: string) => codeIn(await env.inbox.nextSms(to), SMS_CODE);

  function phoneNumber(): string {
    return `+4179${String(1_000_000 + Math.floor(Math.random() * 8_999_999))}`;
  }

  beforeAll(async () => {
    env = await start();
    users = createClient(UserService, env.target.transports.connect);
    auth = createClient(AuthService, env.target.transports.connect);
  });
  afterAll(async () => {
    await env?.target.stop();
    await env?.stop?.();
  });

  describe("email verification", () => {
    it("registration emails a code from the configured origin that verifies the address", async () => {
      const { email, user, options } = await signUp("verify");
      expect(user.emailVerified).toBe(false);
      const message = await env.inbox.nextEmail(email);
      expect(message.subject).toBe("Your Latchkey verification code");
      expect(message.text).toContain(env.issuer);
      const code = codeIn(message, EMAIL_CODE);

      const verified = await users.verifyEmail({ code }, options);
      expect(verified.user?.emailVerified).toBe(true);
      expect((await auth.getCurrentUser({}, options)).user?.emailVerified).toBe(true);

      const audit = await env.target.exec("select type from audit_events where user_id = ? order by occurred_at, rowid", [user.id]);
      expect(audit.map((r) => r.type)).toEqual(expect.arrayContaining(["user.created", "verification.code_sent", "user.email_verified"]));
    });

    it("a used code fails with the same answer as a wrong one, and a verified address gets no more codes", async () => {
      const { email, options } = await signUp("reuse");
      const code = await emailCode(email);
      await users.verifyEmail({ code }, options);
      const reused = await failure(users.verifyEmail({ code }, options));
      const wrongOne = await failure(users.verifyEmail({ code: wrong(code) }, options));
      expect(reused).toEqual({ code: Code.InvalidArgument, reason: "CODE_INVALID", fields: ["code"], descriptions: wrongOne.descriptions, retryMs: undefined });
      expect(wrongOne.reason).toBe("CODE_INVALID");
      expect((await failure(users.resendEmailVerification({}, options))).code).toBe(Code.FailedPrecondition);
    });

    it("a resend voids the previous code", async () => {
      const { email, options } = await signUp("resend");
      const first = await emailCode(email);
      await users.resendEmailVerification({}, options);
      const second = await emailCode(email);
      expect((await failure(users.verifyEmail({ code: first }, options))).reason).toBe("CODE_INVALID");
      expect((await users.verifyEmail({ code: second }, options)).user?.emailVerified).toBe(true);
    });

    it("five wrong attempts kill the code, even for the right code afterwards", async () => {
      const { email, options } = await signUp("kill");
      const code = await emailCode(email);
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push((await failure(users.verifyEmail({ code: wrong(code) }, options))).reason);
      expect(answers).toEqual(["CODE_INVALID", "CODE_INVALID", "CODE_INVALID", "CODE_INVALID", "CODE_EXHAUSTED"]);
      const right = await failure(users.verifyEmail({ code }, options));
      expect(right).toMatchObject({ code: Code.InvalidArgument, reason: "CODE_EXHAUSTED", fields: ["code"] });
      // A new code would inherit the spent count, so none is sent.
      const resend = await failure(users.resendEmailVerification({}, options));
      expect(resend.code).toBe(Code.ResourceExhausted);
      expect(resend.retryMs).toBeGreaterThan(0);
    });

    it("a resend keeps the failure count", async () => {
      const { email, options } = await signUp("carry");
      const first = await emailCode(email);
      for (let i = 0; i < 4; i++) await failure(users.verifyEmail({ code: wrong(first) }, options));
      await users.resendEmailVerification({}, options);
      const second = await emailCode(email);
      expect((await failure(users.verifyEmail({ code: wrong(second) }, options))).reason).toBe("CODE_EXHAUSTED");
      expect((await failure(users.verifyEmail({ code: second }, options))).reason).toBe("CODE_EXHAUSTED");
    });

    it("of two concurrent submissions of the right code exactly one succeeds", async () => {
      const { email, options } = await signUp("race");
      const code = await emailCode(email);
      const results = await Promise.allSettled([users.verifyEmail({ code }, options), users.verifyEmail({ code }, options)]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const lost = results.find((r) => r.status === "rejected");
      expect(ConnectError.from(lost?.reason).code).toBe(Code.InvalidArgument);
      const rows = await env.target.exec("select count(*) as n from audit_events where type = 'user.email_verified' and user_id = (select id from users where email = ?)", [email]);
      expect(Number(rows[0]?.n)).toBe(1);
    });

    it("an expired code fails like a wrong one; another user's code is wrong for me", async () => {
      const mine = await signUp("expired");
      const theirs = await signUp("other");
      const myCode = await emailCode(mine.email);
      const theirCode = await emailCode(theirs.email);
      await env.target.exec("update verification_codes set expires_at = ? where user_id = ?", [Date.now() - 1, mine.user.id]);
      expect((await failure(users.verifyEmail({ code: myCode }, mine.options))).reason).toBe("CODE_INVALID");
      await users.resendEmailVerification({}, mine.options);
      const fresh = await emailCode(mine.email);
      expect((await failure(users.verifyEmail({ code: theirCode }, mine.options))).reason).toBe("CODE_INVALID");
      expect((await users.verifyEmail({ code: fresh }, mine.options)).user?.emailVerified).toBe(true);
    });

    it("stores codes only as hashes", async () => {
      const { email, user } = await signUp("hashed");
      const code = await emailCode(email);
      const rows = await env.target.exec("select code_hash, target from verification_codes where user_id = ?", [user.id]);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.target).toBe(email);
      expect(String(rows[0]?.code_hash)).toMatch(/^[0-9a-f]{64}$/);
      expect(String(rows[0]?.code_hash)).not.toContain(code);
    });
  });

  describe("phone verification", () => {
    it("an SMS code verifies the phone number given at registration", async () => {
      const phone = phoneNumber();
      const { user, options } = await signUp("phone", phone);
      expect(user.phoneVerified).toBe(false);
      await users.startPhoneVerification({}, options);
      const code = await smsCode(phone);
      const done = await users.completePhoneVerification({ code }, options);
      expect(done.user?.phoneVerified).toBe(true);
      expect((await auth.getCurrentUser({}, options)).user?.phoneVerified).toBe(true);
      expect((await failure(users.completePhoneVerification({ code }, options))).reason).toBe("CODE_INVALID");
      expect((await failure(users.startPhoneVerification({}, options))).code).toBe(Code.FailedPrecondition);
    });

    it("needs a phone number on the account", async () => {
      const { options } = await signUp("no-phone");
      const error = await failure(users.startPhoneVerification({}, options));
      expect(error.code).toBe(Code.FailedPrecondition);
    });

    it("a changed number voids the code sent to the old one", async () => {
      const phone = phoneNumber();
      const { user, options } = await signUp("moved", phone);
      await users.startPhoneVerification({}, options);
      const code = await smsCode(phone);
      await env.target.exec("update users set phone_number = ? where id = ?", [phoneNumber(), user.id]);
      expect((await failure(users.completePhoneVerification({ code }, options))).reason).toBe("CODE_INVALID");
    });

    it("caps sends at five an hour per user, with a retry delay", async () => {
      const phone = phoneNumber();
      const { options } = await signUp("cap", phone);
      for (let i = 0; i < 5; i++) await users.startPhoneVerification({}, options);
      const capped = await failure(users.startPhoneVerification({}, options));
      expect(capped.code).toBe(Code.ResourceExhausted);
      expect(capped.reason).toBe("TOO_MANY_CODES");
      expect(capped.retryMs).toBeGreaterThan(55 * 60_000);
      expect(capped.retryMs).toBeLessThanOrEqual(60 * 60_000);
      // The fifth code is still the one that works.
      for (let i = 0; i < 4; i++) await smsCode(phone);
      const last = await smsCode(phone);
      expect((await users.completePhoneVerification({ code: last }, options)).user?.phoneVerified).toBe(true);
    });

    it("concurrent sends never pass the cap, and leave one live code", async () => {
      const phone = phoneNumber();
      const { user, options } = await signUp("burst", phone);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => users.startPhoneVerification({}, options)));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(5);
      for (const r of results) if (r.status === "rejected") expect(ConnectError.from(r.reason).code).toBe(Code.ResourceExhausted);
      const count = async (sql: string, arg: string) => Number((await env.target.exec(sql, [arg]))[0]?.n);
      expect(await count("select count(*) as n from outbox where recipient = ?", phone)).toBe(5);
      expect(await count("select count(*) as n from verification_codes where target = ? and consumed_at is null", phone)).toBe(1);
      expect(await count("select count(*) as n from audit_events where type = 'verification.code_sent' and json_extract(details, '$.purpose') = 'phone_verification' and user_id = ?", user.id)).toBe(5);
    });
  });
}
