import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./users.js";

/**
 * A user's authenticator app (RFC 6238). The secret is AES-GCM sealed with
 * the key-encryption key. `lastUsedStep` is the highest 30-second step whose
 * code was accepted: a code is accepted only by a guarded update that raises
 * it, so a code (or an earlier one) never works twice, also not for two
 * requests racing with it.
 */
export const totpFactors = sqliteTable("totp_factors", {
  userId: text()
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  secretSealed: text().notNull(),
  /** Null while enrolled but not yet confirmed with a first code. */
  confirmedAt: integer(),
  lastUsedStep: integer().notNull().default(0),
  createdAt: integer().notNull(),
});

/** Single-use recovery codes, issued in sets of ten when TOTP is confirmed; stored hashed. */
export const recoveryCodes = sqliteTable(
  "recovery_codes",
  {
    id: text().primaryKey(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text().notNull(),
    createdAt: integer().notNull(),
    usedAt: integer(),
  },
  (t) => [index("recovery_codes_user_idx").on(t.userId)],
);

/**
 * A sign-in that passed the password check and waits for a second factor.
 * The token is single-use (consumed by a guarded update), short-lived, and
 * dies after a few wrong codes; it is good for nothing but completing itself.
 */
export const mfaChallenges = sqliteTable(
  "mfa_challenges",
  {
    id: text().primaryKey(),
    /** SHA-256 of the challenge token. */
    tokenHash: text().notNull().unique(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** JSON array of the methods offered, e.g. ["totp","recovery_code"]. */
    methods: text().notNull(),
    keepLoggedIn: integer({ mode: "boolean" }).notNull(),
    deviceName: text().notNull(),
    ipAddress: text().notNull(),
    userAgent: text().notNull(),
    attempts: integer().notNull().default(0),
    createdAt: integer().notNull(),
    expiresAt: integer().notNull(),
    consumedAt: integer(),
  },
  (t) => [index("mfa_challenges_user_idx").on(t.userId)],
);

/** Earlier password hashes of a user, newest kept up to the profile's history length. */
export const passwordHistory = sqliteTable(
  "password_history",
  {
    id: text().primaryKey(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    passwordHash: text().notNull(),
    createdAt: integer().notNull(),
  },
  (t) => [index("password_history_user_idx").on(t.userId, t.createdAt)],
);
