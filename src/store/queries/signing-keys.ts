import { and, desc, gt, isNull, ne, or, sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { signingKeys } from "../schema/index.js";

export type SigningKeyRow = typeof signingKeys.$inferSelect;

/**
 * Keys still published in the JWKS (current and recently retired): keys
 * still signing first, each group newest first.
 */
export async function listPublishedSigningKeys(db: Db, now: number): Promise<SigningKeyRow[]> {
  return db
    .select()
    .from(signingKeys)
    .where(or(isNull(signingKeys.publishedUntil), gt(signingKeys.publishedUntil, now)))
    .orderBy(sql`${signingKeys.retiredAt} is not null`, desc(signingKeys.createdAt), desc(signingKeys.kid))
    .all();
}

export function insertSigningKey(db: Db, row: typeof signingKeys.$inferInsert) {
  return db.insert(signingKeys).values(row);
}

/**
 * Retires every key still signing except `kid`: it stops signing now and
 * stays published until `publishedUntil`.
 */
export function retireSigningKeysExcept(db: Db, kid: string, now: number, publishedUntil: number) {
  return db
    .update(signingKeys)
    .set({ retiredAt: now, publishedUntil })
    .where(and(isNull(signingKeys.retiredAt), ne(signingKeys.kid, kid)))
    .returning({ kid: signingKeys.kid });
}
