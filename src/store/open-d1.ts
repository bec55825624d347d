import type { D1Database } from "@cloudflare/workers-types/index.js";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Database } from "./database.js";

/**
 * Wraps a Worker's D1 binding in the store handle. Migrations are not applied
 * here: D1 databases are migrated ahead of deploys with
 * `wrangler d1 migrations apply`, from the same folder drizzle-kit writes.
 *
 * D1 enforces foreign keys on every connection and runs each `batch` as one
 * transaction, so the guarantees of `Database` hold without extra pragmas.
 */
export function openD1(binding: D1Database): Database {
  const db = drizzle(binding, { casing: "snake_case" });
  return {
    db,
    // D1 reads and writes reach the one primary of the database.
    primary: db,
    mode: "d1",
    batch: (queries) => db.batch(queries),
    ping: async () => {
      await db.run(sql`select 1`);
    },
    // The binding belongs to the isolate, not to us: nothing to release.
    close: () => {},
  };
}
