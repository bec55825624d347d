/**
 * Security profiles: the tunable policy values, their allowed ranges, and
 * how a create or an update (with its field mask) turns into a complete,
 * valid profile. Pure rules; the admin service loads and stores.
 *
 * Ranges:
 * - password_min_length 8 to 64 code points (NIST SP 800-63B-4 and ASVS:
 *   never below 8, and 64 is the longest password every verifier must take);
 * - password_min_score 0 to 4 (zxcvbn); password_history_length 0 to 24;
 * - lockout_threshold 1 to 100 (NIST: at most 100 consecutive failures);
 *   lockout_window_seconds 1 s to 1 day;
 * - access_token_ttl_seconds 1 s to 1 day: the JWKS keeps a retired key for
 *   the longest access-token lifetime, so this bounds key rotation too;
 * - refresh lifetimes 1 s to 400 days, idle no longer than absolute, and
 *   keep-logged-in lifetimes at least the normal ones;
 * - refresh_grace_seconds 0 to 60.
 */
import { DomainError, Reason, type FieldViolation } from "./errors.js";

/** The policy values of a profile, without identity and times. */
export interface ProfileSettings {
  passwordMinLength: number;
  passwordMinScore: number;
  passwordHistoryLength: number;
  mfaRequired: boolean;
  lockoutThreshold: number;
  lockoutWindowSeconds: number;
  accessTokenTtlSeconds: number;
  refreshIdleTtlSeconds: number;
  refreshAbsoluteTtlSeconds: number;
  keepLoggedInIdleTtlSeconds: number;
  keepLoggedInAbsoluteTtlSeconds: number;
  refreshGraceSeconds: number;
}

export type ProfileSettingKey = keyof ProfileSettings;

/** API field name → settings key, in the order of the SecurityProfile message. */
export const PROFILE_SETTING_FIELDS: Readonly<Record<string, ProfileSettingKey>> = {
  password_min_length: "passwordMinLength",
  password_min_score: "passwordMinScore",
  password_history_length: "passwordHistoryLength",
  mfa_required: "mfaRequired",
  lockout_threshold: "lockoutThreshold",
  lockout_window_seconds: "lockoutWindowSeconds",
  access_token_ttl_seconds: "accessTokenTtlSeconds",
  refresh_idle_ttl_seconds: "refreshIdleTtlSeconds",
  refresh_absolute_ttl_seconds: "refreshAbsoluteTtlSeconds",
  keep_logged_in_idle_ttl_seconds: "keepLoggedInIdleTtlSeconds",
  keep_logged_in_absolute_ttl_seconds: "keepLoggedInAbsoluteTtlSeconds",
  refresh_grace_seconds: "refreshGraceSeconds",
};

const DAY = 86_400;

/** Inclusive ranges of the numeric settings. */
export const PROFILE_RANGES: Readonly<Record<Exclude<ProfileSettingKey, "mfaRequired">, readonly [number, number]>> = {
  passwordMinLength: [8, 64],
  passwordMinScore: [0, 4],
  passwordHistoryLength: [0, 24],
  lockoutThreshold: [1, 100],
  lockoutWindowSeconds: [1, DAY],
  accessTokenTtlSeconds: [1, DAY],
  refreshIdleTtlSeconds: [1, 400 * DAY],
  refreshAbsoluteTtlSeconds: [1, 400 * DAY],
  keepLoggedInIdleTtlSeconds: [1, 400 * DAY],
  keepLoggedInAbsoluteTtlSeconds: [1, 400 * DAY],
  refreshGraceSeconds: [0, 60],
};

/** Fields a mask may not name. */
const IMMUTABLE_FIELDS = new Set(["id", "created_at", "updated_at"]);

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

const fieldOf = (key: ProfileSettingKey): string => Object.keys(PROFILE_SETTING_FIELDS).find((field) => PROFILE_SETTING_FIELDS[field] === key)!;

function invalid(violations: FieldViolation[]): DomainError {
  const first = violations[0]!;
  return new DomainError("invalid_argument", Reason.INVALID_FIELD, `${first.field}: ${first.description}`, { violations });
}

/** Checks a profile name: 1 to 64 letters, digits, "-" or "_". */
export function checkProfileName(name: string): void {
  if (!NAME.test(name)) throw invalid([{ field: "profile.name", description: "must be 1 to 64 letters, digits, \"-\" or \"_\"" }]);
}

/**
 * Every rule a complete profile must satisfy, as violations naming the
 * fields ("profile.<field>"); empty when the profile is valid. A rule
 * between two fields names the one in `changed` when only that one changed.
 */
