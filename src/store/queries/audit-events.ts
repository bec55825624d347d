import { and, eq, exists, getTableColumns, sql, type SQL } from "drizzle-orm";
import type { OrderTerm } from "../../domain/listing/order-by.js";
import type { CursorValue } from "../../domain/listing/page-token.js";
import type { Db } from "../database.js";
import { afterCursor, toOrderBy, type ListingColumns } from "../listing-sql.js";
import { auditEvents } from "../schema/index.js";

export interface AuditEventInput {
  id: string;
  occurredAt: number;
  type: string;
  actorId?: string | null | undefined;
  userId?: string | null | undefined;
  organisationId?: string | null | undefined;
  sessionId?: string | null | undefined;
  ipAddress?: string | null | undefined;
  details?: Record<string, string | number | boolean> | undefined;
}

function auditRow(event: AuditEventInput): typeof auditEvents.$inferInsert {
  return { ...event, details: JSON.stringify(event.details ?? {}) };
}

export function insertAuditEvent(db: Db, event: AuditEventInput) {
  return db.insert(auditEvents).values(auditRow(event));
}

/**
 * Inserts the event only if `condition` holds when the statement runs. A
 * batch whose change is guarded (a conditional UPDATE or DELETE) records its
 * event under the same condition, placed before the change, so the audit
 * trail never shows a change that lost its race.
 */
export function insertAuditEventIf(db: Db, event: AuditEventInput, condition: SQL) {
  const row = auditRow(event) as Record<string, unknown>;
  // INSERT … SELECT fills every column in table order.
  const values = Object.keys(getTableColumns(auditEvents)).map((name) => sql`${row[name] ?? null}`);
  return db.insert(auditEvents).select(sql`select ${sql.join(values, sql`, `)} where ${condition}`);
}

/** True inside a statement once the event with this id is written (e.g. by `insertAuditEventIf` earlier in the batch). */
export function auditEventWritten(db: Db, id: string): SQL {
  return exists(db.select({ one: sql`1` }).from(auditEvents).where(eq(auditEvents.id, id)));
}

export type AuditEventRow = typeof auditEvents.$inferSelect;

/** ListAuditEvents field → column (see src/domain/audit-log.ts). */
export const AUDIT_EVENT_COLUMNS: ListingColumns = {
  id: auditEvents.id,
  type: auditEvents.type,
  user_id: auditEvents.userId,
  actor_id: auditEvents.actorId,
  organisation_id: auditEvents.organisationId,
  occurred_at: auditEvents.occurredAt,
};

/** One page of events matching `where`, in `order`, strictly after `after`. */
export async function listAuditEvents(db: Db, where: SQL | undefined, order: readonly OrderTerm[], page: { limit: number; after: readonly CursorValue[] | undefined }): Promise<AuditEventRow[]> {
  return db
    .select()
    .from(auditEvents)
    .where(and(where, page.after ? afterCursor(order, AUDIT_EVENT_COLUMNS, page.after) : undefined))
    .orderBy(...toOrderBy(order, AUDIT_EVENT_COLUMNS))
    .limit(page.limit)
    .all();
}
