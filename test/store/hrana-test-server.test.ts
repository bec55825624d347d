/**
 * The test libSQL server answers @libsql/client's remote (HTTP) client the
 * way the store needs: statements, atomic batches that roll back on a failed
 * step, SQL ids, errors with SQLite's message, and the bearer token.
 */
import { createClient, type Client } from "@libsql/client";
import Libsql from "libsql";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHranaServer, type HranaServer } from "../support/hrana-server.js";

describe("the test libSQL server (Hrana over HTTP)", () => {
  let dir: string;
  let server: HranaServer;
  let client: Client;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "latchkey-hrana-"));
    server = await startHranaServer({ path: join(dir, "remote.db"), authToken: "secret-token" });
    client = createClient({ url: server.url, authToken: "secret-token" });
    await client.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, data BLOB)");
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("round-trips every value type over JSON pipelines", async () => {
    const inserted = await client.execute({ sql: "INSERT INTO t (name, score, data) VALUES (?, ?, ?) RETURNING id", args: ["alpha", 2, new Uint8Array([1, 2, 255])] });
    expect(inserted.rows[0]!.id).toBeTypeOf("number");
    const { rows, columns } = await client.execute({ sql: "SELECT id, name, score, data, NULL AS missing FROM t WHERE name = ?", args: ["alpha"] });
    expect(columns).toEqual(["id", "name", "score", "data", "missing"]);
    expect(rows[0]!.name).toBe("alpha");
    expect(rows[0]!.score).toBe(2);
    expect(new Uint8Array(rows[0]!.data as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 255]));
    expect(rows[0]!.missing).toBeNull();
    // @libsql/client 0.18 speaks version 2 over HTTP without probing.
    expect(server.requests["/v2/pipeline"]).toBeGreaterThan(0);
  });

  it("commits a batch as one transaction and rolls all of it back when a step fails", async () => {
    const [first, count] = await client.batch(["INSERT INTO t (name) VALUES ('beta')", "SELECT count(*) AS n FROM t", "SELECT count(*) AS n FROM t"], "write");
    expect(first!.rowsAffected).toBe(1);
    expect(count!.rows[0]!.n).toBe(2);
    const failed = await client.batch(["INSERT INTO t (name) VALUES ('gamma')", "INSERT INTO t (name) VALUES ('beta')"], "write").catch((error: unknown) => error as Error & { code: string });
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toContain("UNIQUE constraint failed: t.name");
    expect((failed as { code: string }).code).toBe("SQLITE_CONSTRAINT_UNIQUE");
    expect((await client.execute("SELECT count(*) AS n FROM t WHERE name = 'gamma'")).rows[0]!.n).toBe(0);
    // The statements ran on the server: BEGIN IMMEDIATE, the steps, and the ROLLBACK after the failed COMMIT condition.
    expect(server.statements).toContain("BEGIN IMMEDIATE");
    expect(server.statements.at(-2)).toBe("ROLLBACK");
  });

  it("writes through to the real database file", async () => {
    const direct = new Libsql(join(dir, "remote.db"), { readonly: true });
    try {
      expect(direct.prepare("SELECT name FROM t ORDER BY id").pluck().all()).toEqual(["alpha", "beta"]);
    } finally {
      direct.close();
    }
  });

  it("keeps a stream (and its connection) across requests with batons, for interactive transactions", async () => {
    const tx = await client.transaction("write");
    await tx.execute("INSERT INTO t (name) VALUES ('delta')");
    expect((await tx.execute("SELECT count(*) AS n FROM t WHERE name = 'delta'")).rows[0]!.n).toBe(1);
    expect(server.openStreams).toBe(1);
    await tx.rollback();
    tx.close();
    expect((await client.execute("SELECT count(*) AS n FROM t WHERE name = 'delta'")).rows[0]!.n).toBe(0);
  });

  it("runs a sequence of statements", async () => {
    await client.executeMultiple("CREATE TABLE u (x); INSERT INTO u VALUES (1); INSERT INTO u VALUES (2);");
    expect((await client.execute("SELECT sum(x) AS s FROM u")).rows[0]!.s).toBe(3);
  });

  it("answers a version-3 pipeline with is_autocommit conditions", async () => {
    const response = await fetch(`${server.url}/v3/pipeline`, {
      method: "POST",
      headers: { authorization: "Bearer secret-token" },
      body: JSON.stringify({
        baton: null,
        requests: [
          {
            type: "batch",
            batch: {
              steps: [
                { stmt: { sql: "BEGIN" } },
                { condition: { type: "and", conds: [{ type: "ok", step: 0 }, { type: "not", cond: { type: "is_autocommit" } }] }, stmt: { sql: "SELECT 7 AS n", want_rows: true } },
                { condition: { type: "ok", step: 1 }, stmt: { sql: "COMMIT" } },
                { condition: { type: "error", step: 1 }, stmt: { sql: "ROLLBACK" } },
              ],
            },
          },
          { type: "get_autocommit" },
          { type: "close" },
        ],
      }),
    });
    const body = (await response.json()) as { baton: string | null; results: Array<{ type: string; response: Record<string, unknown> }> };
    expect(body.baton).toBeNull();
    const batch = body.results[0]!.response.result as { step_results: Array<{ rows: unknown[] } | null>; step_errors: unknown[] };
    expect(batch.step_results[1]!.rows).toEqual([[{ type: "integer", value: "7" }]]);
    expect(batch.step_results[3]).toBeNull();
    expect(batch.step_errors.every((e) => e === null)).toBe(true);
    expect(body.results[1]!.response).toEqual({ type: "get_autocommit", is_autocommit: true });
  });

  it("refuses a client without the token, and a used baton", async () => {
    const anonymous = createClient({ url: server.url });
    await expect(anonymous.execute("SELECT 1")).rejects.toThrow(/UNAUTHORIZED/);
    anonymous.close();
    const response = await fetch(`${server.url}/v3/pipeline`, {
      method: "POST",
      headers: { authorization: "Bearer secret-token" },
      body: JSON.stringify({ baton: "not-a-baton", requests: [{ type: "close" }] }),
    });
    expect(response.status).toBe(400);
  });
});
