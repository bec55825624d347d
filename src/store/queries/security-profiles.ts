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

/**
 * The default profile. Migrations create it and nothing deletes or renames
 * it, so its absence is a broken database, never a state to work around.
 */
export async function requireDefaultProfile(db: Db): Promise<SecurityProfileRow> {
  const profile = await findSecurityProfile(db, DEFAULT_PROFILE_ID);
  if (!profile) throw new Error("the default security profile is missing");
  return profile;
}

/**
 * The effective profile of a user who exists (see findEffectiveProfile).
 * Every user row names a profile (not null, a foreign key), so there is no
 * answer only when the user is gone: the caller read the user a moment ago,
 * and it fails rather than govern a vanished account by another profile's
 * lifetimes and password rules. The one place an account may legitimately
 * be missing, counting a failed sign-in, uses findLockoutProfile instead.
 */
export async function requireEffectiveProfile(db: Db, userId: string, organisationId?: string | null): Promise<SecurityProfileRow> {
  const profile = await findEffectiveProfile(db, userId, organisationId);
  if (!profile) throw new Error(`no security profile for user ${userId}`);
  return profile;
}

/**
 * The profile whose lockout rule counts a failure against an account: the
 * user's effective profile, or the default one when there is no such user.
 * Failures are counted per email whether or not it has an account, so an
 * unknown (or just deleted) one must lock out exactly like one that has an
 * account under the default profile.
 */
export async function findLockoutProfile(db: Db, userId: string | undefined): Promise<SecurityProfileRow> {
  return (userId === undefined ? undefined : await findEffectiveProfile(db, userId)) ?? requireDefaultProfile(db);
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
