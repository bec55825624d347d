/**
 * Outbox statements that other changes put in their own batch. A message is
 * queued before the batch knows whether its change won a race; this takes it
 * back out in the same batch when the change did not happen, so it is never
 * delivered, by this call or by a later flush.
 */
import { and, eq, not, type SQL } from "drizzle-orm";
import type { Db } from "../database.js";
import { outbox } from "../schema/index.js";

/** Takes a queued message back out, in the same batch, unless `condition` holds (e.g. the change's row was written). */
export function withdrawMessageUnless(db: Db, outboxId: string, condition: SQL) {
  return db.delete(outbox).where(and(eq(outbox.id, outboxId), not(condition)));
}
