import { count, eq } from "drizzle-orm";
import type { Db } from "../database.js";
import { users } from "../schema/index.js";

export type UserRow = typeof users.$inferSelect;
export type NewUserRow = typeof users.$inferInsert;

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.email, email)).get();
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.select().from(users).where(eq(users.id, id)).get();
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
  const text = `${(error as Error)?.message ?? ""} ${String((error as { cause?: unknown })?.cause ?? "")}`;
  return /UNIQUE constraint failed: users\.email/.test(text);
}

export async function findUserProfileId(db: Db, id: string): Promise<string | undefined> {
  const row = await db.select({ id: users.securityProfileId }).from(users).where(eq(users.id, id)).get();
  return row?.id;
}

/** The organisation new sessions of the user start in. */
export function setActiveOrganisation(db: Db, userId: string, organisationId: string | null) {
  return db.update(users).set({ activeOrganisationId: organisationId }).where(eq(users.id, userId));
}
