import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { sessions } from "./sessions.js";

/**
 * Refresh tokens, stored as SHA-256 hashes. Each one is used at most once:
 * rotation sets consumed_at and successor_id in one guarded update.
 */
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    id: text().primaryKey(),
    sessionId: text()
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    tokenHash: text().notNull().unique(),
    createdAt: integer().notNull(),
    /** Idle expiry: the token dies unused at this time. */
    expiresAt: integer().notNull(),
    consumedAt: integer(),
    successorId: text(),
    /**
     * The successor token pair, AES-GCM encrypted under a key derived from
     * this token's plaintext (base64url), so that a retry within the grace window can be
     * answered with the same pair while the database alone can decrypt nothing.
     */
    successorSealed: text(),
  },
  (t) => [index("refresh_tokens_session_idx").on(t.sessionId)],
);
