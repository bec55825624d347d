/**
 * Caps how many password hashes run at once and how many wait. Each argon2id
 * hash holds about 19 MiB and a thread (Node) or the isolate (Workers) for
 * tens to hundreds of milliseconds; an unbounded queue under a burst of
 * sign-ins would only turn into memory exhaustion and timeouts, so beyond the
 * queue callers are told at once to come back later.
 */
import { DomainError, Reason } from "../errors.js";

export interface HashLimiterOptions {
  /** Tasks allowed to run at the same time (at least 1). */
  maxConcurrent: number;
  /** Tasks allowed to wait for a slot, first come first served (0 or more). */
  maxQueued: number;
  /**
   * Typical duration of one task, for the retry hint given to rejected
   * callers. Defaults to 100 ms (an OWASP-minimum argon2id hash on a Worker).
   */
  estimatedTaskMs?: number;
}

export interface HashLimiter {
  /**
   * Runs `task` when a slot is free. Rejects at once, without running it,
   * with a resource_exhausted DomainError (Reason.HASHING_BUSY, retryAfterMs)
   * when all slots are busy and the queue is full.
   */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly queued: number;
}

/** Shortest retry hint: sooner than this a retry would almost surely be refused again. */
export const MIN_RETRY_AFTER_MS = 100;

const DEFAULT_ESTIMATED_TASK_MS = 100;

export function createHashLimiter(options: HashLimiterOptions): HashLimiter {
  const { maxConcurrent, maxQueued } = options;
  const estimatedTaskMs = options.estimatedTaskMs ?? DEFAULT_ESTIMATED_TASK_MS;
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
    throw new RangeError(`maxConcurrent must be a positive integer, got ${maxConcurrent}`);
  }
  if (!Number.isInteger(maxQueued) || maxQueued < 0) {
    throw new RangeError(`maxQueued must be a non-negative integer, got ${maxQueued}`);
  }
  if (!(estimatedTaskMs > 0)) {
    throw new RangeError(`estimatedTaskMs must be positive, got ${estimatedTaskMs}`);
  }

  let active = 0;
  // Each entry starts one waiting task; FIFO keeps waiting times fair.
  const waiting: Array<() => void> = [];

  const release = () => {
    const next = waiting.shift();
    // The finished task's slot passes straight to the next waiter, so a new
    // caller arriving in between cannot jump the queue.
    if (next) next();
    else active--;
  };

  const start = <T>(task: () => Promise<T>): Promise<T> => {
    // new Promise(...) turns a task that throws synchronously into a rejection,
    // so its slot is still released.
    const running = new Promise<T>((resolve) => resolve(task()));
    running.then(release, release);
    return running;
  };

  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      if (active < maxConcurrent) {
        active++;
        return start(task);
      }
      if (waiting.length >= maxQueued) {
        // Everyone ahead (queued plus running) must finish, maxConcurrent at a time.
        const rounds = Math.ceil((waiting.length + active) / maxConcurrent);
        const retryAfterMs = Math.max(MIN_RETRY_AFTER_MS, Math.ceil(rounds * estimatedTaskMs));
        return Promise.reject(
          new DomainError("resource_exhausted", Reason.HASHING_BUSY, "too many password checks in progress", { retryAfterMs }),
        );
      }
      return new Promise<T>((resolve, reject) => {
        waiting.push(() => {
          start(task).then(resolve, reject);
        });
      });
    },
    get active() {
      return active;
    },
    get queued() {
      return waiting.length;
    },
  };
}
