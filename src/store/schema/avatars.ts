import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { users } from "./users.js";

/** Avatar images (base64, at most 1 MiB decoded), one per user. */
export const avatars = sqliteTable("avatars", {
  userId: text()
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  contentType: text().notNull(),
  sizeBytes: integer().notNull(),
  /** SHA-256 of the image, hex; the ETag. */
  etag: text().notNull(),
  data: text().notNull(),
  updatedAt: integer().notNull(),
});
