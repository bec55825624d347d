/**
 * Verification of the account's email address and phone number with codes
 * sent by email and SMS. A send is one batch: the code, the voiding of the
 * previous one, the outbox message and the audit row; delivery follows the
 * commit. A check is one batch too: the audit row, the verified flag and the
 * consume, all guarded by the same condition, so a lost race changes nothing.
 */
import type { HandlerContext } from "@connectrpc/connect";
import type { BatchItem } from "drizzle-orm/batch";
import {
  CODE_POLICIES,
  MAX_SENDS_PER_WINDOW,
  SEND_WINDOW_MS,
  channelOf,
  codeExpiresAt,
  codeHashesMatch,
  codeState,
  decideSend,
  generateNumericCode,
  hashCode,
  killedBy,
  normaliseSubmittedCode,
  resendBlockedForMs,
  type CodePurpose,
  type CodeState,
} from "../../domain/codes.js";
import { DomainError, Reason, invalidCredentials, invalidField, preconditionFailed } from "../../domain/errors.js";
import type { Db } from "../../store/database.js";
import { insertAuditEventIf, type AuditEventInput } from "../../store/queries/audit-events.js";
import { findUserById, type UserRow } from "../../store/queries/users.js";
import {
  acceptsSubmission,
  codeInserted,
  consumeCode,
  findLatestCode,
  findSendTimes,
  insertCodeWithinCap,
  markVerifiedIfAccepted,
  recordWrongAttempt,
  voidEarlierCodes,
  type Submission,
} from "../../store/queries/verification-codes.js";
import { withdrawMessageUnless } from "../../store/queries/outbox.js";
import { clientOf, personOf } from "../caller.js";
import type { ServiceDeps } from "../deps.js";
import type { UserHandlers } from "./index.js";
import { toProtoUser } from "./to-proto.js";

type SendDeps = Pick<ServiceDeps, "config" | "database" | "clock" | "random" | "outbox">;

/** Fixed subjects: nothing a caller supplies ever reaches a header. */
const EMAIL_SUBJECT = "Your Latchkey verification code";
const MFA_EMAIL_SUBJECT = "Your Latchkey sign-in code";
const RESET_EMAIL_SUBJECT = "Reset your Latchkey password";

/** Who caused a send or a check, for the audit row. */
interface AuditContext {
  actorId: string;
  sessionId?: string | undefined;
  clientAddress: string;
}

/** Statements to commit with another change, and what to do once they have. */
export interface PendingWrite {
  statements: BatchItem<"sqlite">[];
  afterCommit(): Promise<unknown>;
}

/** The message text; links and names come from configuration, never from the request. */
function messageFor(deps: SendDeps, purpose: CodePurpose, to: string, code: string) {
  const origin = deps.config.issuer;
  if (purpose === "email_verification") {
    return deps.outbox.email({
      to,
      subject: EMAIL_SUBJECT,
      text:
        `Your code to confirm this email address at ${origin} is:\n\n    ${code}\n\n` +
        `It expires in 24 hours and works once. If you did not create an account at ${origin}, ignore this message.\n`,
    });
  }
  if (purpose === "mfa_email") {
    return deps.outbox.email({
      to,
      subject: MFA_EMAIL_SUBJECT,
      text:
        `Your code to finish signing in at ${origin} is:\n\n    ${code}\n\n` +
        `It expires in 10 minutes and works once. If you are not signing in right now, someone else has your password: change it at ${origin}.\n`,
    });
  }
  if (purpose === "password_reset") {
    // The code travels in the fragment, which browsers never send to a server.
    const link = `${origin}/reset-password#${new URLSearchParams({ email: to, code }).toString()}`;
    return deps.outbox.email({
      to,
      subject: RESET_EMAIL_SUBJECT,
      text:
        `Someone asked to reset the password of your account at ${origin}. Your reset code is:\n\n    ${code}\n\n` +
        `or open ${link}\n\n` +
        `It expires in 1 hour and works once. Resetting signs out every session; your second factor is still asked for at the next sign-in.\n` +
        `If you did not ask for this, ignore this message: your password stays as it is.\n`,
    });
  }
  if (purpose === "mfa_sms") {
    return deps.outbox.sms({ to, text: `${code} is your Latchkey sign-in code for ${new URL(origin).host}. It expires in 10 minutes.` });
  }
  return deps.outbox.sms({ to, text: `${code} is your Latchkey code to confirm this phone number at ${new URL(origin).host}. It expires in 10 minutes.` });
}

/**
 * What is hashed for a code that only works within one request (a sign-in's
 * MFA challenge): the code with that request's id, so the same digits
 * submitted anywhere else match nothing.
 */
export function boundCode(code: string, bindTo: string | undefined): string {
  return bindTo === undefined ? code : `${bindTo}\n${code}`;
}

