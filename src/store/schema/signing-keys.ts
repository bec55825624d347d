import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Token signing keys; the private half is AES-GCM encrypted with the key-encryption key. */
export const signingKeys = sqliteTable("signing_keys", {
  kid: text().primaryKey(),
  alg: text().notNull(),
  publicJwk: text().notNull(),
  privateJwkSealed: text().notNull(),
  createdAt: integer().notNull(),
  /** When the key stopped signing; it stays in the JWKS until published_until. */
  retiredAt: integer(),
  /** After this time the key is no longer published nor accepted. */
  publishedUntil: integer(),
});
