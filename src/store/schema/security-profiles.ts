import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Tunable security policy. One row named "default" always exists (created
 * by the first migration); organisations may point at others.
 */
export const securityProfiles = sqliteTable("security_profiles", {
  id: text().primaryKey(),
  name: text().notNull().unique(),
  passwordMinLength: integer().notNull(),
  passwordMinScore: integer().notNull(),
  passwordHistoryLength: integer().notNull(),
  mfaRequired: integer({ mode: "boolean" }).notNull(),
  lockoutThreshold: integer().notNull(),
  lockoutWindowSeconds: integer().notNull(),
  accessTokenTtlSeconds: integer().notNull(),
  refreshIdleTtlSeconds: integer().notNull(),
  refreshAbsoluteTtlSeconds: integer().notNull(),
  keepLoggedInIdleTtlSeconds: integer().notNull(),
  keepLoggedInAbsoluteTtlSeconds: integer().notNull(),
  refreshGraceSeconds: integer().notNull(),
  createdAt: integer().notNull(),
  updatedAt: integer().notNull(),
});
