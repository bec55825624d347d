/**
 * Second factors: authenticator apps, recovery codes and the MFA challenges
 * of pending sign-ins. Whatever two requests could race for is decided by a
 * guarded statement whose returned rows tell the caller whether it won:
 * raising `last_used_step`, using a recovery code, consuming a challenge and
 * counting a wrong code against it.
 */
import { and, count, eq, exists, gt, isNotNull, isNull, lt, sql, type SQL } from "drizzle-orm";
import { MAX_CHALLENGE_ATTEMPTS } from "../../domain/mfa/challenge.js";
import type { Db } from "../database.js";
import { mfaChallenges, recoveryCodes, sessions, totpFactors, users } from "../schema/index.js";

export type TotpFactorRow = typeof totpFactors.$inferSelect;
export type MfaChallengeRow = typeof mfaChallenges.$inferSelect;

export async function findTotpFactor(db: Db, userId: string): Promise<TotpFactorRow | undefined> {
  return db.select().from(totpFactors).where(eq(totpFactors.userId, userId)).get();
}

/**
 * Stores a new, unconfirmed secret, replacing an unconfirmed one; a
 * confirmed factor is left alone (it must be disabled first). Returns the
 * row only when the secret was stored.
 */
export function enrolTotp(db: Db, row: { userId: string; secretSealed: string; createdAt: number }) {
  return db
    .insert(totpFactors)
    .values({ ...row, confirmedAt: null, lastUsedStep: 0 })
    .onConflictDoUpdate({
      target: totpFactors.userId,
      set: { secretSealed: row.secretSealed, createdAt: row.createdAt, lastUsedStep: 0 },
      setWhere: isNull(totpFactors.confirmedAt),
    })
    .returning({ userId: totpFactors.userId });
}

/**
 * Accepts the code of `step` for the user's app: the one statement that
 * decides replay. It raises `last_used_step` only if it is below `step`, so
 * of two requests with the same code exactly one gets a row back. With
 * `confirmed` false it also accepts (and confirms) an enrolled secret; the
 * `sealed` value must be the secret the code was checked against, so a
 * concurrent re-enrolment makes the code count for nothing.
 */
export function acceptTotpStep(db: Db, args: { userId: string; step: number; secretSealed: string; now: number; confirming: boolean; also?: SQL }) {
  return db
    .update(totpFactors)
    .set({ lastUsedStep: args.step, ...(args.confirming ? { confirmedAt: sql`coalesce(${totpFactors.confirmedAt}, ${args.now})` } : {}) })
    .where(
      and(
        eq(totpFactors.userId, args.userId),
        lt(totpFactors.lastUsedStep, args.step),
        eq(totpFactors.secretSealed, args.secretSealed),
        args.confirming ? undefined : isNotNull(totpFactors.confirmedAt),
        args.also,
      ),
    )
    .returning({ userId: totpFactors.userId });
}

/** True inside a statement while the user's app holds this sealed secret. */
export function totpSecretIs(db: Db, userId: string, secretSealed: string): SQL {
  return exists(db.select({ one: sql`1` }).from(totpFactors).where(and(eq(totpFactors.userId, userId), eq(totpFactors.secretSealed, secretSealed))));
}

/** True inside a statement while the confirmed app with this secret would still accept `step`. */
export function totpStepUsable(db: Db, userId: string, step: number, secretSealed: string): SQL {
  return exists(
    db
      .select({ one: sql`1` })
      .from(totpFactors)
      .where(and(eq(totpFactors.userId, userId), isNotNull(totpFactors.confirmedAt), lt(totpFactors.lastUsedStep, step), eq(totpFactors.secretSealed, secretSealed))),
  );
}

export function deleteTotpFactor(db: Db, userId: string, condition?: SQL) {
  return db
    .delete(totpFactors)
    .where(and(eq(totpFactors.userId, userId), condition))
    .returning({ userId: totpFactors.userId });
}

export function deleteRecoveryCodes(db: Db, userId: string, condition?: SQL) {
  return db.delete(recoveryCodes).where(and(eq(recoveryCodes.userId, userId), condition));
}

export function insertRecoveryCodes(db: Db, rows: { id: string; userId: string; codeHash: string; createdAt: number }[]) {
  return db.insert(recoveryCodes).values(rows);
}

export async function countUnusedRecoveryCodes(db: Db, userId: string): Promise<number> {
  const row = await db
    .select({ n: count() })
    .from(recoveryCodes)
    .where(and(eq(recoveryCodes.userId, userId), isNull(recoveryCodes.usedAt)))
    .get();
  return row?.n ?? 0;
}

