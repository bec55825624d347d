import { eq, exists, sql, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { avatars } from "../schema/index.js";

export type AvatarRow = typeof avatars.$inferSelect;
export type AvatarMeta = Omit<AvatarRow, "data">;

/** The avatar with its image (base64). */
export async function findAvatar(db: Db, userId: string): Promise<AvatarRow | undefined> {
  return db.select().from(avatars).where(eq(avatars.userId, userId)).get();
}

/** Sets (or replaces) the user's avatar. */
export function upsertAvatar(db: Db, row: AvatarRow) {
  const { userId: _userId, ...change } = row;
  return db.insert(avatars).values(row).onConflictDoUpdate({ target: avatars.userId, set: change });
}

export function deleteAvatar(db: Db, userId: string) {
  return db.delete(avatars).where(eq(avatars.userId, userId)).returning({ userId: avatars.userId });
}

/** Condition: the user has an avatar right now. */
export function avatarExists(db: Db, userId: string): SQL {
  return exists(db.select({ one: sql`1` }).from(avatars).where(eq(avatars.userId, userId)));
}
