import { describe, expect, it } from "vitest";
import { DomainError, Reason } from "../../src/domain/errors.js";
import { createHashLimiter, MIN_RETRY_AFTER_MS } from "../../src/domain/passwords/hash-limiter.js";

/** A task the test finishes by hand, so nothing depends on timing. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets queued promise callbacks run (several rounds of microtasks plus one macrotask turn). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe("createHashLimiter", () => {
  it("never runs more than maxConcurrent tasks at once", async () => {
    const limiter = createHashLimiter({ maxConcurrent: 3, maxQueued: 100 });
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 20 }, () => deferred());
    const results = gates.map((gate, i) =>
      limiter.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await gate.promise;
        running--;
        return i;
      }),
    );
    await settle();
    expect(limiter.active).toBe(3);
    expect(limiter.queued).toBe(17);
    // Finish tasks in a scrambled order; the cap must hold throughout.
    for (const i of [2, 0, 1, 5, 4, 3, 19, 7, 6, 8, 9, 10, 12, 11, 13, 14, 15, 16, 17, 18]) {
      gates[i]!.resolve();
      await settle();
      expect(running).toBeLessThanOrEqual(3);
    }
    expect(await Promise.all(results)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(3);
    expect(limiter.active).toBe(0);
    expect(limiter.queued).toBe(0);
  });

  it("rejects at once with resource_exhausted and a retry delay when the queue is full", async () => {
    const limiter = createHashLimiter({ maxConcurrent: 2, maxQueued: 3, estimatedTaskMs: 200 });
    const gate = deferred();
    let started = 0;
    const task = async () => {
      started++;
      await gate.promise;
    };
    const accepted = Array.from({ length: 5 }, () => limiter.run(task));

    let overflow: unknown;
    let settledEarly = false;
    const rejected = limiter.run(task).then(
      () => undefined,
      (error: unknown) => {
        overflow = error;
        settledEarly = true;
      },
    );
    await settle();
    // Rejected while every accepted task is still held open.
    expect(settledEarly).toBe(true);
    expect(overflow).toBeInstanceOf(DomainError);
    const error = overflow as DomainError;
    expect(error.kind).toBe("resource_exhausted");
    expect(error.reason).toBe(Reason.HASHING_BUSY);
    expect(error.message).toBe("too many password checks in progress");
    // 3 queued + 2 running, 2 at a time: 3 rounds of 200 ms.
    expect(error.retryAfterMs).toBe(600);
    expect(started).toBe(2);

    gate.resolve();
    await Promise.all([...accepted, rejected]);
    expect(started).toBe(5);
  });

  it("never hints a retry sooner than the minimum", async () => {
    const limiter = createHashLimiter({ maxConcurrent: 1, maxQueued: 0, estimatedTaskMs: 1 });
    const gate = deferred();
    const running = limiter.run(() => gate.promise);
    const error = await limiter.run(async () => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).retryAfterMs).toBe(MIN_RETRY_AFTER_MS);
    gate.resolve();
    await running;
  });

  it("starts waiting tasks in arrival order", async () => {
    const limiter = createHashLimiter({ maxConcurrent: 1, maxQueued: 10 });
    const order: number[] = [];
    const gates = Array.from({ length: 6 }, () => deferred());
    const results = gates.map((gate, i) =>
      limiter.run(async () => {
        order.push(i);
        await gate.promise;
      }),
    );
    for (const gate of gates) {
      await settle();
      gate.resolve();
    }
    await Promise.all(results);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("does not let a newcomer overtake the queue when a slot frees up", async () => {
    const limiter = createHashLimiter({ maxConcurrent: 1, maxQueued: 5 });
    const order: string[] = [];
    const first = deferred();
    const a = limiter.run(async () => {
      order.push("first");
      await first.promise;
    });
    const b = limiter.run(async () => {
      order.push("queued");
    });
    first.resolve();
    // Arrives before the finished task has handed its slot on.
    const c = limiter.run(async () => {
      order.push("newcomer");
    });
    await Promise.all([a, b, c]);
    expect(order).toEqual(["first", "queued", "newcomer"]);
  });

  it("frees the slot when a task fails, synchronously or not", async () => {
    const limiter = createHashLimiter({ maxConcurrent: 1, maxQueued: 2 });
    const syncThrow = limiter.run((() => {
      throw new Error("sync");
    }) as () => Promise<never>);
    const asyncThrow = limiter.run(async () => {
      throw new Error("async");
    });
    const ok = limiter.run(async () => "ok");
    await expect(syncThrow).rejects.toThrow("sync");
    await expect(asyncThrow).rejects.toThrow("async");
    await expect(ok).resolves.toBe("ok");
    expect(limiter.active).toBe(0);
  });

  it("refuses nonsensical limits", () => {
    expect(() => createHashLimiter({ maxConcurrent: 0, maxQueued: 1 })).toThrow(RangeError);
    expect(() => createHashLimiter({ maxConcurrent: 1.5, maxQueued: 1 })).toThrow(RangeError);
    expect(() => createHashLimiter({ maxConcurrent: 1, maxQueued: -1 })).toThrow(RangeError);
  });
});
