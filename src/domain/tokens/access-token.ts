/**
 * Access tokens: short-lived JWTs signed with Ed25519 (EdDSA). Verification
 * pins the algorithm, the token type, the issuer and the audience, so none of
 * the classic confusions (alg:none, HS256 keyed with the public key, another
 * service's token, a refresh or challenge token used as an access token)
 * gets through.
 */
import { BoundedCache } from "../bounded-cache.js";
import { SignJWT, decodeProtectedHeader, jwtVerify, type CryptoKey, type JWK, type JWTPayload, importJWK } from "jose";

export const SIGNING_ALGORITHM = "EdDSA";
/** RFC 9068 type of user access tokens. */
export const USER_ACCESS_TOKEN_TYPE = "at+jwt";
/** `typ` of device access tokens: a device token never passes as a user's. */
export const DEVICE_ACCESS_TOKEN_TYPE = "device+jwt";
/** Allowed clock skew when checking exp/nbf/iat, in seconds. */
export const CLOCK_TOLERANCE_SECONDS = 5;

export type SubjectKind = "user" | "device";

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  /** Seconds since the epoch. */
  exp: number;
  iat: number;
  jti: string;
  /** Session (refresh-token family) the token belongs to. */
  sid: string;
  /** Active organisation id; absent when the user has none. */
  org?: string | undefined;
  roles: string[];
}

export interface VerifiedAccessToken {
  header: { alg: string; kid: string; typ: string };
  claims: AccessTokenClaims;
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

/** Finds the public key for a `kid`; undefined when the kid is unknown. */
export type PublicKeyResolver = (kid: string) => Promise<CryptoKey | undefined>;

export async function signAccessToken(key: SigningKey, claims: AccessTokenClaims, type: string = USER_ACCESS_TOKEN_TYPE): Promise<string> {
  const { iss, sub, aud, exp, iat, jti, ...rest } = claims;
  return new SignJWT({ ...rest } as JWTPayload)
    .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: key.kid, typ: type })
    .setIssuer(iss)
    .setSubject(sub)
    .setAudience(aud)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(key.privateKey);
}

export interface VerifyOptions {
  issuer: string;
  audience: string;
  now: number;
  type?: string | undefined;
}

/**
 * Verifies signature, algorithm, type, issuer, audience and times. Returns
 * undefined for anything that is not a valid access token; the caller answers
 * every such case the same way.
 */
export async function verifyAccessToken(token: string, resolveKey: PublicKeyResolver, options: VerifyOptions): Promise<VerifiedAccessToken | undefined> {
  return (await verifyAccessTokenTimes(token, resolveKey, options))?.token;
}

/** verifyAccessToken, also giving the token's `nbf` (seconds), which the claims leave out. */
export async function verifyAccessTokenTimes(
  token: string,
  resolveKey: PublicKeyResolver,
  options: VerifyOptions,
): Promise<{ token: VerifiedAccessToken; notBefore: number | undefined } | undefined> {
  // A JWT larger than this is not one of ours; refuse before parsing it.
  if (token.length > 4096 || token.split(".").length !== 3) return undefined;
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    return undefined;
  }
  if (typeof kid !== "string" || kid.length === 0 || kid.length > 100) return undefined;
  const key = await resolveKey(kid);
  if (!key) return undefined;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, key, {
      algorithms: [SIGNING_ALGORITHM],
      typ: options.type ?? USER_ACCESS_TOKEN_TYPE,
      issuer: options.issuer,
      audience: options.audience,
      currentDate: new Date(options.now),
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ["sub", "exp", "iat", "jti", "sid"],
    });
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === "string") : [];
    if (typeof payload.sid !== "string") return undefined;
    const verified: VerifiedAccessToken = {
      header: { alg: protectedHeader.alg, kid, typ: protectedHeader.typ ?? "" },
      claims: {
        iss: payload.iss as string,
        sub: payload.sub as string,
        aud: typeof payload.aud === "string" ? payload.aud : (payload.aud?.[0] ?? ""),
        exp: payload.exp as number,
        iat: payload.iat as number,
        jti: payload.jti as string,
        sid: payload.sid,
        org: typeof payload.org === "string" ? payload.org : undefined,
        roles,
      },
    };
    return { token: verified, notBefore: typeof payload.nbf === "number" ? payload.nbf : undefined };
  } catch {
    return undefined;
  }
}

/**
 * The `typ` of header segments seen before. Tokens signed here share a
 * handful of headers (one per key and token type), so every call but the
 * first of each skips decoding; headers made up by others only take turns
 * in a small bounded map.
 */
const peekedTypes = new BoundedCache<string, string>({ maxEntries: 64 });

/**
 * The unverified `typ` header of a JWT, or "" when it has none or is no JWT:
 * only to pick which verification to run, never to trust.
 */
export function peekTokenType(token: string): string {
  if (token.length > 4096) return "";
  const header = token.slice(0, token.indexOf("."));
  const known = peekedTypes.get(header);
  if (known !== undefined) return known;
  let type = "";
  try {
    const { typ } = decodeProtectedHeader(token);
    type = typeof typ === "string" ? typ : "";
  } catch {
    return "";
  }
  peekedTypes.set(header, type);
  return type;
}

export async function importPublicKey(jwk: JWK): Promise<CryptoKey> {
  return (await importJWK(jwk, SIGNING_ALGORITHM)) as CryptoKey;
}

export async function importPrivateKey(jwk: JWK): Promise<CryptoKey> {
  return (await importJWK(jwk, SIGNING_ALGORITHM)) as CryptoKey;
}
