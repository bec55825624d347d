import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { decideDeviceAccess } from "../../src/domain/access/device-rules.js";
import { CERTIFICATE_GRACE_MS, CERTIFICATE_LIFETIME_MS, certificateTimes, signLicenseCertificate } from "../../src/domain/licensing/certificate.js";
import { verifyLicenseCertificate } from "../../src/license-certificate.js";

const ORG = "org-1";
const user = { superAdmin: false, keyOrganisationId: undefined };

describe("decideDeviceAccess", () => {
  it("members read, admins and owners write, outsiders learn nothing", () => {
    expect(decideDeviceAccess(user, ORG, "member", "read")).toBe("allowed");
    expect(decideDeviceAccess(user, ORG, "member", "write")).toBe("forbidden");
    expect(decideDeviceAccess(user, ORG, "admin", "write")).toBe("allowed");
    expect(decideDeviceAccess(user, ORG, "owner", "write")).toBe("allowed");
    expect(decideDeviceAccess(user, ORG, undefined, "read")).toBe("not_found");
    expect(decideDeviceAccess(user, ORG, undefined, "write")).toBe("not_found");
    expect(decideDeviceAccess({ superAdmin: true, keyOrganisationId: undefined }, ORG, undefined, "write")).toBe("allowed");
  });

  it("an API key reaches only its own organisation", () => {
    expect(decideDeviceAccess({ superAdmin: false, keyOrganisationId: ORG }, ORG, "admin", "write")).toBe("allowed");
    expect(decideDeviceAccess({ superAdmin: false, keyOrganisationId: "org-2" }, ORG, "admin", "read")).toBe("not_found");
  });
});

describe("certificateTimes", () => {
  const now = 1_800_000_000_000;
  it("is fresh for a day and usable a week longer", () => {
    expect(certificateTimes(now, [null])).toEqual({ expiresAt: now + CERTIFICATE_LIFETIME_MS, graceUntil: now + CERTIFICATE_LIFETIME_MS + CERTIFICATE_GRACE_MS });
  });
  it("never outlasts the earliest licence", () => {
    expect(certificateTimes(now, [null, now + 3 * 86_400_000])).toEqual({ expiresAt: now + CERTIFICATE_LIFETIME_MS, graceUntil: now + 3 * 86_400_000 });
    expect(certificateTimes(now, [now + 3_600_000])).toEqual({ expiresAt: now + 3_600_000, graceUntil: now + 3_600_000 });
  });
});

describe("verifyLicenseCertificate", () => {
  it("checks type, algorithm, key, times and issuer", async () => {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { extractable: true });
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "EdDSA", use: "sig" }] };
    const now = 1_800_000_000;
    const claims = { iss: "https://id.test", aud: "https://id.test", sub: "d1", org: ORG, features: ["a"], licenses: ["l1"], iat: now, nbf: now, exp: now + 100, grace_until: now + 200 };
    const certificate = await signLicenseCertificate({ kid: "k1", privateKey }, claims);
    const at = (seconds: number) => ({ now: seconds * 1000, issuer: "https://id.test" });
    expect(await verifyLicenseCertificate(certificate, jwks, at(now + 10))).toEqual({ valid: true, stale: false, claims });
    expect(await verifyLicenseCertificate(certificate, jwks, at(now + 150))).toEqual({ valid: true, stale: true, claims });
    // Past grace_until and the clock tolerance (5 s).
    expect(await verifyLicenseCertificate(certificate, jwks, at(now + 206))).toEqual({ valid: false, reason: "expired" });
    expect(await verifyLicenseCertificate(certificate, jwks, at(now - 60))).toEqual({ valid: false, reason: "not_yet_valid" });
    expect(await verifyLicenseCertificate(certificate, { keys: [] }, at(now))).toEqual({ valid: false, reason: "unknown_key" });
    expect(await verifyLicenseCertificate("not a jwt", jwks, at(now))).toEqual({ valid: false, reason: "malformed" });
    // The right key, the wrong type.
    const accessLike = await new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid: "k1", typ: "at+jwt" }).sign(privateKey);
    expect(await verifyLicenseCertificate(accessLike, jwks, at(now))).toEqual({ valid: false, reason: "malformed" });
    // Missing claims.
    const partial = await new SignJWT({ sub: "d1", nbf: now }).setProtectedHeader({ alg: "EdDSA", kid: "k1", typ: "license+jwt" }).sign(privateKey);
    expect(await verifyLicenseCertificate(partial, jwks, at(now))).toEqual({ valid: false, reason: "malformed" });
  });
});
