/**
 * The real app on a real libSQL database, called through Connect's in-memory
 * transport: fast service-level tests with every interceptor in place.
 */
import { createRouterTransport } from "@connectrpc/connect";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createApp, type App } from "../../src/app.js";
import { importPasswordDictionaries } from "../../src/runtime/password-dictionaries.js";
import { loadConfig } from "../../src/config.js";
import type { Logger } from "../../src/domain/logger.js";
import type { Clock } from "../../src/domain/ports.js";
import { createNodeArgon2Hasher } from "../../src/runtime/argon2-node.js";
import type { Database } from "../../src/store/database.js";
import { openLibsql } from "../../src/store/open-libsql.js";

export interface LogLine {
  level: string;
  event: string;
  fields: Record<string, unknown>;
}

export function captureLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (event: string, fields: Record<string, unknown> = {}) => void lines.push({ level, event, fields });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A clock the test moves by hand. */
export function manualClock(start = Date.UTC(2026, 10, 23, 12)): Clock & { advance(ms: number): void; set(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => void (now += ms), set: (ms) => void (now = ms) };
}

export const KEY_ENCRYPTION_KEY = new Uint8Array(32).fill(7);

export async function startInProcess(options: { env?: Record<string, string>; clock?: Clock } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "latchkey-svc-"));
  const database: Database = await openLibsql({
    url: `file:${join(dir, "latchkey.db")}`,
    migrationsFolder: fileURLToPath(new URL("../../src/store/migrations", import.meta.url)),
  });
  const logger = captureLogger();
  const app: App = await createApp({
    config: loadConfig({ LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: "root@latchkey.test", LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: "correct horse battery staple 42", ...options.env }),
    database,
    hasher: createNodeArgon2Hasher({ maxConcurrent: 4, maxQueued: 64 }),
    passwordDictionaries: importPasswordDictionaries,
    keyEncryptionKey: KEY_ENCRYPTION_KEY,
    logger,
    clock: options.clock,
    runtime: "node",
  });
  const transport = createRouterTransport(app.routes, { router: { interceptors: app.interceptors } });
  return {
    app,
    database,
    logger,
    transport,
    async stop() {
      database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
