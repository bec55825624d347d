/**
 * The rules of agreements, catalogue items and licences that need no
 * storage: names and features, licence keys, the numbers a licence carries,
 * and when a licence entitles.
 */
import { invalidField } from "../errors.js";
import { codePointLength } from "../formats.js";

/** Feature names: letters, digits, ".", "_" or "-", 1 to 64 characters. */
const FEATURE = /^[A-Za-z0-9._-]{1,64}$/;
export const MAX_FEATURES = 50;
export const MAX_KIND_LENGTH = 40;
export const MAX_NAME_LENGTH = 200;
export const MAX_SUMMARY_LENGTH = 2000;
export const MAX_DISCOUNT_BP = 10_000;
export const MAX_DEVICES_LIMIT = 1_000_000;

/**
 * "No end" is stored as the last millisecond of year 9999 rather than NULL,
 * so that every licence orders and pages by `expires_at` through its index
 * (keyset paging needs NOT NULL values). The API shows it as unset.
 */
export const OPEN_ENDED = 253_402_300_799_999;

/** One line of visible text, NFC, trimmed, 1 to `max` characters. */
export function oneLine(value: string, field: string, max: number): string {
  const text = value.normalize("NFC").trim();
  if (text === "") throw invalidField(field, "is required");
  if (codePointLength(text) > max) throw invalidField(field, `must be at most ${max} characters`);
  if (/[\p{Cc}\p{Zl}\p{Zp}]/u.test(text)) throw invalidField(field, "must not contain control characters or line breaks");
  return text;
}

/** The spelling names are unique under (per provider): NFC, trimmed, lower case. */
export function nameKey(name: string): string {
  return name.normalize("NFC").trim().toLowerCase();
}

/** An agreement's kind, e.g. "subscription": one line of at most 40 characters. */
export function agreementKind(value: string, field = "kind"): string {
  return oneLine(value, field, MAX_KIND_LENGTH);
}

export function agreementSummary(value: string, field = "summary"): string {
  const text = value.normalize("NFC").trim();
  if (codePointLength(text) > MAX_SUMMARY_LENGTH) throw invalidField(field, `must be at most ${MAX_SUMMARY_LENGTH} characters`);
  return text;
}

/**
 * Feature names, checked and de-duplicated in their given order. At least
 * `min` of them (1 for agreements, 0 for catalogue items).
 */
export function featureNames(values: readonly string[], field: string, min: number): string[] {
  if (values.length > MAX_FEATURES) throw invalidField(field, `must hold at most ${MAX_FEATURES} features`);
  const seen = new Set<string>();
  values.forEach((value, i) => {
    if (!FEATURE.test(value)) throw invalidField(`${field}[${i}]`, "must be 1 to 64 letters, digits, \".\", \"_\" or \"-\"");
    seen.add(value);
  });
  if (seen.size < min) throw invalidField(field, `must name at least ${min} feature${min === 1 ? "" : "s"}`);
  return [...seen];
}

/** The features a licence grants: its agreement's, then its items' that are new, each once. */
export function licenceFeatures(agreement: readonly string[], items: readonly (readonly string[])[]): string[] {
  return [...new Set([...agreement, ...items.flat()])];
}

/**
 * Licence key alphabet: digits and capitals without 0/O, 1/I/L and U (no
 * look-alikes, fewer accidental words): 30 symbols, ~4.9 bits each.
 */
export const KEY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ";
const KEY_GROUPS = 3;
const KEY_GROUP_LENGTH = 5;
/** "LK-" and three groups of five: 15 symbols of a 30-symbol alphabet, 73 bits. */
export const LICENSE_KEY_PATTERN = /^LK-[2-9A-HJKMNP-TV-Z]{5}-[2-9A-HJKMNP-TV-Z]{5}-[2-9A-HJKMNP-TV-Z]{5}$/;

