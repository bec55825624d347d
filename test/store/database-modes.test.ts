/**
 * Which database each configuration selects, the combinations refused, the
 * token reaching the remote primary, and where reads and writes go when a
 * replica serves plain reads. The remote primary is the test libSQL server
 * (real HTTP, real libSQL file).
 */
import { createClient as createConnectClient } from "@connectrpc/connect";
import { createClient, type Client } from "@libsql/client";
import { sql } from "drizzle-orm";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/latchkey/admin/v1/admin_service_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { ConfigError, loadConfig, workerDatabaseMode } from "../../src/config.js";
import { main } from "../../src/runtime/node.js";
import type { Database } from "../../src/store/database.js";
import { createLocalClient, openLibsql } from "../../src/store/open-libsql.js";
import { createRoutingClient, databaseOverClient, isPlainRead, libsqlModeOf } from "../../src/store/open-remote.js";
import { startHranaServer, type HranaServer } from "../support/hrana-server.js";
import { bearer, signInPair } from "../support/rpc-calls.js";
import { BOOTSTRAP_ADMIN } from "../support/start-node.js";
import { startNodeProcess } from "../support/node-process.js";
import { startNodeOnRemoteLibsql } from "../support/start-node-remote.js";

const TOKEN = "primary-token";

describe("database configuration", () => {
  it.each([
    ["file:./data/latchkey.db", undefined, "file"],
    [":memory:", undefined, "memory"],
    ["libsql://latchkey-acme.turso.io", undefined, "remote"],
    ["https://db.example.com", undefined, "remote"],
    ["http://127.0.0.1:8080", undefined, "remote"],
    ["wss://db.example.com", undefined, "remote"],
    ["file:/var/lib/latchkey/replica.db", "libsql://latchkey-acme.turso.io", "replica"],
  ])("%s with sync URL %s is %s", (url, syncUrl, mode) => {
    const config = loadConfig({ DATABASE_URL: url, DATABASE_SYNC_URL: syncUrl, DATABASE_AUTH_TOKEN: mode === "remote" || mode === "replica" ? "t" : undefined });
    expect(libsqlModeOf(config.databaseUrl, config.databaseSyncUrl)).toBe(mode);
  });

  it.each([
    [{ DATABASE_URL: "postgres://db" }, "DATABASE_URL"],
    [{ DATABASE_URL: "https://primary.example.com", DATABASE_SYNC_URL: "https://primary.example.com" }, "DATABASE_SYNC_URL"],
    [{ DATABASE_URL: ":memory:", DATABASE_SYNC_URL: "libsql://primary.example.com" }, "DATABASE_SYNC_URL"],
    [{ DATABASE_URL: "file:replica.db", DATABASE_SYNC_URL: "file:other.db" }, "DATABASE_SYNC_URL"],
    [{ DATABASE_URL: "file:latchkey.db", DATABASE_AUTH_TOKEN: "t" }, "DATABASE_AUTH_TOKEN"],
    [{ DATABASE_URL: "file:replica.db", DATABASE_SYNC_URL: "libsql://p.example.com", DATABASE_SYNC_INTERVAL_MS: "5" }, "DATABASE_SYNC_INTERVAL_MS"],
  ])("refuses %j, naming %s", (env, variable) => {
    expect(() => loadConfig(env)).toThrowError(ConfigError);
    expect(() => loadConfig(env)).toThrowError(new RegExp(`^${variable}:`));
  });

  it("never prints the token", () => {
    const config = loadConfig({ DATABASE_URL: "libsql://db.example.com", DATABASE_AUTH_TOKEN: "s3cr3t-token" });
    expect(config.databaseAuthToken).toBe("s3cr3t-token");
    expect(JSON.stringify(config)).not.toContain("s3cr3t-token");
  });

  it("the Worker uses a remote URL when given one, else the D1 binding", () => {
    const remote = { DATABASE_URL: "libsql://latchkey-acme.turso.io", DATABASE_AUTH_TOKEN: "t" };
    expect(workerDatabaseMode(loadConfig(remote), false, remote)).toBe("remote");
    expect(workerDatabaseMode(loadConfig(remote), true, remote)).toBe("remote");
    expect(workerDatabaseMode(loadConfig({}), true, {})).toBe("d1");
    expect(() => workerDatabaseMode(loadConfig({}), false, {})).toThrowError(/^DB:/);
    const file = { DATABASE_URL: "file:latchkey.db" };
    expect(() => workerDatabaseMode(loadConfig(file), true, file)).toThrowError(/^DATABASE_URL:/);
    const replica = { DATABASE_URL: "file:r.db", DATABASE_SYNC_URL: "libsql://p.example.com", DATABASE_AUTH_TOKEN: "t" };
    expect(() => workerDatabaseMode(loadConfig(replica), true, replica)).toThrowError(/^DATABASE_SYNC_URL:/);
  });

  it("treats only select statements as plain reads", () => {
    expect(isPlainRead('select "id" from "users" where "id" = ?')).toBe(true);
    expect(isPlainRead("  SELECT 1")).toBe(true);
    expect(isPlainRead('insert into "throttles" ("key") values (?) on conflict do update set "hits" = "hits" + 1 returning "hits"')).toBe(false);
    expect(isPlainRead("update users set state = 'suspended'")).toBe(false);
    expect(isPlainRead("with x as (select 1) delete from users")).toBe(false);
    expect(isPlainRead("PRAGMA foreign_keys")).toBe(false);
  });
});

