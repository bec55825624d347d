/**
 * The statements of a password change or reset. Each takes the guard of the
 * change (the reset code is accepted, or the password is still the one that
 * was verified) and does nothing when it does not hold, so a batch that
 * loses a race changes nothing at all: not the hash, not the history, not
 * the sessions, and it queues no notice and writes no audit row.
 */
import { and, desc, eq, exists, ne, notInArray, sql, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { passwordHistory, sessions, throttles, users } from "../schema/index.js";

/** True while the user's stored hash is still `passwordHash`. */
export function passwordIs(db: Db, userId: string, passwordHash: string): SQL {
  return exists(db.select({ one: sql`1` }).from(users).where(and(eq(users.id, userId), eq(users.passwordHash, passwordHash))));
}

/** The user's earlier password hashes, newest first. */
export async function findPasswordHistory(db: Db, userId: string, limit: number): Promise<string[]> {
  if (limit <= 0) return [];
  const rows = await db
    .select({ hash: passwordHistory.passwordHash })
    .from(passwordHistory)
    .where(eq(passwordHistory.userId, userId))
    .orderBy(desc(passwordHistory.createdAt), desc(sql`rowid`))
    .limit(limit)
    .all();
  return rows.map((r) => r.hash);
}

/** Keeps `passwordHash` (the one being replaced) in the user's history. */
export function insertPasswordHistoryIf(db: Db, row: { id: string; userId: string; passwordHash: string; createdAt: number }, condition: SQL) {
  return db
    .insert(passwordHistory)
    .select(sql`select ${row.id}, ${row.userId}, ${row.passwordHash}, ${row.createdAt} where ${condition}`);
}

/** Drops all but the newest `keep` history rows of the user. */
export function trimPasswordHistoryIf(db: Db, userId: string, keep: number, condition: SQL) {
  const newest = db
    .select({ id: passwordHistory.id })
    .from(passwordHistory)
    .where(eq(passwordHistory.userId, userId))
    .orderBy(desc(passwordHistory.createdAt), desc(sql`rowid`))
    .limit(Math.max(0, keep));
  return db.delete(passwordHistory).where(and(eq(passwordHistory.userId, userId), notInArray(passwordHistory.id, newest), condition));
}

/** Sets the new hash; answers the user's id when the guard held. Put it after every other guarded statement. */
export function setPasswordHashIf(db: Db, userId: string, passwordHash: string, now: number, condition: SQL) {
  return db
    .update(users)
    .set({ passwordHash, passwordSet: true, updatedAt: now })
    .where(and(eq(users.id, userId), condition))
    .returning({ id: users.id });
}

/** Revokes every live session of the user but `keepSessionId` (when given); answers the revoked ids. */
export function revokeSessionsIf(db: Db, args: { userId: string; keepSessionId?: string | undefined; reason: string; now: number }, condition: SQL) {
  return db
    .update(sessions)
    .set({ revokedAt: args.now, revokedReason: args.reason })
    .where(
      and(
        eq(sessions.userId, args.userId),
        sql`${sessions.revokedAt} is null`,
        args.keepSessionId ? ne(sessions.id, args.keepSessionId) : undefined,
        condition,
      ),
    )
    .returning({ id: sessions.id });
}

/** Forgets a throttle key (the account's failed sign-ins) if `condition` holds. */
export function clearThrottleIf(db: Db, key: string, condition: SQL) {
  return db.delete(throttles).where(and(eq(throttles.key, key), condition));
}
