/**
 * Time-based one-time passwords (RFC 6238) for authenticator apps: SHA-1,
 * six digits, 30-second steps, as every common app expects. The codes come
 * from the `otpauth` library; what is decided here is which steps count.
 *
 * A code is judged against the server's clock only (the request carries no
 * time) and is accepted for its own step and one step either side, to allow
 * for clock drift and typing time. Acceptance names the step the code
 * belongs to; the store accepts it only if that step is later than the last
 * accepted one, so a code never works twice.
 */
import { HOTP, Secret, TOTP } from "otpauth";
import type { Random } from "../ports.js";
import { constantTimeEqual } from "../tokens/secrets.js";

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted on either side of the current one. */
export const TOTP_WINDOW_STEPS = 1;
/** 160 bits: the HMAC-SHA-1 block the RFC recommends, above the 112-bit floor. */
export const TOTP_SECRET_BYTES = 20;
export const TOTP_ISSUER = "Latchkey";

const ALGORITHM = "SHA1";

export function newTotpSecret(random: Random): Uint8Array {
  return random.bytes(TOTP_SECRET_BYTES);
}

/** The secret as apps take it when typed in: base32 without padding. */
export function totpSecretBase32(secret: Uint8Array): string {
  return new Secret({ buffer: Uint8Array.from(secret).buffer }).base32;
}

/** The otpauth://totp/… URI apps scan, labelled with the account's email address. */
export function otpauthUri(secret: Uint8Array, accountName: string): string {
  return new TOTP({
    issuer: TOTP_ISSUER,
    label: accountName,
    algorithm: ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
  }).toString();
}

/** The step a moment falls in. */
export function totpStepAt(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The code of one step. */
export function totpCodeAt(secret: Uint8Array, step: number): string {
  return HOTP.generate({
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
    algorithm: ALGORITHM,
    digits: TOTP_DIGITS,
    counter: step,
  });
}

/** What users type: six digits, perhaps split by a space as apps show them. */
export function normaliseTotpCode(input: string): string | undefined {
  const code = input.replace(/[\s-]/g, "");
  return /^\d{6}$/.test(code) ? code : undefined;
}

/**
 * The step whose code `submitted` is, among the steps around `nowMs` that
 * are later than `lastUsedStep`; undefined when it matches none of them.
 * Every candidate is compared, so the time taken does not depend on which
 * one matched. Of two matching steps (a coincidence of one in a million)
 * the later one wins, which burns both.
 */
export function matchTotpStep(secret: Uint8Array, submitted: string, nowMs: number, lastUsedStep: number): number | undefined {
  const code = normaliseTotpCode(submitted);
  if (code === undefined) return undefined;
  const current = totpStepAt(nowMs);
  let matched: number | undefined;
  for (let step = current - TOTP_WINDOW_STEPS; step <= current + TOTP_WINDOW_STEPS; step++) {
    const equal = constantTimeEqual(totpCodeAt(secret, step), code);
    if (equal && step > lastUsedStep) matched = step;
  }
  return matched;
}
