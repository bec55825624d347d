/**
 * Reads the access policy each RPC declares in the proto
 * (`option (latchkey.options.v1.policy)`), once per method.
 */
import { getOption, hasOption, type DescField, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { CallerKind, policy, type MethodPolicy } from "../../../gen/latchkey/options/v1/options_pb.js";

export interface ResolvedPolicy {
  caller: CallerKind;
  permission: string;
  deadlineMs: number;
  /** Fields leading to the organisation id of an organisation-scoped RPC; empty otherwise. */
  organisationPath: DescField[];
}

/** Budget of RPCs that do not declare one (health, reflection). */
const DEFAULT_DEADLINE_MS = 5000;

const cache = new Map<DescMethod, ResolvedPolicy>();

export function policyOf(method: DescMethod): ResolvedPolicy {
  let resolved = cache.get(method);
  if (!resolved) {
    resolved = resolve(method);
    cache.set(method, resolved);
  }
  return resolved;
}

function resolve(method: DescMethod): ResolvedPolicy {
  if (!hasOption(method, policy)) {
    // Only Latchkey's own packages must declare a policy; the standard gRPC
    // services (health, reflection) are public by nature.
    if (method.parent.typeName.startsWith("latchkey.")) {
      throw new Error(`${method.parent.typeName}.${method.name} declares no latchkey.options.v1.policy`);
    }
    return { caller: CallerKind.PUBLIC, permission: "", deadlineMs: DEFAULT_DEADLINE_MS, organisationPath: [] };
  }
  const declared: MethodPolicy = getOption(method, policy);
  if (declared.caller === CallerKind.UNSPECIFIED) {
    throw new Error(`${method.parent.typeName}.${method.name} declares no caller kind`);
  }
  return {
    caller: declared.caller,
    permission: declared.permission,
    deadlineMs: declared.deadlineMs || DEFAULT_DEADLINE_MS,
    organisationPath: declared.organisationField ? resolveFieldPath(method, declared.organisationField) : [],
  };
}

/**
 * Resolves a dotted path such as "organisation.id" to its fields once, so a
 * wrong path fails at start-up rather than on the first call.
 */
function resolveFieldPath(method: DescMethod, path: string): DescField[] {
  const fields: DescField[] = [];
  let message: DescMessage | undefined = method.input;
  for (const name of path.split(".")) {
    const field: DescField | undefined = message?.fields.find((f) => f.name === name);
    if (!field) throw new Error(`${method.parent.typeName}.${method.name}: organisation_field "${path}" is not a field of its request`);
    fields.push(field);
    message = field.fieldKind === "message" ? field.message : undefined;
  }
  const last = fields[fields.length - 1];
  if (!last || last.fieldKind !== "scalar") throw new Error(`${method.parent.typeName}.${method.name}: organisation_field "${path}" must end in a string field`);
  return fields;
}
