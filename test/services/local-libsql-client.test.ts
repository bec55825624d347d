import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalClient, localPath } from "../../src/store/open-libsql.js";

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
});
