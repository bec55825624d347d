/**
 * MFA challenges: the state between a verified password and a second
 * factor. The token is an opaque 256-bit secret with its own prefix, stored
 * only as its SHA-256, good for nothing but CompleteMfaChallenge and
 * ResendMfaCode: it is neither a JWT nor an API key, so the access checks
 * never accept it.
 */
import type { Random } from "../ports.js";
import { newOpaqueToken } from "../tokens/secrets.js";

export const CHALLENGE_TOKEN_PREFIX = "lkc";
export const CHALLENGE_TTL_MS = 5 * 60_000;
/** Wrong codes after which the challenge is dead. */
export const MAX_CHALLENGE_ATTEMPTS = 5;

/** Second factors as stored in a challenge's `methods`. */
export const mfaMethodNames = ["totp", "email", "sms", "recovery_code"] as const;
export type MfaMethodName = (typeof mfaMethodNames)[number];

/**
 * The throttle key that counts a user's wrong second-factor codes across
 * challenges: a challenge dies after five, but new challenges (for whoever
 * has the password) must not buy unlimited guesses. Counted under the
 * profile's lockout rule and cleared by a completed sign-in.
 */
export function mfaThrottleKey(userId: string): string {
  return `mfa:user:${userId}`;
}

export function newChallengeToken(random: Random): string {
  return newOpaqueToken(random, CHALLENGE_TOKEN_PREFIX);
}

/** Whether a token can be a challenge token at all; anything else is not looked up. */
export function looksLikeChallengeToken(token: string): boolean {
  return /^lkc_[A-Za-z0-9_-]{43}$/.test(token);
}

export interface StoredChallenge {
  expiresAt: number;
  attempts: number;
  consumedAt: number | null;
}

export function challengeIsLive(challenge: StoredChallenge, now: number): boolean {
  return challenge.consumedAt === null && now < challenge.expiresAt && challenge.attempts < MAX_CHALLENGE_ATTEMPTS;
}

/** What the user can offer, in the order clients should present them. */
export interface FactorFacts {
  totpConfirmed: boolean;
  emailEnabled: boolean;
  emailVerified: boolean;
  smsEnabled: boolean;
  /** Verified and still on the account. */
  phoneVerified: boolean;
  profileRequiresMfa: boolean;
}

/**
 * The methods a sign-in must be completed with; empty when the password is
 * enough. A user the profile obliges to use a second factor who has none
 * gets a code by email, the one address every account has.
 */
export function methodsFor(facts: FactorFacts): MfaMethodName[] {
  const methods: MfaMethodName[] = [];
  if (facts.totpConfirmed) methods.push("totp");
  if (facts.emailEnabled && facts.emailVerified) methods.push("email");
  if (facts.smsEnabled && facts.phoneVerified) methods.push("sms");
  if (facts.totpConfirmed) methods.push("recovery_code");
  if (methods.length === 0 && facts.profileRequiresMfa) methods.push("email");
  return methods;
}

/** The code method to send at once: the only way to finish the sign-in is a sent code. */
export function sendAtOnce(methods: readonly MfaMethodName[]): "email" | "sms" | undefined {
  if (methods.length !== 1) return undefined;
  const only = methods[0];
  return only === "email" || only === "sms" ? only : undefined;
}

/** "j***@example.com", "+31******78": enough to recognise, not to learn. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf("@");
  if (at > 0) return `${address[0]}***${address.slice(at)}`;
  if (address.length <= 5) return "*".repeat(address.length);
  return `${address.slice(0, 3)}${"*".repeat(address.length - 5)}${address.slice(-2)}`;
}