/**
 * A new code for `target`, as statements for the caller's batch. The insert
 * refuses (returns no row) when the send cap is full; the message and the
 * audit row then take themselves back out in the same batch. `maxSends`
 * overrides the cap; 0 makes the same statements change nothing, which is
 * how a request for an unknown address does the same work as a real one.
 */
export async function prepareCode(
  deps: SendDeps,
  args: { userId: string; purpose: CodePurpose; target: string; now: number; audit: AuditContext; maxSends?: number; bindTo?: string | undefined },
) {
  const { database, random } = deps;
  const { userId, purpose, target, now, audit } = args;
  const code = generateNumericCode(random, CODE_POLICIES[purpose].digits);
  const newCode = {
    id: random.uuid(),
    userId,
    purpose,
    target,
    codeHash: await hashCode(userId, purpose, boundCode(code, args.bindTo)),
    createdAt: now,
    expiresAt: codeExpiresAt(purpose, now),
  };
  const message = messageFor(deps, purpose, target, code);
  const event: AuditEventInput = {
    id: random.uuid(),
    occurredAt: now,
    type: "verification.code_sent",
    actorId: audit.actorId,
    userId,
    sessionId: audit.sessionId,
    ipAddress: audit.clientAddress,
    details: { purpose, channel: channelOf(purpose) },
  };
  const statements = [
    insertCodeWithinCap(database.db, newCode, { windowStart: now - SEND_WINDOW_MS, max: args.maxSends ?? MAX_SENDS_PER_WINDOW }),
    voidEarlierCodes(database.db, newCode),
    message.statement,
    // A send refused by the cap (a concurrent send) mails nothing.
    withdrawMessageUnless(database.db, message.id, codeInserted(database.db, newCode.id)),
    insertAuditEventIf(database.db, event, codeInserted(database.db, newCode.id)),
  ] as const;
  return { statements, deliver: () => deps.outbox.deliver([message.id]) };
}

/**
 * The first email code of a new account, for registration to commit in the
 * same batch as the user row: a user never exists without the code that
 * was promised, and a failed registration mails nobody.
 */
export function firstEmailCode(deps: SendDeps) {
  return async (user: { id: string; email: string; now: number; clientAddress: string }): Promise<PendingWrite> => {
    const prepared = await prepareCode(deps, {
      userId: user.id,
      purpose: "email_verification",
      target: user.email,
      now: user.now,
      audit: { actorId: user.id, clientAddress: user.clientAddress },
    });
    return { statements: [...prepared.statements], afterCommit: prepared.deliver };
  };
}

export function tooMany(reason: Reason, message: string, retryAfterMs: number): DomainError {
  return new DomainError("resource_exhausted", reason, message, { retryAfterMs, metadata: { retry_after_ms: String(retryAfterMs) } });
}

/** One answer for a wrong, expired, used or replaced code, so none can be told apart. */
function invalidCode(): DomainError {
  return invalidField("code", "is wrong, expired or already used", Reason.CODE_INVALID);
}

function exhaustedCode(): DomainError {
  return invalidField("code", "has had too many wrong attempts and no longer works", Reason.CODE_EXHAUSTED);
}

/**
 * Sends a new code of `purpose` to `target` now, within the send cap and
 * never past a spent failure count (both `resource_exhausted` with a retry
 * delay). Returns when the code stops working.
 */
export async function sendCode(
  deps: SendDeps,
  args: { userId: string; purpose: CodePurpose; target: string; audit: AuditContext; bindTo?: string | undefined },
): Promise<{ expiresAt: number }> {
  const { database, clock } = deps;
  const { userId, purpose, target, audit } = args;
  const now = clock.now();
  const blockedForMs = resendBlockedForMs(await findLatestCode(database.db, userId, purpose), now);
  if (blockedForMs !== undefined) throw tooMany(Reason.CODE_EXHAUSTED, "too many wrong codes; try again later", blockedForMs);
  const capped = async () => decideSend(await findSendTimes(database.db, userId, purpose, now - SEND_WINDOW_MS), now);
  const before = await capped();
  if (!before.allowed) throw tooMany(Reason.TOO_MANY_CODES, "too many codes sent; try again later", before.retryAfterMs);
  const prepared = await prepareCode(deps, { userId, purpose, target, now, audit, bindTo: args.bindTo });
  const [inserted] = await database.batch(prepared.statements);
  if (inserted.length === 0) {
    // A concurrent send filled the cap between the check and the batch.
    const after = await capped();
    throw tooMany(Reason.TOO_MANY_CODES, "too many codes sent; try again later", after.allowed ? 1000 : after.retryAfterMs);
  }
  await prepared.deliver();
  return { expiresAt: codeExpiresAt(purpose, now) };
}

/** How a submitted code compares with the user's newest code of its purpose. */
export type CodeCheck =
  /** It matches a live code: consume it with `consumeCode(submission)` (guarded again there). */
  | { outcome: "match"; submission: Submission }
  /** No code can take it now: none was sent, or the newest is used, expired or killed. */
  | { outcome: "unusable"; state: Exclude<CodeState, "live"> | "none" }
  /**
   * It is wrong. Counted against the code already, `killed` saying whether
   * that was its last attempt; or, with `countWrong: false`, left for the
   * caller to count (recordWrongAttempt) inside its own batch.
   */
  | { outcome: "wrong"; codeId: string; killed: boolean };

