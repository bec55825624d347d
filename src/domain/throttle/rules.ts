/**
 * Throttles: counters of events (failed sign-ins, requests, sends) under a
 * key, with a window, a block when the count reaches a limit, and blocks that
 * double with every strike. Pure rules; the store applies `afterHit` as one
 * guarded upsert, so concurrent events are never lost, and this module is the
 * definition it is tested against.
 *
 * Semantics of one rule:
 * - events are counted from the first event of a window; an event after the
 *   window has passed starts a new window at 1;
 * - the event that brings the count to `limit` blocks the key for
 *   `blockMs * 2^strikes` (at most `maxBlockMs`), adds a strike and starts
 *   counting afresh; the next block needs `limit` new events and lasts twice
 *   as long;
 * - events while blocked are still counted (towards the next strike) but do
 *   not extend the block;
 * - strikes are forgotten after `forgetAfterMs` without events, or when the
 *   key is cleared (a successful sign-in).
 */
import { sha256Hex } from "../tokens/secrets.js";

export interface ThrottleRule {
  /** Events within `windowMs` that block the key; at least 1. */
  limit: number;
  windowMs: number;
  /** The first block; each further strike doubles it… */
  blockMs: number;
  /** …up to this. */
  maxBlockMs: number;
  /** Strikes are forgotten after this long without an event. */
  forgetAfterMs: number;
}

export interface ThrottleState {
  hits: number;
  windowStartedAt: number;
  blockedUntil: number | null;
  strikes: number;
  updatedAt: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Strikes beyond this add nothing: 2^20 times any block passes every cap. */
export const MAX_DOUBLINGS = 20;

/** NIST SP 800-63B-4 §3.2.2: never more than 100 consecutive failures per account. */
export const MAX_LOCKOUT_THRESHOLD = 100;
export const DEFAULT_LOCKOUT_THRESHOLD = 10;

/** How long the key stays blocked when it reaches the limit with `strikes` earlier strikes. */
export function blockDuration(rule: ThrottleRule, strikes: number): number {
  return Math.min(rule.maxBlockMs, rule.blockMs * 2 ** Math.min(Math.max(0, strikes), MAX_DOUBLINGS));
}

/** Milliseconds until the key may be used again, or undefined when it is not blocked. */
export function blockedForMs(state: Pick<ThrottleState, "blockedUntil"> | undefined, now: number): number | undefined {
  if (!state || state.blockedUntil === null || state.blockedUntil <= now) return undefined;
  return state.blockedUntil - now;
}

/** The state after one event at `now` (the store's upsert computes exactly this). */
export function afterHit(state: ThrottleState | undefined, rule: ThrottleRule, now: number): ThrottleState {
  const limit = Math.max(1, rule.limit);
  if (!state) {
    const trips = 1 >= limit;
    return { hits: trips ? 0 : 1, windowStartedAt: now, blockedUntil: trips ? now + blockDuration(rule, 0) : null, strikes: trips ? 1 : 0, updatedAt: now };
  }
  if (blockedForMs(state, now) !== undefined) return { ...state, hits: state.hits + 1, updatedAt: now };
  const expired = now >= state.windowStartedAt + rule.windowMs;
  const strikes = now >= state.updatedAt + rule.forgetAfterMs ? 0 : state.strikes;
  const hits = (expired ? 0 : state.hits) + 1;
  if (hits >= limit) return { hits: 0, windowStartedAt: now, blockedUntil: now + blockDuration(rule, strikes), strikes: strikes + 1, updatedAt: now };
  return { hits, windowStartedAt: expired ? now : state.windowStartedAt, blockedUntil: state.blockedUntil, strikes, updatedAt: now };
}

/**
 * Whether the event that produced `after` was itself refused: the key was
 * already blocked when it arrived. The event that trips a block is the last
 * one let through; it leaves the count at 0 and the window starting now.
 */
export function refusedHit(after: ThrottleState, now: number): boolean {
  if (blockedForMs(after, now) === undefined) return false;
  return !(after.hits === 0 && after.windowStartedAt === now);
}

/**
 * The per-account lockout of a security profile: at most `lockoutThreshold`
 * consecutive failures (never above 100) within the window, then a block of
 * 30 seconds that doubles with every further strike, up to an hour (NIST
 * SP 800-63B-4 §3.2.2: "30 seconds up to an hour").
 */
export function lockoutRule(profile: { lockoutThreshold: number; lockoutWindowSeconds: number }): ThrottleRule {
  const threshold = Number.isInteger(profile.lockoutThreshold) && profile.lockoutThreshold > 0 ? profile.lockoutThreshold : DEFAULT_LOCKOUT_THRESHOLD;
  return {
    limit: Math.min(MAX_LOCKOUT_THRESHOLD, threshold),
    windowMs: Math.max(1, profile.lockoutWindowSeconds) * SECOND,
    blockMs: 30 * SECOND,
    maxBlockMs: HOUR,
    forgetAfterMs: DAY,
  };
}

/**
 * Limits per client address. Generous enough for many people behind one
 * address (an office, a carrier's NAT), tight enough that one address cannot
 * guess passwords across many accounts or send mail at scale.
 */
export const ADDRESS_RULES = {
  /** Failed sign-ins (unknown accounts and wrong passwords alike). */
  signInFailures: { limit: 100, windowMs: 15 * MINUTE, blockMs: 15 * MINUTE, maxBlockMs: 4 * HOUR, forgetAfterMs: DAY },
  /** StartPasswordReset requests, whatever the email. */
  passwordResetRequests: { limit: 30, windowMs: 15 * MINUTE, blockMs: 15 * MINUTE, maxBlockMs: 4 * HOUR, forgetAfterMs: DAY },
  /** CompletePasswordReset requests, whatever the email and code. */
  passwordResetCompletions: { limit: 30, windowMs: 15 * MINUTE, blockMs: 15 * MINUTE, maxBlockMs: 4 * HOUR, forgetAfterMs: DAY },
  /** StartExternalLogin requests: each stores a state row until it expires. */
  externalLoginStarts: { limit: 100, windowMs: 15 * MINUTE, blockMs: 15 * MINUTE, maxBlockMs: 4 * HOUR, forgetAfterMs: DAY },
} as const satisfies Record<string, ThrottleRule>;

/**
 * Reset mails per email address, counted whether or not the address has an
 * account, so the limit reveals nothing either: five an hour, like the
 * verification codes.
 */
export const RESET_MAILS_PER_ADDRESS: ThrottleRule = { limit: 5, windowMs: HOUR, blockMs: HOUR, maxBlockMs: 4 * HOUR, forgetAfterMs: DAY };

/**
 * Keys. Accounts are counted under a digest of the normalised email, the one
 * thing known before the account is looked up: an unknown email is counted
 * and blocked exactly like a known one, and the table holds no addresses.
 */
export const throttleKeys = {
  async lockout(normalisedEmail: string): Promise<string> {
    return `lockout:${await sha256Hex(`latchkey account\n${normalisedEmail}`)}`;
  },
  async resetMails(normalisedEmail: string): Promise<string> {
    return `password_reset:email:${await sha256Hex(`latchkey account\n${normalisedEmail}`)}`;
  },
  address(action: "sign_in" | "password_reset" | "password_reset_complete" | "external_login_start", clientAddress: string): string {
    return `${action}:address:${clientAddress.slice(0, 64)}`;
  },
};
