import { generateKeyPair, type CryptoKey } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { CLOCK_TOLERANCE_SECONDS, signAccessToken, verifyAccessToken, type AccessTokenClaims } from "../../src/domain/tokens/access-token.js";

const NOW = Date.UTC(2026, 10, 23, 12);
let publicKey: CryptoKey;
let privateKey: CryptoKey;
beforeAll(async () => {
  ({ publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" }));
});

function claims(overrides: Partial<AccessTokenClaims> = {}): AccessTokenClaims {
  const iat = Math.floor(NOW / 1000);
  return { iss: "https://id.example", sub: "u1", aud: "https://id.example", iat, exp: iat + 900, jti: "j1", sid: "s1", roles: [], ...overrides };
}

async function verifyAt(token: string, now: number, type?: string) {
  return verifyAccessToken(token, async (kid) => (kid === "k1" ? publicKey : undefined), { issuer: "https://id.example", audience: "https://id.example", now, type });
}

describe("access token verification", () => {
  it("accepts a valid token and returns its claims", async () => {
    const token = await signAccessToken({ kid: "k1", privateKey }, claims({ org: "o1", roles: ["admin"] }));
    const verified = await verifyAt(token, NOW);
    expect(verified?.claims).toMatchObject({ sub: "u1", sid: "s1", org: "o1", roles: ["admin"] });
    expect(verified?.header).toEqual({ alg: "EdDSA", kid: "k1", typ: "at+jwt" });
  });

  it("enforces expiry and not-before only outside the clock tolerance", async () => {
    const token = await signAccessToken({ kid: "k1", privateKey }, claims());
    const exp = (Math.floor(NOW / 1000) + 900) * 1000;
    expect(await verifyAt(token, exp + (CLOCK_TOLERANCE_SECONDS - 1) * 1000)).toBeDefined();
    expect(await verifyAt(token, exp + (CLOCK_TOLERANCE_SECONDS + 1) * 1000)).toBeUndefined();
    expect(await verifyAt(token, NOW - (CLOCK_TOLERANCE_SECONDS - 1) * 1000)).toBeDefined();
    expect(await verifyAt(token, NOW - (CLOCK_TOLERANCE_SECONDS + 1) * 1000)).toBeUndefined();
  });

  it("refuses another token type, issuer, audience or an unknown kid", async () => {
    const challenge = await signAccessToken({ kid: "k1", privateKey }, claims(), "mfa-challenge+jwt");
    expect(await verifyAt(challenge, NOW)).toBeUndefined();
    expect(await verifyAt(await signAccessToken({ kid: "k1", privateKey }, claims({ iss: "https://evil.example" })), NOW)).toBeUndefined();
    expect(await verifyAt(await signAccessToken({ kid: "k1", privateKey }, claims({ aud: "https://other.example" })), NOW)).toBeUndefined();
    expect(await verifyAt(await signAccessToken({ kid: "k2", privateKey }, claims()), NOW)).toBeUndefined();
  });

  it("never throws on garbage", async () => {
    for (const junk of ["", ".", "a.b.c", "e30.e30.", "x".repeat(10_000), "ey.ey.ey.ey", "\u0000.\u0000.\u0000"]) {
      expect(await verifyAt(junk, NOW)).toBeUndefined();
    }
  });
});
