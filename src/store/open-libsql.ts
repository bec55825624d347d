import { createClient, type Client, type Config as ClientConfig } from "@libsql/client";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import type { Database, DatabaseMode } from "./database.js";
import { schema } from "./database.js";

export interface LibsqlOptions {
  url: string;
  syncUrl?: string | undefined;
  authToken?: string | undefined;
  /** Applies the named migrations of this folder before returning. */
  migrationsFolder?: string | undefined;
}

function modeOf(options: LibsqlOptions): DatabaseMode {
  if (options.url === ":memory:") return "memory";
  if (options.syncUrl) return "replica";
  return options.url.startsWith("file:") ? "file" : "remote";
}

/**
 * Opens a libSQL database on Node: a local file (WAL, busy timeout, foreign
 * keys), an in-memory database, a remote primary, or an embedded replica.
 */
export async function openLibsql(options: LibsqlOptions): Promise<Database> {
  const mode = modeOf(options);
  const config: ClientConfig = {
    url: options.url,
    authToken: options.authToken,
    syncUrl: options.syncUrl,
    // One connection: statements run synchronously on the event loop, so a
    // second connection would add lock contention and nothing else, and the
    // per-connection pragmas below hold for every statement.
    concurrency: 1,
    timeout: 5000,
  } as ClientConfig;
  const client = createClient(config);
  if (mode === "file" || mode === "memory") {
    await client.execute("PRAGMA journal_mode = WAL");
    await client.execute("PRAGMA synchronous = NORMAL");
    await client.execute("PRAGMA busy_timeout = 5000");
  }
  await client.execute("PRAGMA foreign_keys = ON");
  preferWriteBatches(client);
  const db = drizzle(client, { schema, casing: "snake_case" });
  if (options.migrationsFolder) await migrate(db, { migrationsFolder: options.migrationsFolder });
  return {
    db,
    mode,
    batch: (queries) => db.batch(queries),
    ping: async () => {
      await db.run(sql`select 1`);
    },
    close: () => client.close(),
  };
}

/**
 * Batches start as write transactions (BEGIN IMMEDIATE): the lock is taken
 * before the first statement, so a batch never fails half-way because a
 * concurrent writer moved the snapshot it read.
 */
function preferWriteBatches(client: Client): void {
  const batch = client.batch.bind(client);
  client.batch = (stmts, mode = "write") => batch(stmts, mode);
}
