/**
 * The store over `@libsql/client` clients, on any runtime: a remote libSQL
 * primary (Node through `@libsql/client`, the Worker through
 * `@libsql/client/web`), and the routing of an embedded replica, where reads
 * come from the local copy and everything else goes to the primary.
 *
 * Nothing here loads a native module, so the Worker bundle can use it.
 */
import type { Client, InStatement, InArgs, TransactionMode } from "@libsql/client";
import { sql } from "drizzle-orm";
// The web entry, not drizzle-orm/libsql: that one imports the Node client,
// which would pull a native module into the Worker bundle.
import { drizzle } from "drizzle-orm/libsql/web";
import type { Database, DatabaseMode } from "./database.js";

/** How a libSQL URL (and an optional sync URL) is served. */
export function libsqlModeOf(url: string, syncUrl?: string): Exclude<DatabaseMode, "d1"> {
  if (syncUrl) return "replica";
  if (url === ":memory:") return "memory";
  return url.startsWith("file:") ? "file" : "remote";
}

/** Requests a remote client keeps in flight at once; each is one HTTP request. */
export const REMOTE_CONCURRENCY = 20;

/**
 * Batches start as write transactions (BEGIN IMMEDIATE): the lock is taken
 * before the first statement, so a batch never fails half-way because a
 * concurrent writer moved the snapshot it read.
 */
export function preferWriteBatches(client: Client): void {
  const batch = client.batch.bind(client);
  client.batch = (stmts, mode = "write") => batch(stmts, mode);
}

export interface ClientDatabaseOptions {
  mode: Exclude<DatabaseMode, "d1">;
  /** Where plain reads go; `primary` unless a replica serves them. */
  reads?: Client;
  /** Milliseconds since the replica last caught up with the primary. */
  replicaLagMs?: () => number;
  close?: () => void;
}

/**
 * The store handle over a client that reaches the primary. With `reads`, the
 * handle's `db` routes plain reads there (see createRoutingClient) while
 * `primary` and `batch` always reach the primary.
 */
export function databaseOverClient(primary: Client, options: ClientDatabaseOptions): Database {
  preferWriteBatches(primary);
  const primaryDb = drizzle(primary, { casing: "snake_case" });
  const db = options.reads ? drizzle(options.reads, { casing: "snake_case" }) : primaryDb;
  return {
    db,
    primary: primaryDb,
    mode: options.mode,
    // Through `db`: with a replica, its batch reaches the primary and then lets the replica catch up.
    batch: (queries) => db.batch(queries),
    ping: async () => {
      await primaryDb.run(sql`select 1`);
    },
    replicaLagMs: options.replicaLagMs,
    close: options.close ?? (() => primary.close()),
  };
}

/** A remote libSQL primary: every statement and batch is one HTTP request to it. */
export function openRemote(createClient: (config: { url: string; authToken?: string; concurrency?: number }) => Client, options: { url: string; authToken?: string | undefined }): Database {
  const client = createClient({ url: options.url, authToken: options.authToken, concurrency: REMOTE_CONCURRENCY });
  return databaseOverClient(client, { mode: "remote" });
}

/** Whether a statement only reads: drizzle's reads start with `select`; anything else (CTEs included) is treated as a write. */
export function isPlainRead(sql: string): boolean {
  return /^\s*select\b/i.test(sql);
}

/**
 * A client for drizzle that sends plain reads (`select …` run alone) to
 * `replica` and everything else to `primary`: writes, batches (whose
 * conditional statements decide races), migrations and transactions. After
 * each write, `afterWrite` runs before the call returns, so the replica can
 * catch up and this process reads its own writes.
 */
export function createRoutingClient(primary: Client, replica: Client, afterWrite: () => Promise<void>): Client {
  const sqlOf = (stmt: InStatement | string) => (typeof stmt === "string" ? stmt : stmt.sql);
  const written = async <T>(result: Promise<T>): Promise<T> => {
    const value = await result;
    await afterWrite();
    return value;
  };
  const routing: Partial<Client> = {
    protocol: primary.protocol,
    execute: ((stmtOrSql: InStatement | string, args?: InArgs) => {
      if (isPlainRead(sqlOf(stmtOrSql))) return typeof stmtOrSql === "string" ? replica.execute(stmtOrSql, args) : replica.execute(stmtOrSql);
      return written(typeof stmtOrSql === "string" ? primary.execute(stmtOrSql, args) : primary.execute(stmtOrSql));
    }) as Client["execute"],
    batch: (stmts: Array<InStatement | [string, InArgs?]>, mode: TransactionMode = "write") => written(primary.batch(stmts, mode)),
    migrate: (stmts: InStatement[]) => written(primary.migrate(stmts)),
    transaction: (mode?: TransactionMode) => primary.transaction(mode),
    executeMultiple: (sql: string) => written(primary.executeMultiple(sql)),
    sync: () => replica.sync(),
    reconnect: async () => {
      await primary.reconnect();
      await replica.reconnect();
    },
    close: () => {
      primary.close();
      replica.close();
    },
  };
  Object.defineProperty(routing, "closed", { get: () => primary.closed || replica.closed });
  return routing as Client;
}
