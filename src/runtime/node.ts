/**
 * `npm start`: the Node entry point. Gathers what Node offers (environment,
 * file system, libSQL, native argon2) and hands it to createApp, then serves
 * the app on one port until SIGINT/SIGTERM.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createApp } from "../app.js";
import { loadConfig, type Config, type Env } from "../config.js";
import { createJsonLogger, type Logger } from "../domain/logger.js";
import { openLibsql } from "../store/open-libsql.js";
import { createNodeArgon2Hasher } from "./argon2-node.js";
import { importPasswordDictionaries } from "./password-dictionaries.js";
import { startNodeServer } from "./node-server.js";
import { createSmtpMailTransport, noReplySender } from "./smtp-mail.js";

const KEY_FILE = "latchkey.key";
const HOUSEKEEPING_INTERVAL_MS = 15 * 60 * 1000;
const KEY_BYTES = 32;

export interface Running {
  readonly url: string;
  readonly logger: Logger;
  /** Stops serving (after a drain) and closes the database. */
  stop(): Promise<void>;
}

export async function main(env: Env = process.env): Promise<Running> {
  const config = loadConfig(env);
  const logger = createJsonLogger(config.logLevel);
  const databaseFile = databaseFilePath(config.databaseUrl);
  if (databaseFile !== undefined) await mkdir(dirname(databaseFile), { recursive: true });

  const keyEncryptionKey = await loadKeyEncryptionKey(config, databaseFile, logger);
  const database = await openLibsql({
    url: config.databaseUrl,
    syncUrl: config.databaseSyncUrl,
    authToken: config.databaseAuthToken,
    syncIntervalMs: config.databaseSyncIntervalMs,
    migrationsFolder: fileURLToPath(new URL("../store/migrations", import.meta.url)),
  });
  try {
    const hasher = createNodeArgon2Hasher({
      maxConcurrent: config.maxConcurrentHashes,
      maxQueued: config.maxQueuedHashes,
    });
    const mail = config.smtpUrl ? createSmtpMailTransport(config.smtpUrl, { from: noReplySender(config.issuer) }) : undefined;
    const version = await packageVersion();
    const app = await createApp({ config, database, hasher, passwordDictionaries: importPasswordDictionaries, keyEncryptionKey, logger, runtime: "node", mail, version });
    await app.warmUp();
    const server = await startNodeServer(app, {
      port: config.port,
      ready: () => database.ping().then(
        () => true,
        () => false,
      ),
    });
    logger.info("listening", { url: server.url, database: database.mode });
    // The Worker runs housekeeping from its cron trigger; here a timer does,
    // unref'd so it never keeps the process alive on its own.
    const housekeeping = setInterval(() => {
      app.housekeeping().catch((error: unknown) => logger.error("housekeeping.failed", { error: String(error) }));
    }, HOUSEKEEPING_INTERVAL_MS);
    housekeeping.unref();
    return {
      url: server.url,
      logger,
      async stop() {
        clearInterval(housekeeping);
        await server.close();
        await hasher.close();
        database.close();
      },
    };
  } catch (error) {
    database.close();
    throw error;
  }
}

/** The version in package.json (two levels up from src/runtime and from dist/runtime). */
async function packageVersion(): Promise<string> {
  const text = await readFile(new URL("../../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version?: string }).version ?? "unknown";
}

/** The path of a `file:` database (libSQL accepts relative paths there), else undefined. */
export function databaseFilePath(url: string): string | undefined {
  if (!url.startsWith("file:")) return undefined;
  const withoutQuery = url.replace(/[?#].*$/, "");
  if (withoutQuery.startsWith("file://")) return fileURLToPath(withoutQuery);
  const path = decodeURIComponent(withoutQuery.slice("file:".length));
  return path === ":memory:" || path === "" ? undefined : resolve(path);
}

/**
 * The key that encrypts secrets at rest. It lives outside the database so a
 * copy of the database alone reveals nothing: from the environment, or from a
 * file beside a file database, created on first start.
 */
async function loadKeyEncryptionKey(config: Config, databaseFile: string | undefined, logger: Logger): Promise<Uint8Array> {
  if (config.encryptionKey !== undefined) {
    return new Uint8Array(Buffer.from(config.encryptionKey.replace(/-/g, "+").replace(/_/g, "/"), "base64"));
  }
  if (databaseFile === undefined) {
    logger.warn("ephemeral_encryption_key", {
      reason: "LATCHKEY_ENCRYPTION_KEY is not set and the database is not a local file",
      consequence: "secrets encrypted by this process cannot be read after a restart",
    });
    return new Uint8Array(randomBytes(KEY_BYTES));
  }
  const keyFile = join(dirname(databaseFile), KEY_FILE);
  // Written aside and linked into place: link fails if the file exists, so two
  // processes starting at once agree on one key, and neither can read a
  // half-written file.
  const draft = `${keyFile}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(draft, randomBytes(KEY_BYTES), { mode: 0o600, flag: "wx" });
  try {
    await link(draft, keyFile);
    logger.info("encryption_key_created", { file: keyFile });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await unlink(draft);
  }
  const key = await readFile(keyFile);
  if (key.length !== KEY_BYTES) throw new Error(`${keyFile}: expected ${KEY_BYTES} bytes, found ${key.length}`);
  return new Uint8Array(key);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  return script !== undefined && pathToFileURL(resolve(script)).href === import.meta.url;
}

if (isEntryPoint()) {
  main().then(
    (running) => {
      const { logger } = running;
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        // A second signal means the operator does not want to wait for the drain.
        if (stopping) process.exit(1);
        stopping = true;
        logger.info("stopping", { signal });
        running.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error("stop_failed", { error: String(error) });
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
    },
    (error: unknown) => {
      // The configuration may be what failed, so its log level is unknown.
      createJsonLogger("info").error("start_failed", { error: error instanceof Error ? error.message : String(error) });
      process.exit(1);
    },
  );
}
