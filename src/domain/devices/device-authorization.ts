/**
 * The device authorization grant (RFC 8628): the codes, their stored forms,
 * the timings and the decisions of each step. Pure apart from the injected
 * Random and WebCrypto's SHA-256; every decision takes the time as an
 * argument, so each rule can be tested at its exact boundary.
 *
 * - The device code is what the device polls with: 256 random bits, never
 *   shown to a person, stored as its SHA-256.
 * - The user code is what a person types: eight letters from an alphabet of
 *   twenty consonants (no vowels, so no words; no look-alikes such as I/1 or
 *   O/0), 20^8 ≈ 2^34.6 values, shown as XXXX-XXXX (RFC 8628 §6.1). It lives
 *   ten minutes and approvals are rate-limited per caller, so it cannot be
 *   guessed online; it is stored hashed all the same.
 */
import type { ThrottleRule } from "../throttle/rules.js";
import type { Random } from "../ports.js";
import { newOpaqueToken, sha256Hex } from "../tokens/secrets.js";

/** Consonants without vowels and without letters easily mistaken for digits. */
export const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
export const USER_CODE_LENGTH = 8;
/** Prefix of device codes, so they are recognised in logs and leaked-secret scans. */
export const DEVICE_CODE_PREFIX = "lkda";

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;

/** How long the codes stay usable. */
export const DEVICE_AUTHORIZATION_TTL_MS = 10 * MINUTE_MS;
/** The interval a device starts with between polls (RFC 8628 §3.2 default). */
export const POLL_INTERVAL_SECONDS = 5;
/** What each SLOW_DOWN adds to the interval (RFC 8628 §3.5). */
export const SLOW_DOWN_STEP_SECONDS = 5;

// The largest multiple of 20 that fits in a byte: bytes at or above it are
// drawn again, so that every letter is equally likely.
const UNBIASED_BYTE_LIMIT = 240;

/** A new user code of eight letters of the alphabet, each uniform, unformatted. */
export function generateUserCode(random: Random): string {
  let code = "";
  while (code.length < USER_CODE_LENGTH) {
    for (const byte of random.bytes(USER_CODE_LENGTH - code.length + 2)) {
      if (byte >= UNBIASED_BYTE_LIMIT) continue;
      code += USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length];
      if (code.length === USER_CODE_LENGTH) break;
    }
  }
  return code;
}

/** The user code as a person sees it: "WDJB-MJHT". */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * What a person typed, as the stored code: case, dashes and spaces ignored.
 * Undefined when it cannot be a user code at all (wrong length or letters).
 */
export function normaliseUserCode(input: string): string | undefined {
  const code = input.replace(/[\s-]/g, "").toUpperCase();
  if (code.length !== USER_CODE_LENGTH) return undefined;
  for (const letter of code) if (!USER_CODE_ALPHABET.includes(letter)) return undefined;
  return code;
}

/** A new device code: a readable prefix and 256 random bits. */
export function generateDeviceCode(random: Random): string {
  return newOpaqueToken(random, DEVICE_CODE_PREFIX);
}

/** The stored form of a device code. */
export function hashDeviceCode(deviceCode: string): Promise<string> {
  return sha256Hex(`latchkey device code\n${deviceCode}`);
}

/** The stored form of a normalised user code. */
export function hashUserCode(userCode: string): Promise<string> {
  return sha256Hex(`latchkey user code\n${userCode}`);
}

/** The page where a person enters the code, and the same with the code filled in. */
export function verificationUris(issuer: string, userCode: string): { verificationUri: string; verificationUriComplete: string } {
  const verificationUri = `${issuer.replace(/\/+$/, "")}/device`;
  return { verificationUri, verificationUriComplete: `${verificationUri}?user_code=${encodeURIComponent(formatUserCode(userCode))}` };
}

export type DeviceAuthorizationStatus = "pending" | "approved" | "denied" | "collected";

export interface DeviceAuthorizationState {
  status: DeviceAuthorizationStatus;
  intervalSeconds: number;
  lastPolledAt: number | null;
  expiresAt: number;
}

/**
 * What a poll answers:
 * - `expired`: past the expiry (the instant itself is already too late), or
 *   the tokens were already collected;
 * - `slow_down`: polled before the interval since the last poll passed;
 * - otherwise where the authorization stands: `pending`, `denied`, or
 *   `approved` (the tokens are due, once).
 * The store makes the same decision about the interval in one guarded
 * statement, so two concurrent polls cannot both pass; this is its
 * definition and what tests hold it to.
 */
export type PollOutcome = "expired" | "slow_down" | "pending" | "denied" | "approved";

export function isExpired(state: Pick<DeviceAuthorizationState, "expiresAt">, now: number): boolean {
  return now >= state.expiresAt;
}

/** Whether a poll at `now` comes before the interval since the last one has passed. */
export function pollTooSoon(state: Pick<DeviceAuthorizationState, "intervalSeconds" | "lastPolledAt">, now: number): boolean {
  return state.lastPolledAt !== null && now < state.lastPolledAt + state.intervalSeconds * SECOND_MS;
}

export function decidePoll(state: DeviceAuthorizationState, now: number): PollOutcome {
  if (state.status === "collected" || isExpired(state, now)) return "expired";
  if (pollTooSoon(state, now)) return "slow_down";
  return state.status;
}

/** The interval after a SLOW_DOWN. */
export function slowedInterval(intervalSeconds: number): number {
  return intervalSeconds + SLOW_DOWN_STEP_SECONDS;
}

/** Whether a person may still approve or deny: pending and not expired. */
export function mayDecide(state: Pick<DeviceAuthorizationState, "status" | "expiresAt">, now: number): boolean {
  return state.status === "pending" && !isExpired(state, now);
}

/** Seconds until expiry, as StartDeviceAuthorization answers them. */
export function expiresInSeconds(expiresAt: number, now: number): number {
  return Math.max(0, Math.ceil((expiresAt - now) / SECOND_MS));
}

/**
 * StartDeviceAuthorization per client address: generous enough for a batch
 * of devices set up behind one address, tight enough that one address
 * cannot fill the table.
 */
export const START_RULE: ThrottleRule = { limit: 60, windowMs: 15 * MINUTE_MS, blockMs: 15 * MINUTE_MS, maxBlockMs: 4 * 60 * MINUTE_MS, forgetAfterMs: 24 * 60 * MINUTE_MS };

/**
 * Wrong user codes per approving caller: ten in fifteen minutes, then a
 * block that doubles with every strike. At that pace guessing one of even a
 * thousand live codes out of 20^8 takes longer than anyone can wait.
 */
export const WRONG_USER_CODE_RULE: ThrottleRule = { limit: 10, windowMs: 15 * MINUTE_MS, blockMs: 15 * MINUTE_MS, maxBlockMs: 24 * 60 * MINUTE_MS, forgetAfterMs: 24 * 60 * MINUTE_MS };

export const deviceAuthorizationThrottleKeys = {
  start(clientAddress: string): string {
    return `device_authorization:address:${clientAddress.slice(0, 64)}`;
  },
  wrongUserCode(userId: string): string {
    return `device_authorization:approver:${userId}`;
  },
};
