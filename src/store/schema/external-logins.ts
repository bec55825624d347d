import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { users } from "./users.js";

/**
 * An account at an upstream OpenID provider linked to a user: the pair
 * (provider, subject) names it for good, whatever the provider later says
 * about the email address. `claims` keeps the provider's last profile (name,
 * email, picture) as JSON for display.
 */
export const externalIdentities = sqliteTable(
  "external_identities",
  {
    id: text().primaryKey(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The configured provider id, e.g. "google". */
    provider: text().notNull(),
    /** The provider's `sub` claim. */
    subject: text().notNull(),
    email: text().notNull().default(""),
    emailVerified: integer({ mode: "boolean" }).notNull().default(false),
    claims: text().notNull().default("{}"),
    /** The external login that linked this identity also created the user. */
    createdUser: integer({ mode: "boolean" }).notNull().default(false),
    createdAt: integer().notNull(),
    lastSignInAt: integer().notNull(),
  },
  (t) => [uniqueIndex("external_identities_provider_subject_idx").on(t.provider, t.subject), index("external_identities_user_idx").on(t.userId)],
);

/**
 * One started external login. The state is stored hashed and bound to the
 * provider and the exact redirect URL; the PKCE verifier and the nonce are
 * sealed with the key-encryption key, because the code exchange needs them
 * back. The row is consumed once, by a guarded update. When the browser came
 * back through this server's own callback, the exchange is done there and a
 * second single-use code (the hand-off code, also hashed) lets the front end
 * fetch the outcome.
 */
export const externalLoginStates = sqliteTable(
  "external_login_states",
  {
    id: text().primaryKey(),
    /** SHA-256 of the state. */
    stateHash: text().notNull().unique(),
    provider: text().notNull(),
    redirectUrl: text().notNull(),
    codeVerifierSealed: text().notNull(),
    nonceSealed: text().notNull(),
    createdAt: integer().notNull(),
    expiresAt: integer().notNull(),
    /** Set when the provider's authorization code was redeemed. */
    consumedAt: integer(),
    /** SHA-256 of the hand-off code, once the callback has signed the user in. */
    handoffCodeHash: text(),
    /** The user the callback identified; tokens are issued to the hand-off. */
    handoffUserId: text().references(() => users.id, { onDelete: "cascade" }),
    handoffExpiresAt: integer(),
    handoffConsumedAt: integer(),
  },
  (t) => [index("external_login_states_expires_idx").on(t.expiresAt)],
);