describe("the Node server on a remote primary", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "latchkey-modes-"));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("sends DATABASE_AUTH_TOKEN, and refuses to start when the primary rejects it", async () => {
    const server = await startHranaServer({ path: join(dir, "guarded.db"), authToken: TOKEN });
    try {
      const start = main({ PORT: "0", LOG_LEVEL: "silent", DATABASE_URL: server.url, DATABASE_AUTH_TOKEN: "wrong", LATCHKEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64") });
      const error = (await start.then(() => undefined, (e: unknown) => e)) as Error & { cause?: Error };
      expect(`${error?.message} ${error?.cause?.message}`).toContain("UNAUTHORIZED");
      expect(server.statements).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("reports mode remote and no replica lag, and runs every statement through the server", async () => {
    const target = await startNodeOnRemoteLibsql();
    try {
      const root = await signInPair(createConnectClient(AuthService, target.transports.connect), BOOTSTRAP_ADMIN.email, BOOTSTRAP_ADMIN.password);
      const info = await createConnectClient(AdminService, target.transports.connect).getSystemInfo({}, bearer(root.accessToken));
      expect(info.databaseMode).toBe("remote");
      expect(info.replicaLagMs).toBe(0n);
      // Migrations, bootstrap and sign-in all reached the primary over HTTP.
      expect(target.server.statements.some((s) => s.startsWith("CREATE TABLE"))).toBe(true);
      expect(target.server.statements).toContain("BEGIN IMMEDIATE");
      expect((await target.exec("SELECT count(*) AS n FROM sessions"))[0]!.n).toBe(1);
    } finally {
      await target.stop();
    }
  });
});

describe("routing with a replica: plain reads local, everything else to the primary", () => {
  let dir: string;
  let server: HranaServer;
  let primary: Client;
  let replica: Client;
  let database: Database;
  let catchUps = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "latchkey-routing-"));
    server = await startHranaServer({ path: join(dir, "primary.db"), authToken: TOKEN });
    primary = createClient({ url: server.url, authToken: TOKEN });
    // The replica's local copy. A real embedded replica pulls frames from the
    // primary's replication endpoint, which the test server lacks; here the
    // copy is a separate libSQL file that never catches up, so every read
    // shows where it was served from.
    replica = createLocalClient(join(dir, "replica.db"), { timeoutMs: 5000 });
    for (const client of [primary, replica]) await client.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    database = databaseOverClient(primary, {
      mode: "replica",
      reads: createRoutingClient(primary, replica, async () => {
        catchUps++;
      }),
      replicaLagMs: () => 0,
      close: () => {
        primary.close();
        replica.close();
      },
    });
  });
  afterAll(async () => {
    database?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const bodies = async (db: Database["db"]) => (await db.all<{ body: string }>(sql`SELECT body FROM notes ORDER BY id`)).map((r) => r.body);

  it("commits batches on the primary, then lets the replica catch up", async () => {
    const before = catchUps;
    await database.batch([database.db.run(sql`INSERT INTO notes (body) VALUES ('batched')`), database.db.run(sql`UPDATE notes SET body = body || '!' WHERE body = 'batched'`)]);
    expect(catchUps).toBe(before + 1);
    expect(await bodies(database.primary)).toEqual(["batched!"]);
    // The plain read went to the replica, which has not caught up.
    expect(await bodies(database.db)).toEqual([]);
  });

  it("sends single writes (with RETURNING) to the primary and plain reads to the replica", async () => {
    const statementsBefore = server.statements.length;
    const [row] = await database.db.all<{ id: number }>(sql`INSERT INTO notes (body) VALUES ('single') RETURNING id`);
    expect(row!.id).toBeTypeOf("number");
    expect(server.statements.slice(statementsBefore)).toEqual(["INSERT INTO notes (body) VALUES ('single') RETURNING id"]);

    const readsBefore = server.statements.length;
    await bodies(database.db);
    expect(server.statements.length).toBe(readsBefore);
    await bodies(database.primary);
    expect(server.statements.length).toBe(readsBefore + 1);
  });

  it("pings the primary", async () => {
    const before = server.statements.length;
    await database.ping();
    expect(server.statements.length).toBe(before + 1);
  });

});

describe("an embedded replica", () => {
  it("needs the primary's replication protocol: against a server without it, start-up fails instead of serving an unsynced copy", async () => {
    const dir = await mkdtemp(join(tmpdir(), "latchkey-replica-"));
    // Its own process: the replica's first handshake blocks the event loop of the process that opens it.
    const server = await startNodeProcess({ HRANA_DB_PATH: join(dir, "primary.db"), HRANA_AUTH_TOKEN: TOKEN }, "test/support/hrana-server-main.ts");
    try {
      const opening = openLibsql({ url: `file:${join(dir, "replica.db")}`, syncUrl: server.url, authToken: TOKEN });
      await expect(opening).rejects.toThrow(/^the embedded replica could not sync from DATABASE_SYNC_URL: .*Replication/);
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
