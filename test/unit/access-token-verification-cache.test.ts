import { generateKeyPair, type CryptoKey } from "jose";
import { describe, expect, it } from "vitest";
import { signAccessToken, type AccessTokenClaims } from "../../src/domain/tokens/access-token.js";
import { createAccessTokenVerifier } from "../../src/domain/tokens/verification-cache.js";

const ISSUER = "https://latchkey.test";
const NOW = Date.UTC(2026, 10, 23, 12);

async function setUp(capacity?: number) {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const published = new Map<string, CryptoKey>([["k1", publicKey]]);
  let lookups = 0;
  const resolve = async (kid: string) => {
    lookups++;
    return published.get(kid);
  };
  const verifier = createAccessTokenVerifier(resolve, { issuer: ISSUER, audience: ISSUER, capacity });
  const sign = (claims: Partial<AccessTokenClaims> = {}) =>
    signAccessToken(
      { kid: "k1", privateKey },
      { iss: ISSUER, sub: "user", aud: ISSUER, iat: NOW / 1000, exp: NOW / 1000 + 900, jti: crypto.randomUUID(), sid: "session", roles: [], ...claims },
    );
  return { verifier, sign, published, lookups: () => lookups };
}

describe("createAccessTokenVerifier", () => {
  it("verifies a token once and answers later calls from memory", async () => {
    const { verifier, sign } = await setUp();
    const token = await sign();
    const first = await verifier.verify(token, NOW);
    expect(first?.claims.sub).toBe("user");
    expect(verifier.size).toBe(1);
    expect(await verifier.verify(token, NOW + 1000)).toBe(first);
  });

  it("still checks the expiry of a remembered token against the clock", async () => {
    const { verifier, sign } = await setUp();
    const token = await sign();
    expect(await verifier.verify(token, NOW)).toBeDefined();
    // Within the clock tolerance (5 s) it is still accepted, beyond it never.
    expect(await verifier.verify(token, NOW + 903_000)).toBeDefined();
    expect(await verifier.verify(token, NOW + 906_000)).toBeUndefined();
    expect(await verifier.verify(token, NOW)).toBeDefined();
  });

  it("refuses a remembered token before its nbf", async () => {
    const { verifier, sign } = await setUp();
    const token = await sign({ iat: NOW / 1000 + 60 });
    expect(await verifier.verify(token, NOW + 60_000)).toBeDefined();
    expect(await verifier.verify(token, NOW)).toBeUndefined();
  });

  it("stops accepting a remembered token once its signing key is withdrawn", async () => {
    const { verifier, sign, published } = await setUp();
    const token = await sign();
    expect(await verifier.verify(token, NOW)).toBeDefined();
    published.delete("k1");
    expect(await verifier.verify(token, NOW)).toBeUndefined();
  });

  it("remembers nothing about tokens that fail, nor about altered copies of good ones", async () => {
    const { verifier, sign } = await setUp();
    const token = await sign();
    await verifier.verify(token, NOW);
    const [header, payload, signature] = token.split(".");
    const forged = `${header}.${payload!.slice(0, -2)}AA.${signature}`;
    expect(await verifier.verify(forged, NOW)).toBeUndefined();
    expect(await verifier.verify(await sign({ aud: "someone else" }), NOW)).toBeUndefined();
    expect(verifier.size).toBe(1);
  });

  it("keeps at most `capacity` tokens, dropping the least recently used", async () => {
    const { verifier, sign } = await setUp(2);
    const [a, b, c] = await Promise.all([sign(), sign(), sign()]);
    await verifier.verify(a!, NOW);
    await verifier.verify(b!, NOW);
    await verifier.verify(a!, NOW); // a is now the most recently used
    await verifier.verify(c!, NOW); // b goes
    expect(verifier.size).toBe(2);
    const { verifier: off, sign: signOff } = await setUp(0);
    expect(await off.verify(await signOff(), NOW)).toBeDefined();
    expect(off.size).toBe(0);
  });
});
