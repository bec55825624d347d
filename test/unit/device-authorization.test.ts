import { describe, expect, it } from "vitest";
import {
  DEVICE_AUTHORIZATION_TTL_MS,
  POLL_INTERVAL_SECONDS,
  SLOW_DOWN_STEP_SECONDS,
  USER_CODE_ALPHABET,
  USER_CODE_LENGTH,
  decidePoll,
  expiresInSeconds,
  formatUserCode,
  generateDeviceCode,
  generateUserCode,
  hashDeviceCode,
  hashUserCode,
  mayDecide,
  normaliseUserCode,
  pollTooSoon,
  slowedInterval,
  verificationUris,
  type DeviceAuthorizationState,
} from "../../src/domain/devices/device-authorization.js";
import { webCryptoRandom, type Random } from "../../src/domain/ports.js";
import { fromBase64url } from "../../src/domain/tokens/secrets.js";

/** A Random that hands out the given bytes in order, over and over. */
function scriptedRandom(bytes: number[]): Random {
  let next = 0;
  return {
    bytes: (length) => Uint8Array.from({ length }, () => bytes[next++ % bytes.length]!),
    uuid: () => "00000000-0000-4000-8000-000000000000",
  };
}

describe("user codes", () => {
  it("use twenty consonants without vowels or look-alikes", () => {
    expect(USER_CODE_ALPHABET).toBe("BCDFGHJKLMNPQRSTVWXZ");
    expect(new Set(USER_CODE_ALPHABET).size).toBe(20);
    for (const excluded of "AEIOUY01") expect(USER_CODE_ALPHABET).not.toContain(excluded);
  });

  it("are eight letters of the alphabet, about 34.6 bits", () => {
    for (let i = 0; i < 200; i++) {
      const code = generateUserCode(webCryptoRandom);
      expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
    }
    expect(USER_CODE_LENGTH * Math.log2(USER_CODE_ALPHABET.length)).toBeGreaterThan(34.5);
  });

  it("map bytes to letters without bias: bytes from 240 up are drawn again", () => {
    // 0 → B, 19 → Z, 20 → B again; 240..255 would favour the first 16 letters.
    expect(generateUserCode(scriptedRandom([0, 19, 20, 239, 240, 255, 1, 2, 3, 4, 5]))).toBe("BZBZCDFG");
  });

  it("reach every letter in every position", () => {
    const seen = Array.from({ length: USER_CODE_LENGTH }, () => new Set<string>());
    for (let i = 0; i < 2000; i++) [...generateUserCode(webCryptoRandom)].forEach((letter, at) => seen[at]!.add(letter));
    for (const letters of seen) expect(letters.size).toBe(20);
  });

  it("are shown as XXXX-XXXX", () => {
    expect(formatUserCode("WDJBMJHT")).toBe("WDJB-MJHT");
  });

  it("are read ignoring case, dashes and spaces", () => {
    expect(normaliseUserCode("WDJB-MJHT")).toBe("WDJBMJHT");
    expect(normaliseUserCode("wdjb-mjht")).toBe("WDJBMJHT");
    expect(normaliseUserCode(" wd jb mj ht ")).toBe("WDJBMJHT");
    expect(normaliseUserCode("WD-JB-MJ-HT")).toBe("WDJBMJHT");
    expect(normaliseUserCode("wdjbmjht")).toBe("WDJBMJHT");
  });

  it("reject what cannot be a code", () => {
    expect(normaliseUserCode("")).toBeUndefined();
    expect(normaliseUserCode("WDJB-MJH")).toBeUndefined();
    expect(normaliseUserCode("WDJB-MJHTX")).toBeUndefined();
    expect(normaliseUserCode("WDJA-MJHT")).toBeUndefined();
    expect(normaliseUserCode("WDJ1-MJHT")).toBeUndefined();
    expect(normaliseUserCode("WDJB_MJHT")).toBeUndefined();
  });

  it("hash the normalised code, differently from a device code with the same text", async () => {
    const hash = await hashUserCode("WDJBMJHT");
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashUserCode(normaliseUserCode("wdjb-mjht")!)).toBe(hash);
    expect(await hashDeviceCode("WDJBMJHT")).not.toBe(hash);
  });
});

