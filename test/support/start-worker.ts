/**
 * Runs the real Worker inside workerd for tests: the bundle is what
 * `wrangler deploy` would upload, the database is a fresh in-memory D1 with
 * the project's migrations applied, and requests go through miniflare's
 * dispatchFetch. Works offline.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { Miniflare } from "miniflare";
import type { RpcTarget } from "./target.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DEFAULT_ENTRY = "src/runtime/worker.ts";
const MIGRATIONS_DIR = join(ROOT, "src/store/migrations");
const BUNDLE_CACHE = join(ROOT, ".wrangler/test-bundles");
const ASSETS_DIR = join(ROOT, "dist/worker-assets");

export interface StartWorkerOptions {
  /** Worker entry, relative to the repository root. */
  entry?: string;
  /**
   * Module substitutions for the bundle (wrangler's `--alias`): the import
   * specifier exactly as written (relative ones included), and an absolute
   * path to use instead.
   */
  aliases?: Record<string, string>;
  /** String bindings added to (or replacing) the defaults below. */
  bindings?: Record<string, string>;
  /**
   * Keeps the D1 database in this directory instead of in memory, so a second
   * Worker started on it meets the state the first one left (a fresh isolate
   * on an existing database, as after a deploy).
   */
  persistDir?: string;
  /** Applies the migrations after start (default); false for a database that has them. */
  migrate?: boolean;
}

export interface StartedWorker {
  /** Sends a request to the Worker; resolves relative URLs against `url`. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Where the Worker also listens over HTTP/1.1, for external clients. */
  readonly url: string;
  /** Runs the Worker's scheduled handler, as a cron trigger would. */
  scheduled(cron?: string): Promise<void>;
  /** Everything the Worker wrote to stdout/stderr, one entry per line. */
  readonly logs: readonly string[];
  /** The string bindings the Worker was started with. */
  readonly bindings: Readonly<Record<string, string>>;
  /** Milliseconds spent bundling, starting workerd and migrating D1. */
  readonly timings: { bundleMs: number; startMs: number; migrateMs: number; bundleCached: boolean };
  /** Runs SQL on the Worker's D1 database, for arranging and inspecting state. */
  exec(statement: string, args?: (string | number | null)[]): Promise<Record<string, unknown>[]>;
  dispose(): Promise<void>;
}

/** Builds (or reuses) the bundle and starts it in workerd. */
export async function startWorker(options: StartWorkerOptions = {}): Promise<StartedWorker> {
  const bundleStarted = performance.now();
  const { scriptPath, cached } = await bundleWorker(options.entry ?? DEFAULT_ENTRY, options.aliases ?? {});
  const bundleMs = performance.now() - bundleStarted;

  const started = performance.now();
  const { compatibilityDate, compatibilityFlags } = await readCompatibility();
  const bindings: Record<string, string> = {
    LATCHKEY_ISSUER: "http://latchkey.test",
    LATCHKEY_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    LOG_LEVEL: "warn",
    ...options.bindings,
  };
  const logs: string[] = [];
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    // wrangler leaves each `.wasm` import as a separate module next to the
    // script; workerd must receive it precompiled.
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate,
    compatibilityFlags,
    d1Databases: { DB: "latchkey-test" },
    // wrangler.toml [assets]: written by its [build] command during bundling.
    assets: {
      directory: ASSETS_DIR,
      binding: "ASSETS",
      routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true },
    },
    ...(options.persistDir === undefined ? {} : { d1Persist: options.persistDir }),
    bindings,
    host: "127.0.0.1",
    port: 0,
    // Keeps miniflare from downloading request.cf data.
    cf: false,
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      for (const stream of [stdout, stderr]) {
        let pending = "";
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => {
          const lines = (pending + chunk).split("\n");
          pending = lines.pop() ?? "";
          logs.push(...lines.filter((line) => line !== ""));
        });
      }
    },
  });
  try {
    const url = (await mf.ready).toString().replace(/\/$/, "");
    const startMs = performance.now() - started;
    const migrating = performance.now();
    if (options.migrate ?? true) await applyMigrations(mf);
    const migrateMs = performance.now() - migrating;

    return {
      url,
      logs,
      bindings,
      timings: { bundleMs, startMs, migrateMs, bundleCached: cached },
      fetch: (input, init) => dispatch(mf, url, input, init),
      async scheduled(cron = "*/15 * * * *") {
        const worker = await mf.getWorker();
        await worker.scheduled({ cron });
      },
      async exec(statement, args = []) {
        const db = await mf.getD1Database("DB");
        const result = await db.prepare(statement).bind(...args).all<Record<string, unknown>>();
        return result.results;
      },
      dispose: () => mf.dispose(),
    };
  } catch (error) {
    await mf.dispose();
    throw error;
  }
}

