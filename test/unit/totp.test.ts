/**
 * The TOTP rules at their boundaries, on a controlled clock: the RFC 6238
 * reference code, which steps are accepted around the server's time, and
 * that a step at or below the last accepted one never matches again.
 */
import { Secret } from "otpauth";
import { describe, expect, it } from "vitest";
import { webCryptoRandom } from "../../src/domain/ports.js";
import {
  TOTP_SECRET_BYTES,
  matchTotpStep,
  newTotpSecret,
  normaliseTotpCode,
  otpauthUri,
  totpCodeAt,
  totpSecretBase32,
  totpStepAt,
} from "../../src/domain/mfa/totp.js";
import { generateRecoveryCodes, hashRecoveryCode, normaliseRecoveryCode } from "../../src/domain/mfa/recovery-codes.js";
import { methodsFor, sendAtOnce } from "../../src/domain/mfa/challenge.js";

// RFC 6238 appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
const RFC_SECRET = new TextEncoder().encode("12345678901234567890");

describe("TOTP codes", () => {
  it("match the RFC 6238 reference values (last six digits)", () => {
    expect(totpCodeAt(RFC_SECRET, totpStepAt(59_000))).toBe("287082");
    expect(totpCodeAt(RFC_SECRET, totpStepAt(1_111_111_109_000))).toBe("081804");
    expect(totpCodeAt(RFC_SECRET, totpStepAt(2_000_000_000_000))).toBe("279037");
  });

  it("use 30-second steps", () => {
    expect(totpStepAt(0)).toBe(0);
    expect(totpStepAt(29_999)).toBe(0);
    expect(totpStepAt(30_000)).toBe(1);
  });

  it("accept T-1, T and T+1 and reject T-2 and T+2", () => {
    const secret = newTotpSecret(webCryptoRandom);
    // The middle of a step, and both of its edges: the window moves with the step, not the second.
    for (const now of [Date.UTC(2026, 10, 23, 12, 0, 15), Date.UTC(2026, 10, 23, 12, 0, 0), Date.UTC(2026, 10, 23, 12, 0, 29, 999)]) {
      const t = totpStepAt(now);
      const accepted = [-2, -1, 0, 1, 2].map((offset) => matchTotpStep(secret, totpCodeAt(secret, t + offset), now, 0));
      // A code of T±2 may equal one inside the window by chance (one in a million): skip such draws.
      const insideCodes = new Set([-1, 0, 1].map((o) => totpCodeAt(secret, t + o)));
      expect(accepted[1]).toBe(t - 1);
      expect(accepted[2]).toBe(t);
      expect(accepted[3]).toBe(t + 1);
      if (!insideCodes.has(totpCodeAt(secret, t - 2))) expect(accepted[0]).toBeUndefined();
      if (!insideCodes.has(totpCodeAt(secret, t + 2))) expect(accepted[4]).toBeUndefined();
    }
  });

  it("never match a step at or below the last accepted one", () => {
    const secret = newTotpSecret(webCryptoRandom);
    const now = Date.UTC(2026, 10, 23, 12, 0, 15);
    const t = totpStepAt(now);
    const code = totpCodeAt(secret, t);
    expect(matchTotpStep(secret, code, now, t - 1)).toBe(t);
    expect(matchTotpStep(secret, code, now, t)).toBeUndefined();
    expect(matchTotpStep(secret, totpCodeAt(secret, t - 1), now, t)).toBeUndefined();
    // A later code still works after an earlier one was used.
    expect(matchTotpStep(secret, totpCodeAt(secret, t + 1), now, t)).toBe(t + 1);
  });

  it("ignore the grouping space apps show, and reject anything but six digits", () => {
    expect(normaliseTotpCode("123 456")).toBe("123456");
    expect(normaliseTotpCode("12345")).toBeUndefined();
    expect(normaliseTotpCode("1234567")).toBeUndefined();
    expect(normaliseTotpCode("12345a")).toBeUndefined();
    const secret = newTotpSecret(webCryptoRandom);
    const now = Date.UTC(2026, 10, 23, 12);
    const code = totpCodeAt(secret, totpStepAt(now));
    expect(matchTotpStep(secret, `${code.slice(0, 3)} ${code.slice(3)}`, now, 0)).toBe(totpStepAt(now));
  });

  it("have 160-bit secrets that apps read back from the base32 form and the URI", () => {
    const secret = newTotpSecret(webCryptoRandom);
    expect(secret).toHaveLength(TOTP_SECRET_BYTES);
    const base32 = totpSecretBase32(secret);
    expect(Secret.fromBase32(base32).bytes).toEqual(secret);
    const uri = new URL(otpauthUri(secret, "ada@example.com"));
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.host).toBe("totp");
    expect(decodeURIComponent(uri.pathname)).toBe("/Latchkey:ada@example.com");
    expect(uri.searchParams.get("secret")).toBe(base32);
    expect(uri.searchParams.get("issuer")).toBe("Latchkey");
    expect(uri.searchParams.get("period")).toBe("30");
    expect(uri.searchParams.get("digits")).toBe("6");
    expect(uri.searchParams.get("algorithm")).toBe("SHA1");
  });
});

describe("recovery codes", () => {
  it("come ten at a time, distinct, as four groups of four with 80 random bits", () => {
    const codes = generateRecoveryCodes(webCryptoRandom);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
  });

  it("are read whatever the case, dashes and look-alike letters", async () => {
    const [code] = generateRecoveryCodes(webCryptoRandom, 1);
    const typed = code!.toUpperCase().replace(/-/g, " ").replace(/0/g, "O").replace(/1/g, "l");
    expect(normaliseRecoveryCode(typed)).toBe(normaliseRecoveryCode(code!));
    expect(await hashRecoveryCode("u1", normaliseRecoveryCode(typed))).toBe(await hashRecoveryCode("u1", normaliseRecoveryCode(code!)));
    expect(await hashRecoveryCode("u2", normaliseRecoveryCode(code!))).not.toBe(await hashRecoveryCode("u1", normaliseRecoveryCode(code!)));
  });
});

describe("challenge methods", () => {
  const none = { totpConfirmed: false, emailEnabled: false, emailVerified: false, smsEnabled: false, phoneVerified: false, profileRequiresMfa: false };

  it("are empty when the password is enough", () => {
    expect(methodsFor(none)).toEqual([]);
  });

  it("offer the app with recovery codes, and codes only to verified addresses", () => {
    expect(methodsFor({ ...none, totpConfirmed: true })).toEqual(["totp", "recovery_code"]);
    expect(methodsFor({ ...none, emailEnabled: true })).toEqual([]);
    expect(methodsFor({ ...none, smsEnabled: true, phoneVerified: false })).toEqual([]);
    expect(methodsFor({ ...none, totpConfirmed: true, emailEnabled: true, emailVerified: true, smsEnabled: true, phoneVerified: true })).toEqual(["totp", "email", "sms", "recovery_code"]);
  });

  it("fall back to an emailed code when the profile demands a second factor the user lacks", () => {
    expect(methodsFor({ ...none, profileRequiresMfa: true })).toEqual(["email"]);
    expect(methodsFor({ ...none, profileRequiresMfa: true, totpConfirmed: true })).toEqual(["totp", "recovery_code"]);
  });

  it("send a code at once only when a sent code is the only way", () => {
    expect(sendAtOnce(["email"])).toBe("email");
    expect(sendAtOnce(["sms"])).toBe("sms");
    expect(sendAtOnce(["totp", "recovery_code"])).toBeUndefined();
    expect(sendAtOnce(["email", "sms"])).toBeUndefined();
  });
});
