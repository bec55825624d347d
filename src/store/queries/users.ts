import { and, count, eq, exists, inArray, ne, notExists, sql, type SQL } from "drizzle-orm";
import { alias, type SelectedFields, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import { filterFields, type FilterExpression } from "../../domain/listing/filter.js";
import type { OrderTerm } from "../../domain/listing/order-by.js";
import type { CursorValue } from "../../domain/listing/page-token.js";
import { violatesUnique, type Db } from "../database.js";
import { afterCursor, toOrderBy, toWhere, type ListingColumns } from "../listing-sql.js";
import { memberships, organisations, users, type MemberRoleValue, type UserStateValue } from "../schema/index.js";

export type UserRow = typeof users.$inferSelect;
export type NewUserRow = typeof users.$inferInsert;

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.email, email)).limit(1).get();
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.id, id)).limit(1).get();
}

export async function countUsers(db: Db): Promise<number> {
  const row = await db.select({ n: count() }).from(users).get();
  return row?.n ?? 0;
}

export function insertUser(db: Db, row: NewUserRow) {
  return db.insert(users).values(row);
}

export function updatePasswordHash(db: Db, userId: string, passwordHash: string, now: number) {
  return db.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.id, userId));
}

/** True when a libSQL/D1 error is the unique index on users.email. */
export function isEmailTaken(error: unknown): boolean {
  return violatesUnique(error, "users", ["email"]);
}

/** The organisation new sessions of the user start in. */
export function setActiveOrganisation(db: Db, userId: string, organisationId: string | null) {
  return db.update(users).set({ activeOrganisationId: organisationId }).where(eq(users.id, userId));
}

/** Grants or removes the super-admin role, only while `condition` holds. */
export function setSuperAdmin(db: Db, userId: string, superAdmin: boolean, now: number, condition: SQL) {
  return db
    .update(users)
    .set({ superAdmin, updatedAt: now })
    .where(and(eq(users.id, userId), condition))
    .returning({ id: users.id });
}

/**
 * ListUsers' fields as the listing toolkit sees them (see listing-sql.ts):
 * booleans as 0/1 expressions, timestamps as epoch ms, `state` as stored.
 * Every ordered column is NOT NULL, as keyset paging requires.
 */
export const USER_COLUMNS: ListingColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  locale: users.locale,
  title: users.title,
  department: users.department,
  state: users.state,
  suspended: sql`(${users.state} = 'suspended')`,
  blocked: sql`(${users.state} = 'blocked')`,
  email_verified: sql`(${users.emailVerifiedAt} is not null)`,
  created_at: users.createdAt,
  updated_at: users.updatedAt,
};

/** A listed user, with their role in their active organisation (null when none or no longer a member). */
export interface ListedUserRow {
  user: UserRow;
  activeRole: MemberRoleValue | null;
}

/**
 * How a listing reaches an organisation's members (see chooseMemberReach):
 * - "memberships": from the organisation's memberships, reading each user by
 *   key, then sorting them; costs in proportion to the organisation's size;
 * - "users": walking a users index in page order (or the filter's index) and
 *   probing each user's membership; costs in proportion to the users walked
 *   until the page is full, about (rows wanted) × (all users ÷ members).
 */
export type MemberReach = "memberships" | "users";

export interface UserListing {
  /** Only members of this organisation; undefined lists every user. */
  organisationId: string | undefined;
  /** The parsed filter, if any (over USER_FILTER_SCHEMA's fields). */
  filter: FilterExpression | undefined;
  /** How to reach the organisation's members; default "memberships". */
  reach?: MemberReach;
}

const activeMembership = alias(memberships, "active_membership");
const scopeMembership = alias(memberships, "scope_membership");

/**
 * The ListUsers fields a membership row carries copies of (kept by triggers,
 * migration 0008), under their USER_COLUMNS names: a filter over these alone
 * is answered from the organisation's memberships without reading users.
 */
const MEMBER_COLUMNS: ListingColumns = {
  name: scopeMembership.userName,
  created_at: scopeMembership.userCreatedAt,
};

/**
 * Which reach lists a page of `rowsWanted` rows (limit + offset + 1) of an
 * organisation faster. Without table statistics SQLite cannot tell a large
 * organisation from a small one and always starts from the memberships, which
 * for 100,000 members means reading and sorting all of them for every page.
 * Here, with M members (the organisation's member count) among N users (the
 * largest rowid, an upper bound that costs one index step), reading the
 * memberships costs about 2·M steps and walking the users about
 * rowsWanted·N/M, so the users are walked once 2·M² ≥ rowsWanted·N.
 */
