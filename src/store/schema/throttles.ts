import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Counters of failures and sends that rate-limit and lock out, kept in the
 * database so that limits hold across processes, restarts and Worker
 * isolates. A key names what is counted, e.g. "sign_in:user:<id>" or
 * "sign_in:address:<ip>". Updates are single guarded statements, so
 * concurrent requests never lose a count.
 */
export const throttles = sqliteTable("throttles", {
  key: text().primaryKey(),
  /** Events counted since windowStartedAt. */
  hits: integer().notNull(),
  windowStartedAt: integer().notNull(),
  /** Until when the key is refused; null when it is not. */
  blockedUntil: integer(),
  /** How many times the key has been blocked in a row: each block lasts twice the one before. */
  strikes: integer().notNull().default(0),
  updatedAt: integer().notNull(),
});
