import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client, type ResultSet } from "@libsql/client";
import { eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalClient, localPath } from "../../src/store/open-libsql.js";

/** What a consumer can observe of a result: its rows by index and by name, their JSON, and the counters. */
function observed(result: ResultSet) {
  return {
    columns: result.columns,
    rows: result.rows.map((row) => ({
      length: row.length,
      byIndex: Array.prototype.slice.call(row),
      keys: Object.keys(row),
      json: JSON.stringify(row),
    })),
    rowsAffected: result.rowsAffected,
    lastInsertRowid: result.lastInsertRowid,
  };
}

async function errorOf(promise: Promise<unknown>): Promise<{ name: string; code: unknown; message: string }> {
  try {
    await promise;
  } catch (error) {
    const { name, message, code } = error as Error & { code?: unknown };
    return { name, code, message };
  }
  throw new Error("expected the statement to fail");
}

describe("createLocalClient", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "latchkey-local-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("maps file URLs to paths", () => {
    expect(localPath(":memory:")).toBe(":memory:");
    expect(localPath("file:./data/latchkey.db")).toBe("./data/latchkey.db");
    expect(localPath("file:/var/lib/latchkey.db?mode=rwc")).toBe("/var/lib/latchkey.db");
    expect(localPath("file:///var/lib/my%20db.db")).toBe("/var/lib/my db.db");
    expect(localPath("file://localhost/var/lib/latchkey.db")).toBe("/var/lib/latchkey.db");
  });

  it("answers like @libsql/client: named and indexed values, numbers, blobs, affected rows", async () => {
    const client = createLocalClient(join(dir, "shape.db"), { timeoutMs: 1000 });
    await client.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, flag INTEGER, data BLOB)");
    const inserted = await client.execute({ sql: "INSERT INTO t (name, flag, data) VALUES (?, ?, ?)", args: ["a", true, new Uint8Array([1, 2, 3])] });
    expect(inserted.rowsAffected).toBe(1);
    expect(inserted.lastInsertRowid).toBe(1n);
    const { rows, columns } = await client.execute({ sql: "SELECT id, name, flag, data FROM t WHERE id = ?", args: [1] });
    expect(columns).toEqual(["id", "name", "flag", "data"]);
    const row = rows[0]!;
    expect(Object.keys(row)).toEqual(["id", "name", "flag", "data"]);
    expect(Array.prototype.slice.call(row).slice(0, 3)).toEqual([1, "a", 1]);
    expect(row.name).toBe("a");
    expect(new Uint8Array(row.data as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
    client.close();
  });

  it("runs a batch as one transaction and keeps reusing its statements after a failure", async () => {
    const client = createLocalClient(join(dir, "batch.db"), { timeoutMs: 1000 });
    await client.execute("CREATE TABLE u (email TEXT UNIQUE)");
    const insert = (email: string) => ({ sql: "INSERT INTO u (email) VALUES (?)", args: [email] });
    await client.batch([insert("a@x"), insert("b@x")], "write");
    await expect(client.batch([insert("c@x"), insert("a@x")], "write")).rejects.toThrow(/UNIQUE constraint failed: u\.email/);
    // Nothing of the failed batch stayed, and the same statements still work.
    await client.batch([insert("d@x")], "write");
    const { rows } = await client.execute("SELECT email FROM u ORDER BY email");
    expect(rows.map((r) => r.email)).toEqual(["a@x", "b@x", "d@x"]);
    client.close();
    await expect(client.execute("SELECT 1")).rejects.toThrow(/closed/);
  });

  it("gives rows @libsql/client would give, for repeated, numeric and clashing column names too", async () => {
    const path = join(dir, "peer.db");
    const local = createLocalClient(path, { timeoutMs: 1000 });
    await local.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT, data BLOB)");
    await local.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER, name TEXT)");
    const peer: Client = createClient({ url: `file:${path}`, intMode: "number" });
    const statements = [
      { sql: "INSERT INTO a (name, data) VALUES (?, ?), (?, ?)", args: ["x", new Uint8Array([7]), "y", null] },
      { sql: "INSERT INTO b (a_id, name) VALUES (?, ?), (?, ?)", args: [1, "bx", 2, "by"] },
      { sql: "SELECT a.id, b.id, a.name, b.name FROM a JOIN b ON b.a_id = a.id ORDER BY a.id", args: [] },
      { sql: "SELECT a.id, b.id, a.name, b.name FROM a JOIN b ON b.a_id = a.id ORDER BY a.id LIMIT ?", args: [1] },
      { sql: "SELECT 1, 2, 'three' AS length, 4 AS \"0\"", args: [] },
      { sql: "SELECT id AS constructor, name AS toString FROM a ORDER BY id LIMIT ?", args: [1] },
      { sql: "SELECT * FROM a WHERE id = ? LIMIT ?", args: [99, 1] },
      { sql: "UPDATE b SET name = ? WHERE a_id = ?", args: ["bz", 1] },
    ];
    for (const [i, statement] of statements.entries()) {
      // Writes run once, on the client under test; reads compare with the peer.
      const mine = await local.execute(statement);
      if (i < 2 || statement.sql.startsWith("UPDATE")) {
        expect(mine.rowsAffected).toBeGreaterThan(0);
        continue;
      }
      expect(observed(mine), statement.sql).toEqual(observed(await peer.execute(statement)));
    }
    const blob = (await local.execute({ sql: "SELECT data FROM a WHERE id = ? LIMIT ?", args: [1, 1] })).rows[0]!.data;
    expect(blob).toBeInstanceOf(ArrayBuffer);
    expect(new Uint8Array(blob as ArrayBuffer)).toEqual(new Uint8Array([7]));
    peer.close();
    local.close();
  });

  it("steps a statement once for LIMIT 1 and returns what collecting all rows returns", async () => {
    const client = createLocalClient(join(dir, "limit.db"), { timeoutMs: 1000 });
    await client.execute("CREATE TABLE n (k INTEGER)");
    await client.execute("INSERT INTO n VALUES (1), (2), (3)");
    const rowsOf = async (sqlText: string, args: Array<number | bigint>) => (await client.execute({ sql: sqlText, args })).rows.map((r) => Array.from(r));
    expect(await rowsOf("SELECT k FROM n ORDER BY k LIMIT ?", [1])).toEqual([[1]]);
    expect(await rowsOf("SELECT k FROM n ORDER BY k LIMIT ?", [1n])).toEqual([[1]]);
    expect(await rowsOf("SELECT k FROM n WHERE k > ? LIMIT ?", [5, 1])).toEqual([]);
    expect(await rowsOf("SELECT k FROM n ORDER BY k LIMIT ?", [0])).toEqual([]);
    expect(await rowsOf("SELECT k FROM n ORDER BY k LIMIT ?", [2])).toEqual([[1], [2]]);
    expect(await rowsOf("SELECT k FROM n ORDER BY k LIMIT ? OFFSET ?", [5, 1])).toEqual([[2], [3]]);
    // The last argument here is not the limit: every row still comes back.
    expect(await rowsOf("SELECT k FROM n WHERE k >= ? ORDER BY k -- LIMIT ?", [1])).toEqual([[1], [2], [3]]);
    // The same statement, stepped once and then in full, keeps answering from the latest state.
    await client.execute("INSERT INTO n VALUES (0)");
    expect(await rowsOf("SELECT k FROM n ORDER BY k LIMIT ?", [1])).toEqual([[0]]);
    client.close();
  });

  it("keeps integer safety and error shapes on both the single-row and the all-rows path", async () => {
    const client = createLocalClient(join(dir, "errors.db"), { timeoutMs: 1000 });
    const unsafe = "SELECT 9007199254740993 AS big";
    await expect(client.execute(unsafe)).rejects.toThrow(RangeError);
    await expect(client.execute({ sql: `${unsafe} LIMIT ?`, args: [1] })).rejects.toThrow(RangeError);
    const overflow = "SELECT abs(-9223372036854775807 - 1) AS v";
    const viaAll = await errorOf(client.execute({ sql: `${overflow} LIMIT ?`, args: [2] }));
    const viaOne = await errorOf(client.execute({ sql: `${overflow} LIMIT ?`, args: [1] }));
    expect(viaAll.message).toMatch(/integer overflow/);
    expect(viaOne).toEqual(viaAll);
    client.close();
  });

  it("serves drizzle's field selects, single-row reads and raw SQL", async () => {
    const client = createLocalClient(join(dir, "drizzle.db"), { timeoutMs: 1000 });
    await client.execute("CREATE TABLE people (id TEXT PRIMARY KEY, name TEXT NOT NULL, age INTEGER)");
    const people = sqliteTable("people", { id: text("id").primaryKey(), name: text("name").notNull(), age: integer("age") });
    const db = drizzle(client);
    await db.insert(people).values([
      { id: "p1", name: "Ada", age: 36 },
      { id: "p2", name: "Bo", age: null },
    ]);
    expect(await db.select().from(people).where(eq(people.id, "p2")).get()).toEqual({ id: "p2", name: "Bo", age: null });
    expect(await db.select().from(people).where(eq(people.id, "p1")).limit(1).get()).toEqual({ id: "p1", name: "Ada", age: 36 });
    expect(await db.select().from(people).where(eq(people.id, "none")).limit(1).get()).toBeUndefined();
    expect(await db.select({ n: people.name }).from(people).orderBy(people.id).all()).toEqual([{ n: "Ada" }, { n: "Bo" }]);
    expect(await db.all(sql`SELECT id, age FROM people ORDER BY id`)).toEqual([
      { id: "p1", age: 36 },
      { id: "p2", age: null },
    ]);
    expect(await db.get(sql`SELECT name FROM people WHERE id = ${"p1"} LIMIT ${1}`)).toEqual({ name: "Ada" });
    expect(await db.values(sql`SELECT id, name FROM people ORDER BY id`)).toHaveLength(2);
    client.close();
  });
});
