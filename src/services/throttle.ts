/**
 * Lockouts and rate limits over the throttles table, for any service: ask
 * whether keys are blocked before doing costly work, count failures after
 * it, or count a request and refuse it in one statement. Over a limit the
 * answer is resource_exhausted with a RetryInfo delay.
 */
import type { BatchItem } from "drizzle-orm/batch";
import { DomainError, Reason } from "../domain/errors.js";
import type { Clock } from "../domain/ports.js";
import { blockedForMs, lockoutRule, refusedHit, type ThrottleRule } from "../domain/throttle/rules.js";
import type { Database, Db } from "../store/database.js";
import { findLockoutProfile } from "../store/queries/security-profiles.js";
import { clearThrottle, findThrottles, hitThrottle } from "../store/queries/throttles.js";

/** The one answer of every lockout and rate limit; the same whether or not an account exists. */
export function tooManyAttempts(retryAfterMs: number): DomainError {
  const ms = Math.max(1, Math.ceil(retryAfterMs));
  return new DomainError("resource_exhausted", Reason.TOO_MANY_ATTEMPTS, "too many attempts; try again later", {
    retryAfterMs: ms,
    metadata: { retry_after_ms: String(ms) },
  });
}

/**
 * The lockout rule that counts a failure against an account (a wrong
 * password or second-factor code): its profile's, or the default profile's
 * when there is no such account.
 */
export async function accountLockoutRule(db: Db, userId: string | undefined): Promise<ThrottleRule> {
  return lockoutRule(await findLockoutProfile(db, userId));
}

export interface Throttles {
  /**
   * Throws resource_exhausted if any of the keys is blocked now (the longest
   * delay wins). Answers the keys that have counted events, so a caller can
   * skip clearing a key that has none.
   */
  assertOpen(keys: readonly string[]): Promise<Set<string>>;
  /** The statement that counts one event, for the caller's batch. */
  hitStatement(key: string, rule: ThrottleRule): BatchItem<"sqlite">;
  /** Counts one failure; a failure that reaches the limit blocks the next attempts. */
  recordFailure(key: string, rule: ThrottleRule): Promise<void>;
  /**
   * Counts one request and refuses it when the key was already blocked:
   * decided by the counting statement itself, so concurrent requests
   * cannot slip past the limit together.
   */
  consume(key: string, rule: ThrottleRule): Promise<void>;
  /** The statement that forgets a key (its count and strikes), for the caller's batch. */
  clearStatement(key: string): BatchItem<"sqlite">;
}

export function createThrottles(deps: { database: Database; clock: Clock }): Throttles {
  const { database, clock } = deps;
  const db = database.db;
  return {
    async assertOpen(keys) {
      const now = clock.now();
      let longest: number | undefined;
      const counted = new Set<string>();
      // From the primary: a lockout set through another instance holds here at once.
      for (const row of await findThrottles(database.primary, keys)) {
        counted.add(row.key);
        const ms = blockedForMs(row, now);
        if (ms !== undefined && (longest === undefined || ms > longest)) longest = ms;
      }
      if (longest !== undefined) throw tooManyAttempts(longest);
      return counted;
    },

    hitStatement(key, rule) {
      return hitThrottle(db, key, rule, clock.now());
    },

    async recordFailure(key, rule) {
      await hitThrottle(db, key, rule, clock.now());
    },

    async consume(key, rule) {
      const now = clock.now();
      const [after] = await hitThrottle(db, key, rule, now);
      if (after && refusedHit(after, now)) throw tooManyAttempts(blockedForMs(after, now) ?? 1);
    },

    clearStatement(key) {
      return clearThrottle(db, key);
    },
  };
}
