import {
  createClient,
  LibsqlError,
  type Client,
  type Config as ClientConfig,
  type InArgs,
  type InStatement,
  type InValue,
  type ResultSet,
  type Row,
  type Transaction,
  type TransactionMode,
  type Value,
} from "@libsql/client";
import Libsql from "libsql";
import type { LibSQLDatabase } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import type { Database } from "./database.js";
import { REMOTE_CONCURRENCY, createRoutingClient, databaseOverClient, libsqlModeOf, openRemote } from "./open-remote.js";

export interface LibsqlOptions {
  url: string;
  syncUrl?: string | undefined;
  authToken?: string | undefined;
  /** Applies the named migrations of this folder before returning. */
  migrationsFolder?: string | undefined;
  /** Replica mode: how often the replica pulls from the primary (default 1 s). */
  syncIntervalMs?: number | undefined;
}

/** Replica mode: the default period of pulls from the primary, which bounds how stale a plain read can be. */
export const DEFAULT_SYNC_INTERVAL_MS = 1000;

/** The path the `libsql` driver opens for a `file:` URL or `:memory:`. */
export function localPath(url: string): string {
  if (url === ":memory:") return url;
  const withoutQuery = url.replace(/[?#].*$/, "");
  const rest = withoutQuery.slice("file:".length);
  // file:///abs/path and file://localhost/abs/path name an absolute path.
  const path = rest.startsWith("//") ? rest.slice(2 + Math.max(0, rest.slice(2).indexOf("/"))) : rest;
  return decodeURIComponent(path);
}

/**
 * Opens a libSQL database on Node:
 * - `file:` and `:memory:`: one local connection that keeps its statements
 *   prepared (createLocalClient), WAL, busy timeout, foreign keys;
 * - a remote primary (`libsql:`, `https:`, `http:`, `ws:`, `wss:`) through
 *   `@libsql/client`: every statement and batch reaches the primary;
 * - an embedded replica (`file:` URL plus `syncUrl`): a local copy that
 *   pulls from the primary every `syncIntervalMs` and after each of this
 *   process's writes; plain reads are served from it, while writes, batches
 *   and `Database.primary` reads go to the primary over a second, remote
 *   client.
 */
export async function openLibsql(options: LibsqlOptions): Promise<Database> {
  const mode = libsqlModeOf(options.url, options.syncUrl);
  let database: Database;
  if (mode === "file" || mode === "memory") {
    const client = createLocalClient(localPath(options.url), { timeoutMs: 5000 });
    await client.execute("PRAGMA journal_mode = WAL");
    await client.execute("PRAGMA synchronous = NORMAL");
    await client.execute("PRAGMA busy_timeout = 5000");
    await client.execute("PRAGMA foreign_keys = ON");
    // SQLite's default 2 MB page cache holds too little of an organisation's
    // listing indexes once it has many thousand licences or members: a
    // lookup per found key then mostly re-reads pages from the OS.
    await client.execute("PRAGMA cache_size = -16384");
    database = databaseOverClient(client, { mode });
  } else if (mode === "remote") {
    // A libSQL server opens a connection per stream, so a connection pragma
    // sent now would not hold for later requests; libSQL enforces foreign
    // keys on new connections by default.
    database = openRemote(createClient, { url: options.url, authToken: options.authToken });
  } else {
    database = await openReplica({ ...options, syncUrl: options.syncUrl! });
  }
  try {
    if (options.migrationsFolder) await migrate(database.db as LibSQLDatabase, { migrationsFolder: options.migrationsFolder });
  } catch (error) {
    database.close();
    throw error;
  }
  return database;
}

async function openReplica(options: LibsqlOptions & { syncUrl: string }): Promise<Database> {
  const primary = createClient({ url: options.syncUrl, authToken: options.authToken, concurrency: REMOTE_CONCURRENCY });
  // The replica client pulls only when asked (no syncInterval), so the time
  // of the last successful pull is known here and GetSystemInfo can report it.
  // Creating it performs the first handshake with the primary synchronously,
  // blocking the event loop until the primary answers: at start-up only.
  const replica = createClient({ url: options.url, syncUrl: options.syncUrl, authToken: options.authToken } as ClientConfig);
  let lastSyncAt = 0;
  let syncing: Promise<void> | undefined;
  const sync = (): Promise<void> => {
    syncing ??= replica
      .sync()
      .then(() => {
        lastSyncAt = Date.now();
      })
      .finally(() => {
        syncing = undefined;
      });
    return syncing;
  };
  try {
    await sync();
  } catch (error) {
    primary.close();
    replica.close();
    throw new Error(`the embedded replica could not sync from DATABASE_SYNC_URL: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const timer = setInterval(() => {
    // A failed pull leaves lastSyncAt alone: the lag GetSystemInfo reports grows.
    sync().catch(() => undefined);
  }, options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS);
  timer.unref();
  return databaseOverClient(primary, {
    mode: "replica",
    // A write has committed once the primary answered: a failed pull after
    // it must not fail the call (the caller could repeat the write). The lag
    // reported grows until a pull succeeds.
    // A pull already under way may have started before the write committed:
    // wait for it, then pull again, so this process reads its own writes.
    reads: createRoutingClient(primary, replica, async () => {
      await syncing?.catch(() => undefined);
      await sync().catch(() => undefined);
    }),
    replicaLagMs: () => Date.now() - lastSyncAt,
    close: () => {
      clearInterval(timer);
      primary.close();
      replica.close();
    },
  });
}

/** Statements kept prepared on a local connection; the least recently used is dropped first. */
const STATEMENT_CACHE_SIZE = 256;

interface CachedStatement {
  statement: Libsql.Statement;
  /** Result column names and declared types; undefined for a statement that returns no rows. */
  columns: string[] | undefined;
  columnTypes: string[];
  /** Builds a row of this statement's result from its converted values. */
  makeRow: (values: Value[]) => Row;
  /**
   * A SELECT ending in `LIMIT ?`: when that last argument is 1 the statement
   * is stepped once (`get`), which costs about half of collecting all rows.
   */
  endsInLimit: boolean;
}

type SqlValue = null | string | number | bigint | Buffer;

/**
 * A libSQL client for a local file or in-memory database on one connection
 * of the `libsql` driver, which keeps each statement prepared after its first
 * use. `@libsql/client` prepares every statement again on every call (and
 * reads its columns each time), which costs more than running a point query.
 *
 * It implements what drizzle's libSQL driver and this store use: `execute`,
 * `batch` (one transaction, BEGIN IMMEDIATE by default), `migrate` and
 * `close`. Rows, values and errors have the same shape as `@libsql/client`'s
 * with `intMode: "number"`. Interactive transactions are not offered: the
 * store commits through batches only (see Database).
 */
export function createLocalClient(path: string, options: { timeoutMs: number }): Client {
  const connection = new Libsql(path, { timeout: options.timeoutMs });
  const statements = new Map<string, CachedStatement>();
  let closed = false;

  function prepare(sql: string): CachedStatement {
    const cached = statements.get(sql);
    if (cached) {
      statements.delete(sql);
      statements.set(sql, cached);
      return cached;
    }
    const statement = connection.prepare(sql);
    statement.safeIntegers(true);
    let prepared: CachedStatement;
    if (statement.reader) {
      statement.raw(true);
      const described = statement.columns();
      const columns = described.map((c) => c.name);
      prepared = { statement, columns, columnTypes: described.map((c) => c.type ?? ""), makeRow: rowMaker(columns), endsInLimit: endsInLimitParameter(sql) };
    } else {
      prepared = { statement, columns: undefined, columnTypes: [], makeRow: rowMaker([]), endsInLimit: false };
    }
    if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string);
    statements.set(sql, prepared);
    return prepared;
  }

  function run(input: InStatement | string): ResultSet {
    if (closed) throw new LibsqlError("The client is closed", "CLIENT_CLOSED");
    const { sql, args } = typeof input === "string" ? { sql: input, args: [] } : input;
    if (args !== undefined && !Array.isArray(args)) throw new TypeError("named arguments are not supported by the local client");
    const values = (args ?? []).map(toSql);
    const { statement, columns, columnTypes, makeRow, endsInLimit } = prepare(sql);
    if (columns) {
      let rows: Row[];
      if (endsInLimit && isOne(values[values.length - 1])) {
        const first = statement.get(values) as unknown[] | undefined;
        rows = first === undefined ? [] : [makeRow(fromSqlRow(first))];
      } else {
        rows = (statement.all(values) as unknown[][]).map((raw) => makeRow(fromSqlRow(raw)));
      }
      return new LocalResultSet(columns, columnTypes, rows, 0, undefined);
    }
    const info = statement.run(values);
    return new LocalResultSet([], [], [], info.changes, BigInt(info.lastInsertRowid));
  }

  /** Runs `statements` in one transaction opened by `begin`; rolls back on any failure. */
  function inTransaction(begin: string, stmts: Array<InStatement | [string, InArgs?]>): ResultSet[] {
    run(begin);
    try {
      const results = stmts.map((stmt) => run(Array.isArray(stmt) ? { sql: stmt[0], args: stmt[1] ?? [] } : stmt));
      run("COMMIT");
      return results;
    } finally {
      if (connection.open && connection.inTransaction) connection.exec("ROLLBACK");
    }
  }

  const client = {
    protocol: "file",
    get closed() {
      return closed;
    },
    async execute(stmtOrSql: InStatement | string, args?: InArgs) {
      return typeof stmtOrSql === "string" ? run({ sql: stmtOrSql, args: args ?? [] }) : run(stmtOrSql);
    },
    async batch(stmts: Array<InStatement | [string, InArgs?]>, mode: TransactionMode = "deferred") {
      return inTransaction(BEGIN[mode], stmts);
    },
    async migrate(stmts: InStatement[]) {
      run("PRAGMA foreign_keys = OFF");
      try {
        return inTransaction("BEGIN DEFERRED", stmts);
      } finally {
        run("PRAGMA foreign_keys = ON");
      }
    },
    async executeMultiple(sql: string) {
      if (closed) throw new LibsqlError("The client is closed", "CLIENT_CLOSED");
      connection.exec(sql);
    },
    async transaction(): Promise<Transaction> {
      throw new LibsqlError("interactive transactions are not supported here; commit through Database.batch", "TRANSACTION_UNSUPPORTED");
    },
    async sync(): Promise<undefined> {
      return undefined;
    },
    async reconnect() {
      throw new LibsqlError("the local client cannot reconnect", "RECONNECT_UNSUPPORTED");
    },
    close() {
      if (closed) return;
      closed = true;
      statements.clear();
      connection.close();
    },
  };
  return client as unknown as Client;
}

const BEGIN: Record<TransactionMode, string> = { write: "BEGIN IMMEDIATE", read: "BEGIN TRANSACTION READONLY", deferred: "BEGIN DEFERRED" };

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function toSql(value: InValue | undefined): SqlValue {
  switch (typeof value) {
    case "number":
      if (!Number.isFinite(value)) throw new RangeError("Only finite numbers (not Infinity or NaN) can be passed as arguments");
      return value;
    case "boolean":
      return value ? 1 : 0;
    case "undefined":
      throw new TypeError("undefined cannot be passed as argument to the database");
    case "string":
    case "bigint":
      return value;
    default:
      if (value === null) return null;
      if (value instanceof ArrayBuffer) return Buffer.from(value);
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (value instanceof Date) return value.valueOf();
      throw new TypeError(`cannot pass ${Object.prototype.toString.call(value)} to the database`);
  }
}

function fromSql(value: unknown): Value {
  if (typeof value === "bigint") {
    if (value < MIN_SAFE || value > MAX_SAFE) throw new RangeError("Received integer which cannot be safely represented as a JavaScript number");
    return Number(value);
  }
  if (value instanceof Uint8Array) return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) as ArrayBuffer;
  return value as Value;
}

/** Converts a raw row of the driver in place. */
function fromSqlRow(raw: unknown[]): Value[] {
  for (let i = 0; i < raw.length; i++) raw[i] = fromSql(raw[i]);
  return raw as Value[];
}

function isOne(value: SqlValue | undefined): boolean {
  return value === 1 || value === 1n;
}

/**
 * True for a SELECT whose text ends in `LIMIT ?` and whose `?` markers are all
 * plain positional ones, so the last argument is that limit. A statement with
 * comments is left out: a `?` inside one would not be a parameter.
 */
function endsInLimitParameter(sql: string): boolean {
  return /^\s*(?:select|with)\b/i.test(sql) && /\slimit\s+\?\s*;?\s*$/i.test(sql) && !/--|\/\*|\?\d|[:@$][A-Za-z_]/.test(sql);
}

/**
 * Column names that cannot be plain own properties beside indexed access
 * through the prototype: an index-like name would shadow that index,
 * `length` the row length, `__proto__` the prototype itself.
 */
function clashesWithIndexedAccess(name: string): boolean {
  return name === "length" || name === "__proto__" || /^(?:0|[1-9]\d*)$/.test(name);
}

/**
 * Base of the rows of one statement: values are held privately and read by
 * index through getters its per-statement subclass defines on the prototype,
 * so a row costs one allocation plus one plain property per column name,
 * instead of a property definition per value and per name.
 */
class ColumnRow {
  readonly #values: Value[];
  constructor(values: Value[]) {
    this.#values = values;
  }
  static valueAt(row: ColumnRow, index: number): Value {
    return row.#values[index]!;
  }
}

/**
 * Makes rows shaped as @libsql/client's: indexed values and `length`, both
 * not enumerable, and one enumerable own property per column name (the first
 * column of a repeated name wins). drizzle reads selected fields by index
 * (`Array.prototype.slice.call(row)`) and raw SQL results by name
 * (`Object.keys`), so both must hold on the same row.
 */
function rowMaker(columns: string[]): (values: Value[]) => Row {
  if (columns.some(clashesWithIndexedAccess)) return (values) => definedRow(values, columns);
  const named: Array<[index: number, name: string]> = [];
  const seen = new Set<string>();
  columns.forEach((name, index) => {
    if (!seen.has(name)) named.push([index, name]);
    seen.add(name);
  });
  class StatementRow extends ColumnRow {}
  Object.defineProperty(StatementRow.prototype, "length", { value: columns.length });
  for (let index = 0; index < columns.length; index++) {
    Object.defineProperty(StatementRow.prototype, index, {
      get(this: ColumnRow) {
        return ColumnRow.valueAt(this, index);
      },
    });
  }
  return (values) => {
    const row = new StatementRow(values) as unknown as Record<string, Value>;
    for (const [index, name] of named) row[name] = values[index]!;
    return row as unknown as Row;
  };
}

/** A row with every index and name defined on the row itself, for the rare column names that clash with indexed access. */
function definedRow(values: Value[], columns: string[]): Row {
  const row: Record<string | number, unknown> = {};
  Object.defineProperty(row, "length", { value: values.length });
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    Object.defineProperty(row, i, { value });
    const name = columns[i]!;
    if (!Object.hasOwn(row, name)) row[name] = value;
  }
  return row as unknown as Row;
}

class LocalResultSet implements ResultSet {
  constructor(
    readonly columns: string[],
    readonly columnTypes: string[],
    readonly rows: Row[],
    readonly rowsAffected: number,
    readonly lastInsertRowid: bigint | undefined,
  ) {}
  toJSON() {
    const { columns, columnTypes, rows, rowsAffected, lastInsertRowid } = this;
    return { columns, columnTypes, rows: rows.map((row) => Array.from(row as ArrayLike<unknown>)), rowsAffected, lastInsertRowid: lastInsertRowid?.toString() ?? null };
  }
}
