import { describe, expect, it } from "vitest";
import {
  CODE_POLICIES,
  MAX_CODE_ATTEMPTS,
  SEND_WINDOW_MS,
  codeExpiresAt,
  codeHashesMatch,
  codeState,
  decideSend,
  generateNumericCode,
  hashCode,
  inheritedAttempts,
  killedBy,
  normaliseSubmittedCode,
  resendBlockedForMs,
} from "../../src/domain/codes.js";
import { webCryptoRandom, type Random } from "../../src/domain/ports.js";
import { manualClock } from "../support/in-process-app.js";

/** A Random that hands out the given bytes in order, over and over. */
function scriptedRandom(bytes: number[]): Random & { drawn: number } {
  let next = 0;
  const random = {
    drawn: 0,
    bytes(length: number) {
      random.drawn += length;
      return Uint8Array.from({ length }, () => bytes[next++ % bytes.length]!);
    },
    uuid: () => "00000000-0000-4000-8000-000000000000",
  };
  return random;
}

describe("generateNumericCode", () => {
  it("makes codes of the asked length from digits only", () => {
    for (const digits of [6, 8]) {
      for (let i = 0; i < 200; i++) expect(generateNumericCode(webCryptoRandom, digits)).toMatch(new RegExp(`^\\d{${digits}}$`));
    }
  });

  it("draws again for bytes 250–255 instead of folding them onto 0–5", () => {
    const random = scriptedRandom([255, 250, 3, 252, 251, 249, 253, 12, 254, 7, 100, 45]);
    expect(generateNumericCode(random, 6)).toBe("392705");
  });

  it("every byte value below 250 maps to each digit exactly 25 times", () => {
    const counts = new Array<number>(10).fill(0);
    const code = generateNumericCode(scriptedRandom(Array.from({ length: 256 }, (_, i) => i)), 250);
    for (const digit of code) counts[Number(digit)]!++;
    expect(counts).toEqual(new Array(10).fill(25));
  });

  it("the digits of CSPRNG codes are uniform (chi-square, 9 degrees of freedom)", () => {
    const counts = new Array<number>(10).fill(0);
    const codes = 20_000;
    for (let i = 0; i < codes; i++) for (const digit of generateNumericCode(webCryptoRandom, 6)) counts[Number(digit)]!++;
    const expected = (codes * 6) / 10;
    const chiSquare = counts.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    // 27.88 is the 0.1 % critical value: a fair source fails once in a thousand runs.
    expect(chiSquare).toBeLessThan(27.88);
  });

  it("refuses a length that is not a positive integer", () => {
    expect(() => generateNumericCode(webCryptoRandom, 0)).toThrow(RangeError);
    expect(() => generateNumericCode(webCryptoRandom, 2.5)).toThrow(RangeError);
  });
});

describe("policies", () => {
  it("email codes: 8 digits for 24 hours; SMS codes: 6 digits for 10 minutes; 5 attempts", () => {
    expect(CODE_POLICIES.email_verification).toEqual({ digits: 8, ttlMs: 24 * 3_600_000 });
    expect(CODE_POLICIES.phone_verification).toEqual({ digits: 6, ttlMs: 10 * 60_000 });
    expect(MAX_CODE_ATTEMPTS).toBe(5);
  });
});

describe("hashCode", () => {
  it("is hex SHA-256 and binds the user and the purpose", async () => {
    const hash = await hashCode("user-1", "phone_verification", "123456");
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashCode("user-1", "phone_verification", "123456")).toBe(hash);
    expect(await hashCode("user-2", "phone_verification", "123456")).not.toBe(hash);
    expect(await hashCode("user-1", "email_verification", "123456")).not.toBe(hash);
    expect(await hashCode("user-1", "phone_verification", "123457")).not.toBe(hash);
  });

  it("compares hashes whole", async () => {
    const hash = await hashCode("u", "email_verification", "12345678");
    expect(codeHashesMatch(hash, hash)).toBe(true);
    expect(codeHashesMatch(hash, `${hash.slice(0, -1)}0`)).toBe(hash.endsWith("0"));
    expect(codeHashesMatch(hash, hash.slice(0, 32))).toBe(false);
    expect(codeHashesMatch(hash, "")).toBe(false);
  });

  it("submitted codes may keep the spaces and dashes of their printed grouping", () => {
    expect(normaliseSubmittedCode(" 1234-5678 ")).toBe("12345678");
    expect(normaliseSubmittedCode("12 34 56")).toBe("123456");
  });
});

