import { describe, expect, it } from "vitest";
import { decideAgreementPublish, decideLicenseAccess, type LicenseCaller } from "../../src/domain/access/license-rules.js";
import type { OrganisationRole } from "../../src/domain/access/roles.js";
import { keyGrams, licenseOrder, mayMatchKey } from "../../src/domain/licensing/listing.js";
import {
  featureNames,
  isEntitling,
  KEY_ALPHABET,
  LICENSE_KEY_PATTERN,
  licenceFeatures,
  licenceTerms,
  newLicenseKey,
  OPEN_ENDED,
  shownExpiry,
} from "../../src/domain/licensing/rules.js";
import { DomainError } from "../../src/domain/errors.js";

const USER: LicenseCaller = { superAdmin: false, keyOrganisationId: undefined };
const NOW = Date.UTC(2030, 0, 1);

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return (error as DomainError).violations[0]?.field;
  }
  return undefined;
}

describe("licence keys", () => {
  it("are LK- and three groups of five unambiguous symbols, over 60 bits", () => {
    expect(KEY_ALPHABET).not.toMatch(/[01ILOU]/);
    expect(15 * Math.log2(KEY_ALPHABET.length)).toBeGreaterThan(60);
    const keys = new Set(Array.from({ length: 2000 }, () => newLicenseKey((n) => crypto.getRandomValues(new Uint8Array(n)))));
    expect(keys.size).toBe(2000);
    for (const key of keys) expect(key).toMatch(LICENSE_KEY_PATTERN);
  });

  it("skip bytes that would bias the alphabet", () => {
    // 240 and above are redrawn: all 255s, then zeros, give the first symbol only.
    let call = 0;
    const key = newLicenseKey((n) => new Uint8Array(n).fill(call++ === 0 ? 255 : 0));
    expect(key).toBe(`LK-${KEY_ALPHABET[0]!.repeat(5)}-${KEY_ALPHABET[0]!.repeat(5)}-${KEY_ALPHABET[0]!.repeat(5)}`);
  });
});

describe("features", () => {
  it("are checked, de-duplicated in order, and merged with the items'", () => {
    expect(featureNames(["inference", "camera.read", "inference"], "provides", 1)).toEqual(["inference", "camera.read"]);
    expect(fieldOf(() => featureNames(["ok", "not ok"], "provides", 1))).toBe("provides[1]");
    expect(fieldOf(() => featureNames([], "provides", 1))).toBe("provides");
    expect(licenceFeatures(["a", "b"], [["b", "c"], ["d"]])).toEqual(["a", "b", "c", "d"]);
  });
});

describe("licence terms", () => {
  const valid = { amountPerMonth: 100n, discountBp: 0, startsAt: undefined, expiresAt: undefined, paidUntilAt: undefined, maxDevices: 1 };

  it("default to starting now and never ending", () => {
    expect(licenceTerms(valid, NOW)).toMatchObject({ startsAt: NOW, expiresAt: OPEN_ENDED, paidUntilAt: null });
    expect(shownExpiry(OPEN_ENDED)).toBeUndefined();
    expect(shownExpiry(NOW)).toBe(NOW);
  });

  it.each([
    [{ discountBp: -1 }, "discount_bp"],
    [{ discountBp: 10_001 }, "discount_bp"],
    [{ maxDevices: 0 }, "max_devices"],
    [{ maxDevices: 1_000_001 }, "max_devices"],
    [{ amountPerMonth: -1n }, "amount_per_month"],
    [{ startsAt: NOW, expiresAt: NOW }, "expires_at"],
  ] as const)("refuse %o naming %s", (change, field) => {
    expect(fieldOf(() => licenceTerms({ ...valid, ...change }, NOW))).toBe(field);
  });

  it("accept the bounds", () => {
    expect(licenceTerms({ ...valid, discountBp: 10_000, maxDevices: 1_000_000 }, NOW)).toMatchObject({ discountBp: 10_000, maxDevices: 1_000_000 });
  });
});

