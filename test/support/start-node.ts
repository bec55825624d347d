/**
 * Starts the real Node server, through the same main() as `npm start`, on a
 * free port with a fresh libSQL file in a temporary directory.
 */
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/runtime/node.js";
import Libsql from "libsql";
import type { RpcTarget } from "./target.js";

export const BOOTSTRAP_ADMIN = { email: "root@latchkey.test", password: "correct horse battery staple 42" };

/** The clients of every protocol the Node server speaks, for `baseUrl`. */
export function nodeTransports(baseUrl: string): RpcTarget["transports"] {
  return {
    connect: createConnectTransport({ baseUrl, httpVersion: "1.1" }),
    grpcWeb: createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
    grpc: createGrpcTransport({ baseUrl }),
  };
}

/** Runs SQL on a libSQL file directly (beside the server), for arranging and inspecting state. */
export function directSql(file: string): Pick<RpcTarget, "exec"> & { close(): void } {
  const connection = new Libsql(file, { timeout: 5000 });
  return {
    async exec(statement, args = []) {
      const prepared = connection.prepare(statement);
      if (prepared.reader) return (prepared.all(args) as Record<string, unknown>[]).map((row) => ({ ...row }));
      prepared.run(args);
      return [];
    },
    close: () => connection.close(),
  };
}

export async function startNode(env: Record<string, string> = {}): Promise<RpcTarget & { dbFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), "latchkey-"));
  const dbFile = join(dir, "latchkey.db");
  const running = await main({
    PORT: "0",
    DATABASE_URL: `file:${dbFile}`,
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
    dbFile,
    fetch: (input, init) => fetch(input, init),
    transports: nodeTransports(baseUrl),
    exec: direct.exec,
    async stop() {
      direct.close();
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
