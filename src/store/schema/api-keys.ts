import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { users } from "./users.js";

/**
 * API keys: only SHA-256 hashes of the key and the client secret are kept,
 * with the visible prefix for recognising and finding a key.
 */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text().primaryKey(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    organisationId: text(),
    name: text().notNull(),
    description: text().notNull().default(""),
    prefix: text().notNull().unique(),
    keyHash: text().notNull().unique(),
    clientSecretHash: text().notNull(),
    /** JSON array of permission names. */
    permissions: text().notNull(),
    createdAt: integer().notNull(),
    expiresAt: integer(),
    revokedAt: integer(),
    lastUsedAt: integer(),
  },
  (t) => [
    index("api_keys_user_idx").on(t.userId, t.createdAt),
    index("api_keys_organisation_idx").on(t.organisationId, t.createdAt),
    // Names are unique among a user's live keys; a revoked key frees its name.
    uniqueIndex("api_keys_user_name_idx").on(t.userId, t.name).where(sql`revoked_at IS NULL`),
  ],
);
