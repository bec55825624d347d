/**
 * `npm run migrate`: applies the named migrations of src/store/migrations to
 * the libSQL database of DATABASE_URL (a file, a remote primary with
 * DATABASE_AUTH_TOKEN, or the primary behind a replica's DATABASE_SYNC_URL),
 * and exits. The Node server applies them at start-up too; this is for
 * databases a Worker serves, or to migrate ahead of a rolling deploy. D1
 * takes the same files through `npm run migrate:d1`
 * (`wrangler d1 migrations apply`).
 */
import { sql } from "drizzle-orm";
import { fileURLToPath } from "node:url";
import { loadConfig, type Env } from "../config.js";
import { openLibsql } from "../store/open-libsql.js";

export async function migrateDatabase(env: Env): Promise<{ mode: string; applied: number }> {
  const config = loadConfig(env);
  const database = await openLibsql({
    url: config.databaseUrl,
    syncUrl: config.databaseSyncUrl,
    authToken: config.databaseAuthToken,
    migrationsFolder: fileURLToPath(new URL("../store/migrations", import.meta.url)),
  });
  try {
    const rows = await database.primary.all<{ n: number }>(sql`SELECT count(*) AS n FROM __drizzle_migrations`);
    return { mode: database.mode, applied: Number(rows[0]?.n ?? 0) };
  } finally {
    database.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  migrateDatabase(process.env).then(
    ({ mode, applied }) => console.log(JSON.stringify({ event: "migrated", database: mode, migrations: applied })),
    (error: unknown) => {
      console.error(JSON.stringify({ event: "migrate_failed", error: error instanceof Error ? error.message : String(error) }));
      process.exit(1);
    },
  );
}
