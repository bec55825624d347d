/**
 * Recovery codes: ten single-use codes issued when an authenticator app is
 * confirmed, for when the app is lost. Each has 80 random bits (above the
 * 64 that NIST asks of saved recovery codes), written as four groups of
 * four lower-case base32 characters, e.g. `k7qd-2mxa-p9rt-c4hw`.
 */
import type { Random } from "../ports.js";
import { sha256Hex } from "../tokens/secrets.js";

export const RECOVERY_CODE_COUNT = 10;
const GROUPS = 4;
const GROUP_LENGTH = 4;
// Crockford's base32: no i, l, o or u, so nothing is misread.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** One code; each character takes five bits of a fresh random byte. */
export function generateRecoveryCode(random: Random): string {
  const bytes = random.bytes(GROUPS * GROUP_LENGTH);
  const chars = Array.from(bytes, (byte) => ALPHABET[byte & 31]!);
  const groups: string[] = [];
  for (let i = 0; i < GROUPS; i++) groups.push(chars.slice(i * GROUP_LENGTH, (i + 1) * GROUP_LENGTH).join(""));
  return groups.join("-");
}

export function generateRecoveryCodes(random: Random, count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => generateRecoveryCode(random));
}

/**
 * What users type: dashes, spaces and case do not matter, and the letters
 * Crockford's alphabet leaves out are read as the digits they resemble.
 */
export function normaliseRecoveryCode(input: string): string {
  return input
    .toLowerCase()
    .replace(/[\s-]/g, "")
    .replace(/[ol]/g, (c) => (c === "o" ? "0" : "1"))
    .replace(/i/g, "1");
}

/**
 * The stored form. The codes carry 80 random bits, so a fast hash keeps
 * them safe; binding the user in means a row copied to another account
 * matches nothing. Takes the normalised form.
 */
export function hashRecoveryCode(userId: string, normalised: string): Promise<string> {
  return sha256Hex(`latchkey recovery code\n${userId}\n${normalised}`);
}
