import { describe, expect, it } from "vitest";
import { DomainError } from "../../src/domain/errors.js";
import {
  PROFILE_RANGES,
  PROFILE_SETTING_FIELDS,
  applyProfileUpdate,
  checkProfileName,
  profileViolations,
  settingsForNewProfile,
  type ProfileSettings,
} from "../../src/domain/security-profiles.js";

/** The values of the default profile (migration 0001). */
const DEFAULTS: ProfileSettings = {
  passwordMinLength: 12,
  passwordMinScore: 3,
  passwordHistoryLength: 5,
  mfaRequired: false,
  lockoutThreshold: 10,
  lockoutWindowSeconds: 900,
  accessTokenTtlSeconds: 900,
  refreshIdleTtlSeconds: 3600,
  refreshAbsoluteTtlSeconds: 86400,
  keepLoggedInIdleTtlSeconds: 2592000,
  keepLoggedInAbsoluteTtlSeconds: 7776000,
  refreshGraceSeconds: 10,
};

const ZERO: ProfileSettings = Object.fromEntries(Object.entries(DEFAULTS).map(([key, value]) => [key, typeof value === "boolean" ? false : 0])) as unknown as ProfileSettings;

function thrown(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error("expected a DomainError");
}

describe("ranges", () => {
  it("accepts the default profile", () => {
    expect(profileViolations(DEFAULTS)).toEqual([]);
  });

  it.each(Object.entries(PROFILE_RANGES))("%s accepts its bounds and refuses one beyond them", (key, [min, max]) => {
    const field = Object.keys(PROFILE_SETTING_FIELDS).find((f) => PROFILE_SETTING_FIELDS[f] === key)!;
    // Cross-field rules are kept satisfied by moving the related lifetimes together.
    const lifetimes = (value: number): Partial<ProfileSettings> =>
      key.endsWith("TtlSeconds") && key !== "accessTokenTtlSeconds"
        ? { refreshIdleTtlSeconds: value, refreshAbsoluteTtlSeconds: value, keepLoggedInIdleTtlSeconds: value, keepLoggedInAbsoluteTtlSeconds: value }
        : {};
    for (const ok of [min, max]) expect(profileViolations({ ...DEFAULTS, ...lifetimes(ok), [key]: ok }), `${key}=${ok}`).toEqual([]);
    for (const bad of [min - 1, max + 1, min + 0.5]) {
      expect(profileViolations({ ...DEFAULTS, ...lifetimes(min), [key]: bad }).map((v) => v.field), `${key}=${bad}`).toContain(`profile.${field}`);
    }
  });

  it("keeps the NIST limits: at most 100 failures, passwords of at least 8", () => {
    expect(PROFILE_RANGES.lockoutThreshold).toEqual([1, 100]);
    expect(PROFILE_RANGES.passwordMinLength[0]).toBe(8);
  });

  it("wants idle lifetimes within absolute ones, and keep-logged-in at least the normal ones", () => {
    const fields = (settings: Partial<ProfileSettings>) => profileViolations({ ...DEFAULTS, ...settings }).map((v) => v.field);
    expect(fields({ refreshIdleTtlSeconds: 90000 })).toContain("profile.refresh_absolute_ttl_seconds");
    expect(fields({ keepLoggedInIdleTtlSeconds: 3599 })).toEqual(["profile.keep_logged_in_idle_ttl_seconds"]);
    expect(fields({ keepLoggedInAbsoluteTtlSeconds: 86399, keepLoggedInIdleTtlSeconds: 3600 })).toEqual(["profile.keep_logged_in_absolute_ttl_seconds"]);
  });
});

describe("names", () => {
  it.each(["default", "strict-2", "A_b"])("accepts %j", (name) => expect(() => checkProfileName(name)).not.toThrow());
  it.each(["", "with space", "x".repeat(65), "semi;colon", "emoji🙂"])("refuses %j", (name) => {
    expect(thrown(() => checkProfileName(name)).violations.map((v) => v.field)).toEqual(["profile.name"]);
  });
});

describe("creating", () => {
  it("takes the default's value for every field left at zero", () => {
    expect(settingsForNewProfile(ZERO, DEFAULTS)).toEqual(DEFAULTS);
    expect(settingsForNewProfile({ ...ZERO, passwordMinLength: 16, mfaRequired: true }, DEFAULTS)).toEqual({ ...DEFAULTS, passwordMinLength: 16, mfaRequired: true });
  });

  it("refuses values out of range", () => {
    const error = thrown(() => settingsForNewProfile({ ...ZERO, lockoutThreshold: 101 }, DEFAULTS));
    expect(error.kind).toBe("invalid_argument");
    expect(error.violations.map((v) => v.field)).toEqual(["profile.lockout_threshold"]);
  });
});

describe("updating with a mask", () => {
  const requested = { ...DEFAULTS, name: "renamed", lockoutThreshold: 20, passwordMinLength: 30 };

  it("changes only the masked fields", () => {
    expect(applyProfileUpdate(DEFAULTS, requested, ["lockout_threshold"])).toEqual({ changes: { lockoutThreshold: 20 }, name: undefined });
    expect(applyProfileUpdate(DEFAULTS, requested, ["name", "password_min_length"])).toEqual({ changes: { passwordMinLength: 30 }, name: "renamed" });
  });

  it("checks the result, naming the changed field first", () => {
    const error = thrown(() => applyProfileUpdate(DEFAULTS, { ...requested, refreshIdleTtlSeconds: 100000 }, ["refresh_idle_ttl_seconds"]));
    expect(error.violations[0]!.field).toBe("profile.refresh_idle_ttl_seconds");
    expect(error.message).toMatch(/^profile\.refresh_idle_ttl_seconds: /);
  });

  it("ignores out-of-range values of fields the mask leaves out", () => {
    expect(applyProfileUpdate(DEFAULTS, { ...requested, passwordMinScore: 9 }, ["lockout_threshold"]).changes).toEqual({ lockoutThreshold: 20 });
  });

  it.each([[[]], [["id"]], [["updated_at"]], [["constructor"]], [["lockoutThreshold"]]])("refuses the mask %j", (paths) => {
    expect(thrown(() => applyProfileUpdate(DEFAULTS, requested, paths)).violations.map((v) => v.field)).toEqual(["update_mask"]);
  });
});
