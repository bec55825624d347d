/**
 * Hashes made on Node (@node-rs/argon2) verify inside real workerd
 * (argon2-wasm-edge) and the reverse. The fixture Worker is bundled the way a
 * deploy bundles it (wrangler, `.wasm` as CompiledWasm modules) and run
 * through miniflare; everything works offline.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePhc } from "../../src/domain/passwords/phc.js";
import { createNodeArgon2Hasher } from "../../src/runtime/argon2-node.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const FIXTURE = join(ROOT, "test/worker/fixtures/argon2-hasher-worker.ts");

const node = createNodeArgon2Hasher({ maxConcurrent: 2, maxQueued: 8 });

let workDir: string;
let mf: Miniflare;
const timings = { bundleMs: 0, startMs: 0 };

/** POSTs JSON to the fixture Worker and returns its JSON answer. */
async function call<T>(path: string, body: unknown): Promise<T> {
  const response = await mf.dispatchFetch(`http://fixture${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

async function workerHash(password: string): Promise<string> {
  return (await call<{ phc: string }>("/hash", { password })).phc;
}

async function workerVerify(phc: string, password: string): Promise<boolean> {
  return (await call<{ ok: boolean }>("/verify", { phc, password })).ok;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "latchkey-argon2-worker-"));
  const toml = await readFile(join(ROOT, "wrangler.toml"), "utf8");
  const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  if (!compatibilityDate) throw new Error("wrangler.toml has no compatibility_date");

  // A config of its own, so the project's bindings (D1, vars) stay out of the fixture.
  const config = join(workDir, "wrangler.toml");
  await writeFile(config, `name = "argon2-fixture"\nmain = ${JSON.stringify(FIXTURE)}\ncompatibility_date = "${compatibilityDate}"\n`);
  const outdir = join(workDir, "out");
  const wrangler = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin/wrangler.js");

  const bundleStarted = performance.now();
  await promisify(execFile)(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", outdir, "--config", config], {
    cwd: workDir,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", NO_COLOR: "1" },
  });
  timings.bundleMs = performance.now() - bundleStarted;

  const startStarted = performance.now();
  mf = new Miniflare({
    modules: true,
    scriptPath: join(outdir, "argon2-hasher-worker.js"),
    // Module names are paths relative to this root; the default (the working
    // directory) would need ".." to reach the temporary directory.
    modulesRoot: outdir,
    // wrangler leaves each `.wasm` import as its own module next to the
    // script; workerd must receive it precompiled.
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate,
    cf: false,
  });
  await mf.ready;
  timings.startMs = performance.now() - startStarted;
}, 120_000);

afterAll(async () => {
  await mf?.dispose();
  if (workDir) await rm(workDir, { recursive: true, force: true });
  console.info(`argon2 fixture: bundle ${timings.bundleMs.toFixed(0)} ms, workerd start ${timings.startMs.toFixed(0)} ms`);
});

describe("argon2id across runtimes", () => {
  it("verifies a hash made on Node inside workerd", async () => {
    const password = "Grüße aus Köln — 🔐 correct horse";
    const phc = await node.hash(password);
    expect(await workerVerify(phc, password)).toBe(true);
    expect(await workerVerify(phc, `${password}x`)).toBe(false);
    expect(await workerVerify(phc, password.normalize("NFD"))).toBe(true);
  });

  it("verifies a hash made inside workerd on Node", async () => {
    const password = "lantern quiet marble orchid";
    const phc = await workerHash(password);
    const parsed = parsePhc(phc);
    expect(parsed).toMatchObject({ algorithm: "argon2id", version: 19, memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(parsed!.salt.length).toBe(16);
    expect(parsed!.hash.length).toBe(32);
    expect(await node.verify(phc, password)).toBe(true);
    expect(await node.verify(phc, `${password}x`)).toBe(false);
    expect(node.needsRehash(phc)).toBe(false);
  });

  it("salts each workerd hash and verifies its own hashes", async () => {
    const password = "Zq8!mW3#xT5v";
    const [a, b] = await Promise.all([workerHash(password), workerHash(password)]);
    expect(a).not.toBe(b);
    expect(await workerVerify(a, password)).toBe(true);
    expect(await workerVerify(b, "Zq8!mW3#xT5V")).toBe(false);
  });

  it("answers false for malformed or oversized hashes inside workerd", async () => {
    for (const phc of ["", "garbage", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ", "$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"]) {
      expect(await workerVerify(phc, "whatever")).toBe(false);
    }
  });

  it("takes a comparable time per hash on both runtimes", async () => {
    const password = "timing check password";
    const rounds = 3;
    let nodeMs = Number.POSITIVE_INFINITY;
    let workerMs = Number.POSITIVE_INFINITY;
    for (let i = 0; i < rounds; i++) {
      let started = performance.now();
      await node.hash(password);
      nodeMs = Math.min(nodeMs, performance.now() - started);
      started = performance.now();
      await workerHash(password);
      workerMs = Math.min(workerMs, performance.now() - started);
    }
    console.info(`argon2id m=19456,t=2,p=1: Node ${nodeMs.toFixed(0)} ms, workerd ${workerMs.toFixed(0)} ms (best of ${rounds})`);
    expect(nodeMs).toBeGreaterThan(0);
    expect(workerMs).toBeGreaterThan(0);
  });
});
