import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { isAllowedRedirect, parseExternalProviders, profileFromClaims } from "../../src/domain/external-login.js";

const good = {
  id: "acme",
  issuer: "https://login.acme.test",
  client_id: "latchkey",
  client_secret: "s3cret-value-never-shown",
  redirect_urls: ["https://app.acme.test/callback"],
};

const parse = (entries: unknown[]) => parseExternalProviders(JSON.stringify(entries));

describe("LATCHKEY_OIDC_PROVIDERS", () => {
  it("reads a provider with its defaults", () => {
    const [provider] = parse([good]);
    expect(provider).toMatchObject({ id: "acme", displayName: "acme", scopes: ["openid", "email", "profile"], allowSignUp: false, frontendUrl: undefined });
  });

  it.each([
    ["not JSON", "{", /not valid JSON/],
    ["not an array", JSON.stringify(good), /array/],
    ["a missing issuer", JSON.stringify([{ ...good, issuer: undefined }]), /"issuer" is required/],
    ["plain http to a remote host", JSON.stringify([{ ...good, issuer: "http://login.acme.test" }]), /https/],
    ["scopes without openid", JSON.stringify([{ ...good, scopes: ["email"] }]), /openid/],
    ["no redirect URLs", JSON.stringify([{ ...good, redirect_urls: [] }]), /redirect_urls/],
    ["a redirect URL with a query", JSON.stringify([{ ...good, redirect_urls: ["https://app.acme.test/cb?x=1"] }]), /no query/],
    ["a duplicate id", JSON.stringify([good, good]), /duplicate/],
    ["an id with capitals", JSON.stringify([{ ...good, id: "Acme" }]), /"id"/],
    ["a non-boolean allow_sign_up", JSON.stringify([{ ...good, allow_sign_up: "yes" }]), /allow_sign_up/],
  ])("refuses %s", (_what, raw, message) => {
    expect(() => parseExternalProviders(raw)).toThrow(message);
  });

  it("fails start-up with a ConfigError naming the variable, never the secret", () => {
    const attempt = () => loadConfig({ LATCHKEY_OIDC_PROVIDERS: JSON.stringify([{ ...good, issuer: "ftp://x" }]) });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/LATCHKEY_OIDC_PROVIDERS/);
    try {
      attempt();
    } catch (error) {
      expect(String(error)).not.toContain(good.client_secret);
    }
  });

  it("redacts client secrets when the configuration is printed", () => {
    const config = loadConfig({ LATCHKEY_OIDC_PROVIDERS: JSON.stringify([good]) });
    expect(config.externalProviders[0]?.clientSecret).toBe(good.client_secret);
    expect(JSON.stringify(config)).not.toContain(good.client_secret);
  });
});

describe("redirect URLs", () => {
  it("match only exactly", () => {
    const [provider] = parse([good]);
    expect(isAllowedRedirect(provider!, "https://app.acme.test/callback")).toBe(true);
    for (const near of ["https://app.acme.test/call", "https://app.acme.test/callback/", "https://app.acme.test/callbackx", "HTTPS://app.acme.test/callback", "https://app.acme.test/callback?next=/"]) {
      expect(isAllowedRedirect(provider!, near), near).toBe(false);
    }
  });
});

describe("provider claims", () => {
  it("count an address as verified only when the provider says so", () => {
    expect(profileFromClaims({ sub: "1", email: "a@b.test", email_verified: true }).emailVerified).toBe(true);
    expect(profileFromClaims({ sub: "1", email: "a@b.test" }).emailVerified).toBe(false);
    expect(profileFromClaims({ sub: "1", email: "a@b.test", email_verified: 1 }).emailVerified).toBe(false);
    expect(profileFromClaims({ sub: "1", given_name: "Ada", family_name: "Lovelace" }).name).toBe("Ada Lovelace");
  });
});