describe("device codes", () => {
  it("carry 256 random bits after a readable prefix", () => {
    const code = generateDeviceCode(webCryptoRandom);
    expect(code).toMatch(/^lkda_[A-Za-z0-9_-]{43}$/);
    expect(fromBase64url(code.slice("lkda_".length))).toHaveLength(32);
    expect(generateDeviceCode(webCryptoRandom)).not.toBe(code);
  });

  it("are stored as a SHA-256 that does not contain them", async () => {
    const code = generateDeviceCode(webCryptoRandom);
    const hash = await hashDeviceCode(code);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashDeviceCode(code)).toBe(hash);
  });
});

describe("timings and URIs", () => {
  it("live ten minutes, poll every five seconds, slow down by five", () => {
    expect(DEVICE_AUTHORIZATION_TTL_MS).toBe(600_000);
    expect(POLL_INTERVAL_SECONDS).toBe(5);
    expect(SLOW_DOWN_STEP_SECONDS).toBe(5);
    expect(slowedInterval(5)).toBe(10);
    expect(slowedInterval(10)).toBe(15);
    expect(expiresInSeconds(1_000 + DEVICE_AUTHORIZATION_TTL_MS, 1_000)).toBe(600);
    expect(expiresInSeconds(1_000, 2_000)).toBe(0);
  });

  it("point at the issuer's /device page, with the code filled in for a QR code", () => {
    expect(verificationUris("https://id.example.com", "WDJBMJHT")).toEqual({
      verificationUri: "https://id.example.com/device",
      verificationUriComplete: "https://id.example.com/device?user_code=WDJB-MJHT",
    });
  });
});

describe("the state machine", () => {
  const now = 1_000_000;
  const pending: DeviceAuthorizationState = { status: "pending", intervalSeconds: 5, lastPolledAt: null, expiresAt: now + 60_000 };

  it("answers where the authorization stands when the interval has passed", () => {
    expect(decidePoll(pending, now)).toBe("pending");
    expect(decidePoll({ ...pending, lastPolledAt: now - 5_000 }, now)).toBe("pending");
    expect(decidePoll({ ...pending, status: "approved" }, now)).toBe("approved");
    expect(decidePoll({ ...pending, status: "denied" }, now)).toBe("denied");
  });

  it("slows down a poll that comes before the interval has passed", () => {
    expect(pollTooSoon({ intervalSeconds: 5, lastPolledAt: now - 4_999 }, now)).toBe(true);
    expect(pollTooSoon({ intervalSeconds: 5, lastPolledAt: now - 5_000 }, now)).toBe(false);
    expect(pollTooSoon({ intervalSeconds: 10, lastPolledAt: now - 5_000 }, now)).toBe(true);
    expect(decidePoll({ ...pending, lastPolledAt: now - 1_000 }, now)).toBe("slow_down");
    expect(decidePoll({ ...pending, status: "approved", lastPolledAt: now - 1_000 }, now)).toBe("slow_down");
  });

  it("expires at the expiry instant, and once the tokens were collected", () => {
    expect(decidePoll({ ...pending, expiresAt: now + 1 }, now)).toBe("pending");
    expect(decidePoll({ ...pending, expiresAt: now }, now)).toBe("expired");
    expect(decidePoll({ ...pending, status: "approved", expiresAt: now }, now)).toBe("expired");
    expect(decidePoll({ ...pending, status: "collected" }, now)).toBe("expired");
    // Expiry wins over polling too fast.
    expect(decidePoll({ ...pending, lastPolledAt: now, expiresAt: now }, now)).toBe("expired");
  });

  it("lets a person decide only while pending and unexpired", () => {
    expect(mayDecide(pending, now)).toBe(true);
    expect(mayDecide({ ...pending, expiresAt: now }, now)).toBe(false);
    expect(mayDecide({ ...pending, status: "approved" }, now)).toBe(false);
    expect(mayDecide({ ...pending, status: "denied" }, now)).toBe(false);
    expect(mayDecide({ ...pending, status: "collected" }, now)).toBe(false);
  });
});
