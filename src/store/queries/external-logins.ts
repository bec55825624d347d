import { and, asc, eq, gt, isNull, lt, notExists, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { externalIdentities, externalLoginStates, users } from "../schema/index.js";

export type ExternalIdentityRow = typeof externalIdentities.$inferSelect;
export type ExternalLoginStateRow = typeof externalLoginStates.$inferSelect;

export function insertExternalLoginState(db: Db, row: typeof externalLoginStates.$inferInsert) {
  return db.insert(externalLoginStates).values(row);
}

/**
 * Consumes a live, unused state: the guarded update succeeds for exactly one
 * caller, so a replayed or raced state gets no row back.
 */
export function consumeExternalLoginState(db: Db, stateHash: string, now: number) {
  return db
    .update(externalLoginStates)
    .set({ consumedAt: now })
    .where(and(eq(externalLoginStates.stateHash, stateHash), isNull(externalLoginStates.consumedAt), gt(externalLoginStates.expiresAt, now)))
    .returning();
}

/** Leaves a hand-off code on a consumed state, for the front end to redeem once. */
export function setHandoff(db: Db, id: string, handoff: { codeHash: string; userId: string; expiresAt: number }) {
  return db
    .update(externalLoginStates)
    .set({ handoffCodeHash: handoff.codeHash, handoffUserId: handoff.userId, handoffExpiresAt: handoff.expiresAt })
    .where(eq(externalLoginStates.id, id));
}

/** Redeems a hand-off code once: the state and the code must belong together. */
export function consumeHandoff(db: Db, stateHash: string, codeHash: string, now: number) {
  return db
    .update(externalLoginStates)
    .set({ handoffConsumedAt: now })
    .where(
      and(
        eq(externalLoginStates.stateHash, stateHash),
        eq(externalLoginStates.handoffCodeHash, codeHash),
        isNull(externalLoginStates.handoffConsumedAt),
        gt(externalLoginStates.handoffExpiresAt, now),
      ),
    )
    .returning();
}

/** Forgets states that can no longer be used. */
export function deleteDeadExternalLoginStates(db: Db, now: number) {
  return db
    .delete(externalLoginStates)
    .where(
      and(
        lt(externalLoginStates.expiresAt, now),
        or(isNull(externalLoginStates.handoffExpiresAt), lt(externalLoginStates.handoffExpiresAt, now)),
      ),
    )
    .returning({ id: externalLoginStates.id });
}

export async function findExternalIdentity(db: Db, provider: string, subject: string): Promise<ExternalIdentityRow | undefined> {
  return db
    .select()
    .from(externalIdentities)
    .where(and(eq(externalIdentities.provider, provider), eq(externalIdentities.subject, subject)))
    .get();
}

export async function listExternalIdentities(db: Db, userId: string): Promise<ExternalIdentityRow[]> {
  return db.select().from(externalIdentities).where(eq(externalIdentities.userId, userId)).orderBy(asc(externalIdentities.createdAt), asc(externalIdentities.id)).all();
}

export function insertExternalIdentity(db: Db, row: typeof externalIdentities.$inferInsert) {
  return db.insert(externalIdentities).values(row);
}

/** Records a sign-in with the identity and what the provider said this time. */
export function touchExternalIdentity(db: Db, id: string, update: { email: string; emailVerified: boolean; claims: string; now: number }) {
  return db
    .update(externalIdentities)
    .set({ email: update.email, emailVerified: update.emailVerified, claims: update.claims, lastSignInAt: update.now })
    .where(eq(externalIdentities.id, id));
}

/**
 * Unlinks an identity of the user unless it is the user's last way to sign
 * in: the user has a password, or another identity remains. One guarded
 * statement, so two unlinks racing cannot remove both of the last two.
 */
export function deleteExternalIdentityIfNotLast(db: Db, userId: string, id: string) {
  return db
    .delete(externalIdentities)
    .where(
      and(
        eq(externalIdentities.id, id),
        eq(externalIdentities.userId, userId),
        or(
          sql`exists (select 1 from ${users} where ${users.id} = ${userId} and ${users.passwordSet} = 1)`,
          sql`(select count(*) from ${externalIdentities} as others where others.user_id = ${userId}) > 1`,
        ),
      ),
    )
    .returning({ id: externalIdentities.id });
}

/** True inside a statement once the identity no longer exists. */
export function identityGone(db: Db, id: string): SQL {
  return notExists(db.select({ one: sql`1` }).from(externalIdentities).where(eq(externalIdentities.id, id)));
}
