import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
/**
 * A drizzle database over libSQL or D1; both are async SQLite dialects.
 * Queries name their tables; drizzle's relational API (`db.query`) is not
 * used, so no schema is handed to drizzle(): building its relational config
 * for every table cost a cold Worker isolate milliseconds before its first
 * answer.
 */
export type Db = BaseSQLiteDatabase<"async", unknown>;

export type DatabaseMode = "file" | "memory" | "remote" | "replica" | "d1";

/**
 * The store handle every service receives.
 *
 * Consistency each RPC gets (README, "Database modes and consistency"):
 *
 * | RPCs                                       | file, memory, remote, d1         | replica                               |
 * |--------------------------------------------|----------------------------------|---------------------------------------|
 * | every write (batch, single statement)      | on the primary, atomic           | on the primary, then the replica pulls |
 * | RefreshToken, lockouts, seats, codes       | decided by conditions in a batch | the same; pre-reads via `primary`     |
 * | ValidateToken, every bearer check          | latest commit (bound 0 s)        | the same: session reads via `primary` |
 * | Get / List / CheckLicense and other reads  | latest commit                    | at most `replicaLagMs()` old, never behind this process's writes |
 *
 * Writes go through `batch`: the statements of one use case (state change,
 * guards and audit row) run as one atomic transaction on every backend. D1
 * has no interactive transactions, and a batch holds the write lock only for
 * its own statements, so there is no read-then-write window: race-sensitive
 * decisions are made by conditional statements inside the batch.
 */
export interface Database {
  /**
   * Reads and single writes. In replica mode plain reads here come from the
   * local replica (at most `replicaLagMs()` behind the primary, and never
   * behind this process's own writes); in every other mode from the
   * primary.
   */
  readonly db: Db;
  /**
   * Reads that must see the latest commit of any instance: the reads a
   * write's decision starts from (refresh rotation, lockout counters) and
   * the session and user state behind ValidateToken. The same handle as
   * `db` except in replica mode.
   */
  readonly primary: Db;
  readonly mode: DatabaseMode;
  batch<T extends readonly [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]>(queries: T): Promise<BatchResponse<T>>;
  /** Resolves when the database (the primary) answers a trivial query. */
  ping(): Promise<void>;
  /** Replica mode only: milliseconds since the replica last caught up with the primary. */
  readonly replicaLagMs?: (() => number) | undefined;
  close(): void;
}

/**
 * Memoises what `build` makes for each database handle: used for the queries
 * run on every request, which drizzle then builds once (`.prepare()` with
 * `sql.placeholder`) instead of on every call.
 */
export function perDatabase<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    if (built.has(db)) return built.get(db) as T;
    const value = build(db);
    built.set(db, value);
    return value;
  };
}

/**
 * Whether a libSQL or D1 error is a violation of the unique index over
 * `table` (`columns`, in index order). The driver's message sits on the
 * error or on its cause, depending on the driver.
 */
export function violatesUnique(error: unknown, table: string, columns: readonly string[]): boolean {
  const text = `${(error as Error)?.message ?? ""} ${String((error as { cause?: unknown })?.cause ?? "")}`;
  return text.includes(`UNIQUE constraint failed: ${columns.map((column) => `${table}.${column}`).join(", ")}`);
}
