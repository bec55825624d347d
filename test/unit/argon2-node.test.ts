import { hash as nodeRsHash, type Algorithm } from "@node-rs/argon2";
import { describe, expect, it } from "vitest";
import { DomainError, Reason } from "../../src/domain/errors.js";
import { ARGON2ID_PARAMS, constantTimeEqual, decodeBase64, encodeBase64, formatPhc, needsRehash, parsePhc } from "../../src/domain/passwords/phc.js";
import { createNodeArgon2Hasher } from "../../src/runtime/argon2-node.js";

const hasher = createNodeArgon2Hasher({ maxConcurrent: 4, maxQueued: 16 });
const password = "correct horse battery staple";

describe("createNodeArgon2Hasher", () => {
  it("writes argon2id v1.3 PHC strings with parameters at or above the OWASP floor", async () => {
    const phc = await hasher.hash(password);
    expect(phc).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    const parsed = parsePhc(phc);
    expect(parsed).toBeDefined();
    expect(parsed!.algorithm).toBe("argon2id");
    expect(parsed!.memoryCost).toBeGreaterThanOrEqual(19456);
    expect(parsed!.timeCost).toBeGreaterThanOrEqual(2);
    expect(parsed!.parallelism).toBeGreaterThanOrEqual(1);
    expect(parsed!.salt.length).toBeGreaterThanOrEqual(16);
    expect(parsed!.hash.length).toBe(32);
    expect(hasher.needsRehash(phc)).toBe(false);
  });

  it("salts every hash: the same password hashes differently each time", async () => {
    const [a, b] = await Promise.all([hasher.hash(password), hasher.hash(password)]);
    expect(a).not.toBe(b);
    expect(parsePhc(a)!.salt).not.toEqual(parsePhc(b)!.salt);
    expect(await hasher.verify(a, password)).toBe(true);
    expect(await hasher.verify(b, password)).toBe(true);
  });

  it("verifies exactly the password given: no truncation, no case folding, no trimming", async () => {
    const phc = await hasher.hash(password);
    expect(await hasher.verify(phc, password)).toBe(true);
    expect(await hasher.verify(phc, `${password}x`)).toBe(false);
    expect(await hasher.verify(phc, password.slice(0, -1))).toBe(false);
    expect(await hasher.verify(phc, password.toUpperCase())).toBe(false);
    expect(await hasher.verify(phc, ` ${password}`)).toBe(false);
    expect(await hasher.verify(phc, "")).toBe(false);
  });

  it("distinguishes long passwords that differ only in their last character", async () => {
    const long = "ü".repeat(255);
    const phc = await hasher.hash(`${long}a`);
    expect(await hasher.verify(phc, `${long}a`)).toBe(true);
    expect(await hasher.verify(phc, `${long}b`)).toBe(false);
  });

  it("treats NFC and NFD forms of a password as the same password", async () => {
    const composed = "Crème brûlée à Ærø".normalize("NFC");
    const phc = await hasher.hash(composed.normalize("NFD"));
    expect(await hasher.verify(phc, composed)).toBe(true);
  });

  it.each([
    ["empty", ""],
    ["garbage", "not a hash"],
    ["bcrypt", "$2b$10$abcdefghijklmnopqrstuuJ0Vt0wFv7e6Z3r1x3e0x7y5q0Zq0Zq"],
    ["truncated", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ"],
    ["bad base64", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$!!!!"],
    ["unknown version", "$argon2id$v=99$m=19456,t=2,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"],
    ["absurd memory", "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"],
  ])("returns false, never throws, for a malformed hash (%s)", async (_name, phc) => {
    await expect(hasher.verify(phc, password)).resolves.toBe(false);
  });

  it("refuses to hash an empty or over-long password", async () => {
    await expect(hasher.hash("")).rejects.toMatchObject({ kind: "invalid_argument" });
    await expect(hasher.hash("x".repeat(257))).rejects.toMatchObject({ kind: "invalid_argument" });
  });

  it("asks for a rehash when a stored hash is weaker than the current parameters", async () => {
    const weaker = [
      { memoryCost: 8192, timeCost: 2, parallelism: 1 },
      { memoryCost: 19456, timeCost: 1, parallelism: 1 },
    ];
    for (const params of weaker) {
      const phc = await nodeRsHash(password, { ...params, algorithm: 2 as Algorithm /* Argon2id */ });
      expect(hasher.needsRehash(phc)).toBe(true);
      // Still verifies, so the user can sign in and be upgraded.
      expect(await hasher.verify(phc, password)).toBe(true);
    }
    const argon2i = await nodeRsHash(password, { ...ARGON2ID_PARAMS, algorithm: 1 as Algorithm /* Argon2i */ });
    expect(argon2i).toMatch(/^\$argon2i\$/);
    expect(hasher.needsRehash(argon2i)).toBe(true);
    expect(hasher.needsRehash("garbage")).toBe(true);

    // A hasher configured above the floor wants floor hashes upgraded.
    const stronger = createNodeArgon2Hasher({ maxConcurrent: 1, maxQueued: 1, params: { memoryCost: 65536, timeCost: 3, parallelism: 1 } });
    const floorHash = await hasher.hash(password);
    expect(stronger.needsRehash(floorHash)).toBe(true);
    expect(needsRehash(floorHash, ARGON2ID_PARAMS)).toBe(false);
  });

  it("cannot be configured below the OWASP floor", () => {
    expect(() => createNodeArgon2Hasher({ maxConcurrent: 1, maxQueued: 1, params: { memoryCost: 4096, timeCost: 2, parallelism: 1 } })).toThrow(
      RangeError,
    );
    expect(() => createNodeArgon2Hasher({ maxConcurrent: 1, maxQueued: 1, params: { memoryCost: 19456, timeCost: 1, parallelism: 1 } })).toThrow(
      RangeError,
    );
  });

  it("runs at most maxConcurrent hashes, queues maxQueued and refuses the rest at once", async () => {
    const limited = createNodeArgon2Hasher({ maxConcurrent: 2, maxQueued: 4 });
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => limited.hash(`${password} ${i}`)));
    const fulfilled = outcomes.filter((o) => o.status === "fulfilled");
    const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    expect(fulfilled).toHaveLength(6);
    expect(rejected).toHaveLength(14);
    for (const { reason } of rejected) {
      expect(reason).toBeInstanceOf(DomainError);
      expect(reason).toMatchObject({ kind: "resource_exhausted", reason: Reason.HASHING_BUSY });
      expect((reason as DomainError).retryAfterMs).toBeGreaterThanOrEqual(100);
    }
    // The first six arrivals are the ones served.
    expect(outcomes.slice(0, 6).every((o) => o.status === "fulfilled")).toBe(true);
  });

  it("keeps the event loop responsive while hashing", async () => {
    let ticks = 0;
    let hashing = true;
    const tick = () => {
      ticks++;
      if (hashing) setImmediate(tick);
    };
    setImmediate(tick);
    const started = performance.now();
    await hasher.hash(password);
    const elapsed = performance.now() - started;
    hashing = false;
    // A hash on the main thread would allow no turns at all until it finished.
    expect(ticks).toBeGreaterThan(3);
    expect(elapsed).toBeGreaterThan(0);
  });
});

describe("PHC strings", () => {
  it("round-trips what @node-rs/argon2 writes", async () => {
    const phc = await nodeRsHash(password, { ...ARGON2ID_PARAMS, algorithm: 2 as Algorithm /* Argon2id */ });
    const parsed = parsePhc(phc)!;
    expect(formatPhc(parsed.algorithm, parsed, parsed.salt, parsed.hash)).toBe(phc);
  });

  it("encodes unpadded base64 and accepts only its canonical form", () => {
    for (let length = 0; length < 40; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + length) & 0xff);
      const text = encodeBase64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString("base64").replace(/=+$/, ""));
      expect(decodeBase64(text)).toEqual(bytes);
    }
    expect(decodeBase64("AB")).toBeUndefined(); // leftover bits set
    expect(decodeBase64("AA==")).toBeUndefined(); // padding
    expect(decodeBase64("A")).toBeUndefined();
  });

  it("compares digests by value only", () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2))).toBe(false);
  });
});
