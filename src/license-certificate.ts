/**
 * Offline verification of Latchkey licence certificates, for devices and
 * services that cannot (or should not) ask Latchkey every time. Depends only
 * on `jose`; give it the certificate from CheckLicense and a copy of
 * `/.well-known/jwks.json`.
 *
 *   import { verifyLicenseCertificate } from "latchkey/license-certificate";
 *   const result = await verifyLicenseCertificate(certificate, jwks, { now: Date.now(), issuer: "https://id.example.com" });
 *   if (result.valid && result.claims.features.includes("inference")) …
 *
 * A certificate is valid from `nbf` until `grace_until`. After `exp` it is
 * still valid but `stale`: renew it with CheckLicense when Latchkey can be
 * reached. Only EdDSA signatures of a key in the JWKS count, and the header
 * `typ` must be "license+jwt", so an access token is never taken for one.
 */
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";

export const LICENSE_CERTIFICATE_TYPE = "license+jwt";
export const LICENSE_CERTIFICATE_ALGORITHM = "EdDSA";

/** The claims of a licence certificate (times in seconds since the epoch). */
export interface LicenseCertificateClaims {
  iss: string;
  aud: string;
  /** The device id. */
  sub: string;
  /** The device's organisation id. */
  org: string;
  /** Every feature the device was entitled to when the certificate was issued. */
  features: string[];
  /** The ids of the licences that entitle it. */
  licenses: string[];
  iat: number;
  nbf: number;
  /** When the certificate should be renewed. */
  exp: number;
  /** Until when it proves the rights offline; never past the licences' expiry. */
  grace_until: number;
}

export type LicenseCertificateResult =
  | { valid: true; claims: LicenseCertificateClaims; /** Past `exp`, within the grace period. */ stale: boolean }
  | { valid: false; reason: "malformed" | "unknown_key" | "bad_signature" | "not_yet_valid" | "expired" | "wrong_issuer" };

export interface VerifyLicenseCertificateOptions {
  /** The time to judge by, in milliseconds since the epoch. */
  now: number;
  /** The expected `iss` (and `aud`); unchecked when omitted. */
  issuer?: string;
  /** Allowed clock difference in seconds (default 5). */
  clockToleranceSeconds?: number;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

/** Verifies a licence certificate against a JWKS, offline. Never throws for a bad certificate. */
export async function verifyLicenseCertificate(certificate: string, jwks: JSONWebKeySet, options: VerifyLicenseCertificateOptions): Promise<LicenseCertificateResult> {
  const tolerance = options.clockToleranceSeconds ?? 5;
  let kid: string | undefined;
  let typ: string | undefined;
  let claimedNbf: unknown;
  try {
    ({ kid, typ } = decodeProtectedHeader(certificate));
    claimedNbf = decodeJwt(certificate).nbf;
  } catch {
    return { valid: false, reason: "malformed" };
  }
  if (typ !== LICENSE_CERTIFICATE_TYPE || typeof kid !== "string" || typeof claimedNbf !== "number") return { valid: false, reason: "malformed" };
  if (!jwks.keys.some((key) => key.kid === kid)) return { valid: false, reason: "unknown_key" };
  let payload: Record<string, unknown>;
  try {
    // Times are judged below, not by jose: past `exp` a certificate is only
    // stale, and it stays valid until `grace_until`.
    ({ payload } = await jwtVerify(certificate, createLocalJWKSet(jwks), {
      algorithms: [LICENSE_CERTIFICATE_ALGORITHM],
      typ: LICENSE_CERTIFICATE_TYPE,
      currentDate: new Date(claimedNbf * 1000),
      ...(options.issuer === undefined ? {} : { issuer: options.issuer, audience: options.issuer }),
    }));
  } catch (error) {
    const code = (error as { code?: string }).code;
    const { claim, reason } = error as { claim?: string; reason?: string };
    if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && reason !== "missing" && (claim === "iss" || claim === "aud")) return { valid: false, reason: "wrong_issuer" };
    if (code === "ERR_JWKS_NO_MATCHING_KEY") return { valid: false, reason: "unknown_key" };
    return { valid: false, reason: code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ? "bad_signature" : "malformed" };
  }
  const { iss, aud, sub, org, features, licenses, iat, nbf, exp, grace_until: graceUntil } = payload;
  if (
    typeof iss !== "string" ||
    typeof aud !== "string" ||
    typeof sub !== "string" ||
    typeof org !== "string" ||
    !isStringArray(features) ||
    !isStringArray(licenses) ||
    typeof iat !== "number" ||
    typeof nbf !== "number" ||
    typeof exp !== "number" ||
    typeof graceUntil !== "number"
  ) {
    return { valid: false, reason: "malformed" };
  }
  const now = Math.floor(options.now / 1000);
  if (now + tolerance < nbf) return { valid: false, reason: "not_yet_valid" };
  if (now - tolerance >= graceUntil) return { valid: false, reason: "expired" };
  return { valid: true, claims: { iss, aud, sub, org, features, licenses, iat, nbf, exp, grace_until: graceUntil }, stale: now >= exp };
}
