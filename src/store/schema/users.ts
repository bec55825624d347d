import { desc } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { securityProfiles } from "./security-profiles.js";

export const userStates = ["active", "suspended", "blocked"] as const;
export type UserStateValue = (typeof userStates)[number];

export const users = sqliteTable(
  "users",
  {
    id: text().primaryKey(),
    /** Lower-cased and NFC-normalised; the unique index makes registration race-safe. */
    email: text().notNull().unique(),
    name: text().notNull(),
    phoneNumber: text(),
    locale: text().notNull(),
    newsletter: integer({ mode: "boolean" }).notNull(),
    title: text().notNull().default(""),
    department: text().notNull().default(""),
    /** PHC string of the argon2id hash. */
    passwordHash: text().notNull(),
    /**
     * False for a user created by an external login: the hash is then of a
     * random secret nobody knows, until a password reset sets a real one.
     */
    passwordSet: integer({ mode: "boolean" }).notNull().default(true),
    state: text({ enum: userStates }).notNull(),
    superAdmin: integer({ mode: "boolean" }).notNull(),
    emailVerifiedAt: integer(),
    phoneVerifiedAt: integer(),
    /** Sign-in codes by email are switched on as a second factor. */
    mfaEmailEnabled: integer({ mode: "boolean" }).notNull().default(false),
    /** Sign-in codes by SMS (to the verified phone number) are switched on. */
    mfaSmsEnabled: integer({ mode: "boolean" }).notNull().default(false),
    activeOrganisationId: text(),
    securityProfileId: text()
      .notNull()
      .references(() => securityProfiles.id),
    createdAt: integer().notNull(),
    updatedAt: integer().notNull(),
  },
  // ListUsers orders by `created_at` (the default) or `name,-created_at`, and
  // always ends with `id`: with the id in the index, a page is read in index
  // order and the keyset seek of the next page lands on it directly.
  (t) => [
    index("users_created_at_idx").on(t.createdAt, t.id),
    index("users_name_idx").on(t.name, desc(t.createdAt), t.id),
    index("users_updated_at_idx").on(t.updatedAt, t.id),
  ],
);
