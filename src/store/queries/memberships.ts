import { and, eq } from "drizzle-orm";
import type { Db } from "../database.js";
import { memberships, type MemberRoleValue } from "../schema/index.js";

export async function findMembershipRole(db: Db, organisationId: string, userId: string): Promise<MemberRoleValue | undefined> {
  const row = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.organisationId, organisationId), eq(memberships.userId, userId)))
    .get();
  return row?.role;
}
