/**
 * Configuration from a plain environment record. process.env is read only in
 * runtime/node.ts and Worker bindings only in runtime/worker.ts; everything
 * else receives this frozen object. Defaults are those of the API contract.
 */
import { parseExternalProviders, type ExternalProvider } from "./domain/external-login.js";

export interface Config {
  readonly port: number;
  readonly databaseUrl: string;
  readonly databaseSyncUrl: string | undefined;
  readonly databaseAuthToken: string | undefined;
  /** Replica mode: milliseconds between pulls from the primary, the bound on how stale a plain read may be. */
  readonly databaseSyncIntervalMs: number;
  /** `iss` of every token, and the origin of links in emails. */
  readonly issuer: string;
  /** `aud` of access tokens; tokens for any other audience are refused. */
  readonly audience: string;
  readonly bootstrapAdminEmail: string | undefined;
  readonly bootstrapAdminPassword: string | undefined;
  readonly smtpUrl: string | undefined;
  readonly smsWebhookUrl: string | undefined;
  /** Addresses/CIDRs whose X-Forwarded-For is believed. */
  readonly trustedProxies: readonly string[];
  /**
   * 32-byte key (base64) that encrypts secrets at rest: signing keys, TOTP
   * secrets. Kept outside the database. When unset, the Node runtime keeps a
   * generated one in a file next to the database.
   */
  readonly encryptionKey: string | undefined;
  /**
   * How many password hashes may run at once, and how many may wait. Each
   * running hash holds a thread, a core and ~19 MiB for ~20 ms. The default
   * of 2 suits a 2-core machine: more at once cannot finish more hashes per
   * second, only holds more memory and leaves the event loop less CPU; extra
   * sign-ins wait in the queue instead.
   */
  readonly maxConcurrentHashes: number;
  readonly maxQueuedHashes: number;
  /** Largest request message accepted, in bytes. */
  readonly maxMessageBytes: number;
  readonly logLevel: "debug" | "info" | "warn" | "error" | "silent";
  /** Upstream OpenID Connect providers for external login (LATCHKEY_OIDC_PROVIDERS). */
  readonly externalProviders: readonly ExternalProvider[];
  /** Serve the external-login test page at /auth/external/test-page (tests only). */
  readonly externalLoginTestPage: boolean;
}

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function optional(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === "" ? undefined : raw;
}

