import { dictionary as commonDictionary } from "@zxcvbn-ts/language-common";
import { describe, expect, it } from "vitest";
import { importPasswordDictionaries } from "../../src/runtime/password-dictionaries.js";
import {
  createPasswordStrengthCheck,
  countCodePoints,
  MAX_PASSWORD_CODE_POINTS,
  normalisePassword,
  passwordForHashing,
} from "../../src/domain/passwords/strength.js";

const checkPasswordStrength = createPasswordStrengthCheck(importPasswordDictionaries);
const policy = { minLength: 12, minScore: 3 };
const jane = ["jane.doe@acme-widgets.com", "Jane Doe"];

const random64 = "Xk9#mQ2$vL7!pR4@wT5&Hb8%nC3^zD6*fG1(jM0)qS2_uV4+yW7=eA9[iO5]tK3!";
const words128 = "glacier-velvet-harbor-quantum-thistle-copper-meadow-lantern-orbit-saffron-tundra-mosaic-falcon-ember-willow-cobalt-prairie-echos";
const emoji12 = "🔐🦄🌈🚀🎉🍕🐙🧠🎸🌵🔥💎";

describe("checkPasswordStrength", () => {
  it("uses fixtures of the intended lengths", () => {
    expect(countCodePoints(random64)).toBe(64);
    expect(countCodePoints(words128)).toBe(128);
    // Two UTF-16 units each, one code point each.
    expect(emoji12.length).toBe(24);
    expect(countCodePoints(emoji12)).toBe(12);
  });

  it.each([
    { name: "11 characters at minLength 12", password: "Zq8!mW3#xT5", acceptable: false, tooShort: true },
    { name: "12 strong characters", password: "Zq8!mW3#xT5v", acceptable: true, tooShort: false },
    { name: "64 characters", password: random64, acceptable: true, tooShort: false },
    { name: "128 characters", password: words128, acceptable: true, tooShort: false },
    { name: "12 emoji (24 UTF-16 units)", password: emoji12, acceptable: true, tooShort: false },
    { name: "11 emoji (22 UTF-16 units)", password: emoji12.slice(0, 22), acceptable: false, tooShort: true },
    { name: "letters beyond ASCII, spaces and punctuation", password: "Grüße aus Köln, Łukasz 🎉", acceptable: true, tooShort: false },
    { name: "a long lowercase passphrase (no composition rules)", password: "lantern quiet marble orchid", acceptable: true, tooShort: false },
    { name: "the same passphrase without spaces", password: "lanternquietmarbleorchid", acceptable: true, tooShort: false },
  ])("$name → acceptable: $acceptable", async ({ password, acceptable, tooShort }) => {
    const result = await checkPasswordStrength(password, jane, policy);
    expect(result).toMatchObject({ acceptable, tooShort, tooLong: false, breached: false, minLength: 12, minScore: 3 });
    if (acceptable) expect(result.score).toBeGreaterThanOrEqual(3);
    if (tooShort) expect(result.warning).toBe("Use at least 12 characters.");
  });

  it("counts length after NFC, so NFC and NFD forms give the same result", async () => {
    for (const password of ["Crème brûlée, Ærø, naïve café", "ééééééZq8!mW"]) {
      const nfc = password.normalize("NFC");
      const nfd = password.normalize("NFD");
      expect(nfd).not.toBe(nfc);
      expect(await checkPasswordStrength(nfd, jane, policy)).toEqual(await checkPasswordStrength(nfc, jane, policy));
    }
    // 12 code points composed, 18 decomposed: judged as 12 either way.
    const boundary = "ééééééZq8!mW";
    expect(countCodePoints(boundary.normalize("NFD"))).toBe(18);
    expect((await checkPasswordStrength(boundary.normalize("NFD"), [], { minLength: 13, minScore: 0 })).tooShort).toBe(true);
    expect(normalisePassword(boundary.normalize("NFD"))).toBe(boundary.normalize("NFC"));
  });

  it.each(["password1234", "qwerty123456", "1qaz2wsx3edc", "leavemealone", "QWERTY123456", "LeaveMeAlone"])(
    "%s is on the shipped list: breached, with a warning",
    async (password) => {
      const result = await checkPasswordStrength(password, [], policy);
      expect(result.breached).toBe(true);
      expect(result.acceptable).toBe(false);
      expect(result.warning).toMatch(/commonly used or breached/);
    },
  );

  it("treats every long entry of the shipped list as breached, whatever its score", async () => {
    const entries = commonDictionary["passwords-common"].map(String).filter((p) => p.length >= 12);
    expect(entries.length).toBeGreaterThan(100);
    for (const password of entries.slice(0, 25)) {
      expect(await checkPasswordStrength(password, [], { minLength: 12, minScore: 0 })).toMatchObject({ breached: true, acceptable: false });
    }
  });

  it("rejects password123456 by score: it is not on the shipped list, but zxcvbn knows its parts", async () => {
    expect(commonDictionary["passwords-common"]).not.toContain("password123456");
    const result = await checkPasswordStrength("password123456", [], policy);
    expect(result.breached).toBe(false);
    expect(result.acceptable).toBe(false);
    expect(result.score).toBeLessThan(3);
    expect(result.warning).not.toBe("");
  });

  it.each(["jane.doe@acme-widgets.com", "janedoe.latchkey", "JaneDoe-Latchkey", "acmewidgets-jane", "Jane Doe Latchkey 1", "latchkey-latchkey"])(
    "%s, built from the user's own details, scores low",
    async (password) => {
      const result = await checkPasswordStrength(password, jane, policy);
      expect(result.score).toBeLessThanOrEqual(1);
      expect(result.acceptable).toBe(false);
      expect(result.warning).toBe("There should not be any personal or page related data.");
    },
  );

  it.each([
    ["P@ssw0rd!2024", "This is similar to a commonly used password."],
    ["J4n3D03!2024", "There should not be any personal or page related data."],
  ])("sees through leet spelling: %s", async (password, warning) => {
    const result = await checkPasswordStrength(password, jane, policy);
    expect(result.acceptable).toBe(false);
    expect(result.warning).toBe(warning);
  });

  it("judges the same password on its own merits for a user it says nothing about", async () => {
    expect((await checkPasswordStrength("acmewidgets-jane", ["bob@example.org", "Bob Stone"], policy)).acceptable).toBe(true);
  });

  it("rejects more than 256 code points as tooLong, without analysing them", async () => {
    expect((await checkPasswordStrength("x".repeat(256), [], { minLength: 12, minScore: 0 })).tooLong).toBe(false);
    const result = await checkPasswordStrength("x".repeat(257), [], policy);
    expect(result).toMatchObject({ tooLong: true, acceptable: false, score: 0, warning: "Use at most 256 characters." });
    // 256 emoji are 512 UTF-16 units but still 256 code points.
    expect((await checkPasswordStrength("🔐".repeat(256), [], policy)).tooLong).toBe(false);
    expect((await checkPasswordStrength("🔐".repeat(257), [], policy)).tooLong).toBe(true);

    const huge = "a".repeat(1_000_000);
    const started = performance.now();
    expect((await checkPasswordStrength(huge, [], policy)).tooLong).toBe(true);
    expect(performance.now() - started).toBeLessThan(50);
  });
});

describe("passwordForHashing", () => {
  it("normalises to NFC and changes nothing else", () => {
    expect(passwordForHashing("  Café\u0301 X ".normalize("NFD"))).toBe("  Café\u0301 X ".normalize("NFC"));
    expect(passwordForHashing("CaseMatters")).toBe("CaseMatters");
  });

  it("refuses what no stored hash can match: empty or over the length limit", () => {
    expect(passwordForHashing("")).toBeUndefined();
    expect(passwordForHashing("x".repeat(MAX_PASSWORD_CODE_POINTS))).toBe("x".repeat(MAX_PASSWORD_CODE_POINTS));
    expect(passwordForHashing("x".repeat(MAX_PASSWORD_CODE_POINTS + 1))).toBeUndefined();
    expect(passwordForHashing("x".repeat(1_000_000))).toBeUndefined();
  });
});
