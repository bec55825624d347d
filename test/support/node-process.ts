/**
 * Starts the real Node server as a separate operating-system process (the
 * same entry point as `npm start`, run from source through tsx), so several
 * instances can share one database the way a deployment runs them.
 *
 * Readiness is the server's own `listening` log line, which carries the URL
 * it bound (PORT=0 picks a free port).
 */
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const START_TIMEOUT_MS = 60_000;

export interface NodeProcess {
  readonly url: string;
  readonly pid: number;
  /** Every line the process wrote, stdout and stderr. */
  readonly output: readonly string[];
  /** SIGTERM, then waits for the exit (the server drains first). */
  stop(): Promise<void>;
}

/**
 * `script` (relative to the repository root) must log a JSON line with
 * `"event":"listening"` and its `url` once it serves.
 */
export async function startNodeProcess(env: Record<string, string>, script = "src/runtime/node.ts"): Promise<NodeProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((settle) => child.once("exit", (code) => settle(code)));
  const url = await new Promise<string>((settle, fail) => {
    const timer = setTimeout(() => fail(new Error(`no "listening" line within ${START_TIMEOUT_MS} ms:\n${output.join("\n")}`)), START_TIMEOUT_MS);
    const onLine = (line: string) => {
      output.push(line);
      const event = parse(line);
      if (event?.event === "listening" && typeof event.url === "string") {
        clearTimeout(timer);
        settle(event.url);
      }
    };
    createInterface({ input: child.stdout! }).on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", (line) => output.push(line));
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`the server exited (${code}) before listening:\n${output.join("\n")}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Stops every process given, even when some fail to stop. */
export async function stopAll(processes: ReadonlyArray<NodeProcess | undefined>): Promise<void> {
  await Promise.allSettled(processes.map((p) => p?.stop()));
}

function parse(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
