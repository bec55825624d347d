/**
 * Remembers access tokens whose signature has already been checked, so a
 * token presented again (every call of a busy client, and ValidateToken's
 * subject) costs a map lookup instead of an Ed25519 verification.
 *
 * Only what cannot change is remembered: the signature, algorithm, type,
 * issuer and audience of these exact bytes. On every hit the times are
 * checked again against the clock, and the token's `kid` must still be
 * published, so a token expires, and a withdrawn signing key stops
 * verifying, exactly as without the cache. Session and user state are not
 * the verifier's business: callers look them up on every call.
 */
import { BoundedCache } from "../bounded-cache.js";
import { CLOCK_TOLERANCE_SECONDS, verifyAccessTokenTimes, type PublicKeyResolver, type VerifiedAccessToken } from "./access-token.js";

export interface AccessTokenVerifierOptions {
  issuer: string;
  audience: string;
  type?: string;
  /** Tokens remembered at most; the least recently used is forgotten first. */
  capacity?: number;
}

export interface AccessTokenVerifier {
  /** Like verifyAccessToken; `now` in milliseconds. */
  verify(token: string, now: number): Promise<VerifiedAccessToken | undefined>;
  /** Forgets every remembered token (e.g. after a signing key is withdrawn). */
  clear(): void;
  readonly size: number;
}

/** About 1.5 KiB per entry: 10,000 tokens stay within ~15 MiB. */
export const DEFAULT_VERIFIED_TOKENS = 10_000;

interface Entry {
  token: VerifiedAccessToken;
  /** `nbf` in seconds, when the token has one. */
  notBefore: number | undefined;
}

export function createAccessTokenVerifier(resolveKey: PublicKeyResolver, options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const entries = new BoundedCache<string, Entry>({ maxEntries: options.capacity ?? DEFAULT_VERIFIED_TOKENS });

  function timely(entry: Entry, now: number): boolean {
    const seconds = Math.floor(now / 1000);
    if (entry.token.claims.exp <= seconds - CLOCK_TOLERANCE_SECONDS) return false;
    return entry.notBefore === undefined || entry.notBefore <= seconds + CLOCK_TOLERANCE_SECONDS;
  }

  return {
    async verify(token, now) {
      const hit = entries.get(token);
      if (hit) {
        if (timely(hit, now) && (await resolveKey(hit.token.header.kid))) return hit.token;
        entries.delete(token);
        return undefined;
      }
      const verified = await verifyAccessTokenTimes(token, resolveKey, { issuer: options.issuer, audience: options.audience, now, type: options.type });
      if (verified) entries.set(token, verified);
      return verified?.token;
    },
    clear() {
      entries.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
