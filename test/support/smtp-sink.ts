/**
 * A real SMTP server for tests, in a child process so that the server and
 * the code under test share nothing but a TCP connection. Messages arrive as
 * JSON lines on the child's stdout (see smtp-sink-process.ts).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface SinkMessage {
  /** The To header: `Name <address>` or `address`, comma-separated. */
  to: string;
  /** The From header, written like `to`. */
  from: string;
  subject: string;
  text: string;
  /** RCPT TO addresses: who the server was asked to deliver to. */
  envelopeTo: string[];
}

export interface SmtpSink extends WaitList<SinkMessage> {
  readonly url: string;
  readonly port: number;
  /** Kills the server process; connections to its port are then refused. */
  stop(): Promise<void>;
}

/** Received items, and a way to wait for one without polling. */
export interface WaitList<T> {
  /** Everything received so far, in order. */
  readonly messages: T[];
  /**
   * Resolves with the first item, received before or after the call, that
   * matches; rejects after `timeoutMs`, or when the source goes away.
   */
  waitFor(predicate: (message: T) => boolean, timeoutMs?: number): Promise<T>;
}

interface Waiter<T> {
  predicate: (message: T) => boolean;
  resolve: (message: T) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The event-driven core of both sinks: `add` settles waiting promises at once. */
export function createWaitList<T>(): WaitList<T> & { add(message: T): void; close(reason: Error): void } {
  const messages: T[] = [];
  const waiters = new Set<Waiter<T>>();
  let closed: Error | undefined;
  return {
    messages,
    add(message) {
      messages.push(message);
      for (const waiter of waiters) {
        if (!waiter.predicate(message)) continue;
        waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(message);
      }
    },
    close(reason) {
      closed = reason;
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(reason);
      }
      waiters.clear();
    },
    waitFor(predicate, timeoutMs = 10_000) {
      const seen = messages.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      if (closed) return Promise.reject(closed);
      return new Promise<T>((resolve, reject) => {
        const waiter: Waiter<T> = {
          predicate,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(`no matching message within ${timeoutMs} ms (${messages.length} received)`));
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
  };
}

const SCRIPT = fileURLToPath(new URL("./smtp-sink-process.ts", import.meta.url));

/** Starts a sink on a free port, or on `port` to bring a stopped sink back. */
export async function startSmtpSink(options: { port?: number } = {}): Promise<SmtpSink> {
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, String(options.port ?? 0)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const list = createWaitList<SinkMessage>();
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      let parsed: { type?: string; port?: number; message?: SinkMessage };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        return;
      }
      if (parsed.type === "listening" && typeof parsed.port === "number") resolve(parsed.port);
      else if (parsed.type === "message" && parsed.message) list.add(parsed.message);
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      const reason = new Error(`smtp sink exited (${signal ?? code}) ${stderr.trim()}`);
      reject(reason);
      list.close(reason);
    });
  });

  return {
    messages: list.messages,
    waitFor: list.waitFor,
    url: `smtp://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
