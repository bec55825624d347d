/**
 * Verification codes. Every decision that two requests could race for is a
 * guarded statement inside the caller's batch: the send cap and the
 * inherited failure count in the insert, single use in the consume, and the
 * attempt cap in the increment. Reads here only choose what to try.
 */
import { and, desc, eq, exists, getTableColumns, gt, isNull, lt, ne, sql, type SQL } from "drizzle-orm";
import { MAX_CODE_ATTEMPTS, channelOf, type CodePurpose } from "../../domain/codes.js";
import type { Db } from "../database.js";
import { users, verificationCodes } from "../schema/index.js";

export type VerificationCodeRow = typeof verificationCodes.$inferSelect;

export interface NewCode {
  id: string;
  userId: string;
  purpose: CodePurpose;
  target: string;
  codeHash: string;
  createdAt: number;
  expiresAt: number;
}

export interface SendCap {
  /** Codes created after this instant count against the cap… */
  windowStart: number;
  /** …and this many fill it. */
  max: number;
}

function ofUser(userId: string, purpose: CodePurpose): SQL {
  return and(eq(verificationCodes.userId, userId), eq(verificationCodes.purpose, purpose))!;
}

/** True inside a statement once the code with this id exists. */
export function codeInserted(db: Db, id: string): SQL {
  return exists(db.select({ one: sql`1` }).from(verificationCodes).where(eq(verificationCodes.id, id)));
}

/**
 * Inserts a code unless the user already has `cap.max` codes of this purpose
 * in the window. It starts with the failures of the user's unconsumed codes
 * sent in the window, so a resend never resets the count. Both are decided
 * by the statement itself, so concurrent sends cannot overshoot the cap.
 * Returns the id only when the row was inserted.
 */
export function insertCodeWithinCap(db: Db, code: NewCode, cap: SendCap) {
  const sameUser = ofUser(code.userId, code.purpose);
  const inWindow = gt(verificationCodes.createdAt, cap.windowStart);
  const inherited = sql`(select coalesce(max(${verificationCodes.attempts}), 0) from ${verificationCodes} where ${and(sameUser, inWindow, isNull(verificationCodes.consumedAt))})`;
  const sent = sql`(select count(*) from ${verificationCodes} where ${and(sameUser, inWindow)})`;
  const row: Record<string, SQL> = {
    id: sql`${code.id}`,
    userId: sql`${code.userId}`,
    purpose: sql`${code.purpose}`,
    target: sql`${code.target}`,
    codeHash: sql`${code.codeHash}`,
    attempts: inherited,
    createdAt: sql`${code.createdAt}`,
    expiresAt: sql`${code.expiresAt}`,
    consumedAt: sql`null`,
  };
  // INSERT … SELECT fills every column in table order.
  const values = Object.keys(getTableColumns(verificationCodes)).map((name) => row[name]!);
  return db
    .insert(verificationCodes)
    .select(sql`select ${sql.join(values, sql`, `)} where ${sent} < ${cap.max}`)
    .returning({ id: verificationCodes.id });
}

/**
 * Ends the user's other unconsumed codes of the purpose, but only if the new
 * one was inserted: a refused send leaves the current code working. Placed
 * after the insert, which has already taken over their failure count.
 */
export function voidEarlierCodes(db: Db, code: Pick<NewCode, "id" | "userId" | "purpose" | "createdAt">) {
  return db
    .update(verificationCodes)
    .set({ consumedAt: code.createdAt })
    .where(and(ofUser(code.userId, code.purpose), isNull(verificationCodes.consumedAt), ne(verificationCodes.id, code.id), codeInserted(db, code.id)));
}

/** The user's newest unconsumed code of the purpose, whatever its state. */
export async function findLatestCode(db: Db, userId: string, purpose: CodePurpose): Promise<VerificationCodeRow | undefined> {
  return db
    .select()
    .from(verificationCodes)
    .where(and(ofUser(userId, purpose), isNull(verificationCodes.consumedAt)))
    .orderBy(desc(verificationCodes.createdAt), desc(verificationCodes.id))
    .limit(1)
    .get();
}

/** When the user's codes of the purpose sent since `since` were created. */
export async function findSendTimes(db: Db, userId: string, purpose: CodePurpose, since: number): Promise<number[]> {
  const rows = await db
    .select({ createdAt: verificationCodes.createdAt })
    .from(verificationCodes)
    .where(and(ofUser(userId, purpose), gt(verificationCodes.createdAt, since)))
    .all();
  return rows.map((r) => r.createdAt);
}

export interface Submission {
  codeId: string;
  userId: string;
  purpose: CodePurpose;
  codeHash: string;
  now: number;
}

/** The user's current address for the purpose, read inside the statement. */
function currentAddress(db: Db, submission: Submission): SQL {
  const column = channelOf(submission.purpose) === "email" ? users.email : users.phoneNumber;
  return sql`(${db.select({ address: column }).from(users).where(eq(users.id, submission.userId))})`;
}

/**
 * The guard of a successful submission: the code is the user's, unconsumed,
 * not killed, not expired, matches, and was sent to the address the account
 * has now (a changed address voids it).
 */
function accepts(db: Db, submission: Submission): SQL {
  return and(
    eq(verificationCodes.id, submission.codeId),
    ofUser(submission.userId, submission.purpose),
    isNull(verificationCodes.consumedAt),
    lt(verificationCodes.attempts, MAX_CODE_ATTEMPTS),
    gt(verificationCodes.expiresAt, submission.now),
    eq(verificationCodes.codeHash, submission.codeHash),
    sql`${verificationCodes.target} = ${currentAddress(db, submission)}`,
  )!;
}

/**
 * The same guard for statements about other tables. Placed before the
 * consume in one batch, they see what the consume sees, since nothing in
 * between changes the code.
 */
export function acceptsSubmission(db: Db, submission: Submission): SQL {
  return exists(db.select({ one: sql`1` }).from(verificationCodes).where(accepts(db, submission)));
}

/**
 * Single use: of several concurrent correct submissions exactly one finds
 * the code unconsumed and gets its id back; the others update nothing.
 */
export function consumeCode(db: Db, submission: Submission) {
  return db
    .update(verificationCodes)
    .set({ consumedAt: submission.now })
    .where(accepts(db, submission))
    .returning({ id: verificationCodes.id });
}

/**
 * Marks the address verified if the submission is accepted. Placed before
 * `consumeCode` in the batch, which would otherwise make the guard false.
 */
export function markVerifiedIfAccepted(db: Db, submission: Submission) {
  const verified = submission.purpose === "email_verification" ? { emailVerifiedAt: submission.now } : { phoneVerifiedAt: submission.now };
  return db
    .update(users)
    .set({ ...verified, updatedAt: submission.now })
    .where(and(eq(users.id, submission.userId), acceptsSubmission(db, submission)));
}

/**
 * Counts a wrong submission against a code that can still take one; the
 * guard keeps concurrent wrong guesses from counting past the cap or into a
 * code that was consumed meanwhile. Returns the new count, or nothing.
 */
export function recordWrongAttempt(db: Db, codeId: string, now: number) {
  return db
    .update(verificationCodes)
    .set({ attempts: sql`${verificationCodes.attempts} + 1` })
    .where(
      and(
        eq(verificationCodes.id, codeId),
        isNull(verificationCodes.consumedAt),
        lt(verificationCodes.attempts, MAX_CODE_ATTEMPTS),
        gt(verificationCodes.expiresAt, now),
      ),
    )
    .returning({ attempts: verificationCodes.attempts });
}
