import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./users.js";

/**
 * A signed-in session: one refresh-token family. Revoking the session ends
 * every refresh token of the family and makes its access tokens inactive.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text().primaryKey(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    deviceName: text().notNull(),
    ipAddress: text().notNull(),
    userAgent: text().notNull(),
    keepLoggedIn: integer({ mode: "boolean" }).notNull(),
    /** The session's active organisation; access tokens of the session name it. */
    organisationId: text(),
    createdAt: integer().notNull(),
    lastUsedAt: integer().notNull(),
    /** Absolute end of the session, however often it is refreshed. */
    expiresAt: integer().notNull(),
    revokedAt: integer(),
    revokedReason: text(),
  },
  (t) => [index("sessions_user_idx").on(t.userId, t.createdAt, t.id)],
);
