/**
 * Per-user settings: the shape of a setting's address and value. A value
 * travels as a string; its type says how to read it, and a value that does
 * not parse as its type is refused, so clients can trust the type.
 */
import { DomainError, Reason, type FieldViolation } from "../errors.js";

export const SETTING_TYPES = ["string", "bool", "int", "json"] as const;
export type SettingTypeName = (typeof SETTING_TYPES)[number];

/** Category, group and name: 1 to 64 letters, digits, "_", "-" or ".". */
const KEY_PART = /^[A-Za-z0-9_.-]{1,64}$/;
export const MAX_SETTING_VALUE_BYTES = 4096;
export const MAX_SETTING_DESCRIPTION_LENGTH = 500;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export interface SettingInput {
  category: string;
  group: string;
  name: string;
  value: string;
  type: SettingTypeName;
  description: string;
}

/** Whether `value` reads as a value of `type`. */
export function parsesAs(value: string, type: SettingTypeName): boolean {
  switch (type) {
    case "string":
      return true;
    case "bool":
      return value === "true" || value === "false";
    case "int": {
      // 64-bit, as every client language can hold it; no "+", spaces or leading zeros.
      if (!/^-?(0|[1-9][0-9]{0,18})$/.test(value)) return false;
      const n = BigInt(value);
      return n >= INT64_MIN && n <= INT64_MAX;
    }
    case "json":
      try {
        JSON.parse(value);
        return true;
      } catch {
        return false;
      }
  }
}

/** The violations of a setting's address, each named by its field path under `prefix`. */
export function settingKeyViolations(key: { category: string; group: string; name: string }, prefix: string): FieldViolation[] {
  return (["category", "group", "name"] as const)
    .filter((part) => !KEY_PART.test(key[part]))
    .map((part) => ({ field: `${prefix}${part}`, description: 'must be 1 to 64 letters, digits, "_", "-" or "."' }));
}

/** Refuses an ill-formed setting with every violation, its fields under `prefix` (e.g. "setting."). */
export function checkSetting(setting: SettingInput, prefix: string): void {
  const violations = settingKeyViolations(setting, prefix);
  if (new TextEncoder().encode(setting.value).length > MAX_SETTING_VALUE_BYTES) {
    violations.push({ field: `${prefix}value`, description: `must be at most ${MAX_SETTING_VALUE_BYTES} bytes` });
  } else if (!parsesAs(setting.value, setting.type)) {
    violations.push({ field: `${prefix}value`, description: `is not a valid ${setting.type} value` });
  }
  if ([...setting.description].length > MAX_SETTING_DESCRIPTION_LENGTH) {
    violations.push({ field: `${prefix}description`, description: `must be at most ${MAX_SETTING_DESCRIPTION_LENGTH} characters` });
  }
  if (violations.length > 0) throw new DomainError("invalid_argument", Reason.INVALID_FIELD, `${violations[0]!.field}: ${violations[0]!.description}`, { violations });
}
