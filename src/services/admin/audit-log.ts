/**
 * ListAuditEvents: the audit log newest first, filtered and paged with the
 * listing toolkit (src/domain/listing, src/store/listing-sql.ts), as
 * ListUsers is.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AuditEventSchema, type AuditEvent } from "../../../gen/latchkey/admin/v1/audit_event_pb.js";
import { AUDIT_EVENT_FILTER_SCHEMA, AUDIT_EVENT_ORDER } from "../../domain/audit-log.js";
import { invalidField } from "../../domain/errors.js";
import { parseFilter } from "../../domain/listing/filter.js";
import { decodePageToken, encodePageToken, listQueryHash, pageSize, type CursorValue } from "../../domain/listing/page-token.js";
import { toWhere } from "../../store/listing-sql.js";
import { AUDIT_EVENT_COLUMNS, listAuditEvents, type AuditEventRow } from "../../store/queries/audit-events.js";
import type { ServiceDeps } from "../deps.js";
import type { AdminHandlers } from "./index.js";

function detailsOf(text: string): JsonObject {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as JsonObject) : {};
  } catch {
    return {};
  }
}

export function toProtoAuditEvent(row: AuditEventRow): AuditEvent {
  return create(AuditEventSchema, {
    id: row.id,
    occurredAt: timestampFromMs(row.occurredAt),
    type: row.type,
    actorId: row.actorId ?? "",
    userId: row.userId ?? "",
    organisationId: row.organisationId ?? "",
    ipAddress: row.ipAddress ?? "",
    details: detailsOf(row.details),
  });
}

function cursorOf(row: AuditEventRow): CursorValue[] {
  const values: Record<string, CursorValue> = { occurred_at: row.occurredAt, id: row.id };
  return AUDIT_EVENT_ORDER.map((term) => values[term.field]!);
}

export function createAuditLogHandlers(deps: ServiceDeps): AdminHandlers<"listAuditEvents"> {
  const db = deps.database.db;
  return {
    async listAuditEvents(req) {
      const limit = pageSize(req.pageSize);
      const filter = parseFilter(req.filter, AUDIT_EVENT_FILTER_SCHEMA);
      const queryHash = await listQueryHash({ collection: "audit_events", filter, orderBy: AUDIT_EVENT_ORDER });
      const after = req.pageToken ? (await decodePageToken(req.pageToken, deps.pageTokenKey, queryHash)).after : undefined;
      if (after && (after.length !== AUDIT_EVENT_ORDER.length || typeof after[0] !== "number" || typeof after[1] !== "string")) {
        throw invalidField("page_token", "is not a valid page token; start again without page_token");
      }
      // One row more than the page tells whether another page follows.
      const rows = await listAuditEvents(db, toWhere(filter, AUDIT_EVENT_COLUMNS), AUDIT_EVENT_ORDER, { limit: limit + 1, after });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        events: page.map(toProtoAuditEvent),
        nextPageToken: rows.length > limit && last ? await encodePageToken({ queryHash, after: cursorOf(last) }, deps.pageTokenKey) : "",
      };
    },
  };
}