/**
 * Checks a submitted single-use code: normalised, hashed as it was stored
 * (bound to `bindTo` when it was), compared in constant time with the user's
 * newest code of the purpose. Every caller answers the outcomes its own way.
 */
export async function checkCode(
  db: Db,
  args: { userId: string; purpose: CodePurpose; submitted: string; now: number; bindTo?: string | undefined; countWrong?: boolean },
): Promise<CodeCheck> {
  const { userId, purpose, now } = args;
  const code = await findLatestCode(db, userId, purpose);
  if (!code) return { outcome: "unusable", state: "none" };
  const state = codeState(code, now);
  if (state !== "live") return { outcome: "unusable", state };
  const codeHash = await hashCode(userId, purpose, boundCode(normaliseSubmittedCode(args.submitted), args.bindTo));
  if (codeHashesMatch(code.codeHash, codeHash)) return { outcome: "match", submission: { codeId: code.id, userId, purpose, codeHash, now } };
  if (args.countWrong === false) return { outcome: "wrong", codeId: code.id, killed: false };
  const [counted] = await recordWrongAttempt(db, code.id, now);
  return { outcome: "wrong", codeId: code.id, killed: counted !== undefined && killedBy(counted.attempts) };
}

/** The caller as a signed-in person: codes are for people, not for API keys. */
function callerOf(ctx: HandlerContext): AuditContext & { userId: string } {
  const actor = personOf(ctx);
  return { userId: actor.userId, actorId: actor.userId, sessionId: actor.sessionId, clientAddress: clientOf(ctx).clientAddress };
}

/** The address a code of `purpose` goes to, if there is one left to verify. */
function addressToVerify(user: UserRow, purpose: CodePurpose): string {
  if (purpose === "email_verification") {
    if (user.emailVerifiedAt !== null) throw preconditionFailed("the email address is already verified");
    return user.email;
  }
  if (user.phoneNumber === null || user.phoneNumber === "") throw preconditionFailed("the account has no phone number; set one with UpdateUser first");
  if (user.phoneVerifiedAt !== null) throw preconditionFailed("the phone number is already verified");
  return user.phoneNumber;
}

export function createVerificationHandlers(deps: ServiceDeps): UserHandlers<"verifyEmail" | "resendEmailVerification" | "startPhoneVerification" | "completePhoneVerification"> {
  const { database, clock } = deps;

  async function loadUser(userId: string): Promise<UserRow> {
    const user = await findUserById(database.db, userId);
    // Deleted since the token was checked: as good as no credentials.
    if (!user) throw invalidCredentials();
    return user;
  }

  async function send(ctx: HandlerContext, purpose: CodePurpose): Promise<void> {
    const caller = callerOf(ctx);
    const user = await loadUser(caller.userId);
    const target = addressToVerify(user, purpose);
    await sendCode(deps, { userId: user.id, purpose, target, audit: caller });
  }

  async function verify(ctx: HandlerContext, purpose: CodePurpose, submitted: string): Promise<UserRow> {
    const caller = callerOf(ctx);
    const now = clock.now();
    const check = await checkCode(database.db, { userId: caller.userId, purpose, submitted, now });
    if (check.outcome === "unusable") throw check.state === "exhausted" ? exhaustedCode() : invalidCode();
    if (check.outcome === "wrong") throw check.killed ? exhaustedCode() : invalidCode();
    const { submission } = check;
    const verifiedType = purpose === "email_verification" ? "user.email_verified" : "user.phone_verified";
    const [, , consumed] = await database.batch([
      insertAuditEventIf(
        database.db,
        { id: deps.random.uuid(), occurredAt: now, type: verifiedType, actorId: caller.actorId, userId: caller.userId, sessionId: caller.sessionId, ipAddress: caller.clientAddress, details: { channel: channelOf(purpose) } },
        acceptsSubmission(database.db, submission),
      ),
      markVerifiedIfAccepted(database.db, submission),
      consumeCode(database.db, submission),
    ]);
    // Lost to a concurrent use, or the address changed after the code was sent.
    if (consumed.length === 0) throw invalidCode();
    return loadUser(caller.userId);
  }

  return {
    async verifyEmail(req, ctx) {
      return { user: toProtoUser(await verify(ctx, "email_verification", req.code)) };
    },
    async resendEmailVerification(_req, ctx) {
      await send(ctx, "email_verification");
      return {};
    },
    async startPhoneVerification(_req, ctx) {
      await send(ctx, "phone_verification");
      return {};
    },
    async completePhoneVerification(req, ctx) {
      return { user: toProtoUser(await verify(ctx, "phone_verification", req.code)) };
    },
  };
}
