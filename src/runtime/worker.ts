/**
 * Cloudflare Workers entry point. Gathers what the isolate offers (string
 * bindings as configuration, the D1 binding or a remote libSQL primary named
 * by DATABASE_URL, the `LATCHKEY_ENCRYPTION_KEY`
 * secret, a WebAssembly password hasher) and hands it to createApp.
 *
 * Serves Connect and gRPC-Web plus the plain HTTP routes. Plain gRPC is not
 * possible on Workers (no HTTP/2 trailers); devices that need it use Node.
 */
import type { D1Database, ExecutionContext, ScheduledController } from "@cloudflare/workers-types/index.js";
import { createClient as createWebLibsqlClient } from "@libsql/client/web";
import { createApp, type App } from "../app.js";
import { loadConfig, workerDatabaseMode, type Env } from "../config.js";
import { createJsonLogger, type Logger } from "../domain/logger.js";
import type { Database } from "../store/database.js";
import { openD1 } from "../store/open-d1.js";
import { openRemote } from "../store/open-remote.js";
import { createConnectFetchHandler, type ConnectFetchHandler } from "../transport/connect/fetch-handler.js";
import { createWasmArgon2Hasher } from "./argon2-worker.js";
import { fetchPasswordDictionaries, type AssetsBinding } from "./password-dictionaries.js";
// Inlined by the bundler: the Worker has no file system to read it from.
import packageJson from "../../package.json" with { type: "json" };

/** The bindings declared in wrangler.toml, plus secrets. */
export interface WorkerEnv {
  /** Optional when DATABASE_URL names a remote libSQL primary. */
  readonly DB?: D1Database;
  /** The static assets of wrangler.toml `[assets]`: the password-strength dictionaries. */
  readonly ASSETS: AssetsBinding;
  readonly [name: string]: unknown;
}

interface Ready {
  readonly app: App;
  readonly connect: ConnectFetchHandler;
  readonly logger: Logger;
}

// The isolate's memory (128 MB) is shared by every request it serves, and one
// argon2id hash at the OWASP parameters holds about 19 MiB: two at a time,
// with a short queue, keeps a burst of sign-ins from exhausting it.
const MAX_CONCURRENT_HASHES = 2;
const MAX_QUEUED_HASHES = 16;

class StartupError extends Error {
  override name = "StartupError";
}

let ready: Promise<Ready> | undefined;

/** One app per isolate; a failed start is forgotten so the next request retries. */
function getReady(env: WorkerEnv): Promise<Ready> {
  if (ready === undefined) {
    const starting = start(env);
    ready = starting;
    starting.catch(() => {
      if (ready === starting) ready = undefined;
    });
  }
  return ready;
}

async function start(env: WorkerEnv): Promise<Ready> {
  // A logger before the configuration is known, so configuration errors are
  // reported in the same JSON shape as everything else.
  let logger = createJsonLogger("info");
  try {
    const strings = stringBindings(env);
    const config = loadConfig(strings);
    logger = createJsonLogger(config.logLevel);
    if (config.encryptionKey === undefined) {
      throw new StartupError(
        "LATCHKEY_ENCRYPTION_KEY is not set; add it with `wrangler secret put LATCHKEY_ENCRYPTION_KEY` (32 random bytes, base64)",
      );
    }
    const database: Database =
      workerDatabaseMode(config, env.DB !== undefined, strings) === "remote"
        ? openRemote(createWebLibsqlClient, { url: config.databaseUrl, authToken: config.databaseAuthToken })
        : openD1(env.DB!);
    if (env.ASSETS === undefined) throw new StartupError("the assets binding ASSETS is missing; see [assets] in wrangler.toml");
    if (config.smtpUrl) {
      // Workers cannot open SMTP connections; mail stays in the outbox for a
      // Node instance (or another sender) to deliver.
      logger.warn("worker.smtp_unsupported", { detail: "SMTP_URL is ignored on Workers; emails stay in the outbox" });
    }
    const app = await createApp({
      config,
      database,
      hasher: createWasmArgon2Hasher({ maxConcurrent: MAX_CONCURRENT_HASHES, maxQueued: MAX_QUEUED_HASHES }),
      passwordDictionaries: fetchPasswordDictionaries(env.ASSETS),
      keyEncryptionKey: decodeBase64(config.encryptionKey),
      logger,
      runtime: "worker",
      version: packageJson.version,
    });
    const connect = createConnectFetchHandler({
      routes: app.routes,
      interceptors: app.interceptors,
      readMaxBytes: app.maxMessageBytes,
    });
    logger.info("worker.started", { issuer: config.issuer, database: database.mode });
    return { app, connect, logger };
  } catch (error) {
    logger.error("worker.start_failed", { error: describe(error) });
    throw error;
  }
}

async function fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
  let current: Ready;
  try {
    current = await getReady(env);
  } catch {
    // Already logged by start(); the caller learns nothing about the setup.
    return unavailable();
  }
  try {
    return (await current.connect(request)) ?? (await current.app.http.fetch(request, env, ctx));
  } catch (error) {
    // Connect and Hono turn handler errors into responses themselves; this
    // only catches failures of the plumbing between them.
    current.logger.error("worker.request_failed", { error: describe(error), path: new URL(request.url).pathname });
    return new Response("internal error\n", { status: 500, headers: { "content-type": "text/plain; charset=utf-8" } });
  }
}

async function scheduled(controller: ScheduledController, env: WorkerEnv, _ctx: ExecutionContext): Promise<void> {
  const { app, logger } = await getReady(env);
  try {
    await app.housekeeping();
  } catch (error) {
    logger.error("worker.housekeeping_failed", { cron: controller.cron, error: describe(error) });
    // Rethrown so the cron run is recorded as failed.
    throw error;
  }
}

export default { fetch, scheduled };

/** Configuration reads only the string bindings ([vars] and secrets). */
function stringBindings(env: WorkerEnv): Env {
  const strings: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (typeof value === "string") strings[name] = value;
  }
  return strings;
}

/** loadConfig has checked the length; accepts standard and URL-safe base64. */
function decodeBase64(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function unavailable(): Response {
  return new Response("service unavailable: the server is misconfigured, see its logs\n", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