describe("entitlement", () => {
  const signed = { signedUserAt: NOW - 1, revokedAt: null, startsAt: NOW - 1000, expiresAt: NOW + 1000 };
  it.each([
    ["signed, started, unexpired", signed, true],
    ["unsigned", { ...signed, signedUserAt: null }, false],
    ["revoked", { ...signed, revokedAt: NOW - 1 }, false],
    ["not started", { ...signed, startsAt: NOW + 1 }, false],
    ["expired at this instant", { ...signed, expiresAt: NOW }, false],
    ["open-ended", { ...signed, expiresAt: OPEN_ENDED }, true],
  ] as const)("%s: %s", (_, licence, entitled) => {
    expect(isEntitling(licence, NOW)).toBe(entitled);
  });
});

describe("who reaches a licence", () => {
  const parties = (holderRole: OrganisationRole | undefined, providerRole: OrganisationRole | undefined) => ({ holderId: "H", providerId: "P", holderRole, providerRole });

  it.each([
    [parties("member", undefined), "read", "allowed"],
    [parties("member", undefined), "sign", "allowed"],
    [parties("owner", undefined), "revoke", "forbidden"],
    [parties(undefined, "member"), "read", "allowed"],
    [parties(undefined, "member"), "sign", "forbidden"],
    [parties(undefined, "member"), "revoke", "forbidden"],
    [parties(undefined, "admin"), "revoke", "allowed"],
    [parties(undefined, undefined), "read", "not_found"],
    [parties(undefined, undefined), "revoke", "not_found"],
  ] as const)("%o %s: %s", (licence, action, outcome) => {
    expect(decideLicenseAccess(USER, licence, action)).toBe(outcome);
  });

  it("lets super-admins do everything and bounds keys to their organisation", () => {
    expect(decideLicenseAccess({ superAdmin: true, keyOrganisationId: undefined }, parties(undefined, undefined), "revoke")).toBe("allowed");
    const key = { superAdmin: false, keyOrganisationId: "H" };
    expect(decideLicenseAccess(key, parties("member", "admin"), "revoke")).toBe("forbidden");
    expect(decideLicenseAccess(key, parties("member", "admin"), "sign")).toBe("allowed");
    expect(decideLicenseAccess({ superAdmin: false, keyOrganisationId: "X" }, parties("member", "admin"), "read")).toBe("not_found");
    expect(decideAgreementPublish(USER, "P", "admin")).toBe("allowed");
    expect(decideAgreementPublish(USER, "P", "member")).toBe("forbidden");
    expect(decideAgreementPublish(USER, "P", undefined)).toBe("not_found");
  });
});

describe("ListLicenses order and text", () => {
  it("ends the order with id in the direction of the last field", () => {
    expect(licenseOrder("")).toEqual([
      { field: "license_key", descending: false },
      { field: "id", descending: false },
    ]);
    expect(licenseOrder("agreement_name,-expires_at").at(-1)).toEqual({ field: "id", descending: true });
    expect(() => licenseOrder("price")).toThrow(DomainError);
  });

  it("knows which text can be part of a key", () => {
    expect(mayMatchKey("lk-7q2")).toBe(true);
    expect(mayMatchKey("pro")).toBe(false);
    expect(mayMatchKey("50%")).toBe(false);
  });

  it("takes the two-symbol fragments of q that license_key_grams holds, upper-cased", () => {
    expect(keyGrams("x7")).toEqual(["X7"]);
    expect(keyGrams("ab-cd")).toEqual(["AB", "CD"]);
    expect(keyGrams("7q2m7q")).toEqual(["7Q", "Q2", "2M", "M7"]);
    // In every key, or fewer than two symbols side by side: nothing to look up by.
    expect(keyGrams("lk-")).toEqual([]);
    expect(keyGrams("a")).toEqual([]);
    expect(keyGrams("a-b")).toEqual([]);
    expect(keyGrams("pro")).toEqual(["PR"]);
    expect(keyGrams("ß7x")).toEqual([]);
  });
});
