import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./users.js";

export const codePurposes = ["email_verification", "phone_verification", "password_reset", "mfa_email", "mfa_sms"] as const;

/**
 * One-time codes sent by email or SMS, stored hashed. A code is bound to the
 * address it was sent to, dies after a few wrong attempts, and is used once.
 */
export const verificationCodes = sqliteTable(
  "verification_codes",
  {
    id: text().primaryKey(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    purpose: text({ enum: codePurposes }).notNull(),
    /** The address the code was sent to; a change of address voids it. */
    target: text().notNull(),
    codeHash: text().notNull(),
    attempts: integer().notNull().default(0),
    createdAt: integer().notNull(),
    expiresAt: integer().notNull(),
    consumedAt: integer(),
  },
  (t) => [index("verification_codes_user_idx").on(t.userId, t.purpose, t.createdAt)],
);