function url(env: Env, name: string, fallback: string | undefined, schemes: readonly string[]): string | undefined {
  const raw = optional(env, name) ?? fallback;
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a URL: "${raw}"`);
  }
  if (!schemes.includes(parsed.protocol)) {
    throw new ConfigError(name, `scheme must be one of ${schemes.join(", ")}`);
  }
  return raw;
}

function databaseUrl(env: Env): string {
  const raw = optional(env, "DATABASE_URL") ?? "file:./data/latchkey.db";
  if (raw === ":memory:") return raw;
  return url(env, "DATABASE_URL", raw, ["file:", "libsql:", "http:", "https:", "ws:", "wss:"]) as string;
}

/**
 * Which combinations of DATABASE_URL, DATABASE_SYNC_URL and
 * DATABASE_AUTH_TOKEN make sense: a replica keeps its copy in a local file,
 * and a token is only ever sent to a remote primary.
 */
function checkDatabaseCombination(url: string, syncUrl: string | undefined, authToken: string | undefined): void {
  const local = url === ":memory:" || url.startsWith("file:");
  if (syncUrl !== undefined && !local) {
    throw new ConfigError("DATABASE_SYNC_URL", "an embedded replica keeps its copy in a local file: set DATABASE_URL to a file: URL (the primary goes in DATABASE_SYNC_URL)");
  }
  if (syncUrl !== undefined && url === ":memory:") {
    throw new ConfigError("DATABASE_SYNC_URL", "an embedded replica needs a file: DATABASE_URL, not :memory:");
  }
  if (authToken !== undefined && local && syncUrl === undefined) {
    throw new ConfigError("DATABASE_AUTH_TOKEN", "is only sent to a remote primary, but DATABASE_URL is local and DATABASE_SYNC_URL is not set");
  }
}

const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;

export function loadConfig(env: Env): Config {
  const logLevel = optional(env, "LOG_LEVEL") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `one of ${LOG_LEVELS.join(", ")}`);
  }
  const issuer = (url(env, "LATCHKEY_ISSUER", "http://localhost:8080", ["http:", "https:"]) as string).replace(/\/+$/, "");
  const bootstrapAdminEmail = optional(env, "LATCHKEY_BOOTSTRAP_ADMIN_EMAIL");
  const bootstrapAdminPassword = optional(env, "LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD");
  if ((bootstrapAdminEmail === undefined) !== (bootstrapAdminPassword === undefined)) {
    throw new ConfigError("LATCHKEY_BOOTSTRAP_ADMIN_EMAIL", "set both the email and LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD, or neither");
  }
  const encryptionKey = optional(env, "LATCHKEY_ENCRYPTION_KEY");
  if (encryptionKey !== undefined && decodedLength(encryptionKey) !== 32) {
    throw new ConfigError("LATCHKEY_ENCRYPTION_KEY", "must be 32 bytes in base64");
  }
  const database = {
    databaseUrl: databaseUrl(env),
    databaseSyncUrl: url(env, "DATABASE_SYNC_URL", undefined, ["libsql:", "http:", "https:", "ws:", "wss:"]),
    databaseAuthToken: optional(env, "DATABASE_AUTH_TOKEN"),
    databaseSyncIntervalMs: integer(env, "DATABASE_SYNC_INTERVAL_MS", 1000, 100, 600_000),
  };
  checkDatabaseCombination(database.databaseUrl, database.databaseSyncUrl, database.databaseAuthToken);
  const config: Config = {
    port: integer(env, "PORT", 8080, 0, 65535),
    ...database,
    issuer,
    audience: optional(env, "LATCHKEY_AUDIENCE") ?? issuer,
    bootstrapAdminEmail,
    bootstrapAdminPassword,
    smtpUrl: url(env, "SMTP_URL", undefined, ["smtp:", "smtps:"]),
    smsWebhookUrl: url(env, "SMS_WEBHOOK_URL", undefined, ["http:", "https:"]),
    trustedProxies: (optional(env, "LATCHKEY_TRUSTED_PROXIES") ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    encryptionKey,
    maxConcurrentHashes: integer(env, "LATCHKEY_MAX_CONCURRENT_HASHES", 2, 1, 64),
    maxQueuedHashes: integer(env, "LATCHKEY_MAX_QUEUED_HASHES", 64, 0, 10000),
    maxMessageBytes: integer(env, "LATCHKEY_MAX_MESSAGE_BYTES", 1024 * 1024 + 64 * 1024, 1024, 64 * 1024 * 1024),
    logLevel: logLevel as Config["logLevel"],
    externalProviders: externalProviders(env),
    externalLoginTestPage: optional(env, "LATCHKEY_EXTERNAL_LOGIN_TEST_PAGE") === "true",
  };
  return Object.freeze({
    ...config,
    toJSON: () => ({ ...config, bootstrapAdminPassword: redact(bootstrapAdminPassword), encryptionKey: redact(encryptionKey), databaseAuthToken: redact(config.databaseAuthToken),
      externalProviders: config.externalProviders.map((p) => ({ ...p, clientSecret: redact(p.clientSecret) })),
    }),
  });
}

function externalProviders(env: Env): ExternalProvider[] {
  const raw = optional(env, "LATCHKEY_OIDC_PROVIDERS");
  if (raw === undefined) return [];
  try {
    return parseExternalProviders(raw);
  } catch (error) {
    throw new ConfigError("LATCHKEY_OIDC_PROVIDERS", (error as Error).message);
  }
}

function redact(value: string | undefined): string | undefined {
  return value === undefined ? undefined : "[redacted]";
}

function decodedLength(base64: string): number {
  try {
    return atob(base64.replace(/-/g, "+").replace(/_/g, "/")).length;
  } catch {
    return -1;
  }
}

/**
 * The Worker's database: a remote libSQL primary when DATABASE_URL names one
 * (reached through `@libsql/client/web`; the D1 binding is then optional and
 * unused), else the D1 binding, which must exist. Embedded replicas need a
 * file system, so DATABASE_SYNC_URL is refused there.
 */
export function workerDatabaseMode(config: Config, hasD1Binding: boolean, env: Env): "remote" | "d1" {
  if (config.databaseSyncUrl !== undefined) {
    throw new ConfigError("DATABASE_SYNC_URL", "embedded replicas need a file system; on Workers use a remote DATABASE_URL or the D1 binding");
  }
  if (optional(env, "DATABASE_URL") !== undefined) {
    const scheme = config.databaseUrl === ":memory:" ? "memory" : new URL(config.databaseUrl).protocol;
    if (scheme === "libsql:" || scheme === "https:" || scheme === "http:") return "remote";
    throw new ConfigError("DATABASE_URL", "on Workers only a remote libSQL URL (libsql:, https:, http:) can be used; leave it unset to use the D1 binding");
  }
  if (!hasD1Binding) throw new ConfigError("DB", "the D1 binding DB is missing (see [[d1_databases]] in wrangler.toml), and DATABASE_URL names no remote libSQL database");
  return "d1";
}
