import { and, eq, exists, gt, isNull, sql, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { invitations, memberships } from "../schema/index.js";

export type InvitationRow = typeof invitations.$inferSelect;

export function insertInvitation(db: Db, row: InvitationRow) {
  return db.insert(invitations).values(row);
}

export async function findInvitationByTokenHash(db: Db, tokenHash: string): Promise<InvitationRow | undefined> {
  return db.select().from(invitations).where(eq(invitations.tokenHash, tokenHash)).get();
}

/** The invitation is still pending: not accepted and not expired at `now`. */
function pending(id: string, now: number): SQL {
  return and(eq(invitations.id, id), isNull(invitations.acceptedAt), gt(invitations.expiresAt, now))!;
}

/**
 * Condition: the invitation is still pending. The statements that depend on
 * winning an acceptance race (membership, audit row) run before
 * `consumeInvitation` in the same batch and check this: batches run one at a
 * time, so exactly one batch finds the invitation pending, and the clock
 * (frozen during a request on Workers) cannot make two batches look alike.
 */
export function invitationPending(db: Db, id: string, now: number): SQL {
  return exists(db.select({ one: sql`1` }).from(invitations).where(pending(id, now)));
}

/** Grants the invitation's membership if it is still pending (see invitationPending). */
export function insertMembershipIfPending(db: Db, id: string, userId: string, now: number) {
  return (
    db
      .insert(memberships)
      .select(
        db
          .select({
            organisationId: invitations.organisationId,
            userId: sql<string>`${userId}`.as("user_id"),
            role: invitations.role,
            joinedAt: sql<number>`${now}`.as("joined_at"),
            // The column defaults: the insert trigger copies the user's own (migration 0008).
            userName: sql<string>`''`.as("user_name"),
            userCreatedAt: sql<number>`0`.as("user_created_at"),
          })
          .from(invitations)
          .where(pending(id, now)),
      )
      // Already a member (through another invitation accepted meanwhile): keep that membership.
      .onConflictDoNothing()
  );
}

/** Marks the invitation accepted; the RETURNING row says this batch won. */
export function consumeInvitation(db: Db, id: string, userId: string, now: number) {
  return db.update(invitations).set({ acceptedAt: now, acceptedBy: userId }).where(pending(id, now)).returning({ id: invitations.id });
}
