/**
 * A fixed number of worker threads that compute argon2id synchronously (see
 * argon2-thread.mjs). Threads start on first use, are unref'd so an idle
 * pool never keeps the process alive, and are replaced if one dies.
 * Callers bound their own concurrency (the hash limiter); tasks beyond the
 * number of threads wait here in arrival order.
 */
import type { Options } from "@node-rs/argon2";
import { Worker } from "node:worker_threads";

type Task = { op: "hash"; password: string; options: Options } | { op: "verify"; phc: string; password: string };

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Thread {
  worker: Worker;
  /** The task it is working on. */
  current: number | undefined;
}

export interface Argon2Pool {
  hash(password: string, options: Options): Promise<string>;
  verify(phc: string, password: string): Promise<boolean>;
  /** Stops every thread; tasks still running are rejected. */
  close(): Promise<void>;
}

const THREAD_SCRIPT = new URL("./argon2-thread.mjs", import.meta.url);

export function createArgon2Pool(size: number): Argon2Pool {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  const idle: Thread[] = [];
  const threads = new Set<Thread>();
  const pending = new Map<number, Pending>();
  const waiting: Array<{ id: number; task: Task }> = [];
  let nextId = 1;
  let closed = false;

  function spawn(): Thread {
    // No inherited flags: the script is plain JavaScript and needs no loader.
    const worker = new Worker(THREAD_SCRIPT, { execArgv: [] });
    worker.unref();
    const thread: Thread = { worker, current: undefined };
    worker.on("message", (answer: { id: number; value?: unknown; error?: string }) => {
      const settle = pending.get(answer.id);
      pending.delete(answer.id);
      thread.current = undefined;
      if (settle) {
        if (answer.error !== undefined) settle.reject(new Error(`argon2: ${answer.error}`));
        else settle.resolve(answer.value);
      }
      release(thread);
    });
    const fail = (error: Error) => {
      if (!threads.delete(thread)) return;
      const index = idle.indexOf(thread);
      if (index >= 0) idle.splice(index, 1);
      if (thread.current !== undefined) {
        pending.get(thread.current)?.reject(error);
        pending.delete(thread.current);
      }
      // The waiting tasks go to a fresh thread.
      const next = waiting.shift();
      if (next && !closed) dispatch(next.id, next.task);
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`argon2 thread exited with code ${code}`)));
    threads.add(thread);
    return thread;
  }

  function release(thread: Thread) {
    const next = waiting.shift();
    if (next) run(thread, next.id, next.task);
    else idle.push(thread);
  }

  function run(thread: Thread, id: number, task: Task) {
    thread.current = id;
    thread.worker.postMessage({ id, ...task });
  }

  function dispatch(id: number, task: Task) {
    const thread = idle.pop() ?? (threads.size < size ? spawn() : undefined);
    if (thread) run(thread, id, task);
    else waiting.push({ id, task });
  }

  function submit<T>(task: Task): Promise<T> {
    if (closed) return Promise.reject(new Error("the argon2 pool is closed"));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      dispatch(id, task);
    });
  }

  return {
    hash: (password, options) => submit<string>({ op: "hash", password, options }),
    verify: (phc, password) => submit<boolean>({ op: "verify", phc, password }),
    async close() {
      closed = true;
      const stopping = [...threads].map((thread) => thread.worker.terminate());
      waiting.length = 0;
      await Promise.all(stopping);
      for (const settle of pending.values()) settle.reject(new Error("the argon2 pool is closed"));
      pending.clear();
    },
  };
}
