/**
 * Throttle counters (see domain/throttle/rules.ts for the rules). An event
 * is one INSERT … ON CONFLICT DO UPDATE whose arithmetic runs in SQL on the
 * row as it is at that moment, so concurrent events from any number of
 * processes or isolates are all counted and a block is set exactly once.
 */
import { eq, inArray, sql, type SQL } from "drizzle-orm";
import { MAX_DOUBLINGS, afterHit, type ThrottleRule } from "../../domain/throttle/rules.js";
import type { Db } from "../database.js";
import { throttles } from "../schema/index.js";

export type ThrottleRow = typeof throttles.$inferSelect;

/** The rows of `keys` that exist (a key without a row has seen no event). */
export async function findThrottles(db: Db, keys: readonly string[]): Promise<ThrottleRow[]> {
  if (keys.length === 0) return [];
  return db.select().from(throttles).where(inArray(throttles.key, [...keys])).all();
}

/**
 * Counts one event under `key` at `now` and answers the state after it. In
 * the update, every column reads the row as it was before the statement
 * (SQLite evaluates all assignments against the old row).
 */
export function hitThrottle(db: Db, key: string, rule: ThrottleRule, now: number) {
  const limit = Math.max(1, Math.floor(rule.limit));
  const first = afterHit(undefined, rule, now);
  const blocked = sql`(coalesce(${throttles.blockedUntil}, 0) > ${now})`;
  const expired = sql`(${now} >= ${throttles.windowStartedAt} + ${rule.windowMs})`;
  const strikes = sql`(case when ${now} >= ${throttles.updatedAt} + ${rule.forgetAfterMs} then 0 else ${throttles.strikes} end)`;
  const hits = sql`((case when ${expired} then 0 else ${throttles.hits} end) + 1)`;
  const trips = sql`(${hits} >= ${limit})`;
  const block = sql`min(${rule.maxBlockMs}, ${rule.blockMs} * (1 << min(${strikes}, ${MAX_DOUBLINGS})))`;
  const when = (ifBlocked: SQL, ifTrips: SQL, otherwise: SQL) => sql`case when ${blocked} then ${ifBlocked} when ${trips} then ${ifTrips} else ${otherwise} end`;
  return db
    .insert(throttles)
    .values({ key, ...first })
    .onConflictDoUpdate({
      target: throttles.key,
      set: {
        hits: when(sql`${throttles.hits} + 1`, sql`0`, hits),
        windowStartedAt: when(sql`${throttles.windowStartedAt}`, sql`${now}`, sql`case when ${expired} then ${now} else ${throttles.windowStartedAt} end`),
        blockedUntil: when(sql`${throttles.blockedUntil}`, sql`${now} + ${block}`, sql`${throttles.blockedUntil}`),
        strikes: when(sql`${throttles.strikes}`, sql`${strikes} + 1`, strikes),
        updatedAt: sql`${now}`,
      },
    })
    .returning({
      hits: throttles.hits,
      windowStartedAt: throttles.windowStartedAt,
      blockedUntil: throttles.blockedUntil,
      strikes: throttles.strikes,
      updatedAt: throttles.updatedAt,
    });
}

/** Forgets the key: its count and its strikes (a successful sign-in). */
export function clearThrottle(db: Db, key: string) {
  return db.delete(throttles).where(eq(throttles.key, key));
}

/** Rows that can no longer matter: not blocked, and quiet for longer than any rule remembers. */
export function deleteStaleThrottles(db: Db, now: number, quietForMs: number) {
  return db
    .delete(throttles)
    .where(sql`coalesce(${throttles.blockedUntil}, 0) <= ${now} and ${throttles.updatedAt} < ${now - quietForMs}`)
    .returning({ key: throttles.key });
}
