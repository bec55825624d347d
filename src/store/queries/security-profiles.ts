import { and, asc, eq, exists, max, sql, type SQL } from "drizzle-orm";
import { violatesUnique, type Db } from "../database.js";
import { memberships, organisations, securityProfiles, users } from "../schema/index.js";

export type SecurityProfileRow = typeof securityProfiles.$inferSelect;

export const DEFAULT_PROFILE_ID = "00000000-0000-4000-8000-000000000001";

export async function findSecurityProfile(db: Db, id: string): Promise<SecurityProfileRow | undefined> {
  return db.select().from(securityProfiles).where(eq(securityProfiles.id, id)).get();
}

export async function findSecurityProfileByName(db: Db, name: string): Promise<SecurityProfileRow | undefined> {
  return db.select().from(securityProfiles).where(eq(securityProfiles.name, name)).get();
}

/** Every profile, ordered by name. */
export async function listSecurityProfiles(db: Db): Promise<SecurityProfileRow[]> {
  return db.select().from(securityProfiles).orderBy(asc(securityProfiles.name)).all();
}

/**
 * The profile that governs a user: the profile of the organisation they
 * act in (their active organisation, or `organisationId` when given), while
 * they are still a member of it; otherwise their own (the default). One
 * statement, so the answer is never a mix of two moments.
 */
export async function findEffectiveProfile(db: Db, userId: string, organisationId?: string | null): Promise<SecurityProfileRow | undefined> {
  const organisation = organisationId === undefined ? users.activeOrganisationId : sql`${organisationId}`;
  const row = await db
    .select({ profile: securityProfiles })
    .from(users)
    .leftJoin(memberships, and(eq(memberships.userId, users.id), eq(memberships.organisationId, organisation)))
    .leftJoin(organisations, eq(organisations.id, memberships.organisationId))
    .innerJoin(securityProfiles, eq(securityProfiles.id, sql`coalesce(${organisations.securityProfileId}, ${users.securityProfileId})`))
    .where(eq(users.id, userId))
    .get();
  return row?.profile;
}

export function insertSecurityProfile(db: Db, row: SecurityProfileRow) {
  return db.insert(securityProfiles).values(row);
}

/**
 * Writes the changed fields (`updatedAt` among them) if the profile is still
 * the version last updated at `expectedUpdatedAt`; returns its id then.
 */
export function updateSecurityProfile(db: Db, id: string, expectedUpdatedAt: number, changes: Partial<Omit<SecurityProfileRow, "id" | "createdAt">>) {
  return db
    .update(securityProfiles)
    .set(changes)
    .where(and(eq(securityProfiles.id, id), eq(securityProfiles.updatedAt, expectedUpdatedAt)))
    .returning({ id: securityProfiles.id });
}

/** Condition: the profile is still the version last updated at `updatedAt` (for the update's audit row). */
export function profileUnchangedSince(db: Db, id: string, updatedAt: number): SQL {
  return exists(db.select({ one: sql`1` }).from(securityProfiles).where(and(eq(securityProfiles.id, id), eq(securityProfiles.updatedAt, updatedAt))));
}

export function isProfileNameTaken(error: unknown): boolean {
  return violatesUnique(error, "security_profiles", ["name"]);
}

/** Makes `profileId` the organisation's profile; returns the organisation's id when it exists. */
export function assignOrganisationProfile(db: Db, organisationId: string, profileId: string, now: number) {
  return db
    .update(organisations)
    .set({ securityProfileId: profileId, updatedAt: now })
    .where(eq(organisations.id, organisationId))
    .returning({ id: organisations.id });
}

/** The longest access-token lifetime of any profile, in seconds. */
export async function maxAccessTokenTtlSeconds(db: Db): Promise<number> {
  const row = await db.select({ ttl: max(securityProfiles.accessTokenTtlSeconds) }).from(securityProfiles).get();
  return row?.ttl ?? 0;
}
