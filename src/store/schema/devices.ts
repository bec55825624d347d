import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { licenses } from "./licensing.js";
import { organisations } from "./organisations.js";

/** A device of an organisation; its credential is stored as a SHA-256 hash. */
export const devices = sqliteTable(
  "devices",
  {
    id: text().primaryKey(),
    organisationId: text()
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    name: text().notNull(),
    serial: text().notNull(),
    credentialHash: text().notNull(),
    createdAt: integer().notNull(),
    lastSeenAt: integer(),
  },
  (t) => [uniqueIndex("devices_organisation_serial_idx").on(t.organisationId, t.serial), index("devices_organisation_name_idx").on(t.organisationId, t.name, t.id)],
);

/** Seats: which device holds a seat of which licence. */
export const deviceLicenses = sqliteTable(
  "device_licenses",
  {
    deviceId: text()
      .notNull()
      .references(() => devices.id, { onDelete: "cascade" }),
    licenseId: text()
      .notNull()
      .references(() => licenses.id, { onDelete: "cascade" }),
    assignedAt: integer().notNull(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.licenseId] }), index("device_licenses_license_idx").on(t.licenseId)],
);

/**
 * A signed-in device: one refresh-token family, like a user's session.
 * Deleting the device ends its sessions.
 */
export const deviceSessions = sqliteTable(
  "device_sessions",
  {
    id: text().primaryKey(),
    deviceId: text()
      .notNull()
      .references(() => devices.id, { onDelete: "cascade" }),
    organisationId: text().notNull(),
    ipAddress: text().notNull(),
    userAgent: text().notNull(),
    createdAt: integer().notNull(),
    lastUsedAt: integer().notNull(),
    expiresAt: integer().notNull(),
    revokedAt: integer(),
    revokedReason: text(),
  },
  (t) => [index("device_sessions_device_idx").on(t.deviceId)],
);

/** Refresh tokens of device sessions; rotated exactly as users' are. */
export const deviceRefreshTokens = sqliteTable(
  "device_refresh_tokens",
  {
    id: text().primaryKey(),
    sessionId: text()
      .notNull()
      .references(() => deviceSessions.id, { onDelete: "cascade" }),
    tokenHash: text().notNull().unique(),
    createdAt: integer().notNull(),
    expiresAt: integer().notNull(),
    consumedAt: integer(),
    successorId: text(),
    successorSealed: text(),
  },
  (t) => [index("device_refresh_tokens_session_idx").on(t.sessionId)],
);

/**
 * A pending RFC 8628 device authorization. Codes are stored hashed; the
 * user code is short, so approvals are rate-limited per caller.
 */
export const deviceAuthorizations = sqliteTable(
  "device_authorizations",
  {
  id: text().primaryKey(),
  deviceCodeHash: text().notNull().unique(),
  userCodeHash: text().notNull().unique(),
  deviceName: text().notNull(),
  serial: text().notNull(),
  /** "pending", "approved", "denied" or "collected". */
  status: text({ enum: ["pending", "approved", "denied", "collected"] }).notNull(),
  organisationId: text(),
  deviceId: text(),
  approvedBy: text(),
  intervalSeconds: integer().notNull(),
  lastPolledAt: integer(),
  createdAt: integer().notNull(),
  expiresAt: integer().notNull(),
  },
  // Housekeeping deletes long-expired rows by this.
  (t) => [index("device_authorizations_expires_idx").on(t.expiresAt)],
);
