/**
 * The ListUsers contract for the listing toolkit: the fields callers may
 * filter and order on, as documented on ListUsersRequest. The store maps the
 * same names to columns (USER_COLUMNS).
 */
import type { FilterSchema } from "../listing/filter.js";

export const USER_FILTER_SCHEMA: FilterSchema = {
  id: "string",
  email: "string",
  name: "string",
  locale: "string",
  title: "string",
  department: "string",
  state: { enum: { ACTIVE: "active", SUSPENDED: "suspended", BLOCKED: "blocked" } },
  suspended: "bool",
  blocked: "bool",
  email_verified: "bool",
  created_at: "timestamp",
  updated_at: "timestamp",
};

export const USER_ORDER_FIELDS = ["name", "email", "created_at", "updated_at"] as const;

export const DEFAULT_USER_ORDER = "created_at";
