/**
 * Enforces the shape rules declared on fields with
 * `(latchkey.options.v1.rules)`: one generic walk over the request message,
 * driven by the descriptors, so handlers never repeat these checks.
 */
import { getOption, hasOption, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { rules as rulesExt, StringFormat, type FieldRules } from "../../../gen/latchkey/options/v1/options_pb.js";
import type { FieldViolation } from "../../domain/errors.js";
import { codePointLength, isEmail, isE164, isLocale, isUuid } from "../../domain/formats.js";

interface RuledField {
  field: DescField;
  rules: FieldRules;
}

const ruledFields = new WeakMap<DescMessage, RuledField[]>();
const encoder = new TextEncoder();

function fieldsWithRules(schema: DescMessage): RuledField[] {
  let list = ruledFields.get(schema);
  if (!list) {
    list = schema.fields.filter((f) => hasOption(f, rulesExt)).map((field) => ({ field, rules: getOption(field, rulesExt) }));
    ruledFields.set(schema, list);
  }
  return list;
}

export function validateMessage(schema: DescMessage, message: Message): FieldViolation[] {
  const violations: FieldViolation[] = [];
  walk(reflect(schema, message), "", violations);
  return violations;
}

function walk(message: ReflectMessage, prefix: string, violations: FieldViolation[]): void {
  for (const { field, rules } of fieldsWithRules(message.desc)) {
    const path = prefix + field.name;
    const set = message.isSet(field);
    if (!set) {
      if (rules.required) violations.push({ field: path, description: "is required" });
      continue;
    }
    if (field.fieldKind === "scalar") {
      checkScalar(message.get(field), rules, path, violations);
    } else if (field.fieldKind === "list") {
      const list = message.get(field);
      if (rules.maxItems > 0 && list.size > rules.maxItems) {
        violations.push({ field: path, description: `must have at most ${rules.maxItems} items` });
      }
      let index = 0;
      for (const item of list) checkScalar(item, rules, `${path}[${index++}]`, violations);
    }
  }
  for (const field of message.desc.fields) {
    if (field.fieldKind === "message" && message.isSet(field)) {
      walk(message.get(field), `${prefix}${field.name}.`, violations);
    }
  }
}

function checkScalar(value: unknown, rules: FieldRules, path: string, violations: FieldViolation[]): void {
  if (typeof value === "string") {
    if (rules.required && value.length === 0) {
      violations.push({ field: path, description: "is required" });
      return;
    }
    // Check the byte size first: it bounds the work of every other check.
    if (rules.maxBytes > 0 && encoder.encode(value).length > rules.maxBytes) {
      violations.push({ field: path, description: `must be at most ${rules.maxBytes} bytes` });
      return;
    }
    const length = codePointLength(value);
    if (rules.minLen > 0 && length < rules.minLen) violations.push({ field: path, description: `must be at least ${rules.minLen} characters` });
    if (rules.maxLen > 0 && length > rules.maxLen) violations.push({ field: path, description: `must be at most ${rules.maxLen} characters` });
    if (value.length > 0 && !formatOk(value, rules.format)) {
      violations.push({ field: path, description: FORMAT_DESCRIPTIONS[rules.format] });
    }
  } else if (value instanceof Uint8Array) {
    if (rules.required && value.length === 0) violations.push({ field: path, description: "is required" });
    else if (rules.maxBytes > 0 && value.length > rules.maxBytes) violations.push({ field: path, description: `must be at most ${rules.maxBytes} bytes` });
  }
}

const FORMAT_DESCRIPTIONS: Record<StringFormat, string> = {
  [StringFormat.UNSPECIFIED]: "",
  [StringFormat.EMAIL]: "must be an email address",
  [StringFormat.UUID]: "must be a UUID",
  [StringFormat.E164]: "must be a phone number in E.164 form, e.g. +31612345678",
  [StringFormat.LOCALE]: "must be a BCP 47 language tag, e.g. en or nl-NL",
};

function formatOk(value: string, format: StringFormat): boolean {
  switch (format) {
    case StringFormat.EMAIL:
      return isEmail(value);
    case StringFormat.UUID:
      return isUuid(value);
    case StringFormat.E164:
      return isE164(value);
    case StringFormat.LOCALE:
      return isLocale(value);
    default:
      return true;
  }
}
