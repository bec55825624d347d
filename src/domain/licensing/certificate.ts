/**
 * Licence certificates: what CheckLicense hands a device to keep for offline
 * use (see CheckLicenseResponse in the proto and src/license-certificate.ts,
 * which verifies them).
 */
import { SignJWT } from "jose";
import { LICENSE_CERTIFICATE_ALGORITHM, LICENSE_CERTIFICATE_TYPE, type LicenseCertificateClaims } from "../../license-certificate.js";
import type { SigningKey } from "../tokens/access-token.js";
import { OPEN_ENDED } from "./rules.js";

/** How long a certificate is fresh before the device should renew it. */
export const CERTIFICATE_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** How long past that a device offline may keep using it. */
export const CERTIFICATE_GRACE_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * The certificate's times (milliseconds): fresh for a day and usable offline
 * a week longer, neither past the earliest expiry of the licences it names.
 */
export function certificateTimes(now: number, licenceExpiries: readonly (number | null)[]): { expiresAt: number; graceUntil: number } {
  const limit = Math.min(...licenceExpiries.map((e) => e ?? OPEN_ENDED), OPEN_ENDED);
  const expiresAt = Math.min(now + CERTIFICATE_LIFETIME_MS, limit);
  return { expiresAt, graceUntil: Math.min(expiresAt + CERTIFICATE_GRACE_MS, limit) };
}

export async function signLicenseCertificate(key: SigningKey, claims: LicenseCertificateClaims): Promise<string> {
  const { iss, aud, sub, iat, nbf, exp, ...rest } = claims;
  return new SignJWT({ ...rest })
    .setProtectedHeader({ alg: LICENSE_CERTIFICATE_ALGORITHM, kid: key.kid, typ: LICENSE_CERTIFICATE_TYPE })
    .setIssuer(iss)
    .setAudience(aud)
    .setSubject(sub)
    .setIssuedAt(iat)
    .setNotBefore(nbf)
    .setExpirationTime(exp)
    .sign(key.privateKey);
}