export interface WorkerTransports {
  /** Connect protocol, JSON messages. */
  connectJson: Transport;
  /** Connect protocol, binary messages. */
  connectBinary: Transport;
  grpcWeb: Transport;
}

/**
 * Client transports whose requests go to the Worker through `fetch`, so an
 * RPC suite written against the Node server runs unchanged against workerd.
 */
export function createWorkerTransports(worker: Pick<StartedWorker, "fetch" | "url">): WorkerTransports {
  // connect-web asks for `redirect: "error"`, `mode` and `credentials`, which
  // only mean something in a browser; drop them on the way to workerd.
  const fetch: typeof globalThis.fetch = (input, init) => {
    const { redirect: _redirect, mode: _mode, credentials: _credentials, ...rest } = init ?? {};
    return worker.fetch(input, rest);
  };
  const baseUrl = worker.url;
  return {
    connectJson: createConnectTransport({ baseUrl, fetch, useBinaryFormat: false }),
    connectBinary: createConnectTransport({ baseUrl, fetch, useBinaryFormat: true }),
    grpcWeb: createGrpcWebTransport({ baseUrl, fetch }),
  };
}

/** A started Worker as the target of a shared RPC suite (Connect JSON and gRPC-Web). */
export function workerRpcTarget(worker: StartedWorker): RpcTarget {
  const transports = createWorkerTransports(worker);
  return {
    name: "worker",
    baseUrl: worker.url,
    fetch: (input, init) => worker.fetch(input, init),
    transports: { connect: transports.connectJson, grpcWeb: transports.grpcWeb },
    exec: (sql, args) => worker.exec(sql, args),
    stop: () => worker.dispose(),
  };
}

async function dispatch(mf: Miniflare, baseUrl: string, input: string | URL | Request, init?: RequestInit): Promise<Response> {
  let target: string;
  if (input instanceof Request) {
    // Node's Request is not miniflare's; pass its parts instead.
    const body = input.body === null ? undefined : await input.arrayBuffer();
    init = { method: input.method, headers: input.headers, body, signal: input.signal, ...init };
    target = input.url;
  } else {
    target = new URL(input, `${baseUrl}/`).toString();
  }
  // miniflare bundles its own undici: its Request/Response classes are not
  // Node's globals, but they are structurally the same fetch types.
  type DispatchInput = Parameters<Miniflare["dispatchFetch"]>[0];
  type DispatchInit = Parameters<Miniflare["dispatchFetch"]>[1];
  const response = await mf.dispatchFetch(target as unknown as DispatchInput, init as unknown as DispatchInit);
  return response as unknown as Response;
}

/**
 * Runs every migration file in name order, each as one D1 batch. drizzle-kit
 * separates statements with `--> statement-breakpoint`.
 */
