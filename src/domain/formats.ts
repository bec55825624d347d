/**
 * Format checks shared by request validation and the domain. The patterns
 * are linear (no nested quantifiers), so hostile input cannot make them slow.
 */

export function codePointLength(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}

const EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}.]+(\.[^\s@\p{Cc}.]+)+$/u;
export function isEmail(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

const E164 = /^\+[1-9][0-9]{7,14}$/;
export function isE164(value: string): boolean {
  return E164.test(value);
}

const LOCALE = /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,3}$/;
export function isLocale(value: string): boolean {
  return LOCALE.test(value);
}

/** The one spelling of an email address used for lookups and uniqueness. */
export function normaliseEmail(value: string): string {
  return value.normalize("NFC").trim().toLowerCase();
}
