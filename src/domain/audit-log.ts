/**
 * The ListAuditEvents contract for the listing toolkit: the fields callers
 * may filter on, as documented on ListAuditEventsRequest, and the fixed
 * order (newest first, the id breaking ties). The store maps the same names
 * to columns (AUDIT_EVENT_COLUMNS).
 */
import type { FilterSchema } from "./listing/filter.js";
import type { OrderTerm } from "./listing/order-by.js";

export const AUDIT_EVENT_FILTER_SCHEMA: FilterSchema = {
  type: "string",
  user_id: "string",
  actor_id: "string",
  organisation_id: "string",
  occurred_at: "timestamp",
};

export const AUDIT_EVENT_ORDER: readonly OrderTerm[] = [
  { field: "occurred_at", descending: true },
  { field: "id", descending: true },
];