async function applyMigrations(mf: Miniflare): Promise<void> {
  const db = await mf.getD1Database("DB");
  const files = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith(".sql")).sort();
  for (const file of files) {
    const sql = await readFile(join(MIGRATIONS_DIR, file), "utf8");
    const statements = sql
      .split("--> statement-breakpoint")
      .map((statement) => statement.trim())
      .filter((statement) => statement !== "");
    if (statements.length === 0) continue;
    try {
      await db.batch(statements.map((statement) => db.prepare(statement)));
    } catch (error) {
      throw new Error(`migration ${file} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

async function readCompatibility(): Promise<{ compatibilityDate: string; compatibilityFlags: string[] }> {
  // wrangler.toml is the single source of these; a small read of two keys
  // avoids a TOML parser dependency.
  const toml = await readFile(join(ROOT, "wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  if (date === undefined) throw new Error("wrangler.toml has no compatibility_date");
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? "";
  return {
    compatibilityDate: date,
    compatibilityFlags: [...flags.matchAll(/"([^"]+)"/g)].map((match) => match[1] as string),
  };
}

let bundling: Map<string, Promise<{ scriptPath: string; cached: boolean }>> | undefined;

/**
 * `wrangler deploy --dry-run --outdir`: the same esbuild settings, module
 * rules and wasm handling as a real deploy. Cached under .wrangler/ by a hash
 * of everything that goes into the bundle.
 */
function bundleWorker(entry: string, aliases: Record<string, string>): Promise<{ scriptPath: string; cached: boolean }> {
  bundling ??= new Map();
  const key = JSON.stringify([entry, aliases]);
  let pending = bundling.get(key);
  if (pending === undefined) {
    pending = buildOrReuse(entry, aliases);
    bundling.set(key, pending);
    pending.catch(() => bundling?.delete(key));
  }
  return pending;
}

async function buildOrReuse(entry: string, aliases: Record<string, string>): Promise<{ scriptPath: string; cached: boolean }> {
  const hash = await sourceHash(entry, aliases);
  const outdir = join(BUNDLE_CACHE, hash);
  const scriptName = entry.replace(/^.*\//, "").replace(/\.[cm]?[jt]s$/, ".js");
  if (existsSync(join(outdir, scriptName))) return { scriptPath: join(outdir, scriptName), cached: true };

  // Build beside the cache entry and rename into place, so test files
  // bundling in parallel never see a half-written directory.
  const building = `${outdir}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await mkdir(BUNDLE_CACHE, { recursive: true });
  const wrangler = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin/wrangler.js");
  // `deploy` in wrangler 4.86 ignores --alias (it reads only the config's
  // `alias`); `versions upload` runs the same bundler and honours it.
  const command = Object.keys(aliases).length > 0 ? ["versions", "upload"] : ["deploy"];
  const args = [wrangler, ...command, "--dry-run", "--outdir", building, "--config", join(ROOT, "wrangler.toml")];
  for (const [from, to] of Object.entries(aliases)) args.push("--alias", `${from}:${to}`);
  args.push(entry);
  try {
    await promisify(execFile)(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", NO_COLOR: "1" },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    const output = error as { stdout?: string; stderr?: string };
    throw new Error(`wrangler could not bundle ${entry}:\n${output.stdout ?? ""}${output.stderr ?? ""}`);
  }
  try {
    await rename(building, outdir);
  } catch {
    // Another process got there first with an identical bundle.
    await rm(building, { recursive: true, force: true });
  }
  await pruneBundles(outdir);
  return { scriptPath: join(outdir, scriptName), cached: false };
}

/** Every source edit makes a new bundle; keep only the few most recent. */
async function pruneBundles(keep: string): Promise<void> {
  const KEEP = 4;
  const dirs = await Promise.all(
    (await readdir(BUNDLE_CACHE, { withFileTypes: true }))
      // Names with a dot are builds in progress (see buildOrReuse).
      .filter((entry) => entry.isDirectory() && !entry.name.includes("."))
      .map(async (entry) => {
        const path = join(BUNDLE_CACHE, entry.name);
        return { path, mtime: (await stat(path)).mtimeMs };
      }),
  );
  const stale = dirs.sort((a, b) => b.mtime - a.mtime).slice(KEEP).filter((dir) => dir.path !== keep);
  await Promise.all(stale.map((dir) => rm(dir.path, { recursive: true, force: true })));
}

async function sourceHash(entry: string, aliases: Record<string, string>): Promise<string> {
  const hash = createHash("sha256");
  hash.update(JSON.stringify([entry, aliases]));
  const files = [
    ...(await listFiles(join(ROOT, "src"))),
    ...(await listFiles(join(ROOT, "gen"))),
    join(ROOT, "wrangler.toml"),
    join(ROOT, "package-lock.json"),
    ...Object.values(aliases),
  ];
  for (const file of files) {
    if (!existsSync(file)) continue;
    hash.update(relative(ROOT, file));
    hash.update(await readFile(file));
  }
  return hash.digest("hex").slice(0, 16);
}

async function listFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}
