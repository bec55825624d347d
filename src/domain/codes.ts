/**
 * One-time codes sent by email or SMS: how they are made, stored and judged.
 * Everything here is pure apart from the injected Random and WebCrypto's
 * SHA-256, and takes the time as an argument, so every rule can be tested at
 * its exact boundary.
 */
import type { Random } from "./ports.js";
import { constantTimeEqual, sha256Hex } from "./tokens/secrets.js";

export type CodePurpose = "email_verification" | "phone_verification" | "mfa_email" | "mfa_sms" | "password_reset";

/** The channel a code of each purpose travels by, and so the address it is bound to. */
export function channelOf(purpose: CodePurpose): "email" | "sms" {
  return purpose === "phone_verification" || purpose === "mfa_sms" ? "sms" : "email";
}

export interface CodePolicy {
  digits: number;
  /** How long a code stays usable after it is sent. */
  ttlMs: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * Email codes are typed by hand from a message that may sit in an inbox for a
 * while, so they live a day and get two more digits for it; SMS codes arrive
 * at once and live ten minutes (NIST SP 800-63B's limits for each channel).
 */
export const CODE_POLICIES: Readonly<Record<CodePurpose, CodePolicy>> = {
  email_verification: { digits: 8, ttlMs: 24 * HOUR_MS },
  phone_verification: { digits: 6, ttlMs: 10 * MINUTE_MS },
  // Sign-in codes are asked for while the sign-in waits: ten minutes either way.
  mfa_email: { digits: 8, ttlMs: 10 * MINUTE_MS },
  mfa_sms: { digits: 6, ttlMs: 10 * MINUTE_MS },
  // A reset hands over the account: one hour is enough to read the mail, and
  // keeps a forgotten message from staying a way in for a whole day.
  password_reset: { digits: 8, ttlMs: HOUR_MS },
};

/** Wrong submissions after which a code stops working, whatever comes next. */
export const MAX_CODE_ATTEMPTS = 5;
/** Codes one user may be sent per purpose within SEND_WINDOW_MS. */
export const MAX_SENDS_PER_WINDOW = 5;
/**
 * The window of the send cap, and also how long wrong attempts follow a user
 * from one code to the next: a resend inside it keeps the failure count, so
 * asking for new codes never buys more guesses than the cap allows.
 */
export const SEND_WINDOW_MS = HOUR_MS;

// The largest multiple of 10 that fits in a byte: bytes at or above it are
// drawn again, because keeping them would make the digits 0–5 more likely.
const UNBIASED_BYTE_LIMIT = 250;

/** A code of `digits` decimal digits, each uniform, from the CSPRNG. */
export function generateNumericCode(random: Random, digits: number): string {
  if (!Number.isInteger(digits) || digits < 1) throw new RangeError("digits must be a positive integer");
  let code = "";
  while (code.length < digits) {
    // A few spare bytes make a second draw rare (each byte is kept with p = 250/256).
    for (const byte of random.bytes(digits - code.length + 2)) {
      if (byte >= UNBIASED_BYTE_LIMIT) continue;
      code += String(byte % 10);
      if (code.length === digits) break;
    }
  }
  return code;
}

/**
 * The stored form of a code. A fast hash suffices: with at most 10^8 values
 * no hash, slow or not, would keep someone who reads the table from finding
 * a code, and the codes are short-lived, single use and capped at five
 * guesses online. What the hash does guard against is a stored value being
 * usable as it stands (dumps, backups, support screens), and binding the user
 * and purpose into it means a row copied to another user or purpose matches
 * nothing.
 */
export function hashCode(userId: string, purpose: CodePurpose, code: string): Promise<string> {
  return sha256Hex(`latchkey verification code\n${purpose}\n${userId}\n${code}`);
}

/** Compares two code hashes without leaking, through timing, where they differ. */
export function codeHashesMatch(stored: string, presented: string): boolean {
  return constantTimeEqual(stored, presented);
}

/** What users type: digits, perhaps grouped with spaces or dashes as printed. */
export function normaliseSubmittedCode(input: string): string {
  return input.replace(/[\s-]/g, "");
}

export function codeExpiresAt(purpose: CodePurpose, now: number): number {
  return now + CODE_POLICIES[purpose].ttlMs;
}

export interface StoredCode {
  expiresAt: number;
  attempts: number;
  consumedAt: number | null;
}

/**
 * - `live`: may still be used.
 * - `used`: consumed, or replaced by a newer code.
 * - `expired`: past its lifetime; the expiry instant itself is already too late.
 * - `exhausted`: killed by wrong attempts; stays so until it expires.
 */
export type CodeState = "live" | "used" | "expired" | "exhausted";

export function codeState(code: StoredCode, now: number): CodeState {
  if (code.consumedAt !== null) return "used";
  if (now >= code.expiresAt) return "expired";
  if (code.attempts >= MAX_CODE_ATTEMPTS) return "exhausted";
  return "live";
}

/** Whether a wrong submission that brought the count to `attemptsAfter` killed the code. */
export function killedBy(attemptsAfter: number): boolean {
  return attemptsAfter >= MAX_CODE_ATTEMPTS;
}

export type SendDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * The send cap: `sentAt` are the creation times of the user's codes of one
 * purpose (any order, any age). When the window is full, the caller may try
 * again once the oldest send in it has left the window.
 */
export function decideSend(sentAt: readonly number[], now: number): SendDecision {
  const inWindow = sentAt.filter((t) => t > now - SEND_WINDOW_MS).sort((a, b) => a - b);
  if (inWindow.length < MAX_SENDS_PER_WINDOW) return { allowed: true };
  const leavesAt = inWindow[inWindow.length - MAX_SENDS_PER_WINDOW]! + SEND_WINDOW_MS;
  return { allowed: false, retryAfterMs: Math.max(1, leavesAt - now) };
}

/**
 * The failures a new code inherits: those of the unconsumed code it replaces
 * when that one was sent inside the window. The store applies the same rule
 * in SQL inside the insert; this is its definition and what tests hold it to.
 */
export function inheritedAttempts(previous: { createdAt: number; attempts: number; consumedAt: number | null } | undefined, now: number): number {
  if (!previous || previous.consumedAt !== null || previous.createdAt <= now - SEND_WINDOW_MS) return 0;
  return previous.attempts;
}

/**
 * A new code that would inherit a spent failure budget would be dead on
 * arrival; instead of sending it, the resend is refused until the code that
 * holds the count leaves the window.
 */
export function resendBlockedForMs(previous: { createdAt: number; attempts: number; consumedAt: number | null } | undefined, now: number): number | undefined {
  if (inheritedAttempts(previous, now) < MAX_CODE_ATTEMPTS) return undefined;
  return Math.max(1, previous!.createdAt + SEND_WINDOW_MS - now);
}