describe("codeState", () => {
  it("a code is live until the instant it expires, and expired from that instant", () => {
    const clock = manualClock();
    const code = { expiresAt: codeExpiresAt("phone_verification", clock.now()), attempts: 0, consumedAt: null };
    clock.advance(10 * 60_000 - 1);
    expect(codeState(code, clock.now())).toBe("live");
    clock.advance(1);
    expect(codeState(code, clock.now())).toBe("expired");
  });

  it("the fifth wrong attempt kills the code", () => {
    const clock = manualClock();
    const expiresAt = codeExpiresAt("email_verification", clock.now());
    expect(codeState({ expiresAt, attempts: 4, consumedAt: null }, clock.now())).toBe("live");
    expect(killedBy(4)).toBe(false);
    expect(killedBy(5)).toBe(true);
    expect(codeState({ expiresAt, attempts: 5, consumedAt: null }, clock.now())).toBe("exhausted");
  });

  it("a consumed code is used, whatever else holds", () => {
    const now = manualClock().now();
    expect(codeState({ expiresAt: now + 1, attempts: 0, consumedAt: now }, now)).toBe("used");
    expect(codeState({ expiresAt: now - 1, attempts: 5, consumedAt: now - 2 }, now)).toBe("used");
  });
});

describe("decideSend", () => {
  it("allows five sends in a sliding hour, then says when the oldest leaves it", () => {
    const clock = manualClock();
    const sent: number[] = [];
    for (let i = 0; i < 5; i++) {
      expect(decideSend(sent, clock.now())).toEqual({ allowed: true });
      sent.push(clock.now());
      clock.advance(60_000);
    }
    expect(decideSend(sent, clock.now())).toEqual({ allowed: false, retryAfterMs: SEND_WINDOW_MS - 5 * 60_000 });
    clock.set(sent[0]! + SEND_WINDOW_MS - 1);
    expect(decideSend(sent, clock.now())).toEqual({ allowed: false, retryAfterMs: 1 });
    clock.advance(1);
    expect(decideSend(sent, clock.now())).toEqual({ allowed: true });
  });

  it("ignores sends older than the window, in any order", () => {
    const now = manualClock().now();
    const old = [now - SEND_WINDOW_MS, now - 2 * SEND_WINDOW_MS];
    expect(decideSend([...old, now - 1, now - 2, now - 3, now - 4], now)).toEqual({ allowed: true });
    expect(decideSend([now - 4, now - 1, now - 5, now - 3, now - 2], now)).toEqual({ allowed: false, retryAfterMs: SEND_WINDOW_MS - 5 });
  });
});

describe("failures across resends", () => {
  it("a new code inherits the failures of the unconsumed code it replaces within the window", () => {
    const now = manualClock().now();
    expect(inheritedAttempts(undefined, now)).toBe(0);
    expect(inheritedAttempts({ createdAt: now - 1000, attempts: 3, consumedAt: null }, now)).toBe(3);
    expect(inheritedAttempts({ createdAt: now - 1000, attempts: 3, consumedAt: now - 10 }, now)).toBe(0);
    expect(inheritedAttempts({ createdAt: now - SEND_WINDOW_MS + 1, attempts: 3, consumedAt: null }, now)).toBe(3);
    expect(inheritedAttempts({ createdAt: now - SEND_WINDOW_MS, attempts: 3, consumedAt: null }, now)).toBe(0);
  });

  it("a resend after a killed code waits until that code leaves the window", () => {
    const now = manualClock().now();
    expect(resendBlockedForMs({ createdAt: now - 1000, attempts: 4, consumedAt: null }, now)).toBeUndefined();
    expect(resendBlockedForMs({ createdAt: now - 1000, attempts: 5, consumedAt: null }, now)).toBe(SEND_WINDOW_MS - 1000);
    expect(resendBlockedForMs({ createdAt: now - SEND_WINDOW_MS, attempts: 5, consumedAt: null }, now)).toBeUndefined();
  });
});
