/**
 * The throttle upsert on a real libSQL file: it computes exactly what the
 * pure rule defines, and events from two connections (as from two
 * processes) racing on one key are all counted.
 */
import { eq } from "drizzle-orm";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { afterHit, blockDuration, lockoutRule, refusedHit, type ThrottleRule, type ThrottleState } from "../../src/domain/throttle/rules.js";
import type { Database } from "../../src/store/database.js";
import { openLibsql } from "../../src/store/open-libsql.js";
import { clearThrottle, deleteStaleThrottles, hitThrottle } from "../../src/store/queries/throttles.js";
import { throttles } from "../../src/store/schema/index.js";

const RULE: ThrottleRule = { limit: 3, windowMs: 10_000, blockMs: 1_000, maxBlockMs: 5_000, forgetAfterMs: 60_000 };

let dir: string;
let first: Database;
let second: Database;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "latchkey-throttles-"));
  const url = `file:${join(dir, "latchkey.db")}`;
  first = await openLibsql({ url, migrationsFolder: "src/store/migrations" });
  second = await openLibsql({ url });
});

afterAll(async () => {
  first?.close();
  second?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function stored(key: string): Promise<ThrottleState | undefined> {
  const row = await first.db.select().from(throttles).where(eq(throttles.key, key)).get();
  if (!row) return undefined;
  return { hits: row.hits, windowStartedAt: row.windowStartedAt, blockedUntil: row.blockedUntil, strikes: row.strikes, updatedAt: row.updatedAt };
}

describe("the rule", () => {
  it("blocks on the limit-th event, doubles each strike up to the cap, and forgets strikes after a quiet day", () => {
    let state: ThrottleState | undefined;
    let now = 0;
    for (let i = 0; i < 2; i++) state = afterHit(state, RULE, now++);
    expect(state).toMatchObject({ hits: 2, blockedUntil: null, strikes: 0 });
    state = afterHit(state, RULE, now);
    expect(state).toMatchObject({ hits: 0, blockedUntil: now + 1_000, strikes: 1 });
    expect(refusedHit(state, now)).toBe(false);
    const blocked = afterHit(state, RULE, now + 1);
    expect(refusedHit(blocked, now + 1)).toBe(true);
    expect(blocked.blockedUntil).toBe(state.blockedUntil);
    expect([0, 1, 2, 3, 4, 30].map((s) => blockDuration(RULE, s))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
    const quiet = afterHit({ hits: 0, windowStartedAt: 0, blockedUntil: 1_000, strikes: 3, updatedAt: 0 }, RULE, 60_000);
    expect(quiet).toMatchObject({ hits: 1, strikes: 0 });
  });

  it("keeps the lockout threshold between 1 and 100 (NIST SP 800-63B-4 §3.2.2)", () => {
    expect(lockoutRule({ lockoutThreshold: 500, lockoutWindowSeconds: 900 }).limit).toBe(100);
    expect(lockoutRule({ lockoutThreshold: 0, lockoutWindowSeconds: 900 }).limit).toBe(10);
    expect(lockoutRule({ lockoutThreshold: 10, lockoutWindowSeconds: 900 })).toMatchObject({ limit: 10, windowMs: 900_000, blockMs: 30_000, maxBlockMs: 3_600_000 });
  });
});

describe("the upsert", () => {
  it("computes what the rule defines, event by event", async () => {
    const key = "test:sequence";
    let expected: ThrottleState | undefined;
    // Bursts, pauses longer than the window, blocks and a quiet day.
    const gaps = [0, 1, 1, 1, 500, 700, 1, 1, 1, 3_000, 1, 1, 11_000, 1, 1, 1, 1, 90_000, 1, 2, 3, 4, 5];
    let now = 1_000_000;
    for (const gap of gaps) {
      now += gap;
      const [after] = await hitThrottle(first.db, key, RULE, now);
      expected = afterHit(expected, RULE, now);
      expect(after, `after the event at +${gap} ms`).toEqual(expected);
    }
    expect(await stored(key)).toEqual(expected);
    await clearThrottle(first.db, key);
    expect(await stored(key)).toBeUndefined();
  });

  it("counts every one of many events racing from two connections", async () => {
    const key = "test:race";
    const wide: ThrottleRule = { ...RULE, limit: 1_000 };
    const now = 5_000_000;
    await Promise.all(Array.from({ length: 200 }, (_, i) => hitThrottle((i % 2 ? first : second).db, key, wide, now + (i % 7))));
    expect((await stored(key))?.hits).toBe(200);
  });

  it("sets one block however many events race past the limit", async () => {
    const key = "test:race-block";
    const now = 9_000_000;
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => hitThrottle((i % 2 ? first : second).db, key, RULE, now)));
    const tripped = results.filter(([after]) => after && !refusedHit(after, now) && after.blockedUntil !== null);
    // Exactly one event trips the block; every later one is refused and counted towards the next strike.
    expect(tripped).toHaveLength(1);
    expect(await stored(key)).toMatchObject({ blockedUntil: now + 1_000, strikes: 1, hits: 12 - RULE.limit });
  });
});

describe("housekeeping", () => {
  it("forgets keys that are neither blocked nor recently used, and keeps the rest", async () => {
    const now = 20_000_000;
    const quiet = { ...RULE, limit: 100 };
    await hitThrottle(first.db, "test:old-quiet", quiet, now - 3 * RULE.forgetAfterMs);
    await hitThrottle(first.db, "test:recent", quiet, now - 1_000);
    const longBlock: ThrottleRule = { ...RULE, limit: 1, blockMs: 10 * RULE.forgetAfterMs, maxBlockMs: 10 * RULE.forgetAfterMs };
    await hitThrottle(first.db, "test:old-but-blocked", longBlock, now - 3 * RULE.forgetAfterMs);
    const deleted = await deleteStaleThrottles(first.db, now, 2 * RULE.forgetAfterMs);
    expect(deleted.map((r) => r.key).filter((k) => k.startsWith("test:old") || k === "test:recent")).toEqual(["test:old-quiet"]);
    expect(await stored("test:recent")).toBeDefined();
    expect(await stored("test:old-but-blocked")).toBeDefined();
  });
});
