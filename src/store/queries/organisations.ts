import { and, eq, exists, isNull, notExists, sql, type SQL } from "drizzle-orm";
import type { OrderTerm } from "../../domain/listing/order-by.js";
import type { CursorValue } from "../../domain/listing/page-token.js";
import { violatesUnique, type Db } from "../database.js";
import { afterCursor, toOrderBy, type ListingColumns } from "../listing-sql.js";
import { apiKeys, memberships, organisations, securityProfiles, sessions, users } from "../schema/index.js";

export type OrganisationRow = typeof organisations.$inferSelect;

/** An organisation with the name of its security profile, as the API shows it. */
export interface OrganisationView {
  organisation: OrganisationRow;
  securityProfile: string;
}

const viewFields = { organisation: organisations, securityProfile: securityProfiles.name };

/** The one spelling of an organisation name used for uniqueness and ordering. */
export function organisationNameKey(name: string): string {
  return name.normalize("NFC").trim().toLowerCase();
}

/** A new organisation; its member count starts at 0 and the membership triggers keep it. */
export function insertOrganisation(db: Db, row: Omit<OrganisationRow, "memberCount">) {
  return db.insert(organisations).values(row);
}

export async function findOrganisationById(db: Db, id: string): Promise<OrganisationView | undefined> {
  return db
    .select(viewFields)
    .from(organisations)
    .innerJoin(securityProfiles, eq(securityProfiles.id, organisations.securityProfileId))
    .where(eq(organisations.id, id))
    .get();
}

/** ListOrganisations orders by name (case-insensitively: by its key), then id. */
export const ORGANISATION_COLUMNS: ListingColumns = { name: organisations.nameKey, id: organisations.id };

/** Organisations in order; those `memberId` belongs to, or all when undefined. */
export async function listOrganisations(
  db: Db,
  scope: { memberId?: string | undefined; organisationId?: string | undefined },
  order: readonly OrderTerm[],
  limit: number,
  after?: readonly CursorValue[],
): Promise<OrganisationView[]> {
  const conditions: SQL[] = [];
  if (scope.organisationId) conditions.push(eq(organisations.id, scope.organisationId));
  if (after) conditions.push(afterCursor(order, ORGANISATION_COLUMNS, after));
  const base = db.select(viewFields).from(organisations).innerJoin(securityProfiles, eq(securityProfiles.id, organisations.securityProfileId));
  const joined = scope.memberId
    ? base.innerJoin(memberships, and(eq(memberships.organisationId, organisations.id), eq(memberships.userId, scope.memberId)))
    : base;
  return joined
    .where(and(...conditions))
    .orderBy(...toOrderBy(order, ORGANISATION_COLUMNS))
    .limit(limit)
    .all();
}

export function renameOrganisation(db: Db, id: string, name: string, now: number, guards: readonly SQL[]) {
  return db
    .update(organisations)
    .set({ name, nameKey: organisationNameKey(name), updatedAt: now })
    .where(and(eq(organisations.id, id), ...guards))
    .returning({ id: organisations.id });
}

export function deleteOrganisation(db: Db, id: string, guards: readonly SQL[]) {
  return db
    .delete(organisations)
    .where(and(eq(organisations.id, id), ...guards))
    .returning({ id: organisations.id });
}

/** Condition: the organisation exists right now and every guard holds (for a change's audit row). */
export function organisationExists(db: Db, id: string, guards: readonly SQL[] = []): SQL {
  return and(exists(db.select({ one: sql`1` }).from(organisations).where(eq(organisations.id, id))), ...guards)!;
}

function organisationGone(db: Db, id: string): SQL {
  return notExists(db.select({ one: sql`1` }).from(organisations).where(eq(organisations.id, id)));
}

/**
 * What a deleted organisation leaves behind outside its own rows (memberships
 * and invitations go by cascade): sessions and users that had it as their
 * organisation lose it, and its API keys are revoked. Each statement only
 * acts once the organisation is gone, so a deletion that lost its guard in
 * the same batch leaves all of this untouched.
 */
export function detachDeletedOrganisation(db: Db, id: string, now: number) {
  const gone = organisationGone(db, id);
  return [
    db.update(sessions).set({ organisationId: null }).where(and(eq(sessions.organisationId, id), gone)),
    db.update(users).set({ activeOrganisationId: null }).where(and(eq(users.activeOrganisationId, id), gone)),
    db.update(apiKeys).set({ revokedAt: now }).where(and(eq(apiKeys.organisationId, id), isNull(apiKeys.revokedAt), gone)),
  ] as const;
}

function membershipOf(db: Db, userId: string, organisationId: string) {
  return db
    .select({ one: sql`1` })
    .from(memberships)
    .where(and(eq(memberships.organisationId, organisationId), eq(memberships.userId, userId)));
}

/**
 * Makes `organisationId` the user's active organisation, where their new
 * sessions start, unless they already have one or are not (or no longer) a
 * member of it when the statement runs.
 */
export function setActiveOrganisationIfNone(db: Db, userId: string, organisationId: string) {
  return db
    .update(users)
    .set({ activeOrganisationId: organisationId })
    .where(and(eq(users.id, userId), isNull(users.activeOrganisationId), exists(membershipOf(db, userId, organisationId))));
}

/** New sessions of someone who is no longer a member do not start in the organisation. */
export function clearActiveOrganisationIfLeft(db: Db, userId: string, organisationId: string) {
  return db
    .update(users)
    .set({ activeOrganisationId: null })
    .where(and(eq(users.id, userId), eq(users.activeOrganisationId, organisationId), notExists(membershipOf(db, userId, organisationId))));
}

export function isOrganisationNameTaken(error: unknown): boolean {
  return violatesUnique(error, "organisations", ["name_key"]);
}
