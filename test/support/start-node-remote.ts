/**
 * Starts the real Node server in remote mode: DATABASE_URL is the HTTP URL
 * of the test libSQL server (test/support/hrana-server.ts), so every
 * statement the store runs travels through `@libsql/client`'s remote client
 * and the Hrana protocol to a real libSQL file.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/runtime/node.js";
import { startHranaServer, type HranaServer } from "./hrana-server.js";
import { BOOTSTRAP_ADMIN, directSql, nodeTransports } from "./start-node.js";
import type { RpcTarget } from "./target.js";

export async function startNodeOnRemoteLibsql(env: Record<string, string> = {}): Promise<RpcTarget & { server: HranaServer }> {
  const dir = await mkdtemp(join(tmpdir(), "latchkey-remote-"));
  const dbFile = join(dir, "primary.db");
  const authToken = randomBytes(16).toString("hex");
  const server = await startHranaServer({ path: dbFile, authToken });
  const running = await main({
    PORT: "0",
    DATABASE_URL: server.url,
    DATABASE_AUTH_TOKEN: authToken,
    // Not a local file, so no key file can sit beside it.
    LATCHKEY_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    LOG_LEVEL: "silent",
    LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: BOOTSTRAP_ADMIN.email,
    LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: BOOTSTRAP_ADMIN.password,
    ...env,
  });
  // Arranging and inspecting goes straight to the server's file, beside the server.
  const direct = directSql(dbFile);
  const baseUrl = running.url;
  return {
    name: "node",
    baseUrl,
    server,
    fetch: (input, init) => fetch(input, init),
    transports: nodeTransports(baseUrl),
    exec: direct.exec,
    async stop() {
      await running.stop();
      direct.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
