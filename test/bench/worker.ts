/**
 * The Worker phase: what `wrangler deploy` would upload (gzip size of the
 * script and its wasm modules), the first request a fresh isolate answers on
 * an existing D1 database, and ValidateToken over Connect JSON at 32
 * connections against the Worker's own plain route — all inside workerd as
 * miniflare runs it locally, which has no edge network in front.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startWorker, type StartedWorker } from "../support/start-worker.js";
import { createRpcClient, METHODS, tokensOf } from "./client.js";
import { runFixed, type LoadFigures } from "./loads.js";
import { BOOTSTRAP_ADMIN } from "./server.js";

/** Fresh isolates started on the same database; the median first answer is reported. */
const COLD_STARTS = 5;
const PLAIN_WORKER = "test/bench/fixtures/plain-worker.ts";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CONNECTIONS = 32;
const PASSWORD = "violet-anchor-meadow-71-quartz";

export interface WorkerFigures {
  /** As wrangler reports it: the script and its wasm modules, raw and gzip-compressed. */
  bundle: { modules: string[]; kib: number; gzipKib: number };
  /** Per fresh isolate: workerd start (script compiled and evaluated) and the first and second answers, ms. */
  coldStarts: Array<{ workerdStartMs: number; firstRequestMs: number; secondRequestMs: number }>;
  firstRequestMedianMs: number;
  /** The same for a Worker that only answers "ok" (test/bench/fixtures/plain-worker.ts), ms. */
  plainFirstRequestMedianMs: number;
  healthz: LoadFigures;
  validate: LoadFigures;
}

export async function measureWorker(seconds: number, log: (message: string) => void): Promise<WorkerFigures> {
  const bundle = await bundleSize();
  const persistDir = await mkdtemp(join(tmpdir(), "latchkey-bench-worker-"));
  const bindings = {
    LATCHKEY_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: BOOTSTRAP_ADMIN.email,
    LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: BOOTSTRAP_ADMIN.password,
    LOG_LEVEL: "warn",
  };
  let worker: StartedWorker | undefined;
  try {
    // The first isolate migrates, creates the signing key and the bootstrap
    // admin, and leaves a user's token to validate.
    worker = await startWorker({ persistDir, bindings });
    const setup = createRpcClient(worker.url, 4);
    const admin = tokensOf(await setup.ok(METHODS.signIn, { email: BOOTSTRAP_ADMIN.email, password: BOOTSTRAP_ADMIN.password }));
    await setup.ok(METHODS.createUser, { email: "bench-worker@latchkey.test", name: "Bench Worker", password: PASSWORD });
    const user = tokensOf(await setup.ok(METHODS.signIn, { email: "bench-worker@latchkey.test", password: PASSWORD }));
    setup.close();
    await worker.dispose();
    worker = undefined;

    const validateBody = { token: user.accessToken };
    const adminHeaders = { authorization: `Bearer ${admin.accessToken}` };
    const coldStarts: WorkerFigures["coldStarts"] = [];
    for (let i = 0; i < COLD_STARTS; i++) {
      worker = await startWorker({ persistDir, bindings, migrate: false });
      const client = createRpcClient(worker.url, 1);
      const firstStarted = performance.now();
      const first = await client.ok(METHODS.validateToken, validateBody, adminHeaders);
      const firstRequestMs = performance.now() - firstStarted;
      const secondStarted = performance.now();
      await client.ok(METHODS.validateToken, validateBody, adminHeaders);
      const secondRequestMs = performance.now() - secondStarted;
      client.close();
      if (first.active !== true) throw new Error(`the Worker does not find the token active: ${JSON.stringify(first)}`);
      coldStarts.push({ workerdStartMs: worker.timings.startMs, firstRequestMs, secondRequestMs });
      log(`fresh isolate ${i + 1}: workerd ready in ${Math.round(worker.timings.startMs)} ms, first answer ${firstRequestMs.toFixed(1)} ms, second ${secondRequestMs.toFixed(1)} ms`);
      if (i < COLD_STARTS - 1) {
        await worker.dispose();
        worker = undefined;
      }
    }

    const url = worker!.url;
    const healthz = await runFixed({ url: `${url}/healthz`, connections: CONNECTIONS, seconds });
    const validate = await runFixed({
      url: `${url}/${METHODS.validateToken}`,
      method: "POST",
      headers: { "content-type": "application/json", ...adminHeaders },
      body: JSON.stringify(validateBody),
      connections: CONNECTIONS,
      seconds,
    });
    await worker!.dispose();
    worker = undefined;

    const plainFirsts: number[] = [];
    for (let i = 0; i < COLD_STARTS; i++) {
      worker = await startWorker({ entry: PLAIN_WORKER, migrate: false });
      const started = performance.now();
      const response = await fetch(`${worker.url}/`);
      await response.text();
      plainFirsts.push(performance.now() - started);
      await worker.dispose();
      worker = undefined;
    }
    return {
      bundle,
      coldStarts,
      firstRequestMedianMs: median(coldStarts.map((c) => c.firstRequestMs)),
      plainFirstRequestMedianMs: median(plainFirsts),
      healthz,
      validate,
    };
  } finally {
    await worker?.dispose();
    await rm(persistDir, { recursive: true, force: true });
  }
}

/**
 * `wrangler deploy --dry-run`: the upload a deploy would make, with the size
 * wrangler reports for it (the figure Cloudflare's script-size limits use).
 */
async function bundleSize(): Promise<WorkerFigures["bundle"]> {
  const outdir = await mkdtemp(join(tmpdir(), "latchkey-bench-bundle-"));
  try {
    const wrangler = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin/wrangler.js");
    const { stdout } = await promisify(execFile)(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", outdir], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
      maxBuffer: 16 * 1024 * 1024,
    });
    const sizes = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(stdout);
    if (sizes === null) throw new Error(`wrangler printed no upload size:\n${stdout}`);
    const modules = (await readdir(outdir)).filter((name) => name.endsWith(".js") || name.endsWith(".wasm"));
    return { modules, kib: Number(sizes[1]), gzipKib: Number(sizes[2]) };
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
