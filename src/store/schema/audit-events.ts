import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Security-relevant events, written in the same batch as the change they record. */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    id: text().primaryKey(),
    occurredAt: integer().notNull(),
    type: text().notNull(),
    actorId: text(),
    userId: text(),
    organisationId: text(),
    sessionId: text(),
    ipAddress: text(),
    /** JSON object with event-specific facts; never secrets. */
    details: text().notNull().default("{}"),
  },
  // ListAuditEvents reads newest first with `id` as the tie-break, alone or
  // narrowed to one user, actor, organisation or type: each index ends with
  // (occurred_at, id) so a page is an index range, never a sort.
  (t) => [
    index("audit_events_occurred_at_idx").on(t.occurredAt, t.id),
    index("audit_events_user_idx").on(t.userId, t.occurredAt, t.id),
    index("audit_events_actor_idx").on(t.actorId, t.occurredAt, t.id),
    index("audit_events_organisation_idx").on(t.organisationId, t.occurredAt, t.id),
    index("audit_events_type_idx").on(t.type, t.occurredAt, t.id),
  ],
);
