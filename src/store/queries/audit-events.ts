import type { Db } from "../database.js";
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

export function insertAuditEvent(db: Db, event: AuditEventInput) {
  return db.insert(auditEvents).values({ ...event, details: JSON.stringify(event.details ?? {}) });
}