/** A new licence key from `random` bytes, e.g. "LK-7Q2MX-9XRT4-HBAZ3". Unbiased: bytes ≥ 240 are redrawn. */
export function newLicenseKey(bytes: (length: number) => Uint8Array): string {
  const symbols: string[] = [];
  const limit = 256 - (256 % KEY_ALPHABET.length);
  while (symbols.length < KEY_GROUPS * KEY_GROUP_LENGTH) {
    for (const byte of bytes(32)) {
      if (byte < limit && symbols.length < KEY_GROUPS * KEY_GROUP_LENGTH) symbols.push(KEY_ALPHABET[byte % KEY_ALPHABET.length]!);
    }
  }
  const groups: string[] = [];
  for (let i = 0; i < KEY_GROUPS; i++) groups.push(symbols.slice(i * KEY_GROUP_LENGTH, (i + 1) * KEY_GROUP_LENGTH).join(""));
  return `LK-${groups.join("-")}`;
}

export interface LicenceTermsInput {
  amountPerMonth: bigint;
  discountBp: number;
  /** Epoch ms; undefined: now. */
  startsAt: number | undefined;
  /** Epoch ms; undefined: no end. */
  expiresAt: number | undefined;
  paidUntilAt: number | undefined;
  maxDevices: number;
}

export interface LicenceTerms {
  amountPerMonth: number;
  discountBp: number;
  startsAt: number;
  /** OPEN_ENDED for no end. */
  expiresAt: number;
  paidUntilAt: number | null;
  maxDevices: number;
}

/** Checks the numbers and times of a new licence; invalid_argument names the field. */
export function licenceTerms(input: LicenceTermsInput, now: number): LicenceTerms {
  if (input.amountPerMonth < 0n) throw invalidField("amount_per_month", "must not be negative");
  if (input.amountPerMonth > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidField("amount_per_month", "is too large");
  if (!Number.isInteger(input.discountBp) || input.discountBp < 0 || input.discountBp > MAX_DISCOUNT_BP) {
    throw invalidField("discount_bp", `must be 0 to ${MAX_DISCOUNT_BP} basis points`);
  }
  if (!Number.isInteger(input.maxDevices) || input.maxDevices < 1 || input.maxDevices > MAX_DEVICES_LIMIT) {
    throw invalidField("max_devices", `must be 1 to ${MAX_DEVICES_LIMIT}`);
  }
  const startsAt = input.startsAt ?? now;
  if (!Number.isFinite(startsAt) || startsAt < 0 || startsAt >= OPEN_ENDED) throw invalidField("starts_at", "is out of range");
  const expiresAt = input.expiresAt ?? OPEN_ENDED;
  if (!Number.isFinite(expiresAt) || expiresAt > OPEN_ENDED) throw invalidField("expires_at", "is out of range");
  if (expiresAt <= startsAt) throw invalidField("expires_at", "must be after starts_at");
  const paidUntilAt = input.paidUntilAt ?? null;
  if (paidUntilAt !== null && (!Number.isFinite(paidUntilAt) || paidUntilAt < 0 || paidUntilAt > OPEN_ENDED)) throw invalidField("paid_until_at", "is out of range");
  return { amountPerMonth: Number(input.amountPerMonth), discountBp: input.discountBp, startsAt, expiresAt, paidUntilAt, maxDevices: input.maxDevices };
}

export interface LicenceState {
  signedUserAt: number | null;
  revokedAt: number | null;
  startsAt: number;
  /** OPEN_ENDED (or null) for no end. */
  expiresAt: number | null;
}

/** Whether a licence entitles at `now`: signed, not revoked, started and not expired. */
export function isEntitling(licence: LicenceState, now: number): boolean {
  return licence.signedUserAt !== null && licence.revokedAt === null && licence.startsAt <= now && (licence.expiresAt === null || now < licence.expiresAt);
}

/** A stored expiry as the API shows it: undefined for no end. */
export function shownExpiry(expiresAt: number | null): number | undefined {
  return expiresAt === null || expiresAt >= OPEN_ENDED ? undefined : expiresAt;
}
