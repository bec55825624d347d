/**
 * The server under test, in its own process (so the load generator never
 * shares its event loop), on a fresh libSQL file in a temporary directory.
 * Samples the child's resident memory for the whole run.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

export const BOOTSTRAP_ADMIN = { email: "root@latchkey.test", password: "correct horse battery staple 42" };

export interface ServerOptions {
  /** Project root (where src/runtime/node.ts lives). */
  root: string;
  /** Extra Node flags for the server, e.g. ["--cpu-prof"]. */
  nodeFlags?: string[];
  /** Extra environment for the server. */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface MemoryStats {
  /** Peak resident set size reported by the kernel (VmHWM), in KiB. */
  hwmKiB: number;
  /** Largest VmRSS seen by the sampler, in KiB. */
  maxSampledKiB: number;
  /** VmRSS when the server had just become ready, in KiB. */
  readyKiB: number;
  samples: number;
}

export interface BenchServer {
  readonly url: string;
  readonly pid: number;
  /** The server's libSQL database file, for arranging data directly in SQL. */
  readonly databaseFile: string;
  /** Milliseconds from spawn to the first 200 from /readyz. */
  readonly startMs: number;
  /** How the server was started (its Node arguments). */
  readonly command: string;
  /** Lines the server wrote (warnings and errors at LOG_LEVEL=warn). */
  readonly output: string[];
  /** Marks the start of a named phase, so peak memory can be told per phase. */
  phase(name: string): void;
  memory(): Promise<MemoryStats & { byPhase: Record<string, number> }>;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** A field of /proc/<pid>/status in KiB, or undefined once the process is gone. */
export async function procStatusKiB(pid: number, field: "VmRSS" | "VmHWM"): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * How `npm start` runs the server in that project: the built bundle when its
 * start script runs one (built here first, as its prestart would), else the
 * TypeScript entry point through tsx.
 */
export function serverEntry(root: string): { args: string[]; built: boolean } {
  const scripts = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts?: Record<string, string> }).scripts ?? {};
  const bundle = /^node (\S+\.js)$/.exec(scripts.start ?? "")?.[1];
  if (bundle && scripts.build) {
    execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
    return { args: [bundle], built: true };
  }
  return { args: ["--import", "tsx", "src/runtime/node.ts"], built: false };
}

export async function startBenchServer(options: ServerOptions): Promise<BenchServer> {
  const dir = await mkdtemp(join(tmpdir(), "latchkey-bench-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const databaseFile = join(dir, "bench.db");
  const output: string[] = [];
  const entry = serverEntry(options.root);
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...entry.args], {
    cwd: options.root,
    env: {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: `file:${databaseFile}`,
      LOG_LEVEL: "warn",
      LATCHKEY_BOOTSTRAP_ADMIN_EMAIL: BOOTSTRAP_ADMIN.email,
      LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD: BOOTSTRAP_ADMIN.password,
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim() !== "") output.push(line);
    }
    if (output.length > 500) output.splice(0, output.length - 500);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);

  let stopped: Promise<void> | undefined;
  // Set once the server is ready; until then there is nothing to sample.
  const timers: { sampler?: ReturnType<typeof setInterval> } = {};
  const stop = () =>
    (stopped ??= (async () => {
      if (timers.sampler) clearInterval(timers.sampler);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        if (!(await waitForExit(child, 8000))) {
          child.kill("SIGKILL");
          await waitForExit(child, 2000);
        }
      }
      await rm(dir, { recursive: true, force: true });
    })());

  try {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the server exited during start (${child.exitCode ?? child.signalCode}):\n${output.join("\n")}`);
      }
      if (Date.now() > deadline) throw new Error(`the server was not ready in time:\n${output.join("\n")}`);
      const ready = await fetch(`${url}/readyz`).then(
        (res) => res.status === 200,
        () => false,
      );
      if (ready) break;
      // Not a fixed wait for readiness: a short pause between polls.
      await delay(50);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const startMs = performance.now() - started;
  const pid = child.pid!;

  let currentPhase = "start";
  const byPhase: Record<string, number> = {};
  let maxSampledKiB = 0;
  let samples = 0;
  const sample = async () => {
    const rss = await procStatusKiB(pid, "VmRSS");
    if (rss === undefined) return;
    samples++;
    maxSampledKiB = Math.max(maxSampledKiB, rss);
    byPhase[currentPhase] = Math.max(byPhase[currentPhase] ?? 0, rss);
  };
  const readyKiB = (await procStatusKiB(pid, "VmRSS")) ?? 0;
  timers.sampler = setInterval(() => void sample(), 200);
  timers.sampler.unref();

  return {
    url,
    pid,
    databaseFile,
    startMs,
    command: [...(options.nodeFlags ?? []), ...entry.args].join(" "),
    output,
    phase(name) {
      currentPhase = name;
    },
    async memory() {
      await sample();
      return { hwmKiB: (await procStatusKiB(pid, "VmHWM")) ?? 0, maxSampledKiB, readyKiB, samples, byPhase: { ...byPhase } };
    },
    stop,
  };
}