export function profileViolations(settings: ProfileSettings, changed: ReadonlySet<ProfileSettingKey> = new Set()): FieldViolation[] {
  const violations: FieldViolation[] = [];
  for (const [key, [min, max]] of Object.entries(PROFILE_RANGES) as [Exclude<ProfileSettingKey, "mfaRequired">, readonly [number, number]][]) {
    const value = settings[key];
    if (!Number.isInteger(value) || value < min || value > max) {
      violations.push({ field: `profile.${fieldOf(key)}`, description: `must be a whole number from ${min} to ${max}, got ${value}` });
    }
  }
  const atLeast = (key: ProfileSettingKey, other: ProfileSettingKey) => {
    if (settings[key] >= settings[other]) return;
    if (changed.has(other) && !changed.has(key)) {
      violations.push({ field: `profile.${fieldOf(other)}`, description: `must be at most ${fieldOf(key)} (${settings[key]})` });
    } else {
      violations.push({ field: `profile.${fieldOf(key)}`, description: `must be at least ${fieldOf(other)} (${settings[other]})` });
    }
  };
  atLeast("refreshAbsoluteTtlSeconds", "refreshIdleTtlSeconds");
  atLeast("keepLoggedInAbsoluteTtlSeconds", "keepLoggedInIdleTtlSeconds");
  atLeast("keepLoggedInIdleTtlSeconds", "refreshIdleTtlSeconds");
  atLeast("keepLoggedInAbsoluteTtlSeconds", "refreshAbsoluteTtlSeconds");
  return violations;
}

/** Throws invalid_argument with every violation of `settings`. */
export function assertValidProfile(settings: ProfileSettings): void {
  const violations = profileViolations(settings);
  if (violations.length > 0) throw invalid(violations);
}

/**
 * A new profile's settings: every setting left at zero (false for
 * mfa_required) takes the default profile's value. Throws invalid_argument
 * if the result breaks a rule.
 */
export function settingsForNewProfile(requested: ProfileSettings, defaults: ProfileSettings): ProfileSettings {
  const settings = { ...defaults };
  for (const key of Object.values(PROFILE_SETTING_FIELDS)) {
    const value = requested[key];
    if (value) (settings as Record<ProfileSettingKey, number | boolean>)[key] = value;
  }
  assertValidProfile(settings);
  return settings;
}

export interface ProfileUpdate {
  /** Only the settings named in the mask. */
  changes: Partial<ProfileSettings>;
  /** The new name, when the mask names `name`. */
  name: string | undefined;
}

/**
 * Applies an update mask: the named fields take the requested values, the
 * others keep the current ones, and the result must satisfy every rule.
 * An empty mask, unknown or immutable fields answer invalid_argument on
 * `update_mask`.
 */
export function applyProfileUpdate(current: ProfileSettings, requested: ProfileSettings & { name: string }, paths: readonly string[]): ProfileUpdate {
  if (paths.length === 0) throw invalid([{ field: "update_mask", description: "must name at least one field" }]);
  const changes: Partial<ProfileSettings> = {};
  let name: string | undefined;
  for (const path of paths) {
    if (path === "name") {
      checkProfileName(requested.name);
      name = requested.name;
      continue;
    }
    const key = Object.hasOwn(PROFILE_SETTING_FIELDS, path) ? PROFILE_SETTING_FIELDS[path] : undefined;
    if (!key) {
      const description = IMMUTABLE_FIELDS.has(path)
        ? `"${path}" cannot be changed`
        : `unknown field ${JSON.stringify(path)}; allowed: name, ${Object.keys(PROFILE_SETTING_FIELDS).join(", ")}`;
      throw invalid([{ field: "update_mask", description }]);
    }
    (changes as Record<ProfileSettingKey, number | boolean>)[key] = requested[key];
  }
  const next = { ...current, ...changes };
  const violations = profileViolations(next, new Set(Object.keys(changes) as ProfileSettingKey[]));
  if (violations.length > 0) {
    // Name the fields the caller changed first.
    const named = new Set(paths.map((path) => `profile.${path}`));
    violations.sort((a, b) => Number(named.has(b.field)) - Number(named.has(a.field)));
    throw invalid(violations);
  }
  return { changes, name };
}

/** The settings of a profile-shaped object (a stored row or a message). */
export function settingsOf(profile: ProfileSettings): ProfileSettings {
  const settings = {} as Record<ProfileSettingKey, number | boolean>;
  for (const key of Object.values(PROFILE_SETTING_FIELDS)) settings[key] = profile[key];
  return settings as unknown as ProfileSettings;
}