export async function chooseMemberReach(db: Db, organisationId: string, rowsWanted: number): Promise<MemberReach> {
  const row = await db
    .select({ members: organisations.memberCount, users: sql<number | null>`(select max(rowid) from ${users})` })
    .from(organisations)
    .where(eq(organisations.id, organisationId))
    .get();
  const members = row?.members ?? 0;
  const allUsers = Number(row?.users ?? 0);
  if (members === 0) return "memberships";
  return 2 * members * members >= rowsWanted * allUsers ? "users" : "memberships";
}

/**
 * The users a listing covers, and the condition that restricts them to the
 * organisation when it cannot be the join's own (CROSS JOIN takes none).
 * Members are read through a join on the membership primary key
 * (organisation_id, user_id), which SQLite may drive from either side; the
 * "users" reach forces users into the outer loop with CROSS JOIN, which
 * SQLite (and D1) never reorders.
 */
function listingQuery<T extends SelectedFields>(db: Db, fields: T, listing: UserListing) {
  const query = db.select(fields).from(users).$dynamic();
  if (listing.organisationId === undefined) return { query, scope: undefined };
  const member = and(eq(scopeMembership.organisationId, listing.organisationId), eq(scopeMembership.userId, users.id));
  return listing.reach === "users" ? { query: query.crossJoin(scopeMembership), scope: member } : { query: query.innerJoin(scopeMembership, member), scope: undefined };
}

export interface UserPage {
  limit: number;
  /** Rows skipped after the keyset position. */
  offset: number;
  /** The keyset position: the order values of the last row seen. */
  after: readonly CursorValue[] | undefined;
}

/** One page of a listing (run it with `.all()`; tests read its plan). */
export function listUsersQuery(db: Db, listing: UserListing, order: readonly OrderTerm[], page: UserPage) {
  const { query, scope } = listingQuery(db, { user: users, activeRole: activeMembership.role }, listing);
  return query
    .leftJoin(activeMembership, and(eq(activeMembership.organisationId, users.activeOrganisationId), eq(activeMembership.userId, users.id)))
    .where(and(scope, toWhere(listing.filter, USER_COLUMNS), page.after ? afterCursor(order, USER_COLUMNS, page.after) : undefined))
    .orderBy(...toOrderBy(order, USER_COLUMNS))
    .limit(page.limit)
    .offset(page.offset);
}

export async function listUsers(db: Db, listing: UserListing, order: readonly OrderTerm[], page: UserPage): Promise<ListedUserRow[]> {
  return listUsersQuery(db, listing, order, page).all();
}

/** The columns a page position is made of: every field ListUsers orders by, id included. */
const ORDER_COLUMNS = { id: users.id, name: users.name, email: users.email, created_at: users.createdAt, updated_at: users.updatedAt } as const;

/** A listed user's id and the values of the ordered fields, by API field name. */
export type UserKeyRow = { id: string } & Partial<Record<Exclude<keyof typeof ORDER_COLUMNS, "id">, string | number>>;

/**
 * Like listUsersQuery, but reading only each user's id and the ordered
 * fields, for callers that want ids alone: with an index on the order (which
 * holds the id) no user row is read, and the active role is not looked up.
 */
export function listUserKeysQuery(db: Db, listing: UserListing, order: readonly OrderTerm[], page: UserPage) {
  const fields: Record<string, SQLiteColumn> = { id: users.id };
  for (const term of order) {
    if (!Object.hasOwn(ORDER_COLUMNS, term.field)) throw new Error(`no column for order field "${term.field}"`);
    fields[term.field] = ORDER_COLUMNS[term.field as keyof typeof ORDER_COLUMNS];
  }
  const { query, scope } = listingQuery(db, fields, listing);
  return query
    .where(and(scope, toWhere(listing.filter, USER_COLUMNS), page.after ? afterCursor(order, USER_COLUMNS, page.after) : undefined))
    .orderBy(...toOrderBy(order, USER_COLUMNS))
    .limit(page.limit)
    .offset(page.offset);
}

export async function listUserKeys(db: Db, listing: UserListing, order: readonly OrderTerm[], page: UserPage): Promise<UserKeyRow[]> {
  // The selection is built per order, so its row type is known only here.
  return (await listUserKeysQuery(db, listing, order, page).all()) as unknown as UserKeyRow[];
}

