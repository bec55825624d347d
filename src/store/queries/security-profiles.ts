import { eq } from "drizzle-orm";
import type { Db } from "../database.js";
import { securityProfiles } from "../schema/index.js";

export type SecurityProfileRow = typeof securityProfiles.$inferSelect;

export const DEFAULT_PROFILE_ID = "00000000-0000-4000-8000-000000000001";

export async function findSecurityProfile(db: Db, id: string): Promise<SecurityProfileRow | undefined> {
  return db.select().from(securityProfiles).where(eq(securityProfiles.id, id)).get();
}
