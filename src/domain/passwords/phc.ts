/**
 * Argon2 password hashes as PHC strings:
 * `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (unpadded standard base64).
 * The string carries its own algorithm and cost, so hashes made with older
 * parameters keep verifying and can be recognised for an upgrade at the next
 * successful sign-in.
 */

export type Argon2Algorithm = "argon2id" | "argon2i" | "argon2d";

export interface Argon2Params {
  /** Memory in KiB (`m=`). */
  memoryCost: number;
  /** Passes over memory (`t=`). */
  timeCost: number;
  /** Lanes (`p=`). */
  parallelism: number;
}

/**
 * OWASP Password Storage Cheat Sheet's argon2id minimum (19 MiB, 2 passes,
 * 1 lane). Hashers may be configured stronger, never weaker.
 */
export const ARGON2ID_PARAMS: Readonly<Argon2Params> = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

/** Digest length in bytes for new hashes. */
export const ARGON2_HASH_LENGTH = 32;
/** Salt length in bytes for new hashes (128 bits, from a CSPRNG). */
export const ARGON2_SALT_LENGTH = 16;

/** Argon2 version 1.3, the only one either runtime produces. */
const ARGON2_VERSION = 19;

export interface ParsedPhc extends Argon2Params {
  algorithm: Argon2Algorithm;
  version: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

/**
 * Bounds on parameters read from a stored hash before spending memory and
 * time on it: a corrupted or planted row must not make one verification
 * allocate gigabytes or run for minutes.
 */
export interface Argon2Limits {
  maxMemoryCost: number;
  maxTimeCost: number;
  maxParallelism: number;
}

export const DEFAULT_ARGON2_LIMITS: Readonly<Argon2Limits> = Object.freeze({
  maxMemoryCost: 262144, // 256 MiB
  maxTimeCost: 10,
  maxParallelism: 8,
});

const PHC_PATTERN = /^\$(argon2id|argon2i|argon2d)\$v=(\d{1,3})\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** The parts of an argon2 PHC string, or undefined when it is not a well-formed one. */
export function parsePhc(phc: string): ParsedPhc | undefined {
  // Long enough for any real argon2 PHC string, short enough to bound the regex work.
  if (typeof phc !== "string" || phc.length > 512) return undefined;
  const match = PHC_PATTERN.exec(phc);
  if (!match) return undefined;
  const [, algorithm, version, m, t, p, salt64, hash64] = match;
  const salt = decodeBase64(salt64 as string);
  const hash = decodeBase64(hash64 as string);
  if (!salt || !hash) return undefined;
  const parsed: ParsedPhc = {
    algorithm: algorithm as Argon2Algorithm,
    version: Number(version),
    memoryCost: Number(m),
    timeCost: Number(t),
    parallelism: Number(p),
    salt,
    hash,
  };
  // Within the ranges argon2 accepts (RFC 9106 §3.1) and that both runtimes'
  // libraries accept, so a string that parses here never makes them throw.
  if (parsed.parallelism < 1 || parsed.timeCost < 1 || parsed.memoryCost < 8 * parsed.parallelism) return undefined;
  if (parsed.memoryCost > 0xffffffff || salt.length < 8 || salt.length > 64 || hash.length < 4 || hash.length > 64) return undefined;
  return parsed;
}

/** Whether a parsed hash is one this service is willing to recompute. */
export function withinLimits(parsed: ParsedPhc, limits: Argon2Limits = DEFAULT_ARGON2_LIMITS): boolean {
  return (
    parsed.version === ARGON2_VERSION &&
    parsed.memoryCost <= limits.maxMemoryCost &&
    parsed.timeCost <= limits.maxTimeCost &&
    parsed.parallelism <= limits.maxParallelism
  );
}

export function formatPhc(algorithm: Argon2Algorithm, params: Argon2Params, salt: Uint8Array, hash: Uint8Array): string {
  return `$${algorithm}$v=${ARGON2_VERSION}$m=${params.memoryCost},t=${params.timeCost},p=${params.parallelism}$${encodeBase64(salt)}$${encodeBase64(hash)}`;
}

/**
 * Whether a stored hash should be replaced at the next successful sign-in:
 * it is not argon2id v1.3, any cost is below `current`, its digest or salt is
 * shorter than new ones, or it cannot be parsed.
 */
export function needsRehash(phc: string, current: Argon2Params = ARGON2ID_PARAMS): boolean {
  const parsed = parsePhc(phc);
  if (!parsed) return true;
  return (
    parsed.algorithm !== "argon2id" ||
    parsed.version !== ARGON2_VERSION ||
    parsed.memoryCost < current.memoryCost ||
    parsed.timeCost < current.timeCost ||
    parsed.parallelism < current.parallelism ||
    parsed.hash.length < ARGON2_HASH_LENGTH ||
    parsed.salt.length < ARGON2_SALT_LENGTH
  );
}

/** Throws unless every parameter is at or above the OWASP floor. */
export function assertAtLeastFloor(params: Argon2Params): void {
  for (const key of ["memoryCost", "timeCost", "parallelism"] as const) {
    const value = params[key];
    if (!Number.isInteger(value) || value < ARGON2ID_PARAMS[key]) {
      throw new RangeError(`argon2id ${key} ${value} is below the minimum ${ARGON2ID_PARAMS[key]}`);
    }
  }
}

/**
 * Compares two byte strings in time that depends only on their lengths, so a
 * caller cannot learn how many leading bytes of a digest it got right.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= (a[i] as number) ^ (b[i] as number);
  return difference === 0;
}

// Standard alphabet without padding, as the PHC string format requires.
// Written out here because the domain runs where neither Buffer nor a
// base64 option of TextDecoder can be relied on.
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

export function encodeBase64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i] as number;
    const b1 = bytes[i + 1];
    const b2 = bytes[i + 2];
    out += ALPHABET[b0 >> 2];
    out += ALPHABET[((b0 & 3) << 4) | ((b1 ?? 0) >> 4)];
    if (b1 !== undefined) out += ALPHABET[((b1 & 15) << 2) | ((b2 ?? 0) >> 6)];
    if (b2 !== undefined) out += ALPHABET[b2 & 63];
  }
  return out;
}

/** Decodes unpadded standard base64; undefined for anything else (including non-canonical trailing bits). */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? (LOOKUP[code] as number) : -1;
    if (value < 0) return undefined;
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (buffer >> bits) & 0xff;
    }
  }
  // Leftover bits must be zero, so each byte string has exactly one encoding.
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}