/** True inside a statement while the user has this recovery code unused. */
export function recoveryCodeUnused(db: Db, userId: string, codeHash: string): SQL {
  return exists(
    db
      .select({ one: sql`1` })
      .from(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, userId), eq(recoveryCodes.codeHash, codeHash), isNull(recoveryCodes.usedAt))),
  );
}

/** Single use: of concurrent uses of one code exactly one gets its id back. */
export function useRecoveryCode(db: Db, args: { userId: string; codeHash: string; now: number; also?: SQL }) {
  return db
    .update(recoveryCodes)
    .set({ usedAt: args.now })
    .where(and(eq(recoveryCodes.userId, args.userId), eq(recoveryCodes.codeHash, args.codeHash), isNull(recoveryCodes.usedAt), args.also))
    .returning({ id: recoveryCodes.id });
}

export function insertMfaChallenge(db: Db, row: typeof mfaChallenges.$inferInsert) {
  return db.insert(mfaChallenges).values(row);
}

export async function findMfaChallengeByHash(db: Db, tokenHash: string): Promise<MfaChallengeRow | undefined> {
  return db.select().from(mfaChallenges).where(eq(mfaChallenges.tokenHash, tokenHash)).get();
}

function challengeLive(id: string, now: number): SQL {
  return and(eq(mfaChallenges.id, id), isNull(mfaChallenges.consumedAt), gt(mfaChallenges.expiresAt, now), lt(mfaChallenges.attempts, MAX_CHALLENGE_ATTEMPTS))!;
}

/**
 * True inside a statement once the challenge was consumed at `now`: placed
 * after the consume in one batch, it holds exactly when that consume won.
 */
export function challengeConsumedAt(db: Db, id: string, now: number): SQL {
  return exists(db.select({ one: sql`1` }).from(mfaChallenges).where(and(eq(mfaChallenges.id, id), eq(mfaChallenges.consumedAt, now))));
}

/**
 * Single use: consumes a live challenge if `proof` (the accepted factor)
 * holds. Of concurrent completions exactly one gets the id back.
 */
export function consumeMfaChallenge(db: Db, id: string, now: number, proof: SQL) {
  return db
    .update(mfaChallenges)
    .set({ consumedAt: now })
    .where(and(challengeLive(id, now), proof))
    .returning({ id: mfaChallenges.id });
}

/**
 * Counts a wrong code against a live challenge; returns the new count. The
 * guard keeps concurrent wrong codes from counting past the cap.
 */
export function recordChallengeFailure(db: Db, id: string, now: number) {
  return db
    .update(mfaChallenges)
    .set({ attempts: sql`${mfaChallenges.attempts} + 1` })
    .where(challengeLive(id, now))
    .returning({ attempts: mfaChallenges.attempts });
}

/** Challenges that expired before `cutoff`, for housekeeping. */
export function deleteExpiredMfaChallenges(db: Db, cutoff: number) {
  return db.delete(mfaChallenges).where(lt(mfaChallenges.expiresAt, cutoff)).returning({ id: mfaChallenges.id });
}

/** True inside a statement while the user has an app, confirmed or not. */
export function hasTotpFactor(db: Db, userId: string): SQL {
  return exists(db.select({ one: sql`1` }).from(totpFactors).where(eq(totpFactors.userId, userId)));
}

/** True inside a statement while the user's email or SMS codes are switched `enabled`. */
export function mfaChannelIs(db: Db, userId: string, channel: "email" | "sms", enabled: boolean): SQL {
  const column = channel === "email" ? users.mfaEmailEnabled : users.mfaSmsEnabled;
  return exists(db.select({ one: sql`1` }).from(users).where(and(eq(users.id, userId), eq(column, enabled))));
}

/** Switches emailed or SMS sign-in codes on or off. */
export function setMfaChannel(db: Db, userId: string, channel: "email" | "sms", enabled: boolean, now: number) {
  const change = channel === "email" ? { mfaEmailEnabled: enabled } : { mfaSmsEnabled: enabled };
  return db
    .update(users)
    .set({ ...change, updatedAt: now })
    .where(and(eq(users.id, userId), eq(channel === "email" ? users.mfaEmailEnabled : users.mfaSmsEnabled, !enabled)))
    .returning({ id: users.id });
}

/**
 * What decides a new-device notice: whether the user has signed in before
 * at all, and whether any earlier session carried this device name.
 */
export async function findDeviceHistory(db: Db, userId: string, deviceName: string): Promise<{ anySession: boolean; sameDevice: boolean }> {
  const row = await db
    .select({
      any: count(),
      same: sql<number>`coalesce(sum(case when ${sessions.deviceName} = ${deviceName} then 1 else 0 end), 0)`,
    })
    .from(sessions)
    .where(eq(sessions.userId, userId))
    .get();
  return { anySession: (row?.any ?? 0) > 0, sameDevice: Number(row?.same ?? 0) > 0 };
}
