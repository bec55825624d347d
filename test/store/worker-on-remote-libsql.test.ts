/**
 * The Worker inside workerd with DATABASE_URL naming a remote libSQL
 * primary: `@libsql/client/web` reaches the test libSQL server
 * (test/support/hrana-server.ts) over HTTP from inside the isolate, and the
 * shared auth suite runs unchanged against it. The database is migrated
 * beforehand with the same function `npm run migrate` runs.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { directSql } from "../support/start-node.js";
import { expect } from "vitest";
import { migrateDatabase } from "../../src/runtime/migrate.js";
import { ADMIN, defineAuthSuite } from "../rpc/auth-suite.js";
import { startHranaServer } from "../support/hrana-server.js";
import { startWorker, workerRpcTarget } from "../support/start-worker.js";
import type { RpcTarget } from "../support/target.js";

defineAuthSuite(async (): Promise<RpcTarget> => {
  const dir = await mkdtemp(join(tmpdir(), "latchkey-worker-remote-"));
  const dbFile = join(dir, "primary.db");
  const authToken = randomBytes(16).toString("hex");
  const server = await startHranaServer({ path: dbFile, authToken });
  const migrated = await migrateDatabase({ DATABASE_URL: server.url, DATABASE_AUTH_TOKEN: authToken });
  expect(migrated).toMatchObject({ mode: "remote" });
  expect(migrated.applied).toBeGreaterThan(0);

  const worker = await startWorker({
    bindings: {
      DATABASE_URL: server.url,
      DATABASE_AUTH_TOKEN: authToken,
      LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
      LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
    },
  });
  const pipelinesBefore = server.requests["/v2/pipeline"] ?? 0;
  const direct = directSql(dbFile);
  const target = workerRpcTarget(worker);
  return {
    ...target,
    // Arranging and inspecting reaches the remote database, not the unused D1 binding.
    exec: direct.exec,
    async stop() {
      // The Worker's statements went over HTTP to the server: the bootstrap admin lives there, not in D1.
      expect(server.requests["/v2/pipeline"] ?? 0).toBeGreaterThan(pipelinesBefore);
      expect(Number((await worker.exec("SELECT count(*) AS n FROM users"))[0]?.n)).toBe(0);
      expect(Number((await direct.exec("SELECT count(*) AS n FROM users"))[0]?.n)).toBeGreaterThan(0);
      await target.stop();
      direct.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
