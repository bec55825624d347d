import { desc, isNull, or, gt } from "drizzle-orm";
import type { Db } from "../database.js";
import { signingKeys } from "../schema/index.js";

export type SigningKeyRow = typeof signingKeys.$inferSelect;

/** Keys still published in the JWKS (current and recently retired), newest first. */
export async function listPublishedSigningKeys(db: Db, now: number): Promise<SigningKeyRow[]> {
  return db
    .select()
    .from(signingKeys)
    .where(or(isNull(signingKeys.publishedUntil), gt(signingKeys.publishedUntil, now)))
    .orderBy(desc(signingKeys.createdAt), desc(signingKeys.kid))
    .all();
}

export function insertSigningKey(db: Db, row: typeof signingKeys.$inferInsert) {
  return db.insert(signingKeys).values(row);
}
