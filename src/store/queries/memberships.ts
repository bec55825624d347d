import { and, eq, exists, inArray, ne, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { OrderTerm } from "../../domain/listing/order-by.js";
import type { CursorValue } from "../../domain/listing/page-token.js";
import type { Db } from "../database.js";
import { afterCursor, toOrderBy, type ListingColumns } from "../listing-sql.js";
import { memberships, users, type MemberRoleValue } from "../schema/index.js";

export type MembershipRow = typeof memberships.$inferSelect;

/** A membership with the member's email and name, as ListMembers shows it. */
export interface MemberRow {
  userId: string;
  organisationId: string;
  email: string;
  name: string;
  role: MemberRoleValue;
  joinedAt: number;
}

export async function findMembershipRole(db: Db, organisationId: string, userId: string): Promise<MemberRoleValue | undefined> {
  const row = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.organisationId, organisationId), eq(memberships.userId, userId)))
    .get();
  return row?.role;
}

/** What a new membership is written with; triggers copy the member's user fields (migration 0008). */
export type NewMembershipRow = Omit<MembershipRow, "userName" | "userCreatedAt">;

export function insertMembership(db: Db, row: NewMembershipRow) {
  return db.insert(memberships).values(row);
}

const memberFields = {
  userId: memberships.userId,
  organisationId: memberships.organisationId,
  email: users.email,
  name: users.name,
  role: memberships.role,
  joinedAt: memberships.joinedAt,
};

export async function findMember(db: Db, organisationId: string, userId: string): Promise<MemberRow | undefined> {
  return db
    .select(memberFields)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.organisationId, organisationId), eq(memberships.userId, userId)))
    .get();
}

/** ListMembers orders by name, case-insensitively (ASCII), then by user id. */
export const MEMBER_COLUMNS: ListingColumns = { name: sql`${users.name} collate nocase`, id: memberships.userId };

export async function listMembers(db: Db, organisationId: string, order: readonly OrderTerm[], limit: number, after?: readonly CursorValue[]): Promise<MemberRow[]> {
  const inOrganisation = eq(memberships.organisationId, organisationId);
  return db
    .select(memberFields)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(after ? and(inOrganisation, afterCursor(order, MEMBER_COLUMNS, after)) : inOrganisation)
    .orderBy(...toOrderBy(order, MEMBER_COLUMNS))
    .limit(limit)
    .all();
}

export async function countOtherOwners(db: Db, organisationId: string, userId: string): Promise<number> {
  const row = await db
    .select({ n: sql<number>`count(*)` })
    .from(memberships)
    .where(and(eq(memberships.organisationId, organisationId), eq(memberships.role, "owner"), ne(memberships.userId, userId)))
    .get();
  return Number(row?.n ?? 0);
}

/** Condition: `userId` holds one of `roles` in the organisation right now. */
export function holdsRole(db: Db, organisationId: string, userId: string, roles: readonly MemberRoleValue[]): SQL {
  const held = alias(memberships, "held");
  return exists(
    db
      .select({ one: sql`1` })
      .from(held)
      .where(and(eq(held.organisationId, organisationId), eq(held.userId, userId), inArray(held.role, [...roles]))),
  );
}

/** Condition: the organisation has an owner other than `userId` right now. */
export function hasOtherOwner(db: Db, organisationId: string, userId: string): SQL {
  const other = alias(memberships, "other_owner");
  return exists(
    db
      .select({ one: sql`1` })
      .from(other)
      .where(and(eq(other.organisationId, organisationId), eq(other.role, "owner"), ne(other.userId, userId))),
  );
}

/**
 * The membership a change applies to, as it was when the change was decided:
 * still there, still holding `role`, and meeting every extra guard (the
 * caller's own role, another owner remaining). The change statement and its
 * audit row both use it, in the same batch.
 */
export function membershipAsDecided(organisationId: string, userId: string, role: MemberRoleValue, guards: readonly SQL[]): SQL {
  return and(eq(memberships.organisationId, organisationId), eq(memberships.userId, userId), eq(memberships.role, role), ...guards)!;
}

/** Condition for an audit row: the membership is as decided (see membershipAsDecided). */
export function membershipMatches(db: Db, decided: SQL): SQL {
  return exists(db.select({ one: sql`1` }).from(memberships).where(decided));
}

export function changeMembershipRole(db: Db, decided: SQL, role: MemberRoleValue) {
  return db.update(memberships).set({ role }).where(decided).returning({ userId: memberships.userId });
}

export function deleteMembership(db: Db, decided: SQL) {
  return db.delete(memberships).where(decided).returning({ userId: memberships.userId });
}