/** The statement countListedUsers runs (tests read its plan). */
export function countListedUsersQuery(db: Db, listing: UserListing) {
  if (listing.organisationId !== undefined && listing.filter === undefined) {
    // Every membership names an existing user (a foreign key, deleted with
    // the user), so the organisation's member count, kept by triggers on the
    // memberships, is the answer: one row instead of a walk over them all.
    return db.select({ n: organisations.memberCount }).from(organisations).where(eq(organisations.id, listing.organisationId));
  }
  if (listing.organisationId !== undefined && listing.filter !== undefined && filterFields(listing.filter).every((field) => Object.hasOwn(MEMBER_COLUMNS, field))) {
    // The memberships' copies of the filtered fields: one walk of the
    // organisation's part of memberships_user_name_idx, where joining users
    // would probe a membership key for every user the users index yields.
    return db
      .select({ n: count() })
      .from(scopeMembership)
      .where(and(eq(scopeMembership.organisationId, listing.organisationId), toWhere(listing.filter, MEMBER_COLUMNS)));
  }
  const { query, scope } = listingQuery(db, { n: count() }, listing);
  return query.where(and(scope, toWhere(listing.filter, USER_COLUMNS)));
}

/** How many users the listing matches, over all pages. */
export async function countListedUsers(db: Db, listing: UserListing): Promise<number> {
  const row = await countListedUsersQuery(db, listing).get();
  return row?.n ?? 0;
}

/** One organisation of a user, with the user's role there and a given caller's role (null: not a member). */
export interface UserMembershipRow {
  organisationId: string;
  role: MemberRoleValue;
  callerRole: MemberRoleValue | null;
}

const callerMembership = alias(memberships, "caller_membership");

/** Every organisation of `userId`, with `callerId`'s role in each: one query for an access decision. */
export async function findUserMemberships(db: Db, userId: string, callerId: string): Promise<UserMembershipRow[]> {
  return db
    .select({ organisationId: memberships.organisationId, role: memberships.role, callerRole: callerMembership.role })
    .from(memberships)
    .leftJoin(callerMembership, and(eq(callerMembership.organisationId, memberships.organisationId), eq(callerMembership.userId, callerId)))
    .where(eq(memberships.userId, userId))
    .all();
}

/** The profile fields UpdateUser may write. */
export type UserProfileChange = Partial<Pick<UserRow, "name" | "phoneNumber" | "phoneVerifiedAt" | "locale" | "newsletter" | "title" | "department">>;

export function updateUserProfile(db: Db, userId: string, change: UserProfileChange, now: number) {
  return db
    .update(users)
    .set({ ...change, updatedAt: now })
    .where(eq(users.id, userId))
    .returning();
}

/** Condition: the user exists and is in one of `states` right now. */
export function userInState(db: Db, userId: string, states: readonly UserStateValue[]): SQL {
  return exists(
    db
      .select({ one: sql`1` })
      .from(users)
      .where(and(eq(users.id, userId), inArray(users.state, [...states]))),
  );
}

/** Moves the user to `state`, only from one of `from`; returns the row only if it moved. */
export function changeUserState(db: Db, userId: string, from: readonly UserStateValue[], state: UserStateValue, now: number) {
  return db
    .update(users)
    .set({ state, updatedAt: now })
    .where(and(eq(users.id, userId), inArray(users.state, [...from])))
    .returning();
}

const ownedMembership = alias(memberships, "owned");
const otherOwner = alias(memberships, "other_owner");

/** The organisations whose only owner `userId` is. */
export async function findOrganisationsOwnedOnlyBy(db: Db, userId: string): Promise<string[]> {
  const rows = await db
    .select({ organisationId: ownedMembership.organisationId })
    .from(ownedMembership)
    .where(and(eq(ownedMembership.userId, userId), eq(ownedMembership.role, "owner"), notExists(otherOwnerOf(db, userId))))
    .all();
  return rows.map((row) => row.organisationId);
}

function otherOwnerOf(db: Db, userId: string) {
  return db
    .select({ one: sql`1` })
    .from(otherOwner)
    .where(and(eq(otherOwner.organisationId, ownedMembership.organisationId), eq(otherOwner.role, "owner"), ne(otherOwner.userId, userId)));
}

/**
 * Condition: the user exists and is not the only owner of any organisation
 * right now. Deleting a user is guarded by it inside the batch, so an owner
 * who leaves between the check and the delete cannot leave an organisation
 * without owners.
 */
export function deletableUser(db: Db, userId: string): SQL {
  const soleOwnership = db
    .select({ one: sql`1` })
    .from(ownedMembership)
    .where(and(eq(ownedMembership.userId, userId), eq(ownedMembership.role, "owner"), notExists(otherOwnerOf(db, userId))));
  return and(exists(db.select({ one: sql`1` }).from(users).where(eq(users.id, userId))), notExists(soleOwnership))!;
}

/** Deletes the user and, through the schema's cascades, their sessions, tokens, keys, memberships, settings, codes and avatar. */
export function deleteUser(db: Db, userId: string, condition: SQL) {
  return db
    .delete(users)
    .where(and(eq(users.id, userId), condition))
    .returning({ id: users.id });
}
